// Telemetry precedence and merging, as Istio's pilot model (telemetry.go: applicableTelemetries, Tracing,
// mergeLogs): the mesh-wide Telemetry (root namespace, no selector), then the proxy's namespace's (no
// selector), then the first one of its namespace whose selector matches its labels; later levels override
// earlier ones field by field. Where Istio keeps the oldest resource of a level, nodevoy keeps the first in
// load order (file name, then document), as PeerAuthentication does.

import type { Telemetry } from '../istio/resources.ts';
import type { TelemetryCustomTag, WorkloadMode } from '../istio/telemetry.ts';
import { ROOT_NAMESPACE, labelsMatch } from './names.ts';

/** The side of a call a sidecar HCM serves: outbound listeners are CLIENT, inbound ones SERVER. */
export type TelemetrySide = Exclude<WorkloadMode, 'CLIENT_AND_SERVER'>;

/** Istio's TracingSpec for one side, before the provider is resolved. */
export interface TracingSpec {
  /** The name of the extension provider chosen last (the first of a `providers` list). */
  readonly provider: string | undefined;
  readonly disabled: boolean;
  /** undefined: the mesh config's default sampling. */
  readonly randomSamplingPercentage: number | undefined;
  /** undefined: the mesh config's defaultConfig.tracing.customTags. */
  readonly customTags: Readonly<Record<string, TelemetryCustomTag>> | undefined;
  readonly enableIstioTags: boolean;
}

const hasSelector = (t: Telemetry) => Object.keys(t.spec.selector?.matchLabels ?? {}).length > 0;

const applies = (mode: WorkloadMode | undefined, side: TelemetrySide) => mode === undefined || mode === 'CLIENT_AND_SERVER' || mode === side;

/** The Telemetry resources of a mesh, indexed by level once; `applicable` answers per proxy. */
export class Telemetries {
  private readonly namespaceWide = new Map<string, Telemetry>();
  private readonly workloadLevel = new Map<string, Telemetry[]>();

  /** A second namespace-wide Telemetry of a namespace is reported (a warning: it stays loaded, with no effect). */
  constructor(list: readonly Telemetry[], warn: (t: Telemetry, path: string, message: string) => void) {
    for (const t of list) {
      const ns = t.metadata.namespace;
      if (hasSelector(t)) {
        this.workloadLevel.set(ns, [...(this.workloadLevel.get(ns) ?? []), t]);
        continue;
      }
      const first = this.namespaceWide.get(ns);
      if (first === undefined) {
        this.namespaceWide.set(ns, t);
        continue;
      }
      warn(t, 'metadata.name', `${ns === ROOT_NAMESPACE ? 'the mesh' : `namespace ${ns}`} already has Telemetry ${first.metadata.namespace}/${first.metadata.name} without a selector, loaded first (Istio keeps the oldest): this one is not applied`);
    }
  }

  /** True when no Telemetry resource exists (every proxy gets the mesh config's defaults). */
  get empty(): boolean {
    return this.namespaceWide.size === 0 && this.workloadLevel.size === 0;
  }

  /** The levels that apply to a workload, from the mesh down: later ones override earlier ones. */
  applicable(namespace: string, labels: Readonly<Record<string, string>>): Telemetry[] {
    const levels: Telemetry[] = [];
    const root = this.namespaceWide.get(ROOT_NAMESPACE);
    if (root !== undefined) levels.push(root);
    const own = namespace === ROOT_NAMESPACE ? undefined : this.namespaceWide.get(namespace);
    if (own !== undefined) levels.push(own);
    const workload = this.workloadLevel.get(namespace)?.find((t) => labelsMatch(t.spec.selector!.matchLabels, labels));
    if (workload !== undefined) levels.push(workload);
    return levels;
  }
}

/**
 * Istio's Telemetries.Tracing for one side: undefined when no level has tracing and the mesh config names no
 * default tracing provider (Istio then falls back to its legacy, bootstrap-based tracing). Otherwise the spec,
 * disabled when no provider was chosen.
 */
export function mergeTracing(levels: readonly Telemetry[], defaultProviders: readonly string[], side: TelemetrySide): TracingSpec | undefined {
  const entries = levels.flatMap((t) => t.spec.tracing);
  if (entries.length === 0 && defaultProviders.length === 0) return undefined;
  let spec: TracingSpec = {
    provider: defaultProviders[0], disabled: false, randomSamplingPercentage: undefined, customTags: undefined, enableIstioTags: true,
  };
  for (const e of entries) {
    if (!applies(e.match?.mode, side)) continue;
    spec = {
      provider: e.providers[0]?.name ?? spec.provider,
      disabled: e.disableSpanReporting ?? spec.disabled,
      randomSamplingPercentage: e.randomSamplingPercentage ?? spec.randomSamplingPercentage,
      customTags: e.customTags ?? spec.customTags,
      enableIstioTags: e.enableIstioTags ?? spec.enableIstioTags,
    };
  }
  return spec.provider === undefined ? { ...spec, disabled: true } : spec;
}

/**
 * Istio's mergeLogs for one side: the names of the access log providers in effect, or undefined when no level
 * has accessLogging and the mesh config names no default access log provider (Istio's legacy accessLogFile
 * then applies). A level that names providers replaces the set in scope; an entry without providers applies
 * to its parent's; `disabled: true` removes a provider, `disabled: false` (or absent) adds it back.
 */
export function mergeLogs(levels: readonly Telemetry[], defaultProviders: readonly string[], side: TelemetrySide): string[] | undefined {
  const withLogging = levels.filter((t) => t.spec.accessLogging.length > 0);
  if (withLogging.length === 0) return defaultProviders.length === 0 ? undefined : [...new Set(defaultProviders)];
  let inScope: readonly string[] = defaultProviders;
  for (const t of withLogging) {
    const names = t.spec.accessLogging.flatMap((e) => e.providers.map((p) => p.name));
    if (names.length > 0) inScope = names;
  }
  const scope = new Set(inScope);
  const providers = new Set<string>();
  let parent: readonly string[] = defaultProviders;
  for (const t of withLogging) {
    for (const e of t.spec.accessLogging) {
      const names = e.providers.length > 0 ? e.providers.map((p) => p.name) : parent;
      parent = names;
      for (const name of names) {
        if (!scope.has(name) || !applies(e.match?.mode, side)) continue;
        if (e.disabled === true) providers.delete(name);
        else providers.add(name);
      }
    }
  }
  return [...providers];
}
