// Tests for whole-bootstrap validation (proxy/config/bootstrap.ts and the Bootstrap, Listener and HCM
// schemas): valid bootstraps in YAML/JSON, snake_case/lowerCamelCase → the defaulted model; invalid ones
// → every error with its exact path and kind.

import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import type { ConfigError } from '../../../proxy/common/result.ts';
import { validateBootstrap, type BootstrapConfig } from '../../../proxy/config/bootstrap.ts';
import { parseConfigText } from '../../../proxy/config/load.ts';
import { message } from '../../../proxy/config/schema-kit.ts';
import { registerHttpFilter } from '../../../proxy/filters/http/registry.ts';
import { HCM_DEFAULTS, HCM_TYPE_URL } from '../../../proxy/http/hcm-schema.ts';

const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const TAG_TYPE = 'type.googleapis.com/test.filters.http.Tag';

// A test-only, non-terminal filter with per-route config (the product has the router only so far).
const TagSchema = message('test.filters.http.Tag', { value: z.string().optional() });
registerHttpFilter({
  name: 'test.filters.http.tag', typeUrl: TAG_TYPE, configSchema: TagSchema, perRouteSchema: TagSchema,
  create: () => () => ({}),
});

/** Path of the first listener's HTTP connection manager. */
const H = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';
const L0 = 'static_resources.listeners[0]';

type Json = Record<string, any>;

const router = (name = 'envoy.filters.http.router'): Json => ({ name, typed_config: { '@type': ROUTER_TYPE } });
const tag = (name = 'tag', extra: Json = {}): Json => ({ name, typed_config: { '@type': TAG_TYPE }, ...extra });

function hcm(): Json {
  return {
    '@type': HCM_TYPE_URL,
    stat_prefix: 'ingress',
    route_config: {
      name: 'local',
      virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] }],
    },
    http_filters: [router()],
  };
}

function listener(name: string, port: number): Json {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm() }] }],
  };
}

function cluster(name: string): Json {
  return {
    name, type: 'STATIC', connect_timeout: '1s',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 8080 } } } }] }] },
  };
}

function base(): Json {
  return {
    node: { id: 'sidecar-1', cluster: 'web' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 15000 } } },
    static_resources: { listeners: [listener('main', 15001)], clusters: [cluster('backend')] },
  };
}

/** A base bootstrap edited by `edit`; `h` is the first listener's HCM. */
function variant(edit: (b: Json, h: Json) => void): Json {
  const b = base();
  edit(b, b.static_resources.listeners[0].filter_chains[0].filters[0].typed_config);
  return b;
}

function valid(input: unknown, opts?: Parameters<typeof validateBootstrap>[1]): BootstrapConfig {
  const r = validateBootstrap(input, opts);
  if (!r.ok) throw new Error(JSON.stringify(r.errors, null, 2));
  return r.value;
}

function errorsOf(input: unknown): { path: string; kind: ConfigError['kind'] }[] {
  const r = validateBootstrap(input);
  if (r.ok) throw new Error('expected the bootstrap to be rejected');
  return r.errors.map(({ path, kind }) => ({ path, kind }));
}

const SNAKE_YAML = `
node: {id: sidecar-1, cluster: web, metadata: {ISTIO_VERSION: "1.24"}, locality: {region: eu, zone: eu-1}}
admin:
  address: {socket_address: {address: 127.0.0.1, port_value: 15000}}
static_resources:
  listeners:
  - name: main
    address: {socket_address: {address: 0.0.0.0, port_value: 15001}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": ${HCM_TYPE_URL}
          stat_prefix: ingress
          use_remote_address: true
          xff_num_trusted_hops: 1
          internal_address_config: {cidr_ranges: [{address_prefix: 10.0.0.0, prefix_len: 8}]}
          stream_idle_timeout: 30s
          common_http_protocol_options: {idle_timeout: 0.5s, max_headers_count: 50}
          proxy_100_continue: false
          route_config:
            name: local
            internal_only_headers: [X-Internal]
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{match: {prefix: /}, route: {cluster: backend}}]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": ${ROUTER_TYPE}}
  clusters:
  - name: backend
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: backend
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 8080}}}}]}]
`;

const CAMEL_JSON = JSON.stringify({
  node: { id: 'sidecar-1', cluster: 'web', metadata: { ISTIO_VERSION: '1.24' }, locality: { region: 'eu', zone: 'eu-1' } },
  admin: { address: { socketAddress: { address: '127.0.0.1', portValue: 15000 } } },
  staticResources: {
    listeners: [{
      name: 'main',
      address: { socketAddress: { address: '0.0.0.0', portValue: 15001 } },
      filterChains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typedConfig: {
        '@type': HCM_TYPE_URL,
        statPrefix: 'ingress',
        useRemoteAddress: true,
        xffNumTrustedHops: 1,
        internalAddressConfig: { cidrRanges: [{ addressPrefix: '10.0.0.0', prefixLen: 8 }] },
        streamIdleTimeout: '30s',
        commonHttpProtocolOptions: { idleTimeout: '0.5s', maxHeadersCount: 50 },
        proxy100Continue: false,
        routeConfig: {
          name: 'local',
          internalOnlyHeaders: ['X-Internal'],
          virtualHosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] }],
        },
        httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER_TYPE } }],
      } }] }],
    }],
    clusters: [{
      name: 'backend', type: 'STATIC', connectTimeout: '1s',
      loadAssignment: { clusterName: 'backend', endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: 8080 } } } }] }] },
    }],
  },
});

describe('validateBootstrap: valid bootstraps', () => {
  it.each([
    ['snake_case YAML', SNAKE_YAML, 'envoy.yaml'],
    ['lowerCamelCase JSON', CAMEL_JSON, 'envoy.json'],
  ])('turns %s into the defaulted model', (_name, text, source) => {
    const parsed = parseConfigText(text, source);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const config = valid(parsed.value);

    expect(config.node).toEqual({ id: 'sidecar-1', cluster: 'web', metadata: { ISTIO_VERSION: '1.24' }, locality: { region: 'eu', zone: 'eu-1', subZone: '' } });
    expect(config.admin).toEqual({ address: '127.0.0.1', port: 15000 });
    expect(config.statsFlushIntervalMs).toBe(5000);
    expect(config.clusters.map((c) => c.name)).toEqual(['backend']);
    expect(config.configDump).toEqual(parsed.value);
    expect(Object.isFrozen(config.configDump)).toBe(true);

    expect(config.listeners).toHaveLength(1);
    const { filterChains, wire: listenerWire, ...l } = config.listeners[0]!;
    expect(listenerWire.name).toBe('main');
    expect(l).toEqual({
      name: 'main', address: '0.0.0.0', port: 15001, ipv4Compat: false, statPrefix: '', trafficDirection: 'UNSPECIFIED',
      enableReusePort: true, perConnectionBufferLimitBytes: 1048576, defaultFilterChain: null, tlsInspector: false,
      listenerFiltersTimeoutMs: 15_000, continueOnListenerFiltersTimeout: false,
    });
    expect(filterChains).toHaveLength(1);
    const { hcm: h, routeConfig, name: chainName, tls } = filterChains[0]!;
    expect([chainName, tls]).toEqual(['filter_chains[0]', null]);
    expect(routeConfig.name).toBe('local');
    const { httpFilters, routeConfig: routeWire, ...rest } = h;
    expect(httpFilters.map((f) => ({ name: f.name, type: f.factory.typeUrl, disabled: f.disabled }))).toEqual([
      { name: 'envoy.filters.http.router', type: ROUTER_TYPE, disabled: false },
    ]);
    expect(routeWire?.name).toBe('local');
    expect(rest).toEqual({
      statPrefix: 'ingress', rds: null,
      generateRequestId: true, preserveExternalRequestId: false, alwaysSetRequestIdInResponse: false,
      useRemoteAddress: true, xffNumTrustedHops: 1, skipXffAppend: false,
      internalCidrs: [{ addressPrefix: '10.0.0.0', prefixLen: 8 }], internalOnlyHeaders: ['x-internal'],
      serverName: 'envoy', serverHeaderTransformation: 'OVERWRITE',
      streamIdleTimeoutMs: 30_000, requestTimeoutMs: 0, requestHeadersTimeoutMs: 0,
      maxRequestHeadersKb: 60, idleTimeoutMs: 500, maxHeadersCount: 50,
      headersWithUnderscoresAction: 'ALLOW', accessLog: [], via: '', stripHostPort: 'none',
      forwardClientCertDetails: 'SANITIZE', setCurrentClientCertDetails: [], tracing: null,
    });
  });

  it('applies Envoy defaults to a minimal HCM (HCM_DEFAULTS)', () => {
    const h = valid(base()).listeners[0]!.filterChains[0]!.hcm;
    expect(h).toMatchObject({
      generateRequestId: true, useRemoteAddress: false, xffNumTrustedHops: 0,
      internalCidrs: [], serverName: 'envoy', streamIdleTimeoutMs: 300_000, requestTimeoutMs: 0, maxRequestHeadersKb: 60,
      idleTimeoutMs: 3_600_000, maxHeadersCount: 100, via: '', stripHostPort: 'none',
    });
  });

  it.each([
    ['"5s"', '5s', 5000],
    ['"0.25s"', '0.25s', 250],
    ['nanosecond precision', '1.000340012s', 1000.340012],
    ['{seconds, nanos}', { seconds: 2, nanos: 500_000_000 }, 2500],
    ['seconds as a string', { seconds: '3' }, 3000],
    ['"0s" (disabled)', '0s', 0],
  ])('reads the Duration %s', (_name, value, ms) => {
    expect(valid(variant((_b, h) => { h.stream_idle_timeout = value; })).listeners[0]!.filterChains[0]!.hcm.streamIdleTimeoutMs).toBeCloseTo(ms, 9);
  });

  it.each([['"5"', '5'], ['"5m"', '5m'], ['"-1s"', '-1s'], ['a bare number', 5], ['unknown {seconds} keys', { secs: 1 }]])('rejects the Duration %s', (_name, value) => {
    expect(errorsOf(variant((_b, h) => { h.stream_idle_timeout = value; }))).toEqual([{ path: `${H}.stream_idle_timeout`, kind: 'invalid' }]);
  });

  it('lets --service-node / --service-cluster override node.id / node.cluster', () => {
    expect(valid(base(), { serviceNode: 'n2', serviceCluster: 'c2' }).node).toMatchObject({ id: 'n2', cluster: 'c2' });
    expect(valid(variant((b) => { delete b.node; }), { serviceCluster: 'c3' }).node).toMatchObject({ id: '', cluster: 'c3' });
  });

  it.each([
    ['no admin', (b: Json) => { delete b.admin; }],
    ['admin without address', (b: Json) => { b.admin = { access_log_path: '/dev/null', profile_path: '/tmp/envoy.prof' }; }],
  ])('has no admin server with %s', (_name, edit) => {
    expect(valid(variant(edit)).admin).toBeUndefined();
  });

  it('names an unnamed listener after its index and derives nothing else from the name', () => {
    expect(valid(variant((b) => { delete b.static_resources.listeners[0].name; })).listeners[0]!.name).toBe('listener_0');
  });

  it('allows several listeners on port 0 (ephemeral)', () => {
    const config = valid(variant((b) => {
      b.static_resources.listeners = [listener('a', 0), listener('b', 0), listener('c', 15001)];
    }));
    expect(config.listeners.map((l) => [l.name, l.port])).toEqual([['a', 0], ['b', 0], ['c', 15001]]);
  });

  it('keeps a disabled non-terminal filter and drops an unknown optional one', () => {
    const config = valid(variant((_b, h) => {
      h.http_filters = [
        tag('t', { disabled: true }),
        { name: 'ext', is_optional: true, typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm' } },
        router(),
      ];
    }));
    expect(config.listeners[0]!.filterChains[0]!.hcm.httpFilters.map((f) => [f.name, f.disabled])).toEqual([['t', true], ['envoy.filters.http.router', false]]);
  });

  it('parses typed_per_filter_config with the named filter\'s per-route schema', () => {
    const config = valid(variant((_b, h) => {
      h.http_filters = [tag('t'), router()];
      h.route_config.virtual_hosts[0].typed_per_filter_config = { t: { '@type': TAG_TYPE, value: 'vh' } };
    }));
    const route = config.listeners[0]!.filterChains[0]!.routeConfig.route({ method: 'GET', path: '/', authority: 'x', scheme: 'http', headers: {} } as never);
    expect(route?.perFilterConfig('t')).toEqual({ value: 'vh' });
  });

  it('does not check route clusters when validate_clusters is false', () => {
    expect(validateBootstrap(variant((_b, h) => {
      h.route_config.validate_clusters = false;
      h.route_config.virtual_hosts[0].routes[0].route.cluster = 'later';
    })).ok).toBe(true);
  });

  it('accepts the fields it accepts for being no-ops', () => {
    expect(validateBootstrap(variant((b, h) => {
      b.stats_flush_interval = '10s';
      b.admin.access_log_path = '/dev/null';
      b.node.user_agent_name = 'envoy';
      h.normalize_path = false;
      h.merge_slashes = false;
      h.internal_address_config = { unix_sockets: true };
      h.http_protocol_options = {};
    })).ok).toBe(true);
  });
});

describe('validateBootstrap: invalid bootstraps report every error with its path and kind', () => {
  it.each<[string, (b: Json, h: Json) => void, { path: string; kind: ConfigError['kind'] }[]]>([
    // Bootstrap
    ['an unknown top-level field', (b) => { b.staticResource = {}; }, [{ path: 'staticResource', kind: 'unknown-field' }]],
    ['dynamic_resources over ADS', (b) => { b.dynamic_resources = { lds_config: { ads: {} } }; }, [{ path: 'dynamic_resources.lds_config.ads', kind: 'not-implemented' }]],
    ['layered_runtime', (b) => { b.layeredRuntime = { layers: [] }; }, [{ path: 'layeredRuntime', kind: 'not-implemented' }]],
    ['a generic_secret static secret', (b) => { b.static_resources.secrets = [{ name: 'x', generic_secret: {} }]; }, [
      { path: 'static_resources.secrets[0].generic_secret', kind: 'not-implemented' }, { path: 'static_resources.secrets[0]', kind: 'invalid' }]],
    ['stats_flush_interval of 300s', (b) => { b.stats_flush_interval = '300s'; }, [{ path: 'stats_flush_interval', kind: 'invalid' }]],
    ['node.user_agent_build_version', (b) => { b.node.user_agent_build_version = {}; }, [{ path: 'node.user_agent_build_version', kind: 'not-implemented' }]],
    ['a non-string node.id', (b) => { b.node.id = 5; }, [{ path: 'node.id', kind: 'invalid' }]],
    ['admin access_log_path to a file', (b) => { b.admin.access_log_path = '/tmp/admin.log'; }, [{ path: 'admin.access_log_path', kind: 'not-implemented' }]],
    ['admin access_log', (b) => { b.admin.access_log = []; }, [{ path: 'admin.access_log', kind: 'not-implemented' }]],
    ['an admin hostname', (b) => { b.admin.address.socket_address.address = 'localhost'; }, [{ path: 'admin.address.socket_address.address', kind: 'invalid' }]],
    // Listener
    ['a listener hostname', (b) => { b.static_resources.listeners[0].address.socket_address.address = 'example.com'; }, [{ path: `${L0}.address.socket_address.address`, kind: 'invalid' }]],
    ['a UDP listener', (b) => { b.static_resources.listeners[0].address.socket_address.protocol = 'UDP'; }, [{ path: `${L0}.address.socket_address.protocol`, kind: 'not-implemented' }]],
    ['a port above 65535', (b) => { b.static_resources.listeners[0].address.socket_address.port_value = 70000; }, [{ path: `${L0}.address.socket_address.port_value`, kind: 'invalid' }]],
    ['a pipe address', (b) => { b.static_resources.listeners[0].address = { pipe: { path: '/tmp/s' } }; }, [
      { path: `${L0}.address.socket_address`, kind: 'invalid' }, { path: `${L0}.address.pipe`, kind: 'not-implemented' }]],
    ['a listener without address', (b) => { delete b.static_resources.listeners[0].address; }, [{ path: `${L0}.address`, kind: 'invalid' }]],
    ['a listener filter other than tls_inspector', (b) => { b.static_resources.listeners[0].listener_filters = [{ name: 'envoy.filters.listener.http_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector' } }]; }, [{ path: `${L0}.listener_filters[0].typed_config.@type`, kind: 'not-implemented' }]],
    ['a bad traffic_direction', (b) => { b.static_resources.listeners[0].traffic_direction = 'SIDEWAYS'; }, [{ path: `${L0}.traffic_direction`, kind: 'invalid' }]],
    ['no filter chains', (b) => { b.static_resources.listeners[0].filter_chains = []; }, [{ path: `${L0}.filter_chains`, kind: 'invalid' }]],
    ['two filter chains with the same match', (b) => { b.static_resources.listeners[0].filter_chains.push(b.static_resources.listeners[0].filter_chains[0]); }, [{ path: `${L0}.filter_chains[1].filter_chain_match`, kind: 'invalid' }]],
    ['a partial server_names wildcard', (b) => { b.static_resources.listeners[0].filter_chains[0].filter_chain_match = { server_names: ['*w.example.com'] }; }, [{ path: `${L0}.filter_chains[0].filter_chain_match.server_names[0]`, kind: 'invalid' }]],
    ['a transport socket without a type', (b) => { b.static_resources.listeners[0].filter_chains[0].transportSocket = { name: 'envoy.transport_sockets.tls' }; }, [{ path: `${L0}.filter_chains[0].transport_socket.typed_config`, kind: 'invalid' }]],
    ['a chain without network filters', (b) => { b.static_resources.listeners[0].filter_chains[0].filters = []; }, [{ path: `${L0}.filter_chains[0].filters`, kind: 'not-implemented' }]],
    ['the tcp_proxy network filter', (b) => {
      b.static_resources.listeners[0].filter_chains[0].filters[0] = { name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', cluster: 'backend' } };
    }, [{ path: `${L0}.filter_chains[0].filters[0].typed_config.@type`, kind: 'not-implemented' }]],
    ['a filter after the HCM', (b) => { const fs = b.static_resources.listeners[0].filter_chains[0].filters; fs.push(fs[0]); }, [{ path: `${L0}.filter_chains[0].filters[1]`, kind: 'invalid' }]],
    // HTTP connection manager
    ['a misspelt HCM field', (_b, h) => { h.statPrefx = 'x'; }, [{ path: `${H}.statPrefx`, kind: 'unknown-field' }]],
    ['a missing stat_prefix', (_b, h) => { delete h.stat_prefix; }, [{ path: `${H}.stat_prefix`, kind: 'invalid' }]],
    ['a missing route_config', (_b, h) => { delete h.route_config; }, [{ path: `${H}.route_config`, kind: 'invalid' }]],
    ['rds over ADS', (_b, h) => { delete h.route_config; h.rds = { route_config_name: 'r', config_source: { ads: {} } }; }, [{ path: `${H}.rds.config_source.ads`, kind: 'not-implemented' }]],
    ['tracing spawn_upstream_span: true', (_b, h) => { h.tracing = { spawn_upstream_span: true }; }, [{ path: `${H}.tracing.spawn_upstream_span`, kind: 'not-implemented' }]],
    ['a Zipkin collector_cluster that does not exist', (_b, h) => {
      h.tracing = { provider: { name: 'envoy.tracers.zipkin', typed_config: {
        '@type': 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfig', collector_cluster: 'zipkin', collector_endpoint: '/api/v2/spans', collector_endpoint_version: 'HTTP_JSON' } } };
    }, [{ path: `${H}.tracing.provider.typed_config.collector_cluster`, kind: 'invalid' }]],
    ['codec_type HTTP2', (_b, h) => { h.codec_type = 'HTTP2'; }, [{ path: `${H}.codec_type`, kind: 'not-implemented' }]],
    ['an unknown codec_type', (_b, h) => { h.codec_type = 'HTTP9'; }, [{ path: `${H}.codec_type`, kind: 'invalid' }]],
    ['max_request_headers_kb above 8192', (_b, h) => { h.max_request_headers_kb = 9000; }, [{ path: `${H}.max_request_headers_kb`, kind: 'invalid' }]],
    ['max_headers_count 0', (_b, h) => { h.common_http_protocol_options = { max_headers_count: 0 }; }, [{ path: `${H}.common_http_protocol_options.max_headers_count`, kind: 'invalid' }]],
    ['max_requests_per_connection', (_b, h) => { h.common_http_protocol_options = { max_requests_per_connection: 1 }; }, [{ path: `${H}.common_http_protocol_options.max_requests_per_connection`, kind: 'not-implemented' }]],
    ['accept_http_10', (_b, h) => { h.http_protocol_options = { accept_http_10: true }; }, [{ path: `${H}.http_protocol_options.accept_http_10`, kind: 'not-implemented' }]],
    ['normalize_path: true', (_b, h) => { h.normalize_path = true; }, [{ path: `${H}.normalize_path`, kind: 'not-implemented' }]],
    ['both strip_*_host_port', (_b, h) => { h.strip_matching_host_port = true; h.strip_any_host_port = true; }, [{ path: `${H}.strip_any_host_port`, kind: 'invalid' }]],
    ['a via with a newline', (_b, h) => { h.via = 'a\nb'; }, [{ path: `${H}.via`, kind: 'invalid' }]],
    ['an internal CIDR /33', (_b, h) => { h.internal_address_config = { cidr_ranges: [{ address_prefix: '10.0.0.0', prefix_len: 33 }] }; }, [{ path: `${H}.internal_address_config.cidr_ranges[0].prefix_len`, kind: 'invalid' }]],
    ['an internal CIDR that is not an IP', (_b, h) => { h.internal_address_config = { cidr_ranges: [{ address_prefix: 'ten' }] }; }, [{ path: `${H}.internal_address_config.cidr_ranges[0].address_prefix`, kind: 'invalid' }]],
    // http_filters
    ['no http_filters', (_b, h) => { delete h.http_filters; }, [{ path: `${H}.http_filters`, kind: 'invalid' }]],
    ['a non-terminal last filter', (_b, h) => { h.http_filters = [tag()]; }, [{ path: `${H}.http_filters[0]`, kind: 'invalid' }]],
    ['a terminal filter before another filter', (_b, h) => { h.http_filters = [router(), tag()]; }, [
      { path: `${H}.http_filters[0]`, kind: 'invalid' }, { path: `${H}.http_filters[1]`, kind: 'invalid' }]],
    ['two filters with one name', (_b, h) => { h.http_filters = [tag('x'), tag('x'), router()]; }, [{ path: `${H}.http_filters[1].name`, kind: 'invalid' }]],
    ['a disabled router', (_b, h) => { h.http_filters = [{ ...router(), disabled: true }]; }, [{ path: `${H}.http_filters[0].disabled`, kind: 'invalid' }]],
    ['an unknown HTTP filter type', (_b, h) => { h.http_filters = [{ name: 'w', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm' } }, router()]; },
      [{ path: `${H}.http_filters[0].typed_config.@type`, kind: 'not-implemented' }]],
    ['an HTTP filter without typed_config', (_b, h) => { h.http_filters = [{ name: 'envoy.filters.http.router' }]; }, [{ path: `${H}.http_filters[0].typed_config`, kind: 'invalid' }]],
    ['an unknown field in the router config', (_b, h) => { h.http_filters[0].typed_config.suppressEnvoyHeaderz = true; }, [{ path: `${H}.http_filters[0].typed_config.suppressEnvoyHeaderz`, kind: 'unknown-field' }]],
    ['config_discovery', (_b, h) => { h.http_filters = [{ name: 'x', config_discovery: {} }, router()]; }, [
      { path: `${H}.http_filters[0].config_discovery`, kind: 'not-implemented' }]],
    // Cross-references
    ['duplicate listener names', (b) => { b.static_resources.listeners.push(listener('main', 15002)); }, [{ path: 'static_resources.listeners[1].name', kind: 'invalid' }]],
    ['duplicate cluster names', (b) => { b.static_resources.clusters.push(cluster('backend')); }, [{ path: 'static_resources.clusters[1].name', kind: 'invalid' }]],
    ['two listeners on one address:port', (b) => { b.static_resources.listeners.push(listener('other', 15001)); }, [{ path: 'static_resources.listeners[1].address', kind: 'invalid' }]],
    ['a route to an unknown cluster', (_b, h) => { h.route_config.virtual_hosts[0].routes[0].route.cluster = 'nope'; }, [
      { path: `${H}.route_config.virtual_hosts[0].routes[0].route.cluster`, kind: 'invalid' }]],
    ['per-filter config for a filter that is not configured', (_b, h) => { h.route_config.virtual_hosts[0].typed_per_filter_config = { ghost: { '@type': TAG_TYPE } }; }, [
      { path: `${H}.route_config.virtual_hosts[0].typed_per_filter_config.ghost`, kind: 'invalid' }]],
    ['per-filter config that the filter\'s schema rejects', (_b, h) => {
      h.http_filters = [tag('t'), router()];
      h.route_config.virtual_hosts[0].typed_per_filter_config = { t: { '@type': TAG_TYPE, value: 7 } };
    }, [{ path: `${H}.route_config.virtual_hosts[0].typed_per_filter_config.t.value`, kind: 'invalid' }]],
  ])('%s', (_name, edit, expected) => {
    expect(errorsOf(variant(edit))).toEqual(expected);
  });

  it('reports all five problems of a config that has five', () => {
    const input = variant((b, h) => {
      b.statsSinks = [];                                                      // not implemented
      h.server_nmae = 'x';                                                    // unknown field
      b.static_resources.listeners[0].traffic_direction = 'SIDEWAYS';        // invalid enum
      h.drain_timeout = '5';                                                  // invalid Duration
      b.static_resources.clusters.push(cluster('backend'));                   // duplicate cluster (cross-check)
    });
    expect(errorsOf(input)).toEqual(expect.arrayContaining([
      { path: 'statsSinks', kind: 'not-implemented' },
      { path: `${H}.server_nmae`, kind: 'unknown-field' },
      { path: `${L0}.traffic_direction`, kind: 'invalid' },
      { path: `${H}.drain_timeout`, kind: 'invalid' },
      { path: 'static_resources.clusters[1].name', kind: 'invalid' },
    ]));
    expect(errorsOf(input)).toHaveLength(5);
  });

  it('cross-checks the valid listeners even when another listener is broken', () => {
    const input = variant((b) => {
      const good = listener('good', 15002);
      good.filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.cluster = 'nope';
      b.static_resources.listeners.push(good, listener('main', 15003));
      b.static_resources.listeners[0].bogus = 1;
    });
    expect(errorsOf(input)).toEqual([
      { path: `${L0}.bogus`, kind: 'unknown-field' },
      { path: 'static_resources.listeners[2].name', kind: 'invalid' },
      { path: 'static_resources.listeners[1].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.cluster', kind: 'invalid' },
    ]);
  });

  it('does not call a broken cluster unknown in routes', () => {
    expect(errorsOf(variant((b) => { b.static_resources.clusters[0].connect_timeout = 'soon'; }))).toEqual([
      { path: 'static_resources.clusters[0].connect_timeout', kind: 'invalid' },
    ]);
  });

  it('words the messages for people', () => {
    const r = validateBootstrap(variant((b, h) => {
      b.dynamic_resources = { ads_config: {} };
      h.statPrefx = 'x';
      delete h.stat_prefix;
      h.http_filters = [router(), tag()];
    }));
    expect(r.ok ? [] : r.errors.map((e) => e.message)).toEqual([
      'required field is missing',
      'terminal filter named envoy.filters.http.router of type type.googleapis.com/envoy.extensions.filters.http.router.v3.Router must be the last filter in a http filter chain',
      'non-terminal filter named tag of type type.googleapis.com/test.filters.http.Tag is the last filter in a http filter chain',
      'unknown field "statPrefx": envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager has no such field',
      'field "ads_config" of envoy.config.bootstrap.v3.Bootstrap.DynamicResources is valid Envoy config but nodevoy does not implement it',
    ]);
  });
});
