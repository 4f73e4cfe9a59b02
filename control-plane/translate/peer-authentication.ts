// PeerAuthentication precedence, as Istio's ComposePeerAuthentication: the mesh-wide policy (root namespace,
// no selector), then the namespace's, then the workload's (a selector in the workload's namespace), each
// level overriding the one above unless its mode is UNSET; portLevelMtls overrides per workload port.
// Nothing says anything: PERMISSIVE. Where Istio keeps the oldest policy of a level, nodevoy keeps the first
// in load order (file name, then document), which is the order `kubectl apply -f DIR` creates them in.

import type { MtlsMode } from '../istio/peer-authentication.ts';
import type { PeerAuthentication } from '../istio/resources.ts';
import { ROOT_NAMESPACE, labelsMatch } from './names.ts';

/** The mode an inbound port runs in (UNSET resolved). */
export type EffectiveMtlsMode = Exclude<MtlsMode, 'UNSET'>;

/** Istio's default when no policy applies. */
export const DEFAULT_MTLS_MODE: EffectiveMtlsMode = 'PERMISSIVE';

const hasSelector = (pa: PeerAuthentication) => Object.keys(pa.spec.selector?.matchLabels ?? {}).length > 0;

/** The PeerAuthentications of a mesh, indexed by level once; `modeFor` answers per workload port. */
export class PeerAuthentications {
  private readonly meshWide: PeerAuthentication | undefined;
  private readonly byNamespace = new Map<string, PeerAuthentication>();
  private readonly workloadLevel = new Map<string, PeerAuthentication[]>();

  /** Policies Istio would not use are reported as warnings (they stay loaded, with no effect). */
  constructor(policies: readonly PeerAuthentication[], warn: (pa: PeerAuthentication, path: string, message: string) => void) {
    let meshWide: PeerAuthentication | undefined;
    for (const pa of policies) {
      const ns = pa.metadata.namespace;
      if (hasSelector(pa)) {
        if (ns === ROOT_NAMESPACE) {
          warn(pa, 'spec.selector', `a PeerAuthentication with a selector in the root namespace (${ROOT_NAMESPACE}) is not applied, as in Istio: put workload-level policies in the workload's namespace`);
          continue;
        }
        const list = this.workloadLevel.get(ns) ?? [];
        list.push(pa);
        this.workloadLevel.set(ns, list);
        continue;
      }
      const first = ns === ROOT_NAMESPACE ? meshWide : this.byNamespace.get(ns);
      if (first !== undefined) {
        warn(pa, 'metadata.name', `${ns === ROOT_NAMESPACE ? 'mesh' : `namespace ${ns}`} already has PeerAuthentication ${first.metadata.namespace}/${first.metadata.name}, loaded first (Istio keeps the oldest): this one is not applied`);
      } else if (ns === ROOT_NAMESPACE) {
        meshWide = pa;
      } else {
        this.byNamespace.set(ns, pa);
      }
    }
    this.meshWide = meshWide;
  }

  /**
   * The mode of the inbound port `port` (the workload's port, as portLevelMtls keys are) of a workload with
   * `labels` in `namespace`. A workload in the root namespace has only the mesh-wide level above its own.
   * `undefined` when no policy sets a mode: Istio's DEFAULT_MTLS_MODE applies.
   */
  explicitModeFor(namespace: string, labels: Readonly<Record<string, string>>, port: number): EffectiveMtlsMode | undefined {
    let mode: EffectiveMtlsMode | undefined;
    const apply = (m: MtlsMode | undefined) => { if (m !== undefined && m !== 'UNSET') mode = m; };
    apply(this.meshWide?.spec.mtls?.mode);
    if (namespace !== ROOT_NAMESPACE) apply(this.byNamespace.get(namespace)?.spec.mtls?.mode);
    const workload = this.workloadLevel.get(namespace)?.find((pa) => labelsMatch(pa.spec.selector!.matchLabels, labels));
    if (workload !== undefined) {
      apply(workload.spec.mtls?.mode);
      apply(workload.spec.portLevelMtls?.[String(port)]?.mode);
    }
    return mode;
  }

  /** explicitModeFor, with Istio's default (PERMISSIVE) when no policy sets a mode. */
  modeFor(namespace: string, labels: Readonly<Record<string, string>>, port: number): EffectiveMtlsMode {
    return this.explicitModeFor(namespace, labels, port) ?? DEFAULT_MTLS_MODE;
  }
}
