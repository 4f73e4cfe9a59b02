// Fault injection through a real proxy (envoy.filters.http.fault before the router) with a FakeClock and
// queued draws: a delay holds the request until the clock advances, an abort answers without reaching the
// upstream, per-route overrides, header controls, downstream disconnects, stats and access-log flags.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import type { Random } from '../../proxy/common/clock.ts';
import type { Server } from '../../proxy/server/server.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { bootstrapYaml, indent, send, startProxy, staticCluster } from '../support/proxy.ts';
import { startUpstream, type TestUpstream } from '../support/upstream.ts';

const FAULT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** nextUint32() answers the values the test queued, in order, then 0 (e.g. the round-robin seed). */
class QueuedRandom implements Random {
  private readonly queue: number[] = [];
  push(...values: number[]): void { this.queue.push(...values); }
  nextUint32(): number { return this.queue.shift() ?? 0; }
  next(): number { return this.nextUint32() / 0x1_0000_0000; }
}

interface Setup {
  readonly server: Server;
  readonly up: TestUpstream;
  readonly clock: FakeClock;
  readonly random: QueuedRandom;
  readonly logPath: string;
  send(path: string, headers?: Record<string, string>): ReturnType<typeof send>;
  stat(name: string): number | undefined;
  /** Access-log lines: `<code> <flags> <details> <path>`. */
  logLines(): Promise<string[]>;
}

/** An access-log line of a proxied 200 (the router's details are not the fault filter's concern). */
function proxied(flags: string, path: string) {
  return expect.stringMatching(new RegExp(`^200 ${flags} \\S+ ${path}$`));
}

/**
 * One listener: fault filter (`fault` = HTTPFault fields) then router; `routes` (YAML list) in one
 * virtual host; clusters `web` and `other` on one test upstream; an access log of code, flags, details and path.
 */
async function setup(fault: string, routes = '- match: { prefix: / }\n  route: { cluster: web }'): Promise<Setup> {
  const up = await startUpstream('web');
  cleanups.push(() => up.close());
  const logPath = join(mkdtempSync(join(tmpdir(), 'nodevoy-fault-')), 'access.log');
  const yaml = bootstrapYaml({
    routes,
    clusters: `${staticCluster('web', [up.port])}\n${staticCluster('other', [up.port])}`,
    httpFilters: `- name: envoy.filters.http.fault
  typed_config:
    "@type": ${FAULT_TYPE}
${indent(fault, 4)}`,
    accessLogPath: logPath,
    accessLogFormat: '%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %REQ(:PATH)%\n',
  });
  const clock = new FakeClock();
  const random = new QueuedRandom();
  const server = await startProxy(yaml, { clock, random });
  let closed = false;
  const close = async (): Promise<void> => {
    if (!closed) await server.close();
    closed = true;
  };
  cleanups.push(close);
  return {
    server, up, clock, random, logPath,
    send: (path, headers = {}) => send(server.listenerPort('main'), path, { headers }),
    stat: (name) => server.stats.counters.get(name)?.value() ?? server.stats.gauges.get(name)?.value(),
    logLines: async () => {
      await close(); // flushes the file
      return readFileSync(logPath, 'utf8').trim().split('\n');
    },
  };
}

describe('delay', () => {
  it('Istio fixed_delay 7s at 100%: the upstream sees nothing until the clock reaches 7 s', async () => {
    const t = await setup('delay: { fixed_delay: 7s, percentage: { numerator: 100 } }');
    t.random.push(99);
    const pending = t.send('/slow');
    await vi.waitFor(() => expect(t.stat('http.ingress.fault.delays_injected')).toBe(1));
    expect(t.stat('http.ingress.fault.active_faults')).toBe(1);
    t.clock.advance(6_999);
    expect(t.stat('cluster.web.upstream_rq_total')).toBe(0);
    expect(t.up.received).toHaveLength(0);
    t.clock.advance(1);
    const r = await pending;
    expect([r.status, r.body]).toEqual([200, 'web']);
    expect(t.up.received.map((q) => q.url)).toEqual(['/slow']);
    expect(t.stat('http.ingress.fault.active_faults')).toBe(0);
    expect(await t.logLines()).toEqual([proxied('DI', '/slow')]);
  });

  it('a client that goes away during the delay cancels it: the request never reaches the upstream', async () => {
    const t = await setup('delay: { fixed_delay: 5s, percentage: { numerator: 100 } }');
    const req = httpRequest({ host: '127.0.0.1', port: t.server.listenerPort('main'), path: '/gone', agent: false });
    req.on('error', () => {});
    req.end();
    await vi.waitFor(() => expect(t.stat('http.ingress.fault.active_faults')).toBe(1));
    req.destroy();
    await vi.waitFor(() => expect(t.stat('http.ingress.fault.active_faults')).toBe(0));
    t.clock.advance(10_000);
    expect(t.stat('cluster.web.upstream_rq_total')).toBe(0);
    expect(t.up.received).toHaveLength(0);
    expect(await t.logLines()).toEqual(['0 DI,DC - /gone']);
  });
});

describe('abort', () => {
  it('Istio abort 500 at 50%: draws under 50 abort without reaching the upstream, others pass', async () => {
    const t = await setup('abort: { http_status: 500, percentage: { numerator: 50 } }');
    const results: [number, string][] = [];
    for (const draw of [49, 50, 0, 99, 149]) {
      t.random.push(draw);
      const r = await t.send(`/d${draw}`);
      results.push([r.status, r.body]);
    }
    expect(results).toEqual([
      [500, 'fault filter abort'], [200, 'web'], [500, 'fault filter abort'], [200, 'web'], [500, 'fault filter abort'],
    ]);
    expect(t.up.received.map((q) => q.url)).toEqual(['/d50', '/d99']);
    expect(t.stat('http.ingress.fault.aborts_injected')).toBe(3);
    expect(t.stat('http.ingress.downstream_rq_5xx')).toBe(3);
    expect(await t.logLines()).toEqual([
      '500 FI fault_filter_abort /d49', proxied('-', '/d50'), '500 FI fault_filter_abort /d0',
      proxied('-', '/d99'), '500 FI fault_filter_abort /d149',
    ]);
  });

  it('delay then abort: flags DI,FI and the upstream never sees the request', async () => {
    const t = await setup('delay: { fixed_delay: 1s, percentage: { numerator: 100 } }\nabort: { http_status: 503, percentage: { numerator: 100 } }');
    const pending = t.send('/both');
    await vi.waitFor(() => expect(t.stat('http.ingress.fault.delays_injected')).toBe(1));
    t.clock.advance(1_000);
    const r = await pending;
    expect([r.status, r.body, r.headers['content-type']]).toEqual([503, 'fault filter abort', 'text/plain']);
    expect(t.up.received).toHaveLength(0);
    expect(await t.logLines()).toEqual(['503 DI,FI fault_filter_abort /both']);
  });

  it('header_abort: the client picks the status with x-envoy-fault-abort-request', async () => {
    const t = await setup('abort: { header_abort: {}, percentage: { numerator: 100 } }');
    expect((await t.send('/a', { 'x-envoy-fault-abort-request': '429' })).status).toBe(429);
    expect((await t.send('/b')).status).toBe(200);
    expect((await t.send('/c', { 'x-envoy-fault-abort-request': '700' })).status).toBe(200);
    expect(t.up.received.map((q) => q.url)).toEqual(['/b', '/c']);
  });
});

describe('per-route typed_per_filter_config', () => {
  it('a route\'s HTTPFault replaces the filter-level one; other routes keep it', async () => {
    const routes = `- match: { prefix: /ratings }
  route: { cluster: web }
  typed_per_filter_config:
    envoy.filters.http.fault:
      "@type": ${FAULT_TYPE}
      abort: { http_status: 418, percentage: { numerator: 100 } }
- match: { prefix: /healthy }
  route: { cluster: web }
  typed_per_filter_config:
    envoy.filters.http.fault: { "@type": "${FAULT_TYPE}" }
- match: { prefix: / }
  route: { cluster: web }`;
    const t = await setup('abort: { http_status: 503, percentage: { numerator: 100 } }', routes);
    expect((await t.send('/ratings/1')).status).toBe(418);
    expect((await t.send('/healthy')).status).toBe(200);
    expect((await t.send('/other')).status).toBe(503);
    expect(t.up.received.map((q) => q.url)).toEqual(['/healthy']);
  });

  it('upstream_cluster and headers restrict the fault to matching requests', async () => {
    const routes = `- match: { prefix: /other }
  route: { cluster: other }
- match: { prefix: / }
  route: { cluster: web }`;
    const t = await setup(`upstream_cluster: web
headers: [{ name: end-user, string_match: { exact: jason } }]
abort: { http_status: 503, percentage: { numerator: 100 } }`, routes);
    expect((await t.send('/x', { 'end-user': 'jason' })).status).toBe(503);
    expect((await t.send('/x', { 'end-user': 'bob' })).status).toBe(200);
    expect((await t.send('/other', { 'end-user': 'jason' })).status).toBe(200);
    expect(t.up.received.map((q) => q.url)).toEqual(['/x', '/other']);
    expect(t.stat('http.ingress.fault.aborts_injected')).toBe(1);
  });
});

describe('max_active_faults', () => {
  it('a fault over the limit is not injected and counts faults_overflow', async () => {
    const t = await setup('max_active_faults: 1\ndelay: { fixed_delay: 2s, percentage: { numerator: 100 } }');
    const first = t.send('/first');
    await vi.waitFor(() => expect(t.stat('http.ingress.fault.active_faults')).toBe(1));
    const second = await t.send('/second');
    expect(second.status).toBe(200);
    expect(t.up.received.map((q) => q.url)).toEqual(['/second']);
    expect(t.stat('http.ingress.fault.faults_overflow')).toBe(1);
    t.clock.advance(2_000);
    expect((await first).status).toBe(200);
    expect(await t.logLines()).toEqual([proxied('-', '/second'), proxied('DI', '/first')]);
  });
});
