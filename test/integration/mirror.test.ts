// Request mirroring (RouteAction.request_mirror_policies) over real sockets: the mirror gets a copy with the
// `-shadow` authority, the main response never depends on the mirror (slow, 500, unreachable, timed out),
// runtime_fraction samples exactly the scripted requests, and no request or socket is left behind.

import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Random } from '../../proxy/common/clock.ts';
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

/** A Random whose script the test replaces once the proxy is up (config-time draws are not counted). */
class SwappableRandom implements Random {
  script: Random = new ScriptedRandom([0]);
  next(): number { return this.script.next(); }
  nextUint32(): number { return this.script.nextUint32(); }
}

/** ScriptedRandom value whose nextUint32() is exactly `n`. */
const uint32 = (n: number): number => n / 0x1_0000_0000;

const MIRROR = "'outbound|80||mirror.ns.svc.cluster.local'";

async function proxy(opts: { policies: string; mirrorPorts: number[]; mainPort: number; action?: string; vhost?: string; listener?: string },
  deps: { clock?: FakeClock; random?: Random } = {}) {
  const s = await startProxy(bootstrapYaml({
    routes: `- match: { prefix: / }\n  route: { cluster: main${opts.action ?? ''}, request_mirror_policies: ${opts.policies} }`,
    clusters: `${staticCluster('main', [opts.mainPort])}\n${staticCluster(MIRROR, opts.mirrorPorts)}`,
    virtualHostExtra: opts.vhost ?? '',
    listenerExtra: opts.listener ?? '',
  }), deps);
  let closed = false;
  cleanups.push(async () => { if (!closed) await s.close(); });
  const stat = (name: string): number => s.stats.counters.get(name)?.value() ?? s.stats.gauges.get(name)?.value() ?? 0;
  return {
    s,
    port: s.listenerPort('main'),
    mirror: (name: string): number => stat(`cluster.outbound|80||mirror.ns.svc.cluster.local.${name}`),
    main: (name: string): number => stat(`cluster.main.${name}`),
    /** Nothing in flight: no downstream request, no main or shadow request. */
    async idle(): Promise<void> {
      await vi.waitFor(() => {
        expect(s.activeRequests()).toBe(0);
        expect(stat('cluster.main.upstream_rq_active')).toBe(0);
        expect(stat('cluster.outbound|80||mirror.ns.svc.cluster.local.upstream_rq_active')).toBe(0);
      });
    },
    async close(): Promise<void> {
      closed = true;
      await s.close();
    },
  };
}

/** After the proxy closed, no socket to these upstreams stays open. */
async function noSocketsLeft(...ups: TestUpstream[]): Promise<void> {
  await vi.waitFor(() => expect(ups.map((u) => u.openSockets())).toEqual(ups.map(() => 0)));
}

describe('request mirroring', () => {
  it('sends the mirror a copy with the -shadow authority, same method, path, headers and body', async () => {
    const main = await upstream('main');
    const mirror = await upstream('mirror', (_req, res) => { res.writeHead(201); res.end('ignored'); });
    const p = await proxy({ policies: `[{ cluster: ${MIRROR} }]`, mainPort: main.port, mirrorPorts: [mirror.port], action: ', timeout: 7s' });
    const body = 'x'.repeat(200_000); // several chunks through the body tee
    const r = await send(p.port, '/orders?id=7', { method: 'POST', headers: { host: 'shop.example:8080', 'x-trace': 'abc', 'content-type': 'text/plain' }, body });
    expect([r.status, r.body]).toEqual([200, 'main']);
    await vi.waitFor(() => expect(mirror.received).toHaveLength(1));
    const [got] = mirror.received;
    const sent = main.received[0]!;
    expect([got!.method, got!.url, got!.body.length, got!.body === body]).toEqual(['POST', '/orders?id=7', body.length, true]);
    expect(got!.headers.host).toBe('shop.example-shadow:8080');
    expect(sent.headers.host).toBe('shop.example:8080');
    expect([got!.headers['x-trace'], got!.headers['content-type'], got!.headers['x-request-id']])
      .toEqual([sent.headers['x-trace'], sent.headers['content-type'], sent.headers['x-request-id']]);
    // What the shadow's own router (Envoy's async client, with the route timeout) writes.
    expect(got!.headers['x-envoy-expected-rq-timeout-ms']).toBe('7000');
    await p.idle();
    // The shadow counts in the mirror cluster's stats only.
    expect([p.mirror('upstream_rq_total'), p.mirror('upstream_rq_201'), p.mirror('upstream_rq_completed')]).toEqual([1, 1, 1]);
    expect([p.main('upstream_rq_total'), p.main('upstream_rq_200'), p.main('upstream_rq_201')]).toEqual([1, 1, 0]);
    await p.close();
    await noSocketsLeft(main, mirror);
  });

  it('disable_shadow_host_suffix_append keeps the authority; several policies each get a copy', async () => {
    const main = await upstream('main');
    const mirror = await upstream('mirror');
    const p = await proxy({
      policies: `[{ cluster: ${MIRROR}, disable_shadow_host_suffix_append: true }, { cluster: ${MIRROR}, trace_sampled: false }]`,
      mainPort: main.port, mirrorPorts: [mirror.port],
    });
    expect((await send(p.port, '/', { headers: { host: 'api' } })).status).toBe(200);
    await vi.waitFor(() => expect(mirror.received).toHaveLength(2));
    expect(mirror.received.map((q) => q.headers.host).sort()).toEqual(['api', 'api-shadow']);
    await p.idle();
  });

  it('answers without waiting for a slow mirror, which finishes on its own later', async () => {
    const main = await upstream('main');
    let release = (): void => {};
    const mirror = await upstream('mirror', (_req, res) => { release = () => res.end('late'); });
    const p = await proxy({ policies: `[{ cluster: ${MIRROR} }]`, mainPort: main.port, mirrorPorts: [mirror.port] });
    const r = await send(p.port, '/slow');
    expect([r.status, r.body]).toEqual([200, 'main']);
    await vi.waitFor(() => expect(mirror.received).toHaveLength(1));
    expect(p.mirror('upstream_rq_active')).toBe(1); // still waiting, fire and forget
    expect(p.s.activeRequests()).toBe(0);
    release();
    await p.idle();
    expect([p.mirror('upstream_rq_200'), p.mirror('upstream_rq_timeout')]).toEqual([1, 0]);
  });

  it('a shadow is bounded by the route timeout (timeout, upstream_rq_504 on the mirror cluster only)', async () => {
    const clock = new FakeClock();
    const main = await upstream('main');
    const mirror = await upstream('mirror', () => { /* never answers */ });
    const p = await proxy({ policies: `[{ cluster: ${MIRROR} }]`, mainPort: main.port, mirrorPorts: [mirror.port], action: ', timeout: 5s' }, { clock });
    expect((await send(p.port, '/')).status).toBe(200);
    await vi.waitFor(() => expect(mirror.received).toHaveLength(1));
    clock.advance(4_999);
    expect(p.mirror('upstream_rq_timeout')).toBe(0);
    clock.advance(1);
    expect([p.mirror('upstream_rq_timeout'), p.mirror('upstream_rq_504'), p.mirror('upstream_rq_active')]).toEqual([1, 1, 0]);
    expect([p.main('upstream_rq_timeout'), p.main('upstream_rq_200')]).toEqual([0, 1]);
    await p.idle();
  });

  it('a mirror answering 500 does not change the main response or the main cluster stats', async () => {
    const main = await upstream('main');
    const mirror = await upstream('mirror', (_req, res) => { res.writeHead(500); res.end('boom'); });
    const p = await proxy({ policies: `[{ cluster: ${MIRROR} }]`, mainPort: main.port, mirrorPorts: [mirror.port] });
    const r = await send(p.port, '/');
    expect([r.status, r.body]).toEqual([200, 'main']);
    await p.idle();
    await vi.waitFor(() => expect(p.mirror('upstream_rq_500')).toBe(1));
    expect([p.main('upstream_rq_5xx'), p.main('upstream_rq_2xx')]).toEqual([0, 1]);
  });

  it('an unreachable mirror fails alone; a route with retries does not retry shadows', async () => {
    const main = await upstream('main');
    const refused = await closedPort();
    const p = await proxy({
      policies: `[{ cluster: ${MIRROR} }]`, mainPort: main.port, mirrorPorts: [refused],
      action: ', retry_policy: { retry_on: connect-failure, num_retries: 3 }',
    });
    const r = await send(p.port, '/', { method: 'PUT', body: 'payload' });
    expect([r.status, r.body]).toEqual([200, 'main']);
    await p.idle();
    await vi.waitFor(() => expect(p.mirror('upstream_rq_503')).toBe(1));
    expect([p.mirror('upstream_rq_total'), p.mirror('upstream_rq_retry'), p.main('upstream_rq_retry')]).toEqual([1, 0, 0]);
    expect(main.received[0]!.body).toBe('payload');
  });

  it('cluster_header picks the mirror per request; a missing header or an unknown cluster skips the shadow', async () => {
    const main = await upstream('main');
    const mirror = await upstream('mirror');
    const p = await proxy({ policies: '[{ cluster_header: x-mirror-to }]', mainPort: main.port, mirrorPorts: [mirror.port] });
    const mirrorName = 'outbound|80||mirror.ns.svc.cluster.local';
    const requests: Record<string, string>[] = [{ 'x-mirror-to': 'gone' }, {}, { 'x-mirror-to': mirrorName }];
    for (const headers of requests) {
      expect((await send(p.port, '/', { headers })).status).toBe(200);
    }
    expect(p.mirror('upstream_rq_total')).toBe(1);
    await vi.waitFor(() => expect(mirror.received).toHaveLength(1));
    expect(main.received).toHaveLength(3);
    await p.idle();
  });

  it('cancels a shadow whose body is still streaming when the client goes away', async () => {
    const main = await upstream('main');
    const mirror = await upstream('mirror');
    const p = await proxy({ policies: `[{ cluster: ${MIRROR} }]`, mainPort: main.port, mirrorPorts: [mirror.port] });
    await new Promise<void>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: p.port, path: '/upload', method: 'POST', agent: false, headers: { 'content-length': '100000' } });
      req.on('error', () => resolve());
      req.write('partial body');
      // Once the shadow is under way, abandon the upload.
      void vi.waitFor(() => expect(p.mirror('upstream_rq_total')).toBe(1)).then(() => { req.destroy(); resolve(); });
    });
    await p.idle();
    expect(p.mirror('upstream_rq_tx_reset')).toBe(1);
    expect(mirror.received).toHaveLength(0);
    await p.close();
    await noSocketsLeft(main, mirror);
  });
});

describe('runtime_fraction sampling', () => {
  it('mirrors exactly the requests whose draw % denominator < numerator (Istio mirrorPercentage 50)', async () => {
    const main = await upstream('main');
    const mirror = await upstream('mirror');
    const random = new SwappableRandom();
    const p = await proxy({
      // Istio writes mirrorPercentage 50 as 500000 / MILLION.
      policies: `[{ cluster: ${MIRROR}, runtime_fraction: { default_value: { numerator: 500000, denominator: MILLION } } }]`,
      mainPort: main.port, mirrorPorts: [mirror.port],
    }, { random });
    const draws = [10, 600_000, 499_999, 500_000, 1_999_999, 0];
    random.script = new ScriptedRandom(draws.map(uint32));
    for (let i = 0; i < draws.length; i++) expect((await send(p.port, `/r${i}`)).status).toBe(200);
    // Shadows start before the main attempt, so the count is final once every main response is in.
    expect(p.mirror('upstream_rq_total')).toBe(3);
    await vi.waitFor(() => expect(mirror.received).toHaveLength(3));
    expect(mirror.received.map((q) => q.url).sort()).toEqual(['/r0', '/r2', '/r5']);
    expect(main.received).toHaveLength(6);
    await p.idle();
  });
});

describe('configuration errors', () => {
  it.each([
    ['an unknown mirror cluster (validate_clusters)', '[{ cluster: nowhere }]',
      /route_config\.virtual_hosts\[0\]\.routes\[0\]\.route\.request_mirror_policies\[0\]\.cluster.*unknown cluster "nowhere"/],
    ['a bad fraction', `[{ cluster: ${MIRROR}, runtime_fraction: { default_value: { numerator: 5, denominator: PERCENT } } }]`,
      /request_mirror_policies\[0\]\.runtime_fraction\.default_value\.denominator/],
    ['no cluster', '[{ runtime_fraction: { default_value: { numerator: 5 } } }]',
      /request_mirror_policies\[0\].*one of cluster, cluster_header is required/],
  ])('rejects %s with its path', async (_name, policies, error) => {
    const main = await upstream('main');
    await expect(proxy({ policies, mainPort: main.port, mirrorPorts: [main.port] })).rejects.toThrow(error);
  });
});
