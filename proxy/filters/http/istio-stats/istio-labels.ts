// The labels of Istio's standard metrics as its stats filter derives them (istio/proxy istio_stats.cc,
// populatePeerInfo and populateFlagsAndConnectionSecurity), in its order: 20 that depend on who the peers are and
// which service was called, then 5 per response. `unknown` (and `latest` for a peer's canonical revision) where
// Istio prints them; this proxy's own facts are printed as its node metadata gives them. Pure functions.

import type { WorkloadMetadata } from '../../../common/workload-metadata.ts';
import type { StatTag } from '../../../stats/scope.ts';

/** `source`: the client's sidecar (outbound listener); `destination`: the server's (inbound listener). */
export type Reporter = 'source' | 'destination';

export type SecurityPolicy = 'mutual_tls' | 'none' | 'unknown';

const UNKNOWN = 'unknown';
const LATEST = 'latest';

/** What one report knows about the other side and the service, besides this proxy's own workload. */
export interface PeerFacts {
  /** From the peer metadata exchange, else (source reports) the endpoint's `istio.workload` metadata. */
  readonly peer: WorkloadMetadata | undefined;
  /** The peer certificate's first URI SAN ('' = none). */
  readonly peerPrincipal: string;
  /** This proxy's certificate's first URI SAN on that connection ('' = none). */
  readonly localPrincipal: string;
  /** destination_service and destination_service_name ('' = not known, see destinationService). */
  readonly serviceHost: string;
  readonly serviceName: string;
}

/** Istio's getNamespace: `<domain>/ns/<namespace>/sa/<account>` → namespace ('' when absent). */
export function principalNamespace(principal: string): string {
  const begin = principal.indexOf('/ns/');
  if (begin < 0) return '';
  const start = begin + 4;
  const end = principal.indexOf('/', start);
  return end < 0 ? principal.slice(start) : principal.slice(start, end);
}

const tag = (name: string, value: string): StatTag => ({ name, value });
const or = (v: string | undefined, fallback: string): string => (v === undefined || v === '' ? fallback : v);

/** The first 20 labels (reporter … destination_cluster). */
export function peerTags(reporter: Reporter, local: WorkloadMetadata, f: PeerFacts): StatTag[] {
  const peer = f.peer;
  // The namespace from the peer's SAN when there is one, else from its metadata.
  const peerNamespace = or(principalNamespace(f.peerPrincipal), peer?.namespace ?? '');
  if (reporter === 'destination') {
    return [
      tag('reporter', 'destination'),
      tag('source_workload', or(peer?.workloadName, UNKNOWN)),
      tag('source_canonical_service', or(peer?.canonicalName, UNKNOWN)),
      tag('source_canonical_revision', or(peer?.canonicalRevision, LATEST)),
      tag('source_workload_namespace', or(peerNamespace, UNKNOWN)),
      tag('source_principal', or(f.peerPrincipal, UNKNOWN)),
      tag('source_app', or(peer?.appName, UNKNOWN)),
      tag('source_version', or(peer?.appVersion, UNKNOWN)),
      tag('source_cluster', or(peer?.clusterName, UNKNOWN)),
      tag('destination_workload', local.workloadName),
      tag('destination_workload_namespace', local.namespace),
      tag('destination_principal', or(f.localPrincipal, UNKNOWN)),
      tag('destination_app', local.appName),
      tag('destination_version', local.appVersion),
      tag('destination_service', or(f.serviceHost, local.canonicalName)),
      tag('destination_canonical_service', local.canonicalName),
      tag('destination_canonical_revision', local.canonicalRevision),
      tag('destination_service_name', or(f.serviceName, local.canonicalName)),
      tag('destination_service_namespace', local.namespace),
      tag('destination_cluster', local.clusterName),
    ];
  }
  return [
    tag('reporter', 'source'),
    tag('source_workload', local.workloadName),
    tag('source_canonical_service', local.canonicalName),
    tag('source_canonical_revision', local.canonicalRevision),
    tag('source_workload_namespace', local.namespace),
    tag('source_principal', or(f.localPrincipal, UNKNOWN)),
    tag('source_app', local.appName),
    tag('source_version', local.appVersion),
    tag('source_cluster', local.clusterName),
    tag('destination_workload', or(peer?.workloadName, UNKNOWN)),
    tag('destination_workload_namespace', or(peerNamespace, UNKNOWN)),
    tag('destination_principal', or(f.peerPrincipal, UNKNOWN)),
    tag('destination_app', or(peer?.appName, UNKNOWN)),
    tag('destination_version', or(peer?.appVersion, UNKNOWN)),
    tag('destination_service', or(f.serviceHost, UNKNOWN)),
    tag('destination_canonical_service', or(peer?.canonicalName, UNKNOWN)),
    tag('destination_canonical_revision', or(peer?.canonicalRevision, LATEST)),
    tag('destination_service_name', or(f.serviceName, UNKNOWN)),
    tag('destination_service_namespace', or(peerNamespace, UNKNOWN)),
    tag('destination_cluster', or(peer?.clusterName, UNKNOWN)),
  ];
}

/**
 * connection_security_policy: a destination report says `mutual_tls` when both sides of the downstream
 * connection presented a URI SAN, `none` otherwise; a source report always says `unknown`.
 */
export function securityPolicy(reporter: Reporter, peerPrincipal: string, localPrincipal: string): SecurityPolicy {
  if (reporter === 'source') return 'unknown';
  return peerPrincipal !== '' && localPrincipal !== '' ? 'mutual_tls' : 'none';
}

/** The last 5 labels: request_protocol, response_code, grpc_response_status, response_flags, connection_security_policy. */
export function streamTags(responseCode: number, responseFlags: string, policy: SecurityPolicy): StatTag[] {
  return [
    // nodevoy serves HTTP/1.1 downstream only, so no request is gRPC (which needs HTTP/2).
    tag('request_protocol', 'http'),
    tag('response_code', String(responseCode)),
    tag('grpc_response_status', ''),
    tag('response_flags', responseFlags),
    tag('connection_security_policy', policy),
  ];
}

/** Clusters Istio names the service after (no service behind them). */
const PASSTHROUGH_CLUSTERS: ReadonlySet<string> = new Set([
  'BlackHoleCluster', 'PassthroughCluster', 'InboundPassthroughCluster', 'InboundPassthroughClusterIpv4', 'InboundPassthroughClusterIpv6',
]);

/** The first entry of a cluster's `filter_metadata.istio.services` (istiod writes host, name, namespace). */
export interface ClusterService {
  readonly host: string | undefined;
  readonly name: string | undefined;
}

/** `filter_metadata.istio.services[0]` of a cluster's metadata, if any. */
export function clusterServiceFromMetadata(metadata: unknown): ClusterService | undefined {
  const istio = (metadata as { filter_metadata?: { istio?: { services?: unknown } } } | undefined)?.filter_metadata?.istio;
  const first: unknown = Array.isArray(istio?.services) ? istio.services[0] : undefined;
  if (typeof first !== 'object' || first === null) return undefined;
  const { host, name } = first as { host?: unknown; name?: unknown };
  return { host: typeof host === 'string' ? host : undefined, name: typeof name === 'string' ? name : undefined };
}

/**
 * destination_service (host) and destination_service_name (name) as Istio derives them: the Host header when
 * the fallback is on, replaced by the route name `block_all` / `allow_any`, a passthrough cluster's name, or
 * the cluster's istio.services metadata (name defaulting to the host's first label).
 */
export function destinationService(routeName: string, clusterName: string, service: ClusterService | undefined,
  hostHeader: string | undefined): { host: string; name: string } {
  let host = hostHeader ?? '';
  let name = host;
  if (routeName === 'block_all') name = 'BlackHoleCluster';
  else if (routeName === 'allow_any') name = 'PassthroughCluster';
  else if (PASSTHROUGH_CLUSTERS.has(clusterName)) name = clusterName;
  else if (service !== undefined) {
    if (service.host !== undefined) host = service.host;
    const dot = host.indexOf('.');
    name = service.name ?? (dot < 0 ? host : host.slice(0, dot));
  }
  return { host, name };
}
