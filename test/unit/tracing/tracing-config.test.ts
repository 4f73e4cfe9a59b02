// HttpConnectionManager.tracing and the Zipkin provider in a bootstrap: Envoy's defaults, the translated
// model, and every bad value reported with its field path and kind (collector_cluster checked like routes).

import { describe, expect, it } from 'vitest';
import { validateBootstrap } from '../../../proxy/config/bootstrap.ts';
import { HCM_TYPE_URL } from '../../../proxy/http/hcm-schema.ts';
import { toTracingConfig, ZIPKIN_TYPE_URL } from '../../../proxy/tracing/tracing-schema.ts';

type Json = Record<string, any>;

const H = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';
const Z = `${H}.tracing.provider.typed_config`;

function zipkin(extra: Json = {}): Json {
  return {
    name: 'envoy.tracers.zipkin',
    typed_config: { '@type': ZIPKIN_TYPE_URL, collector_cluster: 'zipkin', collector_endpoint: '/api/v2/spans', collector_endpoint_version: 'HTTP_JSON', ...extra },
  };
}

function bootstrap(tracing: unknown): Json {
  const cluster = (name: string): Json => ({
    name, type: 'STATIC', connect_timeout: '1s',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 9411 } } } }] }] },
  });
  return {
    node: { id: 'n', cluster: 'web' },
    static_resources: {
      listeners: [{
        name: 'main', address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
        filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
          '@type': HCM_TYPE_URL, stat_prefix: 'ingress', tracing,
          route_config: { name: 'r', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] }] },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
        } }] }],
      }],
      clusters: [cluster('backend'), cluster('zipkin')],
    },
  };
}

function tracingOf(tracing: unknown) {
  const r = validateBootstrap(bootstrap(tracing));
  if (!r.ok) throw new Error(JSON.stringify(r.errors, null, 2));
  return r.value.listeners[0]!.filterChains[0]!.hcm.tracing;
}

function errorsOf(tracing: unknown): { path: string; kind: string }[] {
  const r = validateBootstrap(bootstrap(tracing));
  if (r.ok) throw new Error('expected the bootstrap to be rejected');
  return r.errors.map(({ path, kind }) => ({ path, kind }));
}

describe('HttpConnectionManager.tracing', () => {
  it('a bare `tracing: {}` samples everything (100 % defaults) and has no provider', () => {
    expect(tracingOf({})).toEqual({
      sampling: { clientNumerator: 100, randomNumerator: 10_000, overallNumerator: 10_000 },
      verbose: false, maxPathTagLength: 256, customTags: [], zipkin: null,
    });
  });

  it('translates sampling percentages as Envoy does (random/overall out of 10,000 rounded; client truncated out of 100)', () => {
    const t = tracingOf({ random_sampling: { value: 10.005 }, overall_sampling: { value: 50 }, client_sampling: { value: 25.9 }, verbose: true, max_path_tag_length: 64 });
    expect(t).toMatchObject({ sampling: { clientNumerator: 25, randomNumerator: 1001, overallNumerator: 5000 }, verbose: true, maxPathTagLength: 64 });
  });

  it('reads a Zipkin provider with its defaults (lowerCamelCase accepted)', () => {
    expect(tracingOf({ provider: zipkin() })?.zipkin).toEqual({
      collectorCluster: 'zipkin', collectorEndpoint: '/api/v2/spans', collectorHostname: 'zipkin',
      traceId128bit: false, sharedSpanContext: true, w3cPropagation: false,
    });
    expect(tracingOf({ provider: { name: 'zipkin', typedConfig: { '@type': ZIPKIN_TYPE_URL, collectorCluster: 'zipkin', collectorEndpoint: '/c', collectorEndpointVersion: 'HTTP_JSON',
      traceId128bit: true, sharedSpanContext: false, collectorHostname: 'zipkin.istio-system', traceContextOption: 'USE_B3_WITH_W3C_PROPAGATION' } } })?.zipkin).toEqual({
      collectorCluster: 'zipkin', collectorEndpoint: '/c', collectorHostname: 'zipkin.istio-system',
      traceId128bit: true, sharedSpanContext: false, w3cPropagation: true,
    });
  });

  it('custom tags: environment variables are read once, at config time', () => {
    const t = toTracingConfig({ custom_tags: [{ tag: 'e', environment: { name: 'X' } }, { tag: 'h', request_header: { name: 'X-A' } }] }, { X: 'from-env' });
    expect(t.customTags).toEqual([{ kind: 'literal', tag: 'e', value: 'from-env' }, { kind: 'request_header', tag: 'h', header: 'x-a', defaultValue: '' }]);
  });

  it.each([
    ['a Percent above 100', { random_sampling: { value: 101 } }, [{ path: `${H}.tracing.random_sampling.value`, kind: 'invalid' }]],
    ['a negative Percent', { overall_sampling: { value: -1 } }, [{ path: `${H}.tracing.overall_sampling.value`, kind: 'invalid' }]],
    ['a misspelt field', { random_samplin: { value: 1 } }, [{ path: `${H}.tracing.random_samplin`, kind: 'unknown-field' }]],
    ['spawn_upstream_span: true', { spawn_upstream_span: true }, [{ path: `${H}.tracing.spawn_upstream_span`, kind: 'not-implemented' }]],
    ['operation', { operation: '%REQ(:PATH)%' }, [{ path: `${H}.tracing.operation`, kind: 'not-implemented' }]],
    ['a metadata custom tag', { custom_tags: [{ tag: 'm', metadata: {} }] }, [{ path: `${H}.tracing.custom_tags[0].metadata`, kind: 'not-implemented' }]],
    ['a custom tag of no kind', { custom_tags: [{ tag: 'm' }] }, [{ path: `${H}.tracing.custom_tags[0]`, kind: 'invalid' }]],
    ['a custom tag of two kinds', { custom_tags: [{ tag: 'm', literal: { value: 'a' }, request_header: { name: 'b' } }] }, [{ path: `${H}.tracing.custom_tags[0]`, kind: 'invalid' }]],
    ['an empty literal', { custom_tags: [{ tag: 'm', literal: { value: '' } }] }, [{ path: `${H}.tracing.custom_tags[0].literal.value`, kind: 'invalid' }]],
    ['a bad header name', { custom_tags: [{ tag: 'm', request_header: { name: 'bad header' } }] }, [{ path: `${H}.tracing.custom_tags[0].request_header.name`, kind: 'invalid' }]],
    ['an unknown tracer type', { provider: { name: 'envoy.tracers.opentelemetry', typed_config: { '@type': 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig' } } },
      [{ path: `${H}.tracing.provider.typed_config.@type`, kind: 'not-implemented' }]],
    ['a provider without typed_config', { provider: { name: 'envoy.tracers.zipkin' } }, [{ path: `${H}.tracing.provider.typed_config`, kind: 'invalid' }]],
    ['a collector_cluster that does not exist', { provider: zipkin({ collector_cluster: 'nope' }) }, [{ path: `${Z}.collector_cluster`, kind: 'invalid' }]],
    ['an empty collector_cluster', { provider: zipkin({ collector_cluster: '' }) }, [{ path: `${Z}.collector_cluster`, kind: 'invalid' }]],
    ['no collector_endpoint', { provider: zipkin({ collector_endpoint: undefined }) }, [{ path: `${Z}.collector_endpoint`, kind: 'invalid' }]],
    ['no collector_endpoint_version (Envoy refuses the v1 default)', { provider: zipkin({ collector_endpoint_version: undefined }) }, [{ path: `${Z}.collector_endpoint_version`, kind: 'invalid' }]],
    ['collector_endpoint_version HTTP_PROTO', { provider: zipkin({ collector_endpoint_version: 'HTTP_PROTO' }) }, [{ path: `${Z}.collector_endpoint_version`, kind: 'not-implemented' }]],
    ['an unknown collector_endpoint_version', { provider: zipkin({ collector_endpoint_version: 'HTTP_XML' }) }, [{ path: `${Z}.collector_endpoint_version`, kind: 'invalid' }]],
    ['an unknown trace_context_option', { provider: zipkin({ trace_context_option: 'USE_W3C' }) }, [{ path: `${Z}.trace_context_option`, kind: 'invalid' }]],
    ['split_spans_for_request', { provider: zipkin({ split_spans_for_request: true }) }, [{ path: `${Z}.split_spans_for_request`, kind: 'not-implemented' }]],
    ['collector_service', { provider: zipkin({ collector_service: {} }) }, [{ path: `${Z}.collector_service`, kind: 'not-implemented' }]],
    ['a non-boolean shared_span_context', { provider: zipkin({ shared_span_context: 'yes' }) }, [{ path: `${Z}.shared_span_context`, kind: 'invalid' }]],
  ])('rejects %s', (_name, tracing, expected) => {
    expect(errorsOf(tracing)).toEqual(expected);
  });

  it('reports an unknown collector_cluster together with other problems of the listener', () => {
    const b = bootstrap({ provider: zipkin({ collector_cluster: 'nope' }) });
    b.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.cluster = 'missing';
    const r = validateBootstrap(b);
    expect(r.ok ? [] : r.errors.map((e) => e.path).sort()).toEqual([
      `${H}.route_config.virtual_hosts[0].routes[0].route.cluster`, `${Z}.collector_cluster`,
    ].sort());
  });

  it('route decorators are accepted; an empty operation is not', () => {
    const b = bootstrap({});
    const route = b.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0];
    route.decorator = { operation: 'backend:80/*', propagate: false };
    const r = validateBootstrap(b);
    expect(r.ok).toBe(true);
    route.decorator = { operation: '' };
    const bad = validateBootstrap(b);
    expect(bad.ok ? [] : bad.errors.map((e) => e.path)).toEqual([`${H}.route_config.virtual_hosts[0].routes[0].decorator.operation`]);
  });
});
