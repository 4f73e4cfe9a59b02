// The Istio kinds the control plane reads: which apiVersions serve each, the schema of its spec, the
// parsed resource types handed to translation, and the kinds deliberately left to later issues. Istio's mesh
// config is one Kubernetes object read too: the `istio` ConfigMap of istio-system (its `mesh` key).

import { z } from 'zod';
import { AuthorizationPolicySpecSchema, type AuthorizationPolicySpec } from './authorization-policy.ts';
import { istioMessage, labelsSchema } from './istio-kit.ts';
import { DestinationRuleSpecSchema, type DestinationRuleSpec } from './destination-rule.ts';
import { EnvoyFilterSpecSchema, type EnvoyFilterSpec } from './envoy-filter.ts';
import { MESH_CONFIG_MAP, type MeshConfigSpec } from './mesh-config.ts';
import { PeerAuthenticationSpecSchema, type PeerAuthenticationSpec } from './peer-authentication.ts';
import { ServiceEntrySpecSchema, type ServiceEntrySpec } from './service-entry.ts';
import { TelemetrySpecSchema, type TelemetrySpec } from './telemetry.ts';
import { VirtualServiceSpecSchema, type VirtualServiceSpec } from './virtual-service.ts';
import { WorkloadEntrySpecSchema, type WorkloadEntrySpec } from './workload-entry.ts';

const NETWORKING = 'networking.istio.io';
const NETWORKING_VERSIONS = ['v1alpha3', 'v1beta1', 'v1'];
const SECURITY = 'security.istio.io';
const SECURITY_VERSIONS = ['v1beta1', 'v1'];
const TELEMETRY = 'telemetry.istio.io';

/** Kind → the group/versions that serve it and its spec schema (the same shape in every version). */
export const LOADED_KINDS = {
  VirtualService: { group: NETWORKING, versions: NETWORKING_VERSIONS, spec: VirtualServiceSpecSchema },
  DestinationRule: { group: NETWORKING, versions: NETWORKING_VERSIONS, spec: DestinationRuleSpecSchema },
  ServiceEntry: { group: NETWORKING, versions: NETWORKING_VERSIONS, spec: ServiceEntrySpecSchema },
  WorkloadEntry: { group: NETWORKING, versions: NETWORKING_VERSIONS, spec: WorkloadEntrySpecSchema },
  EnvoyFilter: { group: NETWORKING, versions: ['v1alpha3'], spec: EnvoyFilterSpecSchema },
  PeerAuthentication: { group: SECURITY, versions: SECURITY_VERSIONS, spec: PeerAuthenticationSpecSchema },
  AuthorizationPolicy: { group: SECURITY, versions: SECURITY_VERSIONS, spec: AuthorizationPolicySpecSchema },
  Telemetry: { group: TELEMETRY, versions: ['v1alpha1', 'v1'], spec: TelemetrySpecSchema },
} as const;

export type LoadedKind = keyof typeof LOADED_KINDS;

/** Kubernetes names: DNS-1123 subdomain for names, DNS-1123 label for namespaces. */
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** ObjectMeta: what nodevoy reads; the API server's bookkeeping fields (kubectl get -o yaml) are accepted and ignored. */
export const ObjectMetaSchema = istioMessage('k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta', {
  name: z.string().max(253).regex(DNS1123_SUBDOMAIN, 'name must be a DNS-1123 subdomain (lower-case letters, digits, "-", ".")'),
  namespace: z.string().max(63).regex(DNS1123_LABEL, 'namespace must be a DNS-1123 label').default('default'),
  labels: labelsSchema.default({}),
  annotations: z.record(z.string(), z.string()).default({}),
  uid: z.unknown().optional(),
  resourceVersion: z.unknown().optional(),
  generation: z.unknown().optional(),
  creationTimestamp: z.unknown().optional(),
  managedFields: z.unknown().optional(),
  finalizers: z.unknown().optional(),
  ownerReferences: z.unknown().optional(),
}, { unimplemented: ['generateName'] });

export type ObjectMeta = Pick<z.output<typeof ObjectMetaSchema>, 'name' | 'namespace' | 'labels' | 'annotations'>;

/** Where a resource was read from. `document` counts from 0 in its file; `line` is 1-based. */
export interface SourceRef {
  readonly file: string;
  readonly document: number;
  readonly line?: number;
}

interface ResourceOf<K extends LoadedKind, S> {
  readonly apiVersion: string;
  readonly kind: K;
  readonly metadata: ObjectMeta;
  readonly spec: S;
  readonly source: SourceRef;
}

export type VirtualService = ResourceOf<'VirtualService', VirtualServiceSpec>;
export type DestinationRule = ResourceOf<'DestinationRule', DestinationRuleSpec>;
export type ServiceEntry = ResourceOf<'ServiceEntry', ServiceEntrySpec>;
export type WorkloadEntry = ResourceOf<'WorkloadEntry', WorkloadEntrySpec>;
export type EnvoyFilter = ResourceOf<'EnvoyFilter', EnvoyFilterSpec>;
export type PeerAuthentication = ResourceOf<'PeerAuthentication', PeerAuthenticationSpec>;
export type AuthorizationPolicy = ResourceOf<'AuthorizationPolicy', AuthorizationPolicySpec>;
export type Telemetry = ResourceOf<'Telemetry', TelemetrySpec>;

/**
 * The `istio` ConfigMap of istio-system: its `data.mesh` (MeshConfig YAML) parsed as `spec`. Errors in the
 * mesh config are reported at `data.mesh.<field>`.
 */
export interface MeshConfigMap {
  readonly apiVersion: string;
  readonly kind: 'ConfigMap';
  readonly metadata: ObjectMeta;
  readonly spec: MeshConfigSpec;
  /** The ConfigMap's `meshNetworks` key as written (multi-network settings, not applied). */
  readonly meshNetworks?: string | undefined;
  readonly source: SourceRef;
}

/** A parsed, defaulted resource: what translation consumes. */
export type IstioResource = VirtualService | DestinationRule | ServiceEntry | WorkloadEntry | EnvoyFilter | PeerAuthentication | AuthorizationPolicy
  | Telemetry | MeshConfigMap;

const LATER_ISSUE: Readonly<Record<string, string>> = {
  [`${NETWORKING}/Gateway`]: 'Istio ingress/egress gateways come with the gateway issue',
  [`${NETWORKING}/Sidecar`]: 'Sidecar egress scoping comes with a later issue',
  [`${SECURITY}/RequestAuthentication`]: 'JWT authentication comes with a later issue',
};

const KUBERNETES = 'Kubernetes objects are read by the Kubernetes registry source (a later issue)';
const KUBERNETES_GROUPS = new Set(['', 'apps', 'batch', 'discovery.k8s.io', 'networking.k8s.io', 'policy', 'autoscaling', 'rbac.authorization.k8s.io']);
const GATEWAY_API = 'the Kubernetes Gateway API (gateways, ambient waypoints) comes with a later issue';

/** Istio kinds nodevoy has no plan for yet: an error, since their effect would silently be missing. */
const UNSUPPORTED_ISTIO: ReadonlySet<string> = new Set([
  `${NETWORKING}/WorkloadGroup`, `${NETWORKING}/ProxyConfig`, 'extensions.istio.io/WasmPlugin',
]);

export type KindClass =
  | { readonly type: 'loaded'; readonly kind: LoadedKind }
  | { readonly type: 'mesh-config' }
  | { readonly type: 'deferred'; readonly reason: string }
  | { readonly type: 'error'; readonly field: 'apiVersion' | 'kind'; readonly errorKind: 'invalid' | 'not-implemented' | 'unknown-field'; readonly message: string };

/** Decides what to do with a document from its apiVersion and kind (and, for a ConfigMap, its namespace and name). */
export function classifyKind(apiVersion: string, kind: string, ref: { readonly namespace?: string | undefined; readonly name?: string | undefined } = {}): KindClass {
  if (apiVersion === 'v1' && kind === 'ConfigMap' && ref.name === MESH_CONFIG_MAP.name && ref.namespace === MESH_CONFIG_MAP.namespace) return { type: 'mesh-config' };
  const slash = apiVersion.lastIndexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = apiVersion.slice(slash + 1);
  const key = `${group}/${kind}`;
  if (Object.hasOwn(LOADED_KINDS, kind)) {
    const loaded = kind as LoadedKind;
    const { group: want, versions } = LOADED_KINDS[loaded];
    if (group === want && (versions as readonly string[]).includes(version)) return { type: 'loaded', kind: loaded };
    return { type: 'error', field: 'apiVersion', errorKind: 'invalid',
      message: `${kind} is served as ${versions.map((v) => `${want}/${v}`).join(', ')}, not ${apiVersion}` };
  }
  const later = LATER_ISSUE[key];
  if (later !== undefined) return { type: 'deferred', reason: `kind ${kind} is handled by a later issue: ${later}` };
  if (KUBERNETES_GROUPS.has(group)) return { type: 'deferred', reason: `kind ${kind} is handled by a later issue: ${KUBERNETES}` };
  if (group === 'gateway.networking.k8s.io') return { type: 'deferred', reason: `kind ${kind} is handled by a later issue: ${GATEWAY_API}` };
  if (UNSUPPORTED_ISTIO.has(key)) {
    return { type: 'error', field: 'kind', errorKind: 'not-implemented', message: `${apiVersion} ${kind} is valid Istio config but nodevoy does not implement it` };
  }
  return { type: 'error', field: 'kind', errorKind: 'unknown-field',
    message: `unknown kind ${kind} (apiVersion ${apiVersion}): nodevoy reads ${Object.keys(LOADED_KINDS).join(', ')}` };
}
