// Cluster schema and translation: defaults, every error with its path, unknown vs not-implemented fields.

import { describe, expect, it } from 'vitest';
import { parseWith } from '../../../proxy/config/schema-kit.ts';
import { translateCluster } from '../../../proxy/upstream/cluster-config.ts';
import { ClusterLoadAssignmentSchema, ClusterSchema } from '../../../proxy/upstream/cluster-schema.ts';
import { parseCluster, staticCluster } from './helpers.ts';

const H2_OPTIONS = {
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
    '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    explicit_http_config: { http2_protocol_options: { max_concurrent_streams: 50 } },
    common_http_protocol_options: { idle_timeout: '30s', max_requests_per_connection: 7 },
  },
};

function errorsOf(input: unknown): { path: string; kind: string; message: string }[] {
  const r = parseWith(ClusterSchema, input, 'clusters[0]');
  return r.ok ? [] : [...r.errors];
}

describe('Cluster translation: defaults', () => {
  it('applies Envoy defaults to a minimal STATIC cluster', () => {
    const model = translateCluster(parseCluster(staticCluster([[{ ip: '10.0.0.1' }]])));
    expect(model).toMatchObject({
      name: 'c', statName: 'c', type: 'STATIC', lbPolicy: 'ROUND_ROBIN',
      overprovisioningFactor: 140, healthyPanicThreshold: 50, dnsRefreshRateMs: 5000, dnsLookupFamily: 'AUTO',
      circuitBreakers: {
        default: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 },
        high: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 },
      },
      ringHash: { minimumRingSize: 1024, maximumRingSize: 8_388_608, hashFunction: 'XX_HASH' },
      leastRequest: { choiceCount: 2, activeRequestBias: 1 },
      subset: null,
      pool: { connectTimeoutMs: 5000, protocol: 'http1', idleTimeoutMs: 3_600_000, maxRequestsPerConnection: 0, http2: {} },
    });
    expect(model.localities).toEqual([{
      locality: { region: '', zone: '', subZone: '' }, priority: 0, weight: 1,
      endpoints: [{ address: '10.0.0.1', port: 80, hostname: '', healthStatus: 'UNKNOWN', weight: 1, metadata: {} }],
    }]);
  });

  it('translates every implemented field (snake_case and lowerCamelCase)', () => {
    const model = translateCluster(parseCluster({
      name: 'outbound|8080||reviews.default.svc.cluster.local',
      altStatName: 'reviews:8080',
      type: 'STRICT_DNS',
      connectTimeout: '0.25s',
      lbPolicy: 'LEAST_REQUEST',
      dnsRefreshRate: '10s',
      dns_lookup_family: 'V4_ONLY',
      per_connection_buffer_limit_bytes: 32768,
      circuit_breakers: { thresholds: [
        { max_connections: 10, max_pending_requests: '20', max_requests: 30, max_retries: 4, track_remaining: true,
          retry_budget: { budget_percent: { value: 25 }, min_retry_concurrency: 5 } },
        { priority: 'HIGH', max_retries: 9 },
      ] },
      common_lb_config: { healthy_panic_threshold: { value: 30.7 } },
      least_request_lb_config: { choice_count: 3, active_request_bias: { default_value: 0.5, runtime_key: 'k' } },
      lb_subset_config: { fallback_policy: 'DEFAULT_SUBSET', default_subset: { version: 'v1' },
        subset_selectors: [{ keys: ['version', 'stage'], fallback_policy: 'ANY_ENDPOINT' }, { keys: ['version'] }, { keys: [] }] },
      typed_extension_protocol_options: H2_OPTIONS,
      load_assignment: {
        cluster_name: 'reviews',
        policy: { overprovisioning_factor: 200 },
        endpoints: [{
          locality: { region: 'r1', zone: 'z1', sub_zone: 's1' }, priority: 1, load_balancing_weight: 3,
          lb_endpoints: [{
            endpoint: { address: { socket_address: { address: 'reviews.local', port_value: 9080 } }, hostname: 'rev' },
            health_status: 'DEGRADED', load_balancing_weight: 5, metadata: { filter_metadata: { 'envoy.lb': { version: 'v2' } } },
          }],
        }],
      },
    }));
    expect(model).toMatchObject({
      statName: 'reviews_8080', type: 'STRICT_DNS', lbPolicy: 'LEAST_REQUEST', dnsRefreshRateMs: 10_000,
      dnsLookupFamily: 'V4_ONLY', overprovisioningFactor: 200, healthyPanicThreshold: 30,
      circuitBreakers: {
        default: { maxConnections: 10, maxPendingRequests: 20, maxRequests: 30, maxRetries: 4 },
        high: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 9 },
      },
      leastRequest: { choiceCount: 3, activeRequestBias: 0.5 },
      subset: {
        fallbackPolicy: 'DEFAULT_SUBSET', defaultSubset: { version: 'v1' },
        selectors: [{ keys: ['stage', 'version'], fallbackPolicy: 'ANY_ENDPOINT' }, { keys: ['version'], fallbackPolicy: null }],
      },
      pool: { connectTimeoutMs: 250, protocol: 'http2', idleTimeoutMs: 30_000, maxRequestsPerConnection: 7,
        http2: { maxConcurrentStreams: 50 }, bufferLimitBytes: 32768 },
    });
    expect(model.localities[0]).toEqual({
      locality: { region: 'r1', zone: 'z1', subZone: 's1' }, priority: 1, weight: 3,
      endpoints: [{ address: 'reviews.local', port: 9080, hostname: 'rev', healthStatus: 'DEGRADED', weight: 5,
        metadata: { 'envoy.lb': { version: 'v2' } } }],
    });
  });

  it('maps the legacy http2_protocol_options to an HTTP/2 pool and keeps the wire config for config_dump', () => {
    const wire = parseCluster({ name: 'h2', http2_protocol_options: {}, ring_hash_lb_config: { minimum_ring_size: 8 }, lb_policy: 'RING_HASH' });
    const model = translateCluster(wire);
    expect(model.pool.protocol).toBe('http2');
    expect(model.ringHash.minimumRingSize).toBe(8);
    expect(model.wire).toBe(wire);
  });

  it('accepts enum numbers as protobuf JSON allows', () => {
    expect(translateCluster(parseCluster({ name: 'n', type: 1, lb_policy: 3 }))).toMatchObject({ type: 'STRICT_DNS', lbPolicy: 'RANDOM' });
  });
});

describe('Cluster validation errors', () => {
  it.each([
    ['unknown field', { name: 'a', conect_timeout: '1s' }, 'clusters[0].conect_timeout', 'unknown-field'],
    ['unimplemented Cluster field', { name: 'a', cleanup_interval: '5s' }, 'clusters[0].cleanup_interval', 'not-implemented'],
    ['transport_socket_matches', { name: 'a', transport_socket_matches: [] }, 'clusters[0].transport_socket_matches', 'not-implemented'],
    ['a transport_socket of an unknown type', { name: 'a', transport_socket: { name: 'x', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.alts.v3.Alts' } } }, 'clusters[0].transport_socket.typed_config.@type', 'not-implemented'],
    ['respect_dns_ttl', { name: 'a', respect_dns_ttl: true }, 'clusters[0].respect_dns_ttl', 'not-implemented'],
    ['ORIGINAL_DST type', { name: 'a', type: 'ORIGINAL_DST' }, 'clusters[0].type', 'not-implemented'],
    ['EDS type without eds_cluster_config', { name: 'a', type: 'EDS' }, 'clusters[0].eds_cluster_config', 'invalid'],
    ['MAGLEV policy', { name: 'a', lb_policy: 'MAGLEV' }, 'clusters[0].lb_policy', 'not-implemented'],
    ['unknown enum value', { name: 'a', lb_policy: 'FASTEST' }, 'clusters[0].lb_policy', 'invalid'],
    ['empty name', { name: '' }, 'clusters[0].name', 'invalid'],
    ['zero connect_timeout', { name: 'a', connect_timeout: '0s' }, 'clusters[0].connect_timeout', 'invalid'],
    ['bad duration', { name: 'a', dns_refresh_rate: '5' }, 'clusters[0].dns_refresh_rate', 'invalid'],
    ['choice_count below 2', { name: 'a', lb_policy: 'LEAST_REQUEST', least_request_lb_config: { choice_count: 1 } },
      'clusters[0].least_request_lb_config.choice_count', 'invalid'],
    ['panic threshold above 100', { name: 'a', common_lb_config: { healthy_panic_threshold: { value: 120 } } },
      'clusters[0].common_lb_config.healthy_panic_threshold.value', 'invalid'],
    ['zone aware lb', { name: 'a', common_lb_config: { zone_aware_lb_config: {} } },
      'clusters[0].common_lb_config.zone_aware_lb_config', 'not-implemented'],
    ['KEYS_SUBSET fallback', { name: 'a', lb_subset_config: { subset_selectors: [{ keys: ['v'], fallback_policy: 'KEYS_SUBSET' }] } },
      'clusters[0].lb_subset_config.subset_selectors[0].fallback_policy', 'not-implemented'],
    ['other protocol options extension', { name: 'a', typed_extension_protocol_options: { 'envoy.filters.network.thrift_proxy': {} } },
      'clusters[0].typed_extension_protocol_options.envoy.filters.network.thrift_proxy', 'not-implemented'],
    ['wrong @type for HttpProtocolOptions', { name: 'a', typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/x.Y' } } },
    'clusters[0].typed_extension_protocol_options.envoy.extensions.upstreams.http.v3.HttpProtocolOptions.@type', 'not-implemented'],
    ['auto_config', { name: 'a', typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', auto_config: {} } } },
    'clusters[0].typed_extension_protocol_options.envoy.extensions.upstreams.http.v3.HttpProtocolOptions.auto_config', 'not-implemented'],
    ['http3', { name: 'a', typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http3_protocol_options: {} } } } },
    'clusters[0].typed_extension_protocol_options.envoy.extensions.upstreams.http.v3.HttpProtocolOptions.explicit_http_config.http3_protocol_options',
    'not-implemented'],
    ['pipe address', { name: 'a', load_assignment: { cluster_name: 'a', endpoints: [{ lb_endpoints: [
      { endpoint: { address: { pipe: { path: '/tmp/s' } } } }] }] } },
    'clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.pipe', 'not-implemented'],
    ['weight 0', staticCluster([[{ ip: '10.0.0.1', weight: 0 }]]),
      'clusters[0].load_assignment.endpoints[0].lb_endpoints[0].load_balancing_weight', 'invalid'],
    ['port out of range', staticCluster([[{ ip: '10.0.0.1', port: 70000 }]]),
      'clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value', 'invalid'],
    ['bad health status', staticCluster([[{ ip: '10.0.0.1', health: 'SICK' }]]),
      'clusters[0].load_assignment.endpoints[0].lb_endpoints[0].health_status', 'invalid'],
  ])('%s', (_what, input, path, kind) => {
    const errors = errorsOf(input);
    expect(errors).toContainEqual(expect.objectContaining({ path, kind }));
  });

  it('reports every problem at once, each with its path', () => {
    const errors = errorsOf({ name: 'a', health_checks: [], lb_policy: 'MAGLEV', typo: 1, circuit_breakers: { thresholds: [{ priority: 'LOW' }] } });
    expect(errors.map((e) => [e.path, e.kind])).toEqual(expect.arrayContaining([
      ['clusters[0].health_checks', 'not-implemented'],
      ['clusters[0].lb_policy', 'not-implemented'],
      ['clusters[0].typo', 'unknown-field'],
      ['clusters[0].circuit_breakers.thresholds[0].priority', 'invalid'],
    ]));
    expect(errors).toHaveLength(4);
  });

  it.each([
    ['STATIC with a hostname', staticCluster([[{ ip: '10.0.0.1' }, { ip: 'backend.local' }]]),
      'clusters[0].load_assignment.endpoints[0].lb_endpoints[1].endpoint.address.socket_address.address', /STATIC cluster needs IP/],
    ['LOGICAL_DNS with two endpoints', { ...(staticCluster([[{ ip: 'a.local' }, { ip: 'b.local' }]]) as object), type: 'LOGICAL_DNS' },
      'clusters[0].load_assignment.endpoints', /single locality_lb_endpoint and a single lb_endpoint/],
    ['LOGICAL_DNS without endpoints', { name: 'a', type: 'LOGICAL_DNS' },
      'clusters[0].load_assignment.endpoints', /single lb_endpoint/],
    ['ring_hash_lb_config with ROUND_ROBIN', { name: 'a', ring_hash_lb_config: {} },
      'clusters[0].ring_hash_lb_config', /requires lb_policy RING_HASH/],
    ['least_request_lb_config with RANDOM', { name: 'a', lb_policy: 'RANDOM', least_request_lb_config: {} },
      'clusters[0].least_request_lb_config', /requires lb_policy LEAST_REQUEST/],
    ['ring sizes reversed', { name: 'a', lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: 4096, maximum_ring_size: 2048 } },
      'clusters[0].ring_hash_lb_config.minimum_ring_size', /must not exceed maximum_ring_size/],
    ['maximum below the default minimum', { name: 'a', lb_policy: 'RING_HASH', ring_hash_lb_config: { maximum_ring_size: 100 } },
      'clusters[0].ring_hash_lb_config.minimum_ring_size', /\(1024\) must not exceed maximum_ring_size \(100\)/],
    ['legacy and typed HTTP/2 options together', { name: 'a', http2_protocol_options: {}, typed_extension_protocol_options: H2_OPTIONS },
      'clusters[0].http2_protocol_options', /cannot be combined/],
    ['explicit_http_config with both protocols', { name: 'a', typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http_protocol_options: {}, http2_protocol_options: {} } } } },
    'clusters[0].typed_extension_protocol_options.envoy.extensions.upstreams.http.v3.HttpProtocolOptions.explicit_http_config', /exactly one/],
  ])('cross-field rule: %s', (_what, input, path, message) => {
    const errors = errorsOf(input);
    expect(errors).toContainEqual(expect.objectContaining({ path, kind: 'invalid', message: expect.stringMatching(message) }));
  });

  it('allows duplicate endpoints and IP literals in DNS clusters', () => {
    expect(errorsOf(staticCluster([[{ ip: '10.0.0.1' }, { ip: '10.0.0.1' }]]))).toEqual([]);
    expect(errorsOf({ ...(staticCluster([[{ ip: '10.0.0.1' }, { ip: 'b.local' }]]) as object), type: 'STRICT_DNS' })).toEqual([]);
    expect(errorsOf(staticCluster([[{ ip: '::1' }]]))).toEqual([]);
  });
});

describe('ClusterLoadAssignment schema', () => {
  it('requires cluster_name and bounds priority', () => {
    const r = parseWith(ClusterLoadAssignmentSchema, { cluster_name: '', endpoints: [{ priority: 200 }] }, 'cla');
    expect(r.ok ? [] : r.errors.map((e) => e.path)).toEqual(['cla.cluster_name', 'cla.endpoints[0].priority']);
  });

  it('reports unimplemented ClusterLoadAssignment fields as not implemented', () => {
    const r = parseWith(ClusterLoadAssignmentSchema, { cluster_name: 'x', policy: { drop_overloads: [] }, named_endpoints: {} }, 'cla');
    expect(r.ok ? [] : r.errors.map((e) => [e.path, e.kind])).toEqual([
      ['cla.policy.drop_overloads', 'not-implemented'],
      ['cla.named_endpoints', 'not-implemented'],
    ]);
  });
});
