// translateMesh: indexes the loaded Istio resources once (services and their endpoints by host,
// VirtualServices and DestinationRules by resolved host, rate limit patches) and reports what Istio's
// analyzers would: hosts claimed twice (errors: the first in load order wins), references to missing hosts,
// ports and subsets (IST0101, warnings: the resource stays in force) and fields accepted but not applied
// (warnings). The proxy-independent xDS resources (clusters, endpoints) are built here; the security
// policies (PeerAuthentication by level, AuthorizationPolicy) are kept for each proxy's inbound listeners, and
// the telemetry settings (mesh config, Telemetry) for each proxy's HCMs (observability.ts).

import { isIP } from 'node:net';
import { toConfigErrors } from '../../proxy/config/schema-kit.ts';
import { LocalRateLimitSchema, type LocalRateLimitWire } from '../../proxy/filters/http/local-ratelimit/schema.ts';
import type { IstioConfigError } from '../istio/load.ts';
import type {
  AuthorizationPolicy, DestinationRule, EnvoyFilter, IstioResource, ServiceEntry, VirtualService, WorkloadEntry,
} from '../istio/resources.ts';
import type { ServicePort } from '../istio/service-entry.ts';
import type { Destination } from '../istio/virtual-service.ts';
import type { EnvoyResource } from '../xds/snapshot.ts';
import { buildServiceClusters } from './clusters.ts';
import { DEFAULT_SERVICE_ACCOUNT } from './identity.ts';
import { DEFAULT_TRUST_DOMAIN, labelsMatch, resolveHost } from './names.ts';
import { buildObservability, type Observability } from './observability.ts';
import { PeerAuthentications } from './peer-authentication.ts';
import { unappliedPolicyFields } from './traffic-policy.ts';

/** One endpoint of a service: an inline ServiceEntry endpoint or a selected WorkloadEntry. */
export interface MeshEndpoint {
  readonly address: string;
  /** Port name → the workload's port for it. */
  readonly ports: Readonly<Record<string, number>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly weight: number | undefined;
  /** Runs a sidecar (accepts Istio mTLS): see `runsSidecar`. */
  readonly sidecar: boolean;
  /** WorkloadEntry.serviceAccount, `default` when unset (a proxy's SERVICE_ACCOUNT default): its SPIFFE identity. */
  readonly serviceAccount: string;
  /** Istio's IstioEndpoint.WorkloadName: the WorkloadEntry's name, or the ServiceEntry's for an inline endpoint. */
  readonly workloadName: string;
  readonly namespace: string;
}

/** Protocols nodevoy proxies (the others need TCP/TLS proxying, which it does not have). */
const HTTP_PROTOCOLS: ReadonlySet<string> = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB']);

/** A registry service: one host of a ServiceEntry. */
export interface MeshService {
  readonly host: string;
  readonly namespace: string;
  readonly entry: ServiceEntry;
  /** Every declared port (GetDestinationCluster's "single port" rule counts them all). */
  readonly ports: readonly ServicePort[];
  /** The ports nodevoy routes: HTTP-family protocols, or no protocol (Istio sniffs; nodevoy speaks HTTP). */
  readonly httpPorts: readonly ServicePort[];
  readonly endpoints: readonly MeshEndpoint[];
}

/** An inbound local rate limit (EnvoyFilter patch) and the workloads it selects. */
export interface RateLimitPatch {
  readonly namespace: string;
  /** undefined: every workload of the namespace (of the mesh, in the root namespace). */
  readonly selector: Readonly<Record<string, string>> | undefined;
  /** The HttpFilter to insert before the router. */
  readonly filter: EnvoyResource;
}

export interface Mesh {
  /** The SPIFFE trust domain of workload identities (`spiffe://<trustDomain>/ns/<ns>/sa/<sa>`). */
  readonly trustDomain: string;
  readonly services: ReadonlyMap<string, MeshService>;
  /** Mesh-bound VirtualServices by resolved host. */
  readonly virtualServices: ReadonlyMap<string, VirtualService>;
  readonly destinationRules: ReadonlyMap<string, DestinationRule>;
  readonly rateLimits: readonly RateLimitPatch[];
  /** The mTLS mode of each workload port (inbound filter chains, auto mTLS of clusters). */
  readonly peerAuthentications: PeerAuthentications;
  /** MeshOptions.workloadCertificates: Istio's implicit mTLS (auto mTLS, default PERMISSIVE's mTLS chain) is on. */
  readonly implicitMtls: boolean;
  /** In load order; which apply to a proxy is decided per proxy (authz.ts). */
  readonly authorizationPolicies: readonly AuthorizationPolicy[];
  /** Outbound clusters and their ClusterLoadAssignments: the same for every proxy. */
  readonly clusters: readonly EnvoyResource[];
  readonly endpoints: readonly EnvoyResource[];
  /** MeshOptions.telemetry: sidecar HCMs run Istio's peer metadata exchange and stats filters. */
  readonly telemetry: boolean;
  /** Tracing and access logs: the mesh config and the Telemetry resources, resolved. */
  readonly observability: Observability;
}

const MESH_GATEWAY = 'mesh';

export interface MeshOptions {
  /** Default `cluster.local` (DEFAULT_TRUST_DOMAIN). */
  readonly trustDomain?: string;
  /**
   * Sidecars hold workload certificates (the `default` and `ROOTCA` SDS secrets). Istio's implicit mTLS — auto
   * mTLS to sidecar destinations and the mTLS chain of a PERMISSIVE port no policy asked for — needs them, so
   * it is emitted only when this is true. Default false: without a policy, traffic stays plaintext. What a
   * policy asks for explicitly (a PeerAuthentication mode, DestinationRule tls) is emitted either way: a
   * STRICT port without certificates refuses every connection rather than falling back to plaintext.
   */
  readonly workloadCertificates?: boolean;
  /**
   * Istio's standard metrics (default true): every sidecar HCM gets Istio's `istio.metadata_exchange` and
   * `istio.stats` filters, as istiod's default telemetry does. false leaves them out (e.g. to benchmark without
   * telemetry, or to feed an Envoy built without Istio's filters); cluster and endpoint metadata stay.
   */
  readonly telemetry?: boolean;
}

/** Istio's endpoint label saying whether a workload runs a sidecar (`istio`) or not (`disabled`). */
export const TLS_MODE_LABEL = 'security.istio.io/tlsMode';

function errorAt(r: IstioResource, path: string, kind: IstioConfigError['kind'], message: string): IstioConfigError {
  return { ...r.source, resource: { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name }, path, kind, message };
}

/** A problem that leaves the resource in force (Istio's analyzer: Warning). */
function warningAt(r: IstioResource, path: string, kind: IstioConfigError['kind'], message: string): IstioConfigError {
  return { ...errorAt(r, path, kind, message), severity: 'warning' };
}

/** IST0101 for a host: a warning, since the registry may get the service later (another file, a Kubernetes Service). */
const missingHost = (host: string, effect: string) =>
  `no ServiceEntry declares host "${host}" (IST0101 ReferencedResourceNotFound): ${effect}`;

const describe = (r: IstioResource) => `${r.kind} ${r.metadata.namespace}/${r.metadata.name} (${r.source.file} document ${r.source.document})`;

export function translateMesh(resources: readonly IstioResource[], options: MeshOptions = {}): { mesh: Mesh; errors: readonly IstioConfigError[] } {
  const errors: IstioConfigError[] = [];
  const of = <K extends IstioResource['kind']>(kind: K) => resources.filter((r): r is Extract<IstioResource, { kind: K }> => r.kind === kind);
  const trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const services = indexServices(of('ServiceEntry'), of('WorkloadEntry'), errors);
  const destinationRules = indexDestinationRules(of('DestinationRule'), services, errors);
  const virtualServices = indexVirtualServices(of('VirtualService'), services, destinationRules, errors);
  const rateLimits = of('EnvoyFilter').flatMap((ef) => rateLimitPatches(ef, errors));
  const implicitMtls = options.workloadCertificates ?? false;
  const peerAuthentications = new PeerAuthentications(of('PeerAuthentication'), (pa, path, message) => errors.push(warningAt(pa, path, 'invalid', message)));
  const { clusters, endpoints, warnings } = buildServiceClusters(services, destinationRules, { trustDomain, peerAuthentications, autoMtls: implicitMtls });
  const observability = buildObservability(of('Telemetry'), of('ConfigMap')[0], services, trustDomain,
    (r, path, kind, message) => errors.push(warningAt(r, path, kind, message)));
  const reported = new Set<string>();
  for (const w of warnings) {
    const e = warningAt(w.service.entry, w.service.entry.spec.workloadSelector === undefined ? 'spec.endpoints' : 'spec.workloadSelector', 'not-implemented', `host "${w.service.host}": ${w.message}`);
    if (!reported.has(e.message)) errors.push(e);
    reported.add(e.message);
  }
  return {
    mesh: {
      trustDomain, services, virtualServices, destinationRules, rateLimits, peerAuthentications, implicitMtls,
      authorizationPolicies: of('AuthorizationPolicy'), clusters, endpoints, telemetry: options.telemetry ?? true, observability,
    },
    errors,
  };
}

/**
 * nodevoy's model of who runs a sidecar (Istio reads it from the pod): the endpoint's `security.istio.io/tlsMode`
 * label when set (`istio` yes, `disabled` no); otherwise every WorkloadEntry (a registry workload) does, and an
 * inline ServiceEntry endpoint does only in a MESH_INTERNAL ServiceEntry.
 */
function runsSidecar(labels: Readonly<Record<string, string>>, fromWorkloadEntry: boolean, se: ServiceEntry): boolean {
  const mode = labels[TLS_MODE_LABEL];
  if (mode !== undefined) return mode === 'istio';
  return fromWorkloadEntry || se.spec.location === 'MESH_INTERNAL';
}

/** WorkloadEntries by namespace and by each `label=value` they carry, so a selector looks up candidates, not the mesh. */
class WorkloadIndex {
  private readonly byLabel = new Map<string, WorkloadEntry[]>();
  private readonly byNamespace = new Map<string, WorkloadEntry[]>();

  constructor(workloads: readonly WorkloadEntry[]) {
    for (const we of workloads) {
      const ns = we.metadata.namespace;
      push(this.byNamespace, ns, we);
      for (const [k, v] of Object.entries(we.spec.labels)) push(this.byLabel, `${ns}\n${k}=${v}`, we);
    }
  }

  /** The namespace's workloads whose labels include `selector`, in load order. */
  select(namespace: string, selector: Readonly<Record<string, string>>): WorkloadEntry[] {
    const first = Object.entries(selector)[0];
    const candidates = (first === undefined ? this.byNamespace.get(namespace) : this.byLabel.get(`${namespace}\n${first[0]}=${first[1]}`)) ?? [];
    return candidates.filter((we) => labelsMatch(selector, we.spec.labels));
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function indexServices(entries: readonly ServiceEntry[], workloadEntries: readonly WorkloadEntry[], errors: IstioConfigError[]): Map<string, MeshService> {
  const services = new Map<string, MeshService>();
  const workloads = new WorkloadIndex(workloadEntries);
  for (const se of entries) {
    const { spec } = se;
    if (spec.resolution === 'NONE') {
      errors.push(errorAt(se, 'spec.resolution', 'not-implemented',
        'resolution NONE (forward to the address the application dialled) needs original-destination clusters, which nodevoy does not implement; use STATIC or DNS'));
      continue;
    }
    const httpPorts = spec.ports.filter((p, i) => {
      if (p.protocol === undefined || HTTP_PROTOCOLS.has(p.protocol)) return true;
      errors.push(errorAt(se, `spec.ports[${i}].protocol`, 'not-implemented',
        `port ${p.number} (${p.protocol}): nodevoy proxies HTTP only, so this port gets no route, cluster or listener`));
      return false;
    });
    const endpoints = serviceEndpoints(se, workloads, errors);
    spec.hosts.forEach((host, k) => {
      const first = services.get(host);
      if (first !== undefined) {
        errors.push(errorAt(se, `spec.hosts[${k}]`, 'invalid',
          `host "${host}" is already declared by ${describe(first.entry)}, which was loaded first and is used; this declaration is ignored`));
        return;
      }
      services.set(host, { host, namespace: se.metadata.namespace, entry: se, ports: spec.ports, httpPorts, endpoints });
    });
  }
  return services;
}

/** Inline endpoints, or the namespace's WorkloadEntries the workloadSelector matches (as a Service selects pods). */
function serviceEndpoints(se: ServiceEntry, workloads: WorkloadIndex, errors: IstioConfigError[]): MeshEndpoint[] {
  const needsIp = se.spec.resolution === 'STATIC';
  const out: MeshEndpoint[] = [];
  const add = (owner: IstioResource, path: string, e: WorkloadEntry['spec']) => {
    if (needsIp && isIP(e.address) === 0) {
      errors.push(errorAt(owner, path, 'invalid', `"${e.address}" is not an IP address: resolution STATIC needs IP endpoints (use resolution DNS for host names)`));
      return;
    }
    out.push({
      address: e.address, ports: e.ports, labels: e.labels, weight: e.weight || undefined,
      sidecar: runsSidecar(e.labels, owner !== se, se), serviceAccount: e.serviceAccount ?? DEFAULT_SERVICE_ACCOUNT,
      workloadName: owner.metadata.name, namespace: owner.metadata.namespace,
    });
  };
  se.spec.endpoints.forEach((e, i) => add(se, `spec.endpoints[${i}].address`, e));
  const selector = se.spec.workloadSelector?.labels;
  if (selector !== undefined) {
    for (const we of workloads.select(se.metadata.namespace, selector)) add(we, 'spec.address', we.spec);
  }
  return out;
}

function indexDestinationRules(rules: readonly DestinationRule[], services: ReadonlyMap<string, MeshService>,
  errors: IstioConfigError[]): Map<string, DestinationRule> {
  const byHost = new Map<string, DestinationRule>();
  for (const dr of rules) {
    const host = resolveHost(dr.spec.host, dr.metadata.namespace);
    const first = byHost.get(host);
    if (first !== undefined) {
      errors.push(errorAt(dr, 'spec.host', 'invalid',
        `host "${host}" already has ${describe(first)}, which was loaded first and is used; this DestinationRule is ignored (Istio's analyzer: conflicting destination rules)`));
      continue;
    }
    byHost.set(host, dr);
    if (!services.has(host)) errors.push(warningAt(dr, 'spec.host', 'invalid', missingHost(host, 'the DestinationRule is kept and applies once the host is in the registry')));
    for (const u of unappliedPolicyFields(dr.spec)) errors.push(warningAt(dr, u.path, 'not-implemented', u.message));
  }
  return byHost;
}

function indexVirtualServices(list: readonly VirtualService[], services: ReadonlyMap<string, MeshService>,
  rules: ReadonlyMap<string, DestinationRule>, errors: IstioConfigError[]): Map<string, VirtualService> {
  const byHost = new Map<string, VirtualService>();
  for (const vs of list) {
    const forSidecars = vs.spec.gateways.length === 0 || vs.spec.gateways.includes(MESH_GATEWAY);
    vs.spec.gateways.forEach((g, i) => {
      if (g === MESH_GATEWAY) return;
      errors.push(warningAt(vs, `spec.gateways[${i}]`, 'not-implemented', `gateway "${g}" is not applied: nodevoy has no gateways yet (a later issue)` +
        (forSidecars ? '; the VirtualService applies to sidecars ("mesh") only' : ', so this VirtualService, bound to gateways only, has no effect (add "mesh" to apply it to sidecars)')));
    });
    // Bound to gateways only: Istio's sidecars ignore it.
    if (!forSidecars) continue;
    // Hosts of this VirtualService already reported missing: its destinations to them are not reported again.
    const missing = new Set<string>();
    vs.spec.hosts.forEach((h, k) => {
      const path = `spec.hosts[${k}]`;
      if (h.includes('*')) {
        errors.push(errorAt(vs, path, 'not-implemented', `wildcard host "${h}": nodevoy binds VirtualServices to registry hosts by exact name`));
        return;
      }
      const host = resolveHost(h, vs.metadata.namespace);
      const first = byHost.get(host);
      if (first !== undefined) {
        errors.push(errorAt(vs, path, 'invalid',
          `host "${host}" is already claimed by ${describe(first)}, which was loaded first and is used; this VirtualService is ignored for that host (Istio's analyzer: IST0109 conflicting VirtualService hosts)`));
        return;
      }
      byHost.set(host, vs);
      if (services.has(host)) return;
      missing.add(host);
      errors.push(warningAt(vs, path, 'invalid', missingHost(host, 'the VirtualService is kept and routes this host once it is in the registry')));
    });
    vs.spec.http.forEach((route, i) => {
      const check = (d: Destination, path: string) => {
        if (!missing.has(resolveHost(d.host, vs.metadata.namespace))) checkDestination(vs, d, path, services, rules, errors);
      };
      route.route.forEach((d, j) => check(d.destination, `spec.http[${i}].route[${j}].destination`));
      if (route.mirror !== undefined) check(route.mirror, `spec.http[${i}].mirror`);
      if (route.retries?.retryRemoteLocalities === true) {
        errors.push(warningAt(vs, `spec.http[${i}].retries.retryRemoteLocalities`, 'not-implemented',
          'retryRemoteLocalities is accepted but not applied (Istio adds the previous_priorities retry priority): nodevoy\'s endpoints have no localities and all have priority 0, so retries choose among the same endpoints either way'));
      }
    });
  }
  return byHost;
}

/**
 * IST0101 ReferencedResourceNotFound for a destination's host, port and subset: warnings. The route is
 * emitted as written, to a cluster that does not exist (yet), so its requests get 503 with response flag
 * NC (cluster not found), as with Istio.
 */
function checkDestination(vs: VirtualService, d: Destination, path: string, services: ReadonlyMap<string, MeshService>,
  rules: ReadonlyMap<string, DestinationRule>, errors: IstioConfigError[]): void {
  const host = resolveHost(d.host, vs.metadata.namespace);
  const unrouted = 'requests routed there get 503 (NC, cluster not found) until it exists';
  const service = services.get(host);
  if (service === undefined) {
    errors.push(warningAt(vs, `${path}.host`, 'invalid', missingHost(host, unrouted)));
    return;
  }
  if (d.port !== undefined && !service.httpPorts.some((p) => p.number === d.port!.number)) {
    errors.push(warningAt(vs, `${path}.port.number`, 'invalid', `host "${host}" has no HTTP port ${d.port.number} (IST0101 ReferencedResourceNotFound): ${unrouted}`));
  }
  if (d.subset !== undefined && !rules.get(host)?.spec.subsets.some((s) => s.name === d.subset)) {
    errors.push(warningAt(vs, `${path}.subset`, 'invalid', `no DestinationRule defines subset "${d.subset}" for host "${host}" (IST0101 ReferencedResourceNotFound): ${unrouted}`));
  }
}

/**
 * Validates each patch's LocalRateLimit as the proxy will, so a bad one is reported here with its file, and
 * warns when the filter would never limit (Envoy's semantics are kept: see `inertRateLimit`).
 */
function rateLimitPatches(ef: EnvoyFilter, errors: IstioConfigError[]): RateLimitPatch[] {
  return ef.spec.configPatches.flatMap((p, i): RateLimitPatch[] => {
    const typedConfig = `spec.configPatches[${i}].patch.value.typed_config`;
    const configPath = p.configPath === '' ? typedConfig : `${typedConfig}.${p.configPath}`;
    const parsed = LocalRateLimitSchema.safeParse(p.config);
    if (!parsed.success) {
      for (const e of toConfigErrors(parsed.error.issues, configPath)) errors.push(errorAt(ef, e.path, e.kind, e.message));
      return [];
    }
    const inert = inertRateLimit(parsed.data);
    if (inert !== undefined) errors.push(warningAt(ef, configPath, 'invalid', inert));
    return [{
      namespace: ef.metadata.namespace,
      selector: ef.spec.workloadSelector?.labels,
      filter: { name: p.filterName, typed_config: { '@type': p.typeUrl, ...p.config } },
    }];
  });
}

const ALWAYS = '{default_value: {numerator: 100, denominator: HUNDRED}}';

/**
 * Why a LocalRateLimit as written never rejects a request, if it does not. Envoy's FilterConfig: an unset
 * `filter_enabled` enables the filter for 0 % of requests (nothing is counted), an unset `filter_enforced`
 * enforces it for 0 % (requests over the limit are only counted in `<stat_prefix>.http_local_rate_limit.rate_limited`).
 */
function inertRateLimit(c: LocalRateLimitWire): string | undefined {
  if (c.filter_enabled === undefined && c.filter_enforced === undefined) {
    return 'without filter_enabled and filter_enforced Envoy runs this local rate limit for 0 % of requests and enforces it for none, ' +
      `so it never limits (nor counts) anything, whatever its token_bucket says. To limit every request, add filter_enabled: ${ALWAYS} ` +
      `and filter_enforced: ${ALWAYS}`;
  }
  if (c.filter_enabled === undefined) {
    return `without filter_enabled Envoy runs this local rate limit for 0 % of requests, so filter_enforced never applies and nothing is limited. Add filter_enabled: ${ALWAYS}`;
  }
  if (c.filter_enforced === undefined) {
    return 'without filter_enforced Envoy enforces this local rate limit for 0 % of requests: requests over the limit are only counted ' +
      `(${c.stat_prefix}.http_local_rate_limit.rate_limited), never rejected. To reject them with 429, add filter_enforced: ${ALWAYS}`;
  }
  return undefined;
}
