// The local rate limit filter through a real proxy with a FakeClock: N requests reach the upstream, the
// next gets Envoy's 429 (body, headers, RL flag, details), time refills the bucket, per-route buckets
// are independent of the listener's, and stats land under <stat_prefix>.http_local_rate_limit.*.

import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { parseConfigText } from '../../proxy/config/load.ts';
import { validateBootstrap } from '../../proxy/config/bootstrap.ts';
import type { Server } from '../../proxy/server/server.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { bootstrapYaml, indent, send, startProxy, staticCluster } from '../support/proxy.ts';
import { startUpstream, type TestUpstream } from '../support/upstream.ts';

const LRL_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const ENABLED = `filter_enabled:
  runtime_key: local_rate_limit_enabled
  default_value: { numerator: 100, denominator: HUNDRED }
filter_enforced:
  runtime_key: local_rate_limit_enforced
  default_value: { numerator: 100, denominator: HUNDRED }`;

/** The listener-level filter body of Envoy's docs and the Istio EnvoyFilter examples. */
const LISTENER_LIMIT = `stat_prefix: http_local_rate_limiter
token_bucket: { max_tokens: 3, tokens_per_fill: 1, fill_interval: 1s }
${ENABLED}
response_headers_to_add:
- append: false
  header: { key: x-local-rate-limit, value: 'true' }`;

const ROUTES = `- match: { prefix: / }
  route: { cluster: web }`;

function bootstrap(opts: { filter: string; routes?: string; filterExtra?: string; upstreamPort: number; logPath: string }): string {
  return bootstrapYaml({
    routes: opts.routes ?? ROUTES,
    clusters: staticCluster('web', [opts.upstreamPort]),
    httpFilters: `- name: envoy.filters.http.local_ratelimit
${indent(opts.filterExtra ?? '', 2)}
  typed_config:
    "@type": ${LRL_TYPE}
${indent(opts.filter, 4)}`,
    accessLogPath: opts.logPath,
    accessLogFormat: '%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %REQ(:PATH)%\n',
  });
}

interface Setup {
  readonly server: Server;
  readonly up: TestUpstream;
  readonly clock: FakeClock;
  get(path: string): ReturnType<typeof send>;
  /** The statuses of `n` GETs of `path`, one after another. */
  statuses(n: number, path?: string): Promise<number[]>;
  counter(name: string): number;
  /** Access-log lines `<code> <flags> <details> <path>` (closes the proxy to flush the file). */
  logLines(): Promise<string[]>;
}

async function setup(filter: string, opts: { routes?: string; filterExtra?: string } = {}): Promise<Setup> {
  const up = await startUpstream('web');
  cleanups.push(() => up.close());
  const logPath = join(mkdtempSync(join(tmpdir(), 'nodevoy-lrl-')), 'access.log');
  const clock = new FakeClock();
  const server = await startProxy(bootstrap({ filter, upstreamPort: up.port, logPath, ...opts }), { clock });
  let closed = false;
  const close = async (): Promise<void> => {
    if (!closed) await server.close();
    closed = true;
  };
  cleanups.push(close);
  const get = (path: string): ReturnType<typeof send> => send(server.listenerPort('main'), path);
  return {
    server, up, clock, get,
    statuses: async (n, path = '/') => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await get(path)).status);
      return out;
    },
    counter: (name) => server.stats.counters.get(name)?.value() ?? 0,
    logLines: async () => {
      await close();
      return readFileSync(logPath, 'utf8').trim().split('\n');
    },
  };
}

function adminGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve(body));
    }).on('error', reject).end();
  });
}

describe('listener-level bucket', () => {
  it('max_tokens requests pass, the next gets 429 local_rate_limited with x-envoy-ratelimited and flag RL', async () => {
    const s = await setup(LISTENER_LIMIT);
    for (let i = 0; i < 3; i++) {
      const ok = await s.get(`/ok${i}`);
      expect([ok.status, ok.body]).toEqual([200, 'web']);
      expect(ok.headers).not.toHaveProperty('x-local-rate-limit');
    }
    const limited = await s.get('/limited');
    expect([limited.status, limited.body]).toEqual([429, 'local_rate_limited']);
    expect(limited.headers['x-envoy-ratelimited']).toBe('true');
    expect(limited.headers['x-local-rate-limit']).toBe('true');
    expect(limited.headers['content-type']).toBe('text/plain');
    expect(s.up.received.map((r) => r.url)).toEqual(['/ok0', '/ok1', '/ok2']);
    expect((await s.logLines()).at(-1)).toBe('429 RL local_rate_limited /limited');
  });

  it('advancing the clock refills one token per fill_interval, up to max_tokens', async () => {
    const s = await setup(LISTENER_LIMIT);
    expect(await s.statuses(4)).toEqual([200, 200, 200, 429]);
    s.clock.advance(999);
    expect(await s.statuses(1)).toEqual([429]);
    s.clock.advance(1);
    expect(await s.statuses(2)).toEqual([200, 429]);
    s.clock.advance(10_000);
    expect(await s.statuses(4)).toEqual([200, 200, 200, 429]);
  });

  it('counts enabled, ok, rate_limited and enforced under the stat_prefix, without the http. prefix', async () => {
    const s = await setup(LISTENER_LIMIT);
    await s.statuses(5);
    const p = 'http_local_rate_limiter.http_local_rate_limit';
    expect([s.counter(`${p}.enabled`), s.counter(`${p}.ok`), s.counter(`${p}.rate_limited`), s.counter(`${p}.enforced`)]).toEqual([5, 3, 2, 2]);
    expect(s.counter('http.ingress.downstream_rq_4xx')).toBe(2);
    const text = await adminGet(s.server.adminPort!, '/stats?filter=http_local_rate_limit');
    expect(text).toContain('http_local_rate_limiter.http_local_rate_limit.rate_limited: 2');
    const prom = await adminGet(s.server.adminPort!, '/stats/prometheus');
    // Envoy's default tag extraction (envoy.local_http_ratelimit_prefix) turns the prefix into a label.
    expect(prom).toContain('envoy_http_local_rate_limit_rate_limited{envoy_local_http_ratelimit_prefix="http_local_rate_limiter"} 2');
  });

  it('the seed article body (no filter_enabled) limits nothing, as on Envoy', async () => {
    const s = await setup('stat_prefix: http_local_rate_limiter\ntoken_bucket: { max_tokens: 1, tokens_per_fill: 1, fill_interval: 60s }');
    expect(await s.statuses(3)).toEqual([200, 200, 200]);
    expect(s.counter('http_local_rate_limiter.http_local_rate_limit.enabled')).toBe(0);
  });

  it('enabled but not enforced: every request is proxied, the limited ones marked with request_headers_to_add_when_not_enforced', async () => {
    const s = await setup(`stat_prefix: shadow
token_bucket: { max_tokens: 1, fill_interval: 60s }
filter_enabled: { default_value: { numerator: 100 } }
request_headers_to_add_when_not_enforced:
- header: { key: x-local-ratelimited, value: 'true' }`);
    expect(await s.statuses(3)).toEqual([200, 200, 200]);
    expect(s.up.received.map((r) => r.headers['x-local-ratelimited'])).toEqual([undefined, 'true', 'true']);
    expect([s.counter('shadow.http_local_rate_limit.rate_limited'), s.counter('shadow.http_local_rate_limit.enforced')]).toEqual([2, 0]);
  });

  it('x-ratelimit-limit/remaining/reset (DRAFT_VERSION_03) on proxied and limited responses', async () => {
    const s = await setup(`${LISTENER_LIMIT}\nenable_x_ratelimit_headers: DRAFT_VERSION_03`);
    const first = await s.get('/');
    expect([first.headers['x-ratelimit-limit'], first.headers['x-ratelimit-remaining'], first.headers['x-ratelimit-reset']]).toEqual(['3', '2', '0']);
    await s.statuses(2);
    const limited = await s.get('/');
    expect([limited.status, limited.headers['x-ratelimit-remaining'], limited.headers['x-ratelimit-reset']]).toEqual([429, '0', '1']);
  });

  it('a configured status: 503 without x-envoy-ratelimited', async () => {
    const s = await setup(`${LISTENER_LIMIT}\nstatus: { code: ServiceUnavailable }`);
    await s.statuses(3);
    const r = await s.get('/');
    expect([r.status, r.body, r.headers['x-envoy-ratelimited']]).toEqual([503, 'local_rate_limited', undefined]);
  });
});

describe('per-route buckets', () => {
  const perRoute = (prefix: string, max: number) => `envoy.filters.http.local_ratelimit:
  "@type": ${LRL_TYPE}
  stat_prefix: ${prefix}
  token_bucket: { max_tokens: ${max}, tokens_per_fill: 1, fill_interval: 1s }
${indent(ENABLED, 2)}`;

  const routes = `- match: { prefix: /slow }
  route: { cluster: web }
  typed_per_filter_config:
${indent(perRoute('slow_route', 1), 4)}
- match: { prefix: /other }
  route: { cluster: web }
  typed_per_filter_config:
${indent(perRoute('other_route', 2), 4)}
- match: { prefix: / }
  route: { cluster: web }`;

  it('a route with its own config has its own bucket; the listener bucket covers the other routes', async () => {
    const s = await setup(LISTENER_LIMIT, { routes });
    expect(await s.statuses(2, '/slow')).toEqual([200, 429]);
    expect(await s.statuses(3, '/other')).toEqual([200, 200, 429]);
    expect(await s.statuses(4, '/')).toEqual([200, 200, 200, 429]);
    s.clock.advance(1000);
    expect([...await s.statuses(2, '/slow'), ...await s.statuses(2, '/other')]).toEqual([200, 429, 200, 429]);
    expect([s.counter('slow_route.http_local_rate_limit.ok'), s.counter('slow_route.http_local_rate_limit.rate_limited')]).toEqual([2, 2]);
    expect([s.counter('other_route.http_local_rate_limit.ok'), s.counter('other_route.http_local_rate_limit.enforced')]).toEqual([3, 2]);
    expect(s.counter('http_local_rate_limiter.http_local_rate_limit.enabled')).toBe(4);
  });

  it('a filter disabled in http_filters runs only on routes whose typed_per_filter_config enables it', async () => {
    const s = await setup('stat_prefix: unused', { routes, filterExtra: 'disabled: true' });
    expect(await s.statuses(3, '/')).toEqual([200, 200, 200]);
    expect(await s.statuses(2, '/slow')).toEqual([200, 429]);
  });
});

describe('config errors in a bootstrap', () => {
  function errors(yaml: string): string[] {
    const parsed = parseConfigText(yaml, 'bad.yaml');
    if (!parsed.ok) throw new Error('YAML should parse');
    const r = validateBootstrap(parsed.value);
    if (r.ok) throw new Error('expected errors');
    return r.errors.map((e) => `${e.path} [${e.kind}]`);
  }

  const HCM = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';

  it('fill_interval under 50 ms, at listener and route level, and a route config without token_bucket', () => {
    const route = (body: string) => `- match: { prefix: / }
  route: { cluster: web }
  typed_per_filter_config:
    envoy.filters.http.local_ratelimit:
      "@type": ${LRL_TYPE}
      stat_prefix: r
${indent(body, 6)}`;
    const ROUTE = `${HCM}.route_config.virtual_hosts[0].routes[0].typed_per_filter_config.envoy.filters.http.local_ratelimit`;
    expect(errors(bootstrap({ filter: 'stat_prefix: l\ntoken_bucket: { max_tokens: 1, fill_interval: 0.01s }', upstreamPort: 1, logPath: '/dev/null' })))
      .toEqual([`${HCM}.http_filters[0].typed_config.token_bucket.fill_interval [invalid]`]);
    expect(errors(bootstrap({
      filter: 'stat_prefix: l', routes: route('token_bucket: { max_tokens: 1, fill_interval: 0.049s }'), upstreamPort: 1, logPath: '/dev/null',
    }))).toEqual([`${ROUTE}.token_bucket.fill_interval [invalid]`]);
    expect(errors(bootstrap({ filter: 'stat_prefix: l', routes: route(''), upstreamPort: 1, logPath: '/dev/null' })))
      .toEqual([`${ROUTE}.token_bucket [invalid]`]);
  });
});
