// LocalRateLimit config: the bodies the seed articles and Envoy's docs use are accepted; every check
// Envoy makes at load time is an error with its field path and kind.

import { describe, expect, it } from 'vitest';
import { parseWith } from '../../../proxy/config/schema-kit.ts';
import { localRateLimitFilter } from '../../../proxy/filters/http/local-ratelimit/index.ts';
import { buildFilterConfig } from '../../../proxy/filters/http/local-ratelimit/filter-config.ts';
import type { LocalRateLimitWire } from '../../../proxy/filters/http/local-ratelimit/schema.ts';
import { StatsStore } from '../../../proxy/stats/store.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import type { ConfigError } from '../../../proxy/common/result.ts';

const ROOT = 'http_filters[0].typed_config';

function parse(wire: unknown, perRoute = false): { ok: true; value: LocalRateLimitWire } | { ok: false; errors: readonly ConfigError[] } {
  const schema = perRoute ? localRateLimitFilter.perRouteSchema! : localRateLimitFilter.configSchema;
  return parseWith(schema, wire, ROOT);
}

function errorsOf(wire: unknown, perRoute = false): { path: string; kind: string }[] {
  const r = parse(wire, perRoute);
  if (r.ok) throw new Error('expected config errors');
  return r.errors.map((e) => ({ path: e.path, kind: e.kind }));
}

const BUCKET = { max_tokens: 10, tokens_per_fill: 10, fill_interval: '1s' };

describe('accepted configs', () => {
  it("the seed article's EnvoyFilter body (002-production-mesh.yaml TypedStruct value)", () => {
    const r = parse({ stat_prefix: 'http_local_rate_limiter', token_bucket: { max_tokens: 100, tokens_per_fill: 100, fill_interval: '60s' } });
    expect(r.ok).toBe(true);
    // Without filter_enabled the filter consults no bucket (Envoy's default 0 %), as on Envoy.
    const config = buildFilterConfig((r as { value: LocalRateLimitWire }).value, { clock: new FakeClock(), rootStats: new StatsStore() });
    expect(config.filterEnabled).toBeNull();
  });

  it("Envoy's documented global limiter (filter_enabled/enforced 100 %, x-local-rate-limit header, camelCase too)", () => {
    const body = {
      stat_prefix: 'http_local_rate_limiter',
      token_bucket: { max_tokens: 10000, tokens_per_fill: 1000, fill_interval: '1s' },
      filter_enabled: { runtime_key: 'local_rate_limit_enabled', default_value: { numerator: 100, denominator: 'HUNDRED' } },
      filter_enforced: { runtime_key: 'local_rate_limit_enforced', default_value: { numerator: 100, denominator: 'HUNDRED' } },
      response_headers_to_add: [{ append: false, header: { key: 'x-local-rate-limit', value: 'true' } }],
      local_rate_limit_per_downstream_connection: false,
    };
    expect(parse(body).ok).toBe(true);
    expect(parse({
      statPrefix: 'p', tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillInterval: '0.05s' },
      filterEnabled: { defaultValue: { numerator: 5, denominator: 'TEN_THOUSAND' } },
      responseHeadersToAdd: [{ appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD', header: { key: 'x-a', value: 'b' } }],
      enableXRatelimitHeaders: 'DRAFT_VERSION_03', status: { code: 'ServiceUnavailable' },
    }).ok).toBe(true);
  });

  it('descriptors with rate_limits actions', () => {
    const r = parse({
      stat_prefix: 'p', token_bucket: BUCKET,
      descriptors: [{ entries: [{ key: 'client', value: 'a' }], token_bucket: { max_tokens: 1, fill_interval: '60s' } }],
      rate_limits: [{ actions: [{ request_headers: { header_name: 'x-client', descriptor_key: 'client' } }] },
        { actions: [{ generic_key: { descriptor_value: 'v' } }, { header_value_match: { descriptor_value: 'get', headers: [{ name: ':method', exact_match: 'GET' }] } }] },
        { actions: [{ remote_address: {} }] }],
      always_consume_default_token_bucket: false,
    });
    expect(r.ok).toBe(true);
  });

  it.each([[304, 429], [200, 429], [400, 400], [503, 503], ['TooManyRequests', 429]])('status %s → %i', (code, want) => {
    const r = parse({ stat_prefix: 'p', status: { code } });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(buildFilterConfig(r.value, { clock: new FakeClock(), rootStats: new StatsStore() }).status).toBe(want);
  });
});

describe('config errors carry their paths', () => {
  it.each<[string, unknown, { path: string; kind: string }[], boolean?]>([
    ['fill_interval under 50 ms', { stat_prefix: 'p', token_bucket: { max_tokens: 1, fill_interval: '0.049s' } },
      [{ path: `${ROOT}.token_bucket.fill_interval`, kind: 'invalid' }]],
    ['fill_interval of 0', { stat_prefix: 'p', token_bucket: { max_tokens: 1, fill_interval: '0s' } },
      [{ path: `${ROOT}.token_bucket.fill_interval`, kind: 'invalid' }]],
    ['a descriptor bucket under 50 ms', { stat_prefix: 'p', descriptors: [{ entries: [{ key: 'k', value: 'v' }], token_bucket: { max_tokens: 1, fill_interval: '0.01s' } }] },
      [{ path: `${ROOT}.descriptors[0].token_bucket.fill_interval`, kind: 'invalid' }]],
    ['max_tokens 0', { stat_prefix: 'p', token_bucket: { max_tokens: 0, fill_interval: '1s' } },
      [{ path: `${ROOT}.token_bucket.max_tokens`, kind: 'invalid' }]],
    ['tokens_per_fill 0', { stat_prefix: 'p', token_bucket: { max_tokens: 1, tokens_per_fill: 0, fill_interval: '1s' } },
      [{ path: `${ROOT}.token_bucket.tokens_per_fill`, kind: 'invalid' }]],
    ['no fill_interval', { stat_prefix: 'p', token_bucket: { max_tokens: 1 } },
      [{ path: `${ROOT}.token_bucket.fill_interval`, kind: 'invalid' }]],
    ['no stat_prefix', { token_bucket: BUCKET }, [{ path: `${ROOT}.stat_prefix`, kind: 'invalid' }]],
    ['a per-route config without token_bucket', { stat_prefix: 'p' }, [{ path: `${ROOT}.token_bucket`, kind: 'invalid' }], true],
    ['an undefined status code', { stat_prefix: 'p', status: { code: 499 } }, [{ path: `${ROOT}.status.code`, kind: 'invalid' }]],
    ['an unknown denominator', { stat_prefix: 'p', filter_enabled: { default_value: { numerator: 1, denominator: 'THOUSAND' } } },
      [{ path: `${ROOT}.filter_enabled.default_value.denominator`, kind: 'invalid' }]],
    ['filter_enabled without default_value', { stat_prefix: 'p', filter_enabled: { runtime_key: 'k' } },
      [{ path: `${ROOT}.filter_enabled.default_value`, kind: 'invalid' }]],
    ['an unknown field', { stat_prefix: 'p', token_bucket: BUCKET, fill_rate: 3 }, [{ path: `${ROOT}.fill_rate`, kind: 'unknown-field' }]],
    ['per-connection buckets', { stat_prefix: 'p', local_rate_limit_per_downstream_connection: true },
      [{ path: `${ROOT}.local_rate_limit_per_downstream_connection`, kind: 'not-implemented' }]],
    ['local_cluster_rate_limit', { stat_prefix: 'p', local_cluster_rate_limit: {} }, [{ path: `${ROOT}.local_cluster_rate_limit`, kind: 'not-implemented' }]],
    ['stage (route rate_limits)', { stat_prefix: 'p', stage: 1 }, [{ path: `${ROOT}.stage`, kind: 'not-implemented' }]],
    ['a wildcard descriptor entry', { stat_prefix: 'p', descriptors: [{ entries: [{ key: 'k' }], token_bucket: BUCKET }] },
      [{ path: `${ROOT}.descriptors[0].entries[0].value`, kind: 'not-implemented' }]],
    ['duplicate descriptors', { stat_prefix: 'p', descriptors: [{ entries: [{ key: 'k', value: 'v' }], token_bucket: BUCKET }, { entries: [{ key: 'k', value: 'v' }], token_bucket: BUCKET }] },
      [{ path: `${ROOT}.descriptors[1].entries`, kind: 'invalid' }]],
    ['a descriptor without entries', { stat_prefix: 'p', descriptors: [{ entries: [], token_bucket: BUCKET }] },
      [{ path: `${ROOT}.descriptors[0].entries`, kind: 'invalid' }]],
    ['an action with two specifiers', { stat_prefix: 'p', rate_limits: [{ actions: [{ generic_key: { descriptor_value: 'a' }, remote_address: {} }] }] },
      [{ path: `${ROOT}.rate_limits[0].actions[0]`, kind: 'invalid' }]],
    ['an unimplemented action', { stat_prefix: 'p', rate_limits: [{ actions: [{ destination_cluster: {} }] }] },
      [{ path: `${ROOT}.rate_limits[0].actions[0].destination_cluster`, kind: 'not-implemented' }, { path: `${ROOT}.rate_limits[0].actions[0]`, kind: 'invalid' }]],
    ['stage inside rate_limits', { stat_prefix: 'p', rate_limits: [{ stage: 1, actions: [{ remote_address: {} }] }] },
      [{ path: `${ROOT}.rate_limits[0].stage`, kind: 'invalid' }]],
    ['request_headers without descriptor_key', { stat_prefix: 'p', rate_limits: [{ actions: [{ request_headers: { header_name: 'x' } }] }] },
      [{ path: `${ROOT}.rate_limits[0].actions[0].request_headers.descriptor_key`, kind: 'invalid' }]],
    ['more than 10 response headers', { stat_prefix: 'p', response_headers_to_add: Array.from({ length: 11 }, (_, i) => ({ header: { key: `x-${i}`, value: 'v' } })) },
      [{ path: `${ROOT}.response_headers_to_add`, kind: 'invalid' }]],
    ['an unknown x-ratelimit version', { stat_prefix: 'p', enable_x_ratelimit_headers: 'DRAFT_VERSION_04' },
      [{ path: `${ROOT}.enable_x_ratelimit_headers`, kind: 'invalid' }]],
  ])('%s', (_name, wire, want, perRoute) => {
    expect(errorsOf(wire, perRoute ?? false)).toEqual(want);
  });

  it('reports every problem at once', () => {
    const errors = errorsOf({ stat_prefix: '', token_bucket: { max_tokens: 0, fill_interval: '0.01s' }, status: { code: 1 } });
    expect(errors.map((e) => e.path).sort()).toEqual([
      `${ROOT}.stat_prefix`, `${ROOT}.status.code`, `${ROOT}.token_bucket.fill_interval`, `${ROOT}.token_bucket.max_tokens`,
    ]);
  });
});
