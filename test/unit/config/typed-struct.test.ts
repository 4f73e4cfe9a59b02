// google.protobuf.Any written as a udpa.type.v1 / xds.type.v3 TypedStruct (how Istio EnvoyFilters write
// filter configs): unwrapped to the message its type_url names, wherever an Any is read (HTTP filter
// typed_config, is_optional, typed_per_filter_config), with errors pathed under `value` / `type_url`.

import { describe, expect, it } from 'vitest';
import type { ConfigError } from '../../../proxy/common/result.ts';
import { validateBootstrap, type BootstrapConfig } from '../../../proxy/config/bootstrap.ts';
import { parseConfigText } from '../../../proxy/config/load.ts';
import { bootstrapYaml, indent, staticCluster } from '../../support/proxy.ts';

const UDPA = 'type.googleapis.com/udpa.type.v1.TypedStruct';
const XDS = 'type.googleapis.com/xds.type.v3.TypedStruct';
const LRL = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
/** The first listener's HTTP filters. */
const F = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters';
const ROUTE = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0]';

/** The local_ratelimit HTTP_FILTER patch of /work/shared/seeds/yaml/002-production-mesh.yaml, as Istio writes it. */
const SEED_FILTER = `
name: envoy.filters.http.local_ratelimit
typed_config:
  "@type": ${UDPA}
  type_url: ${LRL}
  value:
    stat_prefix: http_local_rate_limiter
    token_bucket:
      max_tokens: 100
      tokens_per_fill: 100
      fill_interval: 60s
`;

/** A bootstrap whose HCM runs `filter` (YAML of one http_filters entry) before the router. */
function bootstrap(filter: string, route = ''): string {
  return bootstrapYaml({
    routes: `- match: { prefix: / }\n  route: { cluster: backend }\n${indent(route.trim(), 2)}`,
    clusters: staticCluster('backend', [8080]),
    httpFilters: `- ${indent(filter.trim(), 2).trimStart()}`,
  });
}

function validate(yaml: string) {
  const parsed = parseConfigText(yaml, 'envoy.yaml');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return validateBootstrap(parsed.value);
}

function valid(yaml: string): BootstrapConfig {
  const r = validate(yaml);
  if (!r.ok) throw new Error(JSON.stringify(r.errors, null, 2));
  return r.value;
}

function errorsOf(yaml: string): Pick<ConfigError, 'path' | 'kind'>[] {
  const r = validate(yaml);
  if (r.ok) throw new Error('expected the bootstrap to be rejected');
  return r.errors.map(({ path, kind }) => ({ path, kind }));
}

describe('TypedStruct in an HTTP filter typed_config', () => {
  it.each([['udpa.type.v1', UDPA], ['xds.type.v3', XDS]])("accepts the seed's local_ratelimit body wrapped in %s.TypedStruct", (_what, wrapper) => {
    const filters = valid(bootstrap(SEED_FILTER.replace(UDPA, wrapper))).listeners[0]!.filterChains[0]!.hcm.httpFilters;
    expect(filters.map((f) => [f.name, f.factory.typeUrl])).toEqual([
      ['envoy.filters.http.local_ratelimit', LRL],
      ['envoy.filters.http.router', ROUTER],
    ]);
    expect(filters[0]!.config).toMatchObject({
      stat_prefix: 'http_local_rate_limiter',
      token_bucket: { max_tokens: 100, tokens_per_fill: 100, fill_interval: 60_000 },
    });
  });

  it.each<[string, (seed: string) => string, Pick<ConfigError, 'path' | 'kind'>[]]>([
    ['an invalid field of value', (s) => s.replace('fill_interval: 60s', 'fill_interval: 10ms'),
      [{ path: `${F}[0].typed_config.value.token_bucket.fill_interval`, kind: 'invalid' }]],
    ['an unknown field of value', (s) => s.replace('stat_prefix:', 'bogus: 1\n    stat_prefix:'),
      [{ path: `${F}[0].typed_config.value.bogus`, kind: 'unknown-field' }]],
    ['an unimplemented field of value', (s) => s.replace('stat_prefix:', 'stage: 1\n    stat_prefix:'),
      [{ path: `${F}[0].typed_config.value.stage`, kind: 'not-implemented' }]],
    ['a missing value (an empty LocalRateLimit has no stat_prefix)', (s) => s.slice(0, s.indexOf('  value:')),
      [{ path: `${F}[0].typed_config.value.stat_prefix`, kind: 'invalid' }]],
    ['a type_url nodevoy lacks', (s) => s.replace(LRL, 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm'),
      [{ path: `${F}[0].typed_config.type_url`, kind: 'not-implemented' }]],
    ['no type_url', (s) => s.replace(`type_url: ${LRL}`, ''),
      [{ path: `${F}[0].typed_config.type_url`, kind: 'invalid' }]],
    ['an unknown field of the TypedStruct', (s) => s.replace('type_url:', 'typo: 1\n  type_url:'),
      [{ path: `${F}[0].typed_config.typo`, kind: 'unknown-field' }]],
  ])('reports %s at its path', (_what, edit, want) => {
    expect(errorsOf(bootstrap(edit(SEED_FILTER)))).toEqual(want);
  });

  it('is_optional judges the wrapped type: an unknown one is dropped, a known one kept', () => {
    const unknown = SEED_FILTER.replace(LRL, 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm');
    expect(valid(bootstrap(`${unknown}is_optional: true`)).listeners[0]!.filterChains[0]!.hcm.httpFilters.map((f) => f.name))
      .toEqual(['envoy.filters.http.router']);
    expect(valid(bootstrap(`${SEED_FILTER}is_optional: true`)).listeners[0]!.filterChains[0]!.hcm.httpFilters.map((f) => f.name))
      .toEqual(['envoy.filters.http.local_ratelimit', 'envoy.filters.http.router']);
  });
});

describe('TypedStruct in typed_per_filter_config', () => {
  const perRoute = (bucket: string) => `
typed_per_filter_config:
  envoy.filters.http.local_ratelimit:
    "@type": ${UDPA}
    type_url: ${LRL}
    value:
      stat_prefix: per_route
      token_bucket: ${bucket}
`;

  it('parses the value with the filter\'s per-route schema', () => {
    const config = valid(bootstrap(SEED_FILTER, perRoute('{ max_tokens: 5, fill_interval: 1s }')));
    const route = config.listeners[0]!.filterChains[0]!.routeConfig.route({ method: 'GET', path: '/', authority: 'x', scheme: 'http', headers: {} });
    expect(route?.perFilterConfig('envoy.filters.http.local_ratelimit')).toMatchObject({
      stat_prefix: 'per_route', token_bucket: { max_tokens: 5, fill_interval: 1000 },
    });
  });

  it('reports errors of the value under value', () => {
    expect(errorsOf(bootstrap(SEED_FILTER, perRoute('{ max_tokens: 0, fill_interval: 1s }')))).toEqual([
      { path: `${ROUTE}.typed_per_filter_config.envoy.filters.http.local_ratelimit.value.token_bucket.max_tokens`, kind: 'invalid' },
    ]);
  });
});
