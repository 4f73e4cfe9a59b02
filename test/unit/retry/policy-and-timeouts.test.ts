// retry_policy config (route replaces vhost, errors with paths, every field translated), the router's
// timeout arithmetic (route / per-try timeouts, the internal-only timeout headers, x-envoy-expected-rq-
// timeout-ms) and the bounded request-body buffer that retries replay.

import { describe, expect, it } from 'vitest';
import { finalTimeout, expectedTimeoutMs } from '../../../proxy/filters/http/router/timeouts.ts';
import { RequestBuffer } from '../../../proxy/filters/http/router/request-buffer.ts';
import { RetryOn } from '../../../proxy/route/retry-policy-schema.ts';
import type { RouteAction } from '../../../proxy/route/types.ts';
import { req, singleHost, table, translate } from '../route/route-fixtures.ts';

function action(route: Record<string, unknown>, vhostExtra: Record<string, unknown> = {}): RouteAction {
  const rc = { name: 'rc', virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c', ...route } }], ...vhostExtra }] };
  const r = table(rc).route(req('/'));
  if (r?.action.type !== 'route') throw new Error('no forward route');
  return r.action;
}

describe('retry_policy config', () => {
  it('translates every implemented field', () => {
    const a = action({
      priority: 'HIGH',
      retry_policy: {
        retry_on: '5xx,connect-failure,unavailable', num_retries: 4, per_try_timeout: '0.5s', per_try_idle_timeout: '0.2s',
        retry_back_off: { base_interval: '0.01s', max_interval: '0.05s' }, retriable_status_codes: [418],
        retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }],
        hostSelectionRetryMaxAttempts: 5, retriable_headers: [{ name: 'x-a' }], retriable_request_headers: [{ name: 'x-b' }],
      },
    });
    expect(a.priority).toBe('HIGH');
    expect(a.retryPolicy).toMatchObject({
      retryOn: RetryOn.FiveXX | RetryOn.ConnectFailure | RetryOn.GrpcUnavailable, numRetries: 4, perTryTimeoutMs: 500, perTryIdleTimeoutMs: 200,
      baseIntervalMs: 10, maxIntervalMs: 50, retriableStatusCodes: [418], previousHosts: true, hostSelectionRetryMaxAttempts: 5,
    });
    expect(a.retryPolicy!.retriableHeaders).toHaveLength(1);
    expect(a.retryPolicy!.retriableRequestHeaders).toHaveLength(1);
  });

  it('uses Envoy defaults: num_retries 1, host_selection_retry_max_attempts 1, no per-try timeouts', () => {
    expect(action({ retry_policy: {} }).retryPolicy).toMatchObject({ retryOn: 0, numRetries: 1, perTryTimeoutMs: 0, perTryIdleTimeoutMs: 0, previousHosts: false, hostSelectionRetryMaxAttempts: 1 });
    expect(action({}).retryPolicy).toBeNull();
    expect(action({}).priority).toBe('DEFAULT');
  });

  it("uses the virtual host's policy unless the route has its own (which replaces it, no merge)", () => {
    const vhost = { retry_policy: { retry_on: 'reset', num_retries: 7 } };
    expect(action({}, vhost).retryPolicy).toMatchObject({ retryOn: RetryOn.Reset, numRetries: 7 });
    expect(action({ retry_policy: { retry_on: '5xx' } }, vhost).retryPolicy).toMatchObject({ retryOn: RetryOn.FiveXX, numRetries: 1 });
  });

  it('reports bad retry policies with their paths', () => {
    const r = translate(singleHost([
      { match: { prefix: '/a' }, route: { cluster: 'c', retry_policy: { retry_on: '5xx, bogus', retry_back_off: { base_interval: '0s' } } } },
      { match: { prefix: '/b' }, route: { cluster: 'c', retry_policy: { retry_back_off: { base_interval: '1s', max_interval: '0.5s' }, retriable_status_codes: [99] } } },
      { match: { prefix: '/c' }, route: { cluster: 'c', retry_policy: { retry_priority: {}, retry_host_predicate: [{ name: 'envoy.retry_host_predicates.omit_canary_hosts' }] } } },
      { match: { prefix: '/d' }, route: { cluster: 'c', retry_policy: { retry_on: '5xx', retry_back_off: {} } } },
    ]));
    expect(r.ok).toBe(false);
    const errors = r.ok ? [] : r.errors.map((e) => [e.path.replace('route_config.virtual_hosts[0].routes', 'routes'), e.kind]);
    expect(errors).toEqual([
      ['routes[0].route.retry_policy.retry_on', 'invalid'],
      ['routes[0].route.retry_policy.retry_back_off.base_interval', 'invalid'],
      ['routes[1].route.retry_policy.retriable_status_codes[0]', 'invalid'],
      ['routes[1].route.retry_policy.retry_back_off.max_interval', 'invalid'],
      ['routes[2].route.retry_policy.retry_host_predicate[0].name', 'not-implemented'],
      ['routes[2].route.retry_policy.retry_priority', 'not-implemented'],
      ['routes[3].route.retry_policy.retry_back_off.base_interval', 'invalid'],
    ]);
    const messages = r.ok ? [] : r.errors.map((e) => e.message);
    expect(messages[0]).toMatch(/^unknown retry_on value "bogus"/);
    expect(messages[1]).toBe('base_interval must be greater than 0s');
  });
});

describe('timeouts', () => {
  const route = (timeout: string, retry: Record<string, unknown> = {}) => action({ timeout, retry_policy: retry });

  it('takes the route timeout and the policy per-try timeouts', () => {
    expect(finalTimeout(route('15s', { per_try_timeout: '2s', per_try_idle_timeout: '1s' }), {})).toEqual({ globalMs: 15_000, perTryMs: 2000, perTryIdleMs: 1000 });
  });

  it('lets x-envoy-upstream-rq-timeout-ms / -per-try-timeout-ms override them and removes both headers', () => {
    const headers = { 'x-envoy-upstream-rq-timeout-ms': '3000', 'x-envoy-upstream-rq-per-try-timeout-ms': '500' };
    expect(finalTimeout(route('15s'), headers)).toEqual({ globalMs: 3000, perTryMs: 500, perTryIdleMs: 0 });
    expect(headers).toEqual({});
    // Unparsable values are ignored (and still removed).
    const bad = { 'x-envoy-upstream-rq-timeout-ms': 'soon' };
    expect(finalTimeout(route('15s'), bad).globalMs).toBe(15_000);
    expect(bad).toEqual({});
  });

  it('ignores a per-try timeout not shorter than the route timeout', () => {
    expect(finalTimeout(route('1s', { per_try_timeout: '1s' }), {}).perTryMs).toBe(0);
    expect(finalTimeout(route('0s', { per_try_timeout: '5s' }), {}).perTryMs).toBe(5000);
  });

  it('x-envoy-expected-rq-timeout-ms: per-try if set, else route, capped by what is left, 0 when none', () => {
    expect(expectedTimeoutMs({ globalMs: 15_000, perTryMs: 0, perTryIdleMs: 0 }, 0)).toBe(15_000);
    expect(expectedTimeoutMs({ globalMs: 15_000, perTryMs: 2000, perTryIdleMs: 0 }, 0)).toBe(2000);
    expect(expectedTimeoutMs({ globalMs: 15_000, perTryMs: 2000, perTryIdleMs: 0 }, 14_000)).toBe(1000);
    expect(expectedTimeoutMs({ globalMs: 15_000, perTryMs: 0, perTryIdleMs: 0 }, 15_000)).toBe(1);
    expect(expectedTimeoutMs({ globalMs: 0, perTryMs: 0, perTryIdleMs: 0 }, 0)).toBe(0);
    expect(expectedTimeoutMs({ globalMs: 0, perTryMs: 300, perTryIdleMs: 0 }, 10_000)).toBe(300);
  });
});

async function collect(it: AsyncIterable<Buffer>): Promise<string> {
  let s = '';
  for await (const c of it) s += c.toString();
  return s;
}

async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

describe('RequestBuffer', () => {
  it('replays the whole body to every attempt, reading the downstream once', async () => {
    let overflows = 0;
    const b = new RequestBuffer(chunks('ab', 'cd', 'ef'), 6, () => overflows++);
    expect(await collect(b.replay())).toBe('abcdef');
    expect(await collect(b.replay())).toBe('abcdef');
    expect([b.overflowed, overflows]).toEqual([false, 0]);
  });

  it('hands a retry what was read so far, then the rest as it arrives', async () => {
    const b = new RequestBuffer(chunks('ab', 'cd', 'ef'), 100, () => undefined);
    const first = b.replay()[Symbol.asyncIterator]();
    expect((await first.next()).value?.toString()).toBe('ab');
    expect(await collect(b.replay())).toBe('abcdef');
    expect((await first.next()).done).toBe(true); // the superseded attempt stops
  });

  it('stops keeping the body past the limit: the current attempt still gets it all, a replay fails', async () => {
    let overflows = 0;
    const b = new RequestBuffer(chunks('abc', 'def', 'gh'), 5, () => overflows++);
    expect(await collect(b.replay())).toBe('abcdefgh');
    expect([b.overflowed, overflows]).toEqual([true, 1]);
    await expect(collect(b.replay())).rejects.toThrow('not kept');
  });
});
