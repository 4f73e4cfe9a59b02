// The mesh graph's scraper on a fake clock with scripted fetches: where each proxy is scraped (INSTANCE_IPS,
// STATS_PORT), rounds every interval that never overlap, bounded concurrency, timeouts, stale proxies, close();
// and the server side: /graph.json from proxies that connected over xDS, /graph as one self-contained page.

import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { graphProxy, GraphScraper, httpStatsFetch, scrapeAddress, type ScrapeAddress, type StatsFetch } from '../../../control-plane/server/graph-scraper.ts';
import type { ProxySync } from '../../../control-plane/server/sync-status.ts';
import { startXdsServer, type XdsServer } from '../../../control-plane/server/xds-server.ts';
import { proxyIdentity } from '../../../control-plane/translate/identity.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { exposition } from './graph-exposition.ts';
import { discover, FakeMesh, getJson } from './server-fake-mesh.ts';

function proxySync(id: string, metadata: Record<string, unknown>): ProxySync {
  const node = { id, cluster: 'c', metadata };
  const identity = proxyIdentity(node);
  if (!identity.ok) throw new Error(identity.errors.map((e) => e.message).join('; '));
  return { id, node, identity: identity.value, lastSeenMs: 0, types: new Map() };
}

const workload = (name: string, ip: string, extra: Record<string, unknown> = {}): ProxySync =>
  proxySync(`sidecar~${ip}~${name}.default~default.svc.cluster.local`, { NAME: name, NAMESPACE: 'default', INSTANCE_IPS: ip, LABELS: { app: name.replace(/-v\d+$/, '') }, ...extra });

/** A StatsFetch whose answers the test gives, one call at a time; honours the abort signal as node:http does. */
class ScriptedFetch {
  readonly calls: { address: ScrapeAddress; resolve: (text: string) => void; reject: (e: Error) => void; settled: boolean }[] = [];
  readonly fetch: StatsFetch = (address, signal) => new Promise<string>((resolve, reject) => {
    const call = { address, resolve, reject, settled: false };
    const settle = <T>(fn: (v: T) => void) => (v: T) => {
      call.settled = true;
      fn(v);
    };
    call.resolve = settle(resolve);
    call.reject = settle(reject);
    signal.addEventListener('abort', () => call.reject(new Error('The operation was aborted')));
    this.calls.push(call);
  });

  pending() {
    return this.calls.filter((c) => !c.settled);
  }
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function messages() {
  const lines: string[] = [];
  return { lines, logger: { info: (m: string) => lines.push(`info ${m}`), warning: (m: string) => lines.push(`warning ${m}`) } };
}

describe('where a proxy is scraped', () => {
  it('the first INSTANCE_IPS address (else the sidecar id\'s), port STATS_PORT or Istio\'s 15090', () => {
    expect(scrapeAddress(workload('a', '10.0.0.5'))).toEqual({ host: '10.0.0.5', port: 15090 });
    expect(scrapeAddress(proxySync('p', { INSTANCE_IPS: '10.0.0.6,fd00::6', STATS_PORT: 15000 }))).toEqual({ host: '10.0.0.6', port: 15000 });
    expect(scrapeAddress(proxySync('p', { INSTANCE_IPS: '10.0.0.6', STATS_PORT: '15020' }))).toEqual({ host: '10.0.0.6', port: 15020 });
    expect(scrapeAddress(proxySync('sidecar~10.1.2.3~x.ns~ns.svc.cluster.local', {}))).toEqual({ host: '10.1.2.3', port: 15090 });
    for (const bad of [0, 70_000, 'http', 1.5, true]) {
      expect(scrapeAddress(proxySync('p', { STATS_PORT: bad }))).toEqual({ error: `node.metadata.STATS_PORT must be a port number, got ${JSON.stringify(bad)}` });
    }
  });

  it('names the workload as Istio\'s stats filter does (WORKLOAD_NAME, else NAME), an IPv6 target in brackets', () => {
    expect(graphProxy(proxySync('p1', { NAME: 'reviews-v1-abc', WORKLOAD_NAME: 'reviews-v1', NAMESPACE: 'shop', LABELS: { app: 'reviews', version: 'v1' }, INSTANCE_IPS: 'fd00::5' })))
      .toEqual({ id: 'p1', workload: { name: 'reviews-v1', namespace: 'shop', app: 'reviews', version: 'v1' }, target: '[fd00::5]:15090' });
    expect(graphProxy(proxySync('p2', { STATS_PORT: -1 }))).toEqual({ id: 'p2', workload: { name: 'p2', namespace: 'default', app: '', version: '' }, target: undefined });
  });
});

describe('GraphScraper', () => {
  it('scrapes every proxy each interval, at most maxConcurrent at once, and skips a round while one is running', async () => {
    const clock = new FakeClock();
    const fetch = new ScriptedFetch();
    const proxies = ['a', 'b', 'c', 'd', 'e'].map((n, i) => workload(n, `10.0.0.${i + 1}`));
    const scraper = new GraphScraper(() => proxies, clock, { intervalMs: 5_000, timeoutMs: 60_000, maxConcurrent: 2, fetch: fetch.fetch });
    scraper.start();
    await flush();
    expect(fetch.calls).toHaveLength(0);
    clock.advance(5_000);
    await flush();
    expect(fetch.calls.map((c) => c.address.host)).toEqual(['10.0.0.1', '10.0.0.2']);
    fetch.calls[0]!.resolve('');
    await flush();
    expect(fetch.pending().map((c) => c.address.host)).toEqual(['10.0.0.2', '10.0.0.3']);
    clock.advance(5_000); // due again, but the round is still running
    await flush();
    expect(fetch.calls).toHaveLength(3);
    while (fetch.pending().length > 0) {
      for (const c of fetch.pending()) c.resolve('');
      await flush();
    }
    expect(fetch.calls).toHaveLength(5);
    clock.advance(5_000);
    await flush();
    expect(fetch.calls).toHaveLength(7);
    scraper.close();
    await flush();
    expect(clock.pendingTimers()).toBe(0);
    expect(fetch.pending()).toEqual([]);
  });

  it('gives up on a proxy that does not answer within the timeout, marks it stale and goes on with the others', async () => {
    const clock = new FakeClock();
    const fetch = new ScriptedFetch();
    const slow = workload('slow-v1', '10.0.0.1');
    const fast = workload('fast-v1', '10.0.0.2');
    const log = messages();
    const scraper = new GraphScraper(() => [slow, fast], clock, { timeoutMs: 2_000, maxConcurrent: 1, fetch: fetch.fetch }, log.logger);
    const first = scraper.scrapeNow();
    await flush();
    fetch.calls[0]!.resolve(exposition([]));
    await flush();
    fetch.calls[1]!.resolve(exposition([]));
    await first;
    expect(scraper.graph.status(slow.id)).toBe('ok');
    const second = scraper.scrapeNow();
    await flush();
    expect(fetch.pending()).toHaveLength(1);
    clock.advance(1_999);
    await flush();
    expect(fetch.pending()).toHaveLength(1);
    clock.advance(1);
    await flush();
    fetch.calls[3]!.resolve(exposition([]));
    await second;
    const json = scraper.json();
    expect(json.proxies.map((p) => [p.target, p.status, p.error])).toEqual([
      ['10.0.0.1:15090', 'stale', 'GET http://10.0.0.1:15090/stats/prometheus: no answer within 2000 ms'],
      ['10.0.0.2:15090', 'ok', undefined],
    ]);
    expect(json.interval_seconds).toBe(5);
    expect(json.nodes.find((n) => n.name === 'slow-v1')!.scrape).toBe('stale');
    expect(log.lines).toEqual([`warning mesh graph: ${slow.id} is stale: GET http://10.0.0.1:15090/stats/prometheus: no answer within 2000 ms`]);
    const third = scraper.scrapeNow();
    await flush();
    fetch.calls[4]!.resolve('istio_requests_total{reporter="source"} oops\n');
    await flush();
    fetch.calls[5]!.resolve('');
    await third;
    expect(log.lines.slice(1)).toEqual([
      `info mesh graph: ${slow.id} answers again at 10.0.0.1:15090`,
      `warning mesh graph: ${slow.id}: malformed lines skipped: line 1: "oops" is not a sample value`,
    ]);
  });

  it('a proxy without a usable STATS_PORT is shown, not scraped; one that went away is forgotten', async () => {
    const clock = new FakeClock();
    const fetch = new ScriptedFetch();
    let proxies = [workload('a-v1', '10.0.0.1', { STATS_PORT: 'admin' }), workload('b-v1', '10.0.0.2')];
    const scraper = new GraphScraper(() => proxies, clock, { fetch: fetch.fetch });
    const round = scraper.scrapeNow();
    await flush();
    fetch.calls[0]!.reject(new Error('connect ECONNREFUSED 10.0.0.2:15090'));
    await round;
    expect(fetch.calls.map((c) => c.address.host)).toEqual(['10.0.0.2']);
    expect(scraper.json().proxies.map((p) => [p.target, p.status, p.error])).toEqual([
      ['', 'no-target', 'node.metadata.STATS_PORT must be a port number, got "admin"'],
      ['10.0.0.2:15090', 'stale', 'GET http://10.0.0.2:15090/stats/prometheus: connect ECONNREFUSED 10.0.0.2:15090'],
    ]);
    proxies = [];
    await scraper.scrapeNow();
    expect(scraper.graph.status(`sidecar~10.0.0.2~b-v1.default~default.svc.cluster.local`)).toBe('pending');
  });

  it('close() abandons the scrapes in flight without recording them', async () => {
    const clock = new FakeClock();
    const fetch = new ScriptedFetch();
    const p = workload('a-v1', '10.0.0.1');
    const scraper = new GraphScraper(() => [p], clock, { fetch: fetch.fetch });
    scraper.start();
    const round = scraper.scrapeNow();
    await flush();
    scraper.close();
    await round;
    expect(fetch.calls[0]!.settled).toBe(true);
    expect(scraper.graph.status(p.id)).toBe('pending');
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('httpStatsFetch', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve()))));

  it('GETs /stats/prometheus; anything but a 200, or more than maxBytes, is a failure', async () => {
    const bodies: Record<string, [number, string]> = { small: [200, 'istio_requests_total 1\n'], big: [200, 'x'.repeat(5_000)], missing: [404, 'no'] };
    const seen: string[] = [];
    let which = 'small';
    server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.host}`);
      const [status, body] = bodies[which]!;
      res.writeHead(status).end(body);
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const fetch = httpStatsFetch(1_000);
    const get = () => fetch({ host: '127.0.0.1', port }, new AbortController().signal);
    expect(await get()).toBe('istio_requests_total 1\n');
    expect(seen).toEqual([`GET /stats/prometheus 127.0.0.1:${port}`]);
    which = 'big';
    await expect(get()).rejects.toThrow('the answer is larger than 1000 bytes');
    which = 'missing';
    await expect(get()).rejects.toThrow('HTTP 404 for /stats/prometheus');
    const aborted = new AbortController();
    aborted.abort(new Error('gone'));
    await expect(fetch({ host: '127.0.0.1', port }, aborted.signal)).rejects.toThrow();
  });
});

describe('the control plane\'s /graph and /graph.json', () => {
  const servers: XdsServer[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });

  /** The fake mesh source puts every proxy at 127.0.0.1: STATS_PORT tells them apart. */
  async function connect(server: XdsServer, name: string, statsPort: number) {
    const metadata = { NAME: name, NAMESPACE: 'default', STATS_PORT: statsPort, LABELS: { app: name.replace(/-v\d+$/, ''), version: 'v1' } };
    expect((await discover(server.url, 'clusters', { node: { id: `${name}.default`, cluster: name, metadata } })).status).toBe(200);
  }

  it('graphs the proxies that connected over xDS from their scraped metrics', async () => {
    const clock = new FakeClock();
    const scripted: Record<number, string[]> = {
      1001: [0, 20].map((count) => exposition([{ reporter: 'source', from: 'productpage-v1', to: 'reviews-v1', count }])),
      1002: [0, 20].map((count) => exposition([{ reporter: 'destination', from: 'productpage-v1', to: 'reviews-v1', count }])),
    };
    const fetch: StatsFetch = async (address) => scripted[address.port]!.shift()!;
    const server = await startXdsServer({ host: '127.0.0.1', port: 0, clock, source: new FakeMesh(), graph: { fetch } });
    servers.push(server);
    await connect(server, 'productpage-v1', 1001);
    await connect(server, 'reviews-v1', 1002);
    await server.graph!.scrapeNow();
    clock.advance(4_000);
    await server.graph!.scrapeNow();
    const { status, body } = await getJson(`${server.url}/graph.json`);
    expect(status).toBe(200);
    expect(body.nodes.map((n: { id: string; column: number; scrape: string }) => [n.id, n.column, n.scrape])).toEqual([
      ['default/productpage-v1', 0, 'ok'], ['default/reviews-v1', 1, 'ok'],
    ]);
    expect(body.edges).toEqual([expect.objectContaining({ source: 'default/productpage-v1', target: 'default/reviews-v1', reporter: 'source', request_rate: 5, health: 'healthy' })]);
    expect(body.proxies.map((p: { target: string }) => p.target)).toEqual(['127.0.0.1:1001', '127.0.0.1:1002']);
  });

  it('/graph is one page with its own style and script only, allowed by hash, reaching nothing but graph.json', async () => {
    const server = await startXdsServer({ host: '127.0.0.1', port: 0, clock: new FakeClock(), source: new FakeMesh(), graph: { fetch: async () => '' } });
    servers.push(server);
    const res = await fetch(`${server.url}/graph`);
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html).not.toMatch(/<link|<img|\ssrc=|\shref=|@import|url\((?!#)/);
    const script = /<script>([\s\S]*)<\/script>/.exec(html)![1]!;
    const style = /<style>([\s\S]*)<\/style>/.exec(html)![1]!;
    const sha = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
    expect(res.headers.get('content-security-policy')).toBe(`default-src 'none'; style-src ${sha(style)}; script-src ${sha(script)}; connect-src 'self'; base-uri 'none'; form-action 'none'`);
    expect(script).toContain("fetch('graph.json'");
  });

  it('a server started without graph options has no graph', async () => {
    const server = await startXdsServer({ host: '127.0.0.1', port: 0, clock: new FakeClock(), source: new FakeMesh() });
    servers.push(server);
    expect(server.graph).toBeUndefined();
    expect((await getJson(`${server.url}/graph.json`)).status).toBe(404);
  });
});
