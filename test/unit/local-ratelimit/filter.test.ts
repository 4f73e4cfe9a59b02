// The local rate limit filter against recording callbacks: filter_enabled / filter_enforced fractions
// (ScriptedRandom), the 429 local reply and its headers, stats, x-ratelimit-* headers, per-route buckets
// and descriptors, all timed by a FakeClock.

import { describe, expect, it } from 'vitest';
import type { Random } from '../../../proxy/common/clock.ts';
import { ResponseFlag } from '../../../proxy/common/response-flags.ts';
import { parseWith } from '../../../proxy/config/schema-kit.ts';
import { localRateLimitFilter } from '../../../proxy/filters/http/local-ratelimit/index.ts';
import type { FilterCallbacks, FilterStatus, HttpFilter, LocalReplyOptions } from '../../../proxy/http/filter.ts';
import type { HeaderMap, RequestHeaders } from '../../../proxy/http/headers.ts';
import { newStreamInfo } from '../../../proxy/http/stream-info.ts';
import { StatsStore } from '../../../proxy/stats/store.ts';
import type { ClusterManager } from '../../../proxy/upstream/types.ts';
import { FakeClock, ScriptedRandom } from '../../support/fake-clock.ts';

const NAME = 'envoy.filters.http.local_ratelimit';
const ALWAYS = { default_value: { numerator: 100, denominator: 'HUNDRED' } };

function wire(fields: Record<string, unknown>, perRoute = false): object {
  const r = parseWith(perRoute ? localRateLimitFilter.perRouteSchema! : localRateLimitFilter.configSchema, fields);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value as object;
}

interface Reply {
  readonly status: number;
  readonly body: string;
  readonly opts: LocalReplyOptions;
  /** The reply's headers after the filter's encodeHeaders ran, as the connection manager would send them. */
  readonly headers: HeaderMap;
}

interface Outcome {
  readonly status: FilterStatus;
  readonly request: RequestHeaders;
  readonly reply: Reply | null;
  readonly filter: HttpFilter;
}

/** One configured filter (one listener), with the streams it runs. */
class Harness {
  readonly clock = new FakeClock();
  readonly stats = new StatsStore();
  private readonly make: (cb: FilterCallbacks) => HttpFilter;

  constructor(config: Record<string, unknown>, random: Random = new ScriptedRandom([0])) {
    this.make = localRateLimitFilter.create(wire(config) as never, {
      stats: this.stats.scope('http.ingress'), rootStats: this.stats, clock: this.clock, random,
      clusterManager: {} as ClusterManager, filterName: NAME, bufferLimitBytes: 1024 * 1024,
    });
  }

  /** Runs decodeHeaders for one request; `perRoute` is the route's typed_per_filter_config entry. */
  run(headers: HeaderMap = {}, perRoute?: object): Outcome {
    let reply: Reply | null = null;
    const request: RequestHeaders = { method: 'GET', path: '/', authority: 'svc', scheme: 'http', headers: { ...headers } };
    let filter: HttpFilter | null = null;
    const info = newStreamInfo(0, 0);
    info.downstreamRemoteAddress = '10.0.0.7:0';
    const callbacks = {
      info, request, route: null, downstreamClosed: false,
      perRouteConfig: <T>(name: string) => (name === NAME ? perRoute : undefined) as T | undefined,
      sendLocalReply: (status: number, body: string, opts: LocalReplyOptions = {}) => {
        const h: HeaderMap = { ...opts.headers };
        opts.modifyHeaders?.(h);
        filter!.encodeHeaders?.({ status, headers: h }, body === '');
        reply = { status, body, opts, headers: h };
      },
    } as unknown as FilterCallbacks;
    filter = this.make(callbacks);
    const status = filter.decodeHeaders!(request, true) as FilterStatus;
    return { status, request, reply, filter };
  }

  counter(name: string): number {
    return this.stats.counters.get(name)?.value() ?? 0;
  }

  /** enabled, ok, rate_limited, enforced under `prefix`. */
  counters(prefix: string): number[] {
    return ['enabled', 'ok', 'rate_limited', 'enforced'].map((c) => this.counter(`${prefix}.http_local_rate_limit.${c}`));
  }
}

describe('defaults', () => {
  it('does nothing without filter_enabled (0 %): no bucket consulted, no stats', () => {
    const h = new Harness({ stat_prefix: 'rl', token_bucket: { max_tokens: 1, fill_interval: '1s' } });
    for (let i = 0; i < 3; i++) expect(h.run().status).toBe('continue');
    expect(h.counters('rl')).toEqual([0, 0, 0, 0]);
  });

  it('enabled without filter_enforced (0 %): limited requests pass and are only counted', () => {
    const h = new Harness({
      stat_prefix: 'rl', token_bucket: { max_tokens: 1, fill_interval: '1s' }, filter_enabled: ALWAYS,
      request_headers_to_add_when_not_enforced: [{ header: { key: 'x-local-ratelimited', value: 'true' } }],
    });
    const first = h.run();
    const second = h.run();
    expect([first.status, second.status, first.reply, second.reply]).toEqual(['continue', 'continue', null, null]);
    expect(first.request.headers).not.toHaveProperty('x-local-ratelimited');
    expect(second.request.headers['x-local-ratelimited']).toBe('true');
    expect(h.counters('rl')).toEqual([2, 1, 1, 0]);
  });

  it('enabled with no token_bucket anywhere: every request is ok', () => {
    const h = new Harness({ stat_prefix: 'rl', filter_enabled: ALWAYS, filter_enforced: ALWAYS });
    for (let i = 0; i < 5; i++) expect(h.run().status).toBe('continue');
    expect(h.counters('rl')).toEqual([5, 5, 0, 0]);
  });
});

describe('enforced', () => {
  const config = {
    stat_prefix: 'http_local_rate_limiter', filter_enabled: ALWAYS, filter_enforced: ALWAYS,
    token_bucket: { max_tokens: 3, tokens_per_fill: 1, fill_interval: '1s' },
    response_headers_to_add: [{ append: false, header: { key: 'x-local-rate-limit', value: 'true' } }],
  };

  it('max_tokens requests pass; the next gets 429 local_rate_limited, RL, x-envoy-ratelimited and the configured headers', () => {
    const h = new Harness(config);
    for (let i = 0; i < 3; i++) expect(h.run().status).toBe('continue');
    const limited = h.run();
    expect(limited.status).toBe('stop');
    expect(limited.reply).toMatchObject({ status: 429, body: 'local_rate_limited', opts: { flags: ResponseFlag.RateLimited, details: 'local_rate_limited' } });
    expect(limited.reply!.headers).toEqual({ 'x-envoy-ratelimited': 'true', 'x-local-rate-limit': 'true' });
    // No `http.` prefix: the stats are rooted at stat_prefix.
    expect(h.counters('http_local_rate_limiter')).toEqual([4, 3, 1, 1]);
    expect(h.counter('http.ingress.http_local_rate_limiter.http_local_rate_limit.enabled')).toBe(0);
  });

  it('refills continuously with the clock', () => {
    const h = new Harness(config);
    for (let i = 0; i < 3; i++) h.run();
    expect(h.run().status).toBe('stop');
    h.clock.advance(999);
    expect(h.run().status).toBe('stop');
    h.clock.advance(1);
    expect(h.run().status).toBe('continue');
    expect(h.run().status).toBe('stop');
    h.clock.advance(60_000);
    for (let i = 0; i < 3; i++) expect(h.run().status).toBe('continue');
    expect(h.run().status).toBe('stop');
  });

  it.each([[503, 503, false], [302, 429, true], [429, 429, true]])('status %i replies %i (x-envoy-ratelimited only on 429: %s)', (code, want, marked) => {
    const h = new Harness({ ...config, status: { code }, token_bucket: { max_tokens: 1, fill_interval: '1s' } });
    h.run();
    const r = h.run().reply!;
    expect(r.status).toBe(want);
    expect('x-envoy-ratelimited' in r.headers).toBe(marked);
  });
});

describe('filter_enabled / filter_enforced fractions', () => {
  /** A ScriptedRandom whose nextUint32() answers these integers. */
  const uint32Draws = (...values: number[]) => new ScriptedRandom(values.map((v) => v / 0x1_0000_0000));

  it.each([
    // [numerator, denominator, uint32 draw, enabled]: Envoy's draw % denominator < numerator
    [50, 'HUNDRED', 49, true],
    [50, 'HUNDRED', 50, false],
    [50, 'HUNDRED', 149, true],
    [2500, 'TEN_THOUSAND', 2499, true],
    [2500, 'TEN_THOUSAND', 2500, false],
    [1, 'MILLION', 0, true],
    [1, 'MILLION', 1, false],
    [1, 'MILLION', 1_000_000, true],
    [150, 'HUNDRED', 99, true],
    [0, 'HUNDRED', 0, false],
  ])('filter_enabled %i/%s with draw %i → enabled %s', (numerator, denominator, draw, enabled) => {
    const h = new Harness({ stat_prefix: 'rl', filter_enabled: { runtime_key: 'ignored', default_value: { numerator, denominator } } }, uint32Draws(draw));
    h.run();
    expect(h.counter('rl.http_local_rate_limit.enabled')).toBe(enabled ? 1 : 0);
  });

  it('filter_enforced is drawn only for limited requests, after filter_enabled', () => {
    // Draws in order: enabled(r1), enabled(r2), enforced(r2), enabled(r3), enforced(r3).
    const random = uint32Draws(10, 10, 29, 10, 30);
    const h = new Harness({
      stat_prefix: 'rl', token_bucket: { max_tokens: 1, fill_interval: '10s' },
      filter_enabled: { default_value: { numerator: 50 } }, filter_enforced: { default_value: { numerator: 30 } },
    }, random);
    expect(h.run().status).toBe('continue');
    expect(h.run().status).toBe('stop');
    expect(h.run().status).toBe('continue');
    expect(h.counters('rl')).toEqual([3, 1, 2, 1]);
  });
});

describe('x-ratelimit-* headers (DRAFT_VERSION_03)', () => {
  const config = {
    stat_prefix: 'rl', filter_enabled: ALWAYS, filter_enforced: ALWAYS, enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
    token_bucket: { max_tokens: 2, tokens_per_fill: 1, fill_interval: '10s' },
  };

  it('limit, remaining and reset seconds on allowed and limited responses', () => {
    const h = new Harness(config);
    const first = h.run();
    const response = { status: 200, headers: {} as HeaderMap };
    first.filter.encodeHeaders!(response, true);
    expect(response.headers).toEqual({ 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '1', 'x-ratelimit-reset': '0' });
    h.run();
    h.clock.advance(2500);
    const limited = h.run();
    // Next token 7.5 s away: rounded up to 8 s.
    expect(limited.reply!.headers).toMatchObject({ 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '8' });
  });

  it('keeps an upstream value (added, not replaced) and is absent when the filter was not enabled or not configured', () => {
    const h = new Harness(config);
    const response = { status: 200, headers: { 'x-ratelimit-limit': '100' } as HeaderMap };
    h.run().filter.encodeHeaders!(response, true);
    expect(response.headers['x-ratelimit-limit']).toEqual(['100', '2']);
    const off = new Harness({ ...config, filter_enabled: undefined });
    const plain = { status: 200, headers: {} as HeaderMap };
    off.run().filter.encodeHeaders!(plain, true);
    expect(plain.headers).toEqual({});
    const noHeaders = new Harness({ ...config, enable_x_ratelimit_headers: 'OFF' });
    noHeaders.run().filter.encodeHeaders!(plain, true);
    expect(plain.headers).toEqual({});
  });
});

describe('per-route configs', () => {
  const listener = { stat_prefix: 'listener', filter_enabled: ALWAYS, filter_enforced: ALWAYS, token_bucket: { max_tokens: 2, fill_interval: '60s' } };
  const routeConfig = (prefix: string) => wire({ stat_prefix: prefix, filter_enabled: ALWAYS, filter_enforced: ALWAYS, token_bucket: { max_tokens: 1, fill_interval: '60s' } }, true);

  it('a route with its own config uses its own bucket and stats; others share the listener bucket', () => {
    const h = new Harness(listener);
    const slow = routeConfig('slow_route');
    expect(h.run({}, slow).status).toBe('continue');
    expect(h.run({}, slow).status).toBe('stop');
    // The listener bucket is untouched by the route's requests.
    expect(h.run().status).toBe('continue');
    expect(h.run().status).toBe('continue');
    expect(h.run().status).toBe('stop');
    expect(h.counters('slow_route')).toEqual([2, 1, 1, 1]);
    expect(h.counters('listener')).toEqual([3, 2, 1, 1]);
  });

  it('each per-route entry has its own bucket, kept across streams', () => {
    const h = new Harness(listener);
    const a = routeConfig('a');
    const b = routeConfig('b');
    expect([h.run({}, a).status, h.run({}, b).status, h.run({}, a).status, h.run({}, b).status]).toEqual(['continue', 'continue', 'stop', 'stop']);
  });

  it('a per-route config without filter_enabled disables the filter on that route (its own 0 % default)', () => {
    const h = new Harness(listener);
    const quiet = wire({ stat_prefix: 'quiet', token_bucket: { max_tokens: 1, fill_interval: '60s' } }, true);
    for (let i = 0; i < 4; i++) expect(h.run({}, quiet).status).toBe('continue');
    expect([...h.counters('quiet'), ...h.counters('listener')]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('descriptors', () => {
  const base = {
    stat_prefix: 'rl', filter_enabled: ALWAYS, filter_enforced: ALWAYS,
    token_bucket: { max_tokens: 100, fill_interval: '60s' },
    descriptors: [
      { entries: [{ key: 'client', value: 'alice' }], token_bucket: { max_tokens: 1, fill_interval: '60s' } },
      { entries: [{ key: 'client', value: 'bob' }, { key: 'header_match', value: 'post' }], token_bucket: { max_tokens: 2, fill_interval: '60s' } },
      { entries: [{ key: 'generic_key', value: 'everyone' }], token_bucket: { max_tokens: 3, fill_interval: '60s' } },
    ],
  };

  it('request_headers: a matching client value gets that descriptor bucket; others use the default bucket', () => {
    const h = new Harness({ ...base, rate_limits: [{ actions: [{ request_headers: { header_name: 'x-client', descriptor_key: 'client' } }] }] });
    expect(h.run({ 'x-client': 'alice' }).status).toBe('continue');
    expect(h.run({ 'x-client': 'alice' }).status).toBe('stop');
    for (let i = 0; i < 5; i++) expect(h.run({ 'x-client': 'carol' }).status).toBe('continue');
    expect(h.run().status).toBe('continue');
  });

  it('request_headers reads the first value of a repeated header, and pseudo-headers from the request line', () => {
    const h = new Harness({ ...base, rate_limits: [{ actions: [{ request_headers: { header_name: 'x-client', descriptor_key: 'client' } }] }] });
    expect(h.run({ 'x-client': ['alice', 'bob'] }).status).toBe('continue');
    expect(h.run({ 'x-client': 'alice' }).status).toBe('stop');
    const byHost = new Harness({
      ...base,
      descriptors: [{ entries: [{ key: 'host', value: 'svc' }], token_bucket: { max_tokens: 1, fill_interval: '60s' } }],
      rate_limits: [{ actions: [{ request_headers: { header_name: ':authority', descriptor_key: 'host' } }] }],
    });
    expect([byHost.run().status, byHost.run().status]).toEqual(['continue', 'stop']);
  });

  it('entries must match verbatim, in order (request_headers + header_value_match)', () => {
    const h = new Harness({
      ...base,
      rate_limits: [{ actions: [
        { request_headers: { header_name: 'x-client', descriptor_key: 'client' } },
        { header_value_match: { descriptor_value: 'post', headers: [{ name: ':method', exact_match: 'GET' }] } },
      ] }],
    });
    expect([h.run({ 'x-client': 'bob' }).status, h.run({ 'x-client': 'bob' }).status, h.run({ 'x-client': 'bob' }).status])
      .toEqual(['continue', 'continue', 'stop']);
  });

  it('header_value_match with expect_match false, and a missing header without skip_if_absent, produce no descriptor', () => {
    const h = new Harness({
      ...base,
      rate_limits: [
        { actions: [{ request_headers: { header_name: 'x-client', descriptor_key: 'client' } }, { generic_key: { descriptor_value: 'x' } }] },
        { actions: [{ header_value_match: { descriptor_value: 'post', expect_match: false, headers: [{ name: ':method', exact_match: 'GET' }] } }] },
      ],
    });
    for (let i = 0; i < 5; i++) expect(h.run().status).toBe('continue');
  });

  it('skip_if_absent drops only that entry; generic_key uses its default key', () => {
    const h = new Harness({
      ...base,
      rate_limits: [{ actions: [{ request_headers: { header_name: 'x-client', descriptor_key: 'client', skip_if_absent: true } }, { generic_key: { descriptor_value: 'everyone' } }] }],
    });
    const got = Array.from({ length: 4 }, () => h.run().status);
    expect(got).toEqual(['continue', 'continue', 'continue', 'stop']);
  });

  it('the strictest matched descriptor is consumed first; a denial consumes no other bucket', () => {
    const h = new Harness({
      ...base,
      token_bucket: { max_tokens: 2, fill_interval: '60s' },
      rate_limits: [
        { actions: [{ generic_key: { descriptor_value: 'everyone' } }] },
        { actions: [{ request_headers: { header_name: 'x-client', descriptor_key: 'client' } }] },
      ],
    });
    expect(h.run({ 'x-client': 'alice' }).status).toBe('continue');
    // alice (1 token) is checked before everyone (3): denied without touching "everyone" or the default bucket.
    expect(h.run({ 'x-client': 'alice' }).status).toBe('stop');
    // default bucket: 2 tokens, one used by alice's first request.
    expect(h.run().status).toBe('continue');
    expect(h.run().status).toBe('stop');
  });

  it('always_consume_default_token_bucket false: a matched request leaves the default bucket alone', () => {
    const h = new Harness({
      ...base, always_consume_default_token_bucket: false, token_bucket: { max_tokens: 1, fill_interval: '60s' },
      rate_limits: [{ actions: [{ generic_key: { descriptor_value: 'everyone' } }] }],
    });
    for (let i = 0; i < 3; i++) expect(h.run().status).toBe('continue');
    expect(h.run().status).toBe('stop');
  });

  it('remote_address: the trusted client address without its port', () => {
    const h = new Harness({
      ...base,
      descriptors: [{ entries: [{ key: 'remote_address', value: '10.0.0.7' }], token_bucket: { max_tokens: 1, fill_interval: '60s' } }],
      rate_limits: [{ actions: [{ remote_address: {} }] }],
    });
    expect([h.run().status, h.run().status]).toEqual(['continue', 'stop']);
  });

  it('x-ratelimit-* describe the matched descriptor bucket', () => {
    const h = new Harness({ ...base, enable_x_ratelimit_headers: 'DRAFT_VERSION_03', rate_limits: [{ actions: [{ generic_key: { descriptor_value: 'everyone' } }] }] });
    const response = { status: 200, headers: {} as HeaderMap };
    h.run().filter.encodeHeaders!(response, true);
    expect([response.headers['x-ratelimit-limit'], response.headers['x-ratelimit-remaining']]).toEqual(['3', '2']);
  });
});
