// Retries, timeouts and circuit breakers over real sockets with scripted upstreams (fail N times then
// succeed, reset, refuse connections, stall): status, attempts seen upstream, x-envoy-attempt-count,
// response flags in the access log, and cluster counters, as Envoy produces them.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from '../../proxy/server/server.ts';
import { FakeClock, ScriptedRandom } from '../support/fake-clock.ts';
import { bootstrapYaml, send, startProxy, staticCluster } from '../support/proxy.ts';
import { closedPort, startUpstream, type TestUpstream, type UpstreamHandler } from '../support/upstream.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function upstream(name: string, handler?: UpstreamHandler): Promise<TestUpstream> {
  const u = await startUpstream(name, handler);
  cleanups.push(() => u.close());
  return u;
}

/** Answers `statuses[i]` to the i-th request (the last one repeats). */
function scripted(...statuses: number[]): UpstreamHandler {
  let i = 0;
  return (_req, res, body) => {
    const status = statuses[Math.min(i++, statuses.length - 1)]!;
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(`${status}:${body}`);
  };
}

/**
 * A proxy whose access log writes `%RESPONSE_CODE% %RESPONSE_FLAGS%` per request. With a fake clock the
 * randomness is scripted to 0, so every back-off delay is 0 ms and advancing the clock fires the retry.
 */
async function proxy(opts: { routes: string; clusters: string; vhost?: string; hcm?: string; listener?: string }, clock?: FakeClock) {
  const path = join(mkdtempSync(join(tmpdir(), 'nodevoy-res-')), 'access.log');
  const accessLog = `access_log:
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${path}
    log_format: { text_format_source: { inline_string: "%RESPONSE_CODE% %RESPONSE_FLAGS%\\n" } }`;
  const s = await startProxy(bootstrapYaml({
    routes: opts.routes, clusters: opts.clusters, hcmExtra: `${accessLog}\n${opts.hcm ?? ''}`, virtualHostExtra: opts.vhost ?? '',
    listenerExtra: opts.listener ?? '',
  }), clock ? { clock, random: new ScriptedRandom([0]) } : {});
  let closed = false;
  cleanups.push(async () => { if (!closed) await s.close(); });
  return {
    s,
    port: s.listenerPort('main'),
    counter: (name: string): number => s.stats.counters.get(`cluster.${name}`)?.value() ?? 0,
    /** Closes the proxy (flushing the log) and returns one `<code> <flags>` line per request. */
    async log(): Promise<string[]> {
      closed = true;
      await s.close();
      return readFileSync(path, 'utf8').trim().split('\n');
    },
  };
}

const ATTEMPT_COUNTS = 'include_request_attempt_count: true\ninclude_attempt_count_in_response: true';
/** A 1 ms base back-off: every delay is random % 1 = 0, so retries follow at once. */
const FAST = 'retry_back_off: { base_interval: 0.001s }';
const route = (cluster: string, action = ''): string => `- match: { prefix: / }\n  route: { cluster: ${cluster}${action} }`;
const retry = (policy: string): string => `, retry_policy: { ${FAST}, ${policy} }`;

describe('retries', () => {
  it('retries 5xx until the upstream succeeds, with x-envoy-attempt-count both ways', async () => {
    const up = await upstream('web', scripted(503, 502, 200));
    const p = await proxy({ routes: route('web', retry('retry_on: 5xx, num_retries: 3')), clusters: staticCluster('web', [up.port]), vhost: ATTEMPT_COUNTS });
    const r = await send(p.port, '/');
    expect([r.status, r.body, r.headers['x-envoy-attempt-count']]).toEqual([200, '200:', '3']);
    expect(up.received.map((q) => q.headers['x-envoy-attempt-count'])).toEqual(['1', '2', '3']);
    expect([p.counter('web.upstream_rq_retry'), p.counter('web.upstream_rq_retry_success'), p.counter('web.upstream_rq_retry_limit_exceeded')]).toEqual([2, 1, 0]);
    // Only the forwarded response is charged to upstream_rq_<code>; the retried ones go to retry.*.
    expect([p.counter('web.upstream_rq_200'), p.counter('web.upstream_rq_503'), p.counter('web.retry.upstream_rq_503'), p.counter('web.retry.upstream_rq_5xx')]).toEqual([1, 0, 1, 2]);
    expect(await p.log()).toEqual(['200 -']);
  });

  it('forwards the last 5xx with URX once num_retries is used up', async () => {
    const up = await upstream('web', scripted(503));
    const p = await proxy({ routes: route('web', retry('retry_on: gateway-error, num_retries: 2')), clusters: staticCluster('web', [up.port]), vhost: ATTEMPT_COUNTS });
    const r = await send(p.port, '/');
    expect([r.status, r.body, r.headers['x-envoy-attempt-count']]).toEqual([503, '503:', '3']);
    expect(up.received).toHaveLength(3);
    expect([p.counter('web.upstream_rq_retry'), p.counter('web.upstream_rq_retry_limit_exceeded'), p.counter('web.upstream_rq_503')]).toEqual([2, 1, 1]);
    expect(await p.log()).toEqual(['503 URX']);
  });

  it('does not retry what retry_on does not cover (retriable-4xx is 409 only)', async () => {
    const up = await upstream('web', scripted(404, 200));
    const p = await proxy({ routes: route('web', retry('retry_on: "retriable-4xx,connect-failure"')), clusters: staticCluster('web', [up.port]) });
    expect((await send(p.port, '/')).status).toBe(404);
    expect(up.received).toHaveLength(1);
    const conflict = await upstream('conflict', scripted(409, 200));
    const q = await proxy({ routes: route('conflict', retry('retry_on: retriable-4xx')), clusters: staticCluster('conflict', [conflict.port]) });
    expect((await send(q.port, '/')).status).toBe(200);
    expect(conflict.received).toHaveLength(2);
  });

  it('retries a connection reset mid-request (retry_on reset)', async () => {
    let calls = 0;
    const up = await upstream('flaky', (req, res) => {
      if (++calls === 1) {
        req.socket.destroy();
        return;
      }
      res.end('ok');
    });
    const p = await proxy({ routes: route('flaky', retry('retry_on: reset')), clusters: staticCluster('flaky', [up.port]) });
    const r = await send(p.port, '/');
    expect([r.status, r.body]).toEqual([200, 'ok']);
    expect(calls).toBe(2);
    expect(p.counter('flaky.upstream_rq_retry')).toBe(1);
    expect(await p.log()).toEqual(['200 -']);
  });

  it('moves to another host after a refused connection (connect-failure, previous_hosts)', async () => {
    const dead = await closedPort();
    const live = await upstream('live');
    const predicate = 'retry_host_predicate: [{ name: envoy.retry_host_predicates.previous_hosts }], host_selection_retry_max_attempts: 5';
    const p = await proxy({ routes: route('pair', retry(`retry_on: connect-failure, num_retries: 1, ${predicate}`)), clusters: staticCluster('pair', [dead, live.port]) });
    for (let i = 0; i < 4; i++) {
      const r = await send(p.port, '/');
      expect([r.status, r.body]).toEqual([200, 'live']);
    }
    expect(live.received).toHaveLength(4);
    // Every request that the load balancer sent to the dead host first was retried once.
    expect(p.counter('pair.upstream_rq_retry')).toBe(p.counter('pair.upstream_cx_connect_fail'));
    expect(p.counter('pair.upstream_rq_retry')).toBeGreaterThan(0);
  });

  it('gives up on a refused upstream with 503 UF,URX and the "retried" reset body', async () => {
    const dead = await closedPort();
    const p = await proxy({ routes: route('dead', retry('retry_on: connect-failure, num_retries: 2')), clusters: staticCluster('dead', [dead]) });
    const r = await send(p.port, '/');
    expect([r.status, r.body]).toEqual([503, 'upstream connect error or disconnect/reset before headers. retried and the latest reset reason: connection failure']);
    expect([p.counter('dead.upstream_rq_retry'), p.counter('dead.upstream_rq_retry_limit_exceeded'), p.counter('dead.upstream_cx_connect_fail')]).toEqual([2, 1, 3]);
    expect(await p.log()).toEqual(['503 UF,URX']);
  });

  it('replays a request body from the retry buffer', async () => {
    const up = await upstream('echo', scripted(503, 200));
    const p = await proxy({ routes: route('echo', retry('retry_on: 5xx')), clusters: staticCluster('echo', [up.port]) });
    const r = await send(p.port, '/upload', { method: 'POST', body: 'hello body', headers: { 'content-type': 'text/plain' } });
    expect([r.status, r.body]).toEqual([200, '200:hello body']);
    expect(up.received.map((q) => q.body)).toEqual(['hello body', 'hello body']);
  });

  it('does not retry a body larger than the 1 MiB retry buffer', async () => {
    const up = await upstream('big', scripted(503, 200));
    const p = await proxy({ routes: route('big', retry('retry_on: 5xx')), clusters: staticCluster('big', [up.port]) });
    const body = 'x'.repeat(1024 * 1024 + 1);
    const r = await send(p.port, '/upload', { method: 'POST', body });
    expect(r.status).toBe(503);
    expect(up.received).toHaveLength(1);
    expect(up.received[0]!.body.length).toBe(body.length);
    expect([p.counter('big.retry_or_shadow_abandoned'), p.counter('big.upstream_rq_retry')]).toEqual([1, 0]);
  });

  it("bounds the retry buffer by the listener's per_connection_buffer_limit_bytes", async () => {
    const up = await upstream('small', scripted(503, 503, 200));
    const p = await proxy({
      routes: route('small', retry('retry_on: 5xx')), clusters: staticCluster('small', [up.port]),
      listener: 'per_connection_buffer_limit_bytes: 1024',
    });
    // 2 KiB outgrows the 1 KiB buffer: sent once, not retried.
    const big = 'b'.repeat(2048);
    const r1 = await send(p.port, '/upload', { method: 'POST', body: big });
    expect(r1.status).toBe(503);
    expect([p.counter('small.retry_or_shadow_abandoned'), p.counter('small.upstream_rq_retry')]).toEqual([1, 0]);
    // 512 bytes fit: replayed on the retry.
    const small = 's'.repeat(512);
    const r2 = await send(p.port, '/upload', { method: 'POST', body: small });
    expect([r2.status, r2.body]).toEqual([200, `200:${small}`]);
    expect(up.received.map((q) => q.body.length)).toEqual([2048, 512, 512]);
    expect([p.counter('small.retry_or_shadow_abandoned'), p.counter('small.upstream_rq_retry')]).toEqual([1, 1]);
  });

  it('honours x-envoy-retry-on / x-envoy-max-retries only on internal requests, and never forwards them', async () => {
    const up = await upstream('web', scripted(503, 503, 200));
    const internal = 'use_remote_address: true\ninternal_address_config: { cidr_ranges: [{ address_prefix: 127.0.0.1, prefix_len: 32 }] }';
    const p = await proxy({ routes: route('web', `, retry_policy: { ${FAST} }`), clusters: staticCluster('web', [up.port]), hcm: internal });
    const r = await send(p.port, '/', { headers: { 'x-envoy-retry-on': '5xx', 'x-envoy-max-retries': '2' } });
    expect(r.status).toBe(200);
    expect(up.received).toHaveLength(3);
    for (const q of up.received) {
      expect(q.headers).not.toHaveProperty('x-envoy-retry-on');
      expect(q.headers).not.toHaveProperty('x-envoy-max-retries');
    }
    const external = await upstream('ext', scripted(503, 200));
    const q = await proxy({ routes: route('ext'), clusters: staticCluster('ext', [external.port]) });
    expect((await send(q.port, '/', { headers: { 'x-envoy-retry-on': '5xx' } })).status).toBe(503);
    expect(external.received).toHaveLength(1);
    expect(external.received[0]!.headers).not.toHaveProperty('x-envoy-retry-on');
  });
});

describe('timeouts', () => {
  /** An upstream that never answers its first `stalls` requests, then answers 200. */
  function stalling(stalls: number): UpstreamHandler {
    let n = 0;
    return (_req, res) => {
      if (++n <= stalls) return;
      res.end(`answer ${n}`);
    };
  }

  it('retries a per-try timeout covered by retry_on, then answers from the next attempt', async () => {
    const clock = new FakeClock();
    const up = await upstream('slow', stalling(1));
    const p = await proxy({ routes: route('slow', `, timeout: 5s${retry('retry_on: 5xx, per_try_timeout: 0.5s')}`), clusters: staticCluster('slow', [up.port]) }, clock);
    const pending = send(p.port, '/');
    await vi.waitFor(() => expect(up.received).toHaveLength(1));
    expect(up.received[0]!.headers['x-envoy-expected-rq-timeout-ms']).toBe('500');
    clock.advance(500);
    const r = await pending;
    expect([r.status, r.body]).toEqual([200, 'answer 2']);
    expect([p.counter('slow.upstream_rq_per_try_timeout'), p.counter('slow.upstream_rq_retry')]).toEqual([1, 1]);
  });

  it('answers 504 UT on a per-try timeout that retry_on does not cover', async () => {
    const clock = new FakeClock();
    const up = await upstream('slow', stalling(1));
    const p = await proxy({ routes: route('slow', retry('retry_on: connect-failure, per_try_timeout: 0.25s')), clusters: staticCluster('slow', [up.port]) }, clock);
    const pending = send(p.port, '/');
    await vi.waitFor(() => expect(up.received).toHaveLength(1));
    clock.advance(250);
    const r = await pending;
    expect([r.status, r.body]).toEqual([504, 'upstream request timeout']);
    expect([p.counter('slow.upstream_rq_per_try_timeout'), p.counter('slow.upstream_rq_retry'), p.counter('slow.upstream_rq_504')]).toEqual([1, 0, 1]);
    expect(await p.log()).toEqual(['504 UT']);
  });

  it('the route timeout covers every retry: 504 UT after the third stalled attempt', async () => {
    const clock = new FakeClock();
    const up = await upstream('slow', stalling(100));
    const p = await proxy({ routes: route('slow', `, timeout: 1s${retry('retry_on: 5xx, num_retries: 5, per_try_timeout: 0.4s')}`), clusters: staticCluster('slow', [up.port]) }, clock);
    const pending = send(p.port, '/');
    await vi.waitFor(() => expect(up.received).toHaveLength(1));
    clock.advance(400);
    await vi.waitFor(() => expect(up.received).toHaveLength(2));
    // x-envoy-expected-rq-timeout-ms: the per-try timeout, capped by what is left of the route timeout.
    expect(up.received[1]!.headers['x-envoy-expected-rq-timeout-ms']).toBe('400');
    clock.advance(400);
    await vi.waitFor(() => expect(up.received).toHaveLength(3));
    expect(up.received[2]!.headers['x-envoy-expected-rq-timeout-ms']).toBe('200');
    clock.advance(200);
    const r = await pending;
    expect([r.status, r.body]).toEqual([504, 'upstream request timeout']);
    expect([p.counter('slow.upstream_rq_timeout'), p.counter('slow.upstream_rq_per_try_timeout'), p.counter('slow.upstream_rq_retry')]).toEqual([1, 2, 2]);
    expect(await p.log()).toEqual(['504 UT']);
  });
});

describe('circuit breakers', () => {
  const breakers = (t: string): string => `circuit_breakers: { thresholds: [{ ${t} }] }`;

  it('max_requests overflow: 503 UO with x-envoy-overloaded and the overflow body, never retried', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    const up = await upstream('one', (_req, res) => { void held.then(() => res.end('done')); });
    const p = await proxy({ routes: route('one', retry('retry_on: "5xx,reset,reset-before-request"')), clusters: staticCluster('one', [up.port], breakers('max_requests: 1')) });
    const first = send(p.port, '/');
    await vi.waitFor(() => expect(up.received).toHaveLength(1));
    const r = await send(p.port, '/');
    expect([r.status, r.headers['x-envoy-overloaded'], r.body]).toEqual([503, 'true', 'upstream connect error or disconnect/reset before headers. reset reason: overflow']);
    expect(r.headers['content-length']).toBe('81');
    release();
    expect((await first).body).toBe('done');
    expect([p.counter('one.upstream_rq_pending_overflow'), p.counter('one.upstream_rq_retry'), p.counter('one.upstream_rq_503')]).toEqual([1, 0, 1]);
    expect(up.received).toHaveLength(1);
    expect((await p.log()).sort()).toEqual(['200 -', '503 UO']);
  });

  it('max_pending_requests overflow: a request that would wait for a connection fails at once', async () => {
    const up = await upstream('web');
    const p = await proxy({ routes: route('web'), clusters: staticCluster('web', [up.port], breakers('max_pending_requests: 0')) });
    const r = await send(p.port, '/');
    expect([r.status, r.headers['x-envoy-overloaded']]).toEqual([503, 'true']);
    expect([p.counter('web.upstream_rq_pending_overflow'), up.received.length]).toEqual([1, 0]);
  });

  it('max_retries overflow: the failure is returned with UO and counted, the retry not attempted', async () => {
    const up = await upstream('web', scripted(503, 200));
    const p = await proxy({ routes: route('web', retry('retry_on: 5xx')), clusters: staticCluster('web', [up.port], breakers('max_retries: 0')) });
    const r = await send(p.port, '/');
    expect(r.status).toBe(503);
    expect(up.received).toHaveLength(1);
    expect([p.counter('web.upstream_rq_retry_overflow'), p.counter('web.upstream_rq_retry')]).toEqual([1, 0]);
    expect(await p.log()).toEqual(['503 UO']);
  });

  it('max_connections caps the host pool: requests queue instead of opening connections', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    const up = await upstream('web', (_req, res) => { void held.then(() => res.end('ok')); });
    const p = await proxy({ routes: route('web'), clusters: staticCluster('web', [up.port], breakers('max_connections: 1')) });
    const all = Promise.all([send(p.port, '/'), send(p.port, '/'), send(p.port, '/')]);
    await vi.waitFor(() => expect(up.received).toHaveLength(1));
    await vi.waitFor(() => expect(p.counter('web.upstream_cx_overflow')).toBeGreaterThanOrEqual(1));
    release();
    expect((await all).map((r) => r.status)).toEqual([200, 200, 200]);
    expect(up.connectionsAccepted()).toBe(1);
  });

  it('shows thresholds and, with track_remaining, remaining counts in /clusters', async () => {
    const up = await upstream('web');
    const p = await proxy({ routes: route('web'), clusters: staticCluster('web', [up.port], breakers('max_requests: 7, max_retries: 2, track_remaining: true')) });
    const text = (await send(p.s.adminPort!, '/clusters')).body;
    expect(text).toContain('web::default_priority::max_requests::7\n');
    expect(text).toContain('web::default_priority::remaining_rq::7\n');
    expect(text).toContain('web::default_priority::remaining_retries::2\n');
    expect(text).not.toContain('web::high_priority::remaining_rq');
    expect(p.s.stats.gauges.get('cluster.web.circuit_breakers.default.remaining_rq')?.value()).toBe(7);
  });
});
