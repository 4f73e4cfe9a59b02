// DestinationRule traffic policies → cluster fields as Istio's cluster builder emits them, the
// ServiceEntry/WorkloadEntry registry → EDS/DNS clusters and endpoints, and inbound listeners with the
// EnvoyFilter local rate limit.

import { describe, expect, it } from 'vitest';
import { localRateLimitEnvoyFilter } from '../../support/istio-yaml.ts';
import { byName, hcmOf, service, snapshotOf, workload } from './translate-kit.ts';

const H = 'svc.default.svc.cluster.local';
const MAX = 4294967295;
const DEFAULT_THRESHOLDS = { max_connections: MAX, max_pending_requests: MAX, max_requests: MAX, max_retries: MAX, track_remaining: true };

/** The named cluster for a DestinationRule `spec` body on service `svc` (port 8080, subsets v1/v2 by version). */
function clusterWith(drSpec: string, name = `outbound|8080||${H}`): Record<string, unknown> {
  const yaml = service('svc') + `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc}
spec:
  host: svc
${drSpec.trim().split('\n').map((l) => `  ${l}`).join('\n')}
`;
  const c = byName(snapshotOf(yaml).clusters, name);
  // Discovery fields are covered below, Istio's metadata in translate-telemetry.test.ts; this table is about the traffic policy.
  const { name: _n, type: _t, eds_cluster_config: _e, metadata: _m, ...policy } = c;
  return policy;
}

describe('DestinationRule trafficPolicy → Cluster', () => {
  it.each<[string, string, Record<string, unknown>]>([
    ['no policy: Istio defaults (10s connect timeout, LEAST_REQUEST, max uint32 thresholds)', 'subsets: []',
      { connect_timeout: '10s', lb_policy: 'LEAST_REQUEST', circuit_breakers: { thresholds: [DEFAULT_THRESHOLDS] } }],
    ['simple ROUND_ROBIN', 'trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}',
      { connect_timeout: '10s', lb_policy: 'ROUND_ROBIN', circuit_breakers: { thresholds: [DEFAULT_THRESHOLDS] } }],
    ['simple RANDOM', 'trafficPolicy: {loadBalancer: {simple: RANDOM}}',
      { connect_timeout: '10s', lb_policy: 'RANDOM', circuit_breakers: { thresholds: [DEFAULT_THRESHOLDS] } }],
    ['LEAST_CONN is LEAST_REQUEST', 'trafficPolicy: {loadBalancer: {simple: LEAST_CONN}}',
      { connect_timeout: '10s', lb_policy: 'LEAST_REQUEST', circuit_breakers: { thresholds: [DEFAULT_THRESHOLDS] } }],
    ['consistentHash → RING_HASH with the default 1024 ring', 'trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true}}}',
      { connect_timeout: '10s', lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: '1024' }, circuit_breakers: { thresholds: [DEFAULT_THRESHOLDS] } }],
    ['consistentHash ringHash.minimumRingSize', 'trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-u, ringHash: {minimumRingSize: 4096}}}}',
      { connect_timeout: '10s', lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: '4096' }, circuit_breakers: { thresholds: [DEFAULT_THRESHOLDS] } }],
    ['connectionPool → circuit breakers, connect timeout, HTTP protocol options',
      'trafficPolicy: {connectionPool: {tcp: {maxConnections: 100, connectTimeout: 30ms}, http: {http1MaxPendingRequests: 10, http2MaxRequests: 1000, maxRetries: 5, maxRequestsPerConnection: 7, idleTimeout: 1m}}}',
      {
        connect_timeout: '0.03s', lb_policy: 'LEAST_REQUEST',
        circuit_breakers: { thresholds: [{ max_connections: 100, max_pending_requests: 10, max_requests: 1000, max_retries: 5, track_remaining: true }] },
        typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
          common_http_protocol_options: { idle_timeout: '60s', max_requests_per_connection: 7 },
          explicit_http_config: { http_protocol_options: {} } } },
      }],
    ['outlierDetection: enforcing fields, success rate off, panic threshold = minHealthPercent',
      'trafficPolicy: {outlierDetection: {consecutive5xxErrors: 3, consecutiveGatewayErrors: 0, interval: 30s, baseEjectionTime: 1m, maxEjectionPercent: 50, minHealthPercent: 30}}',
      {
        connect_timeout: '10s', lb_policy: 'LEAST_REQUEST', circuit_breakers: { thresholds: [DEFAULT_THRESHOLDS] },
        outlier_detection: { consecutive_5xx: 3, enforcing_consecutive_5xx: 100, interval: '30s', base_ejection_time: '60s', max_ejection_percent: 50,
          enforcing_success_rate: 0, consecutive_gateway_failure: 0, enforcing_consecutive_gateway_failure: 0 },
        common_lb_config: { healthy_panic_threshold: { value: 30 } },
      }],
    ['outlierDetection without minHealthPercent disables panic mode (0)', 'trafficPolicy: {outlierDetection: {consecutiveGatewayErrors: 5}}',
      {
        connect_timeout: '10s', lb_policy: 'LEAST_REQUEST', circuit_breakers: { thresholds: [DEFAULT_THRESHOLDS] },
        outlier_detection: { enforcing_success_rate: 0, consecutive_gateway_failure: 5, enforcing_consecutive_gateway_failure: 100 },
        common_lb_config: { healthy_panic_threshold: { value: 0 } },
      }],
    ['portLevelSettings replace the policy for their port and do not inherit',
      'trafficPolicy: {loadBalancer: {simple: RANDOM}, connectionPool: {tcp: {maxConnections: 1}}, portLevelSettings: [{port: {number: 8080}, loadBalancer: {simple: ROUND_ROBIN}}]}',
      { connect_timeout: '10s', lb_policy: 'ROUND_ROBIN', circuit_breakers: { thresholds: [DEFAULT_THRESHOLDS] } }],
  ])('%s', (_name, spec, expected) => {
    expect(clusterWith(spec)).toEqual(expected);
  });

  it('a subset cluster takes each component from the subset policy when set, else from the rule', () => {
    const spec = `trafficPolicy: {loadBalancer: {simple: RANDOM}, connectionPool: {tcp: {maxConnections: 100}}}
subsets:
- {name: v1, labels: {version: v1}}
- name: v2
  labels: {version: v2}
  trafficPolicy: {connectionPool: {http: {http1MaxPendingRequests: 1}}}`;
    expect(clusterWith(spec, `outbound|8080|v1|${H}`)).toMatchObject({ lb_policy: 'RANDOM', circuit_breakers: { thresholds: [{ ...DEFAULT_THRESHOLDS, max_connections: 100 }] } });
    expect(clusterWith(spec, `outbound|8080|v2|${H}`)).toMatchObject({ lb_policy: 'RANDOM', circuit_breakers: { thresholds: [{ ...DEFAULT_THRESHOLDS, max_pending_requests: 1 }] } });
  });
});

describe('registry → clusters and endpoints', () => {
  const CONFIG_SOURCE = { resource_api_version: 'V3', api_config_source: { api_type: 'REST', transport_api_version: 'V3', cluster_names: ['xds_cluster'], refresh_delay: '1s' } };
  const yaml = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc}
spec:
  hosts: [${H}]
  ports: [{number: 8080, name: http, protocol: HTTP, targetPort: 9000}]
  resolution: STATIC
  workloadSelector: {labels: {app: svc}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: a}
spec: {address: 10.0.0.1, labels: {app: svc, version: v1}, ports: {http: 9001}, weight: 3}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: b}
spec: {address: 10.0.0.2, labels: {app: svc, version: v2}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: elsewhere, namespace: other}
spec: {address: 10.9.9.9, labels: {app: svc, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc}
spec:
  host: svc
  subsets: [{name: v1, labels: {version: v1}}]
`;
  const s = snapshotOf(yaml);

  it('STATIC → EDS clusters named like Istio, served over the REST config source', () => {
    expect(s.clusters.map((c) => c['name'])).toEqual([`outbound|8080||${H}`, `outbound|8080|v1|${H}`]);
    expect(byName(s.clusters, `outbound|8080|v1|${H}`)).toMatchObject({ type: 'EDS', eds_cluster_config: { eds_config: CONFIG_SOURCE, service_name: `outbound|8080|v1|${H}` } });
  });

  it('endpoints: the namespace\'s selected workloads, port = WorkloadEntry port ?? targetPort, subsets filtered by labels', () => {
    // Each endpoint carries Istio's telemetry metadata: `<workload>;<namespace>;<canonical service>;<revision>;<cluster>`.
    const ep = (address: string, port: number, workload: string, weight?: number) => ({
      endpoint: { address: { socket_address: { address, port_value: port } } },
      metadata: { filter_metadata: { istio: { workload } } },
      ...(weight === undefined ? {} : { load_balancing_weight: weight }) });
    expect(s.endpoints).toEqual([
      { cluster_name: `outbound|8080||${H}`, endpoints: [{ lb_endpoints: [ep('10.0.0.1', 9001, 'a;default;svc;v1;Kubernetes', 3), ep('10.0.0.2', 9000, 'b;default;svc;v2;Kubernetes')] }] },
      { cluster_name: `outbound|8080|v1|${H}`, endpoints: [{ lb_endpoints: [ep('10.0.0.1', 9001, 'a;default;svc;v1;Kubernetes', 3)] }] },
    ]);
  });

  it('DNS → STRICT_DNS with inline endpoints (the host itself when none are given)', () => {
    const dns = snapshotOf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: [api.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
`);
    expect(dns.clusters[0]).toMatchObject({ name: 'outbound|80||api.example.com', type: 'STRICT_DNS', load_assignment: {
      cluster_name: 'outbound|80||api.example.com', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'api.example.com', port_value: 80 } } } }] }] } });
    expect(dns.endpoints).toEqual([]);
  });
});

describe('listeners', () => {
  const mesh = service('payment-service', { namespace: 'production' }) + workload('payment-service', 'v1', '10.1.1.1', 'production') +
    localRateLimitEnvoyFilter({ name: 'rl', namespace: 'production', app: 'payment-service', maxTokens: 100 });
  const payment = { NAMESPACE: 'production', LABELS: { app: 'payment-service', version: 'v1' }, INSTANCE_IPS: '10.1.1.1', APP_PORTS: { 8080: 18080 }, OUTBOUND_PORT: 0 };

  it('virtualOutbound on <instance ip>:<OUTBOUND_PORT> fetches outbound_http over RDS with fault then router', () => {
    const [outbound] = snapshotOf(mesh, payment).listeners;
    expect(outbound).toMatchObject({ name: 'virtualOutbound', address: { socket_address: { address: '10.1.1.1', port_value: 0 } }, traffic_direction: 'OUTBOUND' });
    expect(hcmOf(outbound!)).toMatchObject({ rds: { route_config_name: 'outbound_http' }, http_filters: [{ name: 'envoy.filters.http.fault' }, { name: 'envoy.filters.http.router' }] });
  });

  it('inbound|<port> for the selected workload, the rate limit before the router, forwarding to the app port', () => {
    const s = snapshotOf(mesh, payment);
    const inbound = byName(s.listeners, 'inbound|8080');
    expect(inbound['address']).toEqual({ socket_address: { address: '10.1.1.1', port_value: 8080 } });
    const hcm = hcmOf(inbound);
    expect((hcm['http_filters'] as unknown[])).toEqual([
      { name: 'envoy.filters.http.local_ratelimit', typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
        stat_prefix: 'http_local_rate_limiter', token_bucket: { max_tokens: 100, tokens_per_fill: 100, fill_interval: '60s' },
        filter_enabled: { default_value: { numerator: 100, denominator: 'HUNDRED' } }, filter_enforced: { default_value: { numerator: 100, denominator: 'HUNDRED' } } } },
      { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
    ]);
    expect(hcm['route_config']).toEqual({ name: 'inbound|8080||', virtual_hosts: [{ name: 'inbound|http|8080', domains: ['*'],
      routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster: 'inbound|8080||', timeout: '0s' } }] }] });
    expect(byName(s.clusters, 'inbound|8080||')).toMatchObject({ type: 'STATIC', load_assignment: { cluster_name: 'inbound|8080||',
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 18080 } } } }] }] } });
  });

  it.each([
    ['another namespace', { NAMESPACE: 'default', LABELS: { app: 'payment-service' } }],
    ['other labels', { NAMESPACE: 'production', LABELS: { app: 'checkout' } }],
  ])('no inbound listener or rate limit for a workload in %s', (_name, meta) => {
    const s = snapshotOf(mesh, meta);
    expect(s.listeners.map((l) => l['name'])).toEqual(['virtualOutbound']);
    expect(s.clusters.map((c) => c['name'])).not.toContain('inbound|8080||');
  });
});
