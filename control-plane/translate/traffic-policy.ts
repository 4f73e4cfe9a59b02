// DestinationRule traffic policies → Cluster fields, as Istio's cluster builder emits them
// (cluster_traffic_policy.go): the policy in effect for a port and subset (MergeTrafficPolicy), the
// load balancer, connection pool → circuit breakers / connect timeout / protocol options, and outlier detection.
// Its `tls` component is turned into a transport socket by upstream-tls.ts.

import type {
  ClientTlsSettings, ConnectionPool, ConsistentHash, DestinationRuleSpec, LoadBalancerSettings, OutlierDetection, TrafficPolicy,
} from '../istio/destination-rule.ts';
import type { DestinationRule } from '../istio/resources.ts';
import { durationJson } from './names.ts';

/** The components of a TrafficPolicy nodevoy implements; each is replaced whole, never merged field by field. */
export interface PolicyParts {
  readonly connectionPool?: ConnectionPool | undefined;
  readonly outlierDetection?: OutlierDetection | undefined;
  readonly loadBalancer?: LoadBalancerSettings | undefined;
  readonly tls?: ClientTlsSettings | undefined;
}

/** MeshConfig.connectTimeout's default. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const MAX_UINT32 = 4_294_967_295;
/** Envoy's default RingHashLbConfig.minimum_ring_size, which Istio writes out for the deprecated form. */
const DEFAULT_MIN_RING_SIZE = 1024;
const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/** Port-level settings replace the policy's components and do not inherit ("per the docs ... defaults"). */
function atPort(policy: TrafficPolicy, port: number): PolicyParts | undefined {
  const p = policy.portLevelSettings.find((s) => s.port.number === port);
  return p === undefined ? undefined : { connectionPool: p.connectionPool, outlierDetection: p.outlierDetection, loadBalancer: p.loadBalancer, tls: p.tls };
}

/** Istio's MergeTrafficPolicy(MergeTrafficPolicy(nil, dr.trafficPolicy, port), subset.trafficPolicy, port). */
export function effectivePolicy(dr: DestinationRule | undefined, subset: string, port: number): PolicyParts {
  const top = dr?.spec.trafficPolicy;
  const base: PolicyParts = top === undefined ? {} : atPort(top, port) ?? top;
  const own = subset === '' ? undefined : dr?.spec.subsets.find((s) => s.name === subset)?.trafficPolicy;
  if (own === undefined) return base;
  return atPort(own, port) ?? {
    connectionPool: own.connectionPool ?? base.connectionPool,
    outlierDetection: own.outlierDetection ?? base.outlierDetection,
    loadBalancer: own.loadBalancer ?? base.loadBalancer,
    tls: own.tls ?? base.tls,
  };
}

/** The consistent hash in effect for a destination (drives both RING_HASH and the route's hash_policy). */
export function consistentHashOf(dr: DestinationRule | undefined, subset: string, port: number): ConsistentHash | undefined {
  return effectivePolicy(dr, subset, port).loadBalancer?.consistentHash;
}

/** Cluster fields for a policy: every outbound cluster gets Istio's defaults even without a DestinationRule. */
export function policyClusterFields(parts: PolicyParts): Record<string, unknown> {
  return {
    connect_timeout: durationJson(parts.connectionPool?.tcp?.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS),
    ...loadBalancerFields(parts.loadBalancer),
    circuit_breakers: circuitBreakers(parts.connectionPool),
    ...protocolOptions(parts.connectionPool),
    ...outlierFields(parts.outlierDetection),
  };
}

/** applyLoadBalancer: LEAST_REQUEST is Istio's default; consistentHash → RING_HASH (ApplyRingHashLoadBalancer). */
function loadBalancerFields(lb: LoadBalancerSettings | undefined): Record<string, unknown> {
  const hash = lb?.consistentHash;
  if (hash !== undefined) {
    // ringHash with minimumRingSize 0 leaves Envoy's default; the deprecated form always writes a size.
    const size = hash.ringHash !== undefined ? hash.ringHash.minimumRingSize || undefined : hash.minimumRingSize || DEFAULT_MIN_RING_SIZE;
    return { lb_policy: 'RING_HASH', ...(size === undefined ? {} : { ring_hash_lb_config: { minimum_ring_size: String(size) } }) };
  }
  switch (lb?.simple) {
    case 'RANDOM': return { lb_policy: 'RANDOM' };
    case 'ROUND_ROBIN': return { lb_policy: 'ROUND_ROBIN' };
    default: return { lb_policy: 'LEAST_REQUEST' }; // LEAST_CONN, LEAST_REQUEST, UNSPECIFIED, absent
  }
}

/**
 * getDefaultCircuitBreakerThresholds + applyConnectionPool: unset limits are max uint32 (Envoy's own defaults,
 * e.g. max_retries 3, are too low for pod churn); a limit of 0 counts as unset, as in Istio.
 */
function circuitBreakers(cp: ConnectionPool | undefined): Record<string, unknown> {
  const limit = (v: number | undefined) => (v !== undefined && v > 0 ? v : MAX_UINT32);
  return {
    thresholds: [{
      max_connections: limit(cp?.tcp?.maxConnections),
      max_pending_requests: limit(cp?.http?.http1MaxPendingRequests),
      max_requests: limit(cp?.http?.http2MaxRequests),
      max_retries: limit(cp?.http?.maxRetries),
      track_remaining: true,
    }],
  };
}

/**
 * http.idleTimeout and maxRequestsPerConnection → HttpProtocolOptions.common_http_protocol_options, with
 * HTTP/1.1 chosen explicitly (the message requires a protocol). h2UpgradePolicy UPGRADE is not applied
 * (see `unappliedPolicyFields`); DEFAULT and DO_NOT_UPGRADE are what is emitted (MeshConfig's default is
 * DO_NOT_UPGRADE).
 */
function protocolOptions(cp: ConnectionPool | undefined): Record<string, unknown> {
  const idle = cp?.http?.idleTimeout;
  const perConnection = cp?.http?.maxRequestsPerConnection;
  if (idle === undefined && !perConnection) return {};
  return {
    typed_extension_protocol_options: {
      [HTTP_PROTOCOL_OPTIONS]: {
        '@type': `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS}`,
        common_http_protocol_options: {
          ...(idle === undefined ? {} : { idle_timeout: durationJson(idle) }),
          ...(perConnection ? { max_requests_per_connection: perConnection } : {}),
        },
        explicit_http_config: { http_protocol_options: {} },
      },
    },
  };
}

/**
 * applyOutlierDetection: success-rate ejection off; each consecutive-error detector given is enforced at 100 %
 * (0 errors = disabled); the panic threshold is minHealthPercent, 0 when unset (Istio disables panic mode).
 */
function outlierFields(od: OutlierDetection | undefined): Record<string, unknown> {
  if (od === undefined) return {};
  const enforcing = (n: number) => (n > 0 ? 100 : 0);
  return {
    outlier_detection: {
      ...(od.consecutive5xxErrors === undefined ? {} : { consecutive_5xx: od.consecutive5xxErrors, enforcing_consecutive_5xx: enforcing(od.consecutive5xxErrors) }),
      ...(od.interval === undefined ? {} : { interval: durationJson(od.interval) }),
      ...(od.baseEjectionTime === undefined ? {} : { base_ejection_time: durationJson(od.baseEjectionTime) }),
      ...(od.maxEjectionPercent ? { max_ejection_percent: od.maxEjectionPercent } : {}),
      enforcing_success_rate: 0,
      ...(od.consecutiveGatewayErrors === undefined ? {} : {
        consecutive_gateway_failure: od.consecutiveGatewayErrors, enforcing_consecutive_gateway_failure: enforcing(od.consecutiveGatewayErrors),
      }),
    },
    common_lb_config: { healthy_panic_threshold: { value: od.minHealthPercent ?? 0 } },
  };
}

/** Where a DestinationRule writes traffic policies: the rule's, its port-level ones, each subset's and theirs. */
function policiesOf(spec: DestinationRuleSpec): { path: string; parts: PolicyParts }[] {
  const withPorts = (path: string, p: TrafficPolicy | undefined) => (p === undefined ? [] : [
    { path, parts: p },
    ...p.portLevelSettings.map((s, i) => ({ path: `${path}.portLevelSettings[${i}]`, parts: s })),
  ]);
  return [
    ...withPorts('spec.trafficPolicy', spec.trafficPolicy),
    ...spec.subsets.flatMap((s, i) => withPorts(`spec.subsets[${i}].trafficPolicy`, s.trafficPolicy)),
  ];
}

/**
 * Fields of a DestinationRule that are accepted but not applied, with why (reported as warnings, never
 * dropped silently): h2UpgradePolicy UPGRADE, which Istio turns into
 * `explicit_http_config.http2_protocol_options` on the cluster. nodevoy's sidecars accept HTTP/1.1 only,
 * so the hop to the peer sidecar stays HTTP/1.1. Also TLS origination that does not verify the server:
 * SIMPLE/MUTUAL without caCertificates (Istio would use the OS roots; nodevoy has none).
 */
export function unappliedPolicyFields(spec: DestinationRuleSpec): { path: string; message: string }[] {
  return policiesOf(spec).flatMap(({ path, parts }) => [
    ...(parts.connectionPool?.http?.h2UpgradePolicy !== 'UPGRADE' ? [] : [{
      path: `${path}.connectionPool.http.h2UpgradePolicy`,
      message: 'h2UpgradePolicy UPGRADE is accepted but not applied: nodevoy\'s sidecars accept HTTP/1.1 only, so requests to this ' +
        'destination stay HTTP/1.1 (one request per connection at a time) where Istio would multiplex them over HTTP/2',
    }]),
    ...(!unverifiedTls(parts.tls) ? [] : [{
      path: `${path}.tls.caCertificates`,
      message: `mode ${parts.tls!.mode} without caCertificates: the server's certificate is not verified (nodevoy has no system CA roots; ` +
        'Istio would verify against the OS roots). Give caCertificates, or insecureSkipVerify: true to say it is intended',
    }]),
  ]);
}

const unverifiedTls = (tls: ClientTlsSettings | undefined) =>
  (tls?.mode === 'SIMPLE' || tls?.mode === 'MUTUAL') && tls.caCertificates === undefined && tls.insecureSkipVerify !== true;
