// Every Envoy bootstrap under examples/ (found by globbing, so a new example is covered as soon as it is
// added) really runs: listener and admin ports are moved to 0, each loopback endpoint port gets a real
// test upstream, and the requests the example's comments promise are sent and checked. A bootstrap taking its
// certificates over SDS runs against the workload agent's SDS endpoint (envoy-sds-sidecar.yaml, below).

import { globSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfigText, readConfigText } from '../../proxy/config/load.ts';
import { systemResolver, type DnsResolver } from '../../proxy/upstream/dns-resolver.ts';
import type { Server } from '../../proxy/server/server.ts';
import { createCa } from '../../certs/ca.ts';
import { issueWorkloadCertificate } from '../../certs/local-issuer.ts';
import { startSdsServer } from '../../proxy/agent/sds-server.ts';
import { realClock } from '../../proxy/common/clock.ts';
import { createLogger } from '../../proxy/common/logger.ts';
import { validateBootstrap } from '../../proxy/config/bootstrap.ts';
import { Server as ProxyServer } from '../../proxy/server/server.ts';
import { SeededRandom } from '../support/fake-clock.ts';
import { send, startProxy, type SimpleResponse } from '../support/proxy.ts';
import { INBOUND, mtlsGet, OUTBOUND, sdsSidecarBootstrap, tlsUpstream } from '../support/sds-sidecar.ts';
import { testScope } from '../support/scope.ts';
import { startUpstream, type TestUpstream } from '../support/upstream.ts';

const EXAMPLES_DIR = fileURLToPath(new URL('../../examples/', import.meta.url));
// Istio YAML (a control plane's config directory, e.g. the demo's mesh/) is not an Envoy bootstrap, and a
// bootstrap with dynamic_resources needs a control plane: test/integration/mesh-demo.test.ts runs those.
// One whose secrets come over SDS needs an SDS server and mTLS clients: it has its own test below.
const EXAMPLES = globSync('**/*.yaml', { cwd: EXAMPLES_DIR })
  .filter((f) => !f.split('/').includes('mesh') && !/^dynamic_resources:|^\s*sds_config:/m.test(readFileSync(`${EXAMPLES_DIR}${f}`, 'utf8')))
  .sort();
const LOOPBACK = new Set(['127.0.0.1', 'localhost']);

/** A running example: the proxy, and one test upstream per endpoint port the example names. */
interface RunningExample {
  readonly server: Server;
  /** Sends to the example's first listener. */
  send(path: string, init?: Parameters<typeof send>[2]): Promise<SimpleResponse>;
  /** The test upstream standing in for the example's endpoint port `originalPort`. */
  upstream(originalPort: number): TestUpstream;
  /** Total requests received by all upstreams. */
  upstreamRequests(): number;
  /** Lines the example's stdout access loggers wrote. */
  readonly stdout: string[];
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

type Yaml = Record<string, unknown>;
const obj = (v: unknown): Yaml => v as Yaml;
const list = (v: unknown): Yaml[] => (Array.isArray(v) ? (v as Yaml[]) : []);

function socketAddresses(doc: Yaml): { listeners: Yaml[]; admin: Yaml | undefined; endpoints: Yaml[] } {
  const resources = obj(doc.static_resources ?? {});
  const listeners = list(resources.listeners).map((l) => obj(obj(l.address).socket_address));
  const admin = doc.admin === undefined ? undefined : obj(obj(obj(doc.admin).address).socket_address);
  const endpoints = list(resources.clusters).flatMap((c) => list(obj(c.load_assignment ?? {}).endpoints)
    .flatMap((locality) => list(locality.lb_endpoints))
    .map((e) => obj(obj(obj(e.endpoint).address).socket_address)));
  return { listeners, admin, endpoints };
}

/** Starts an example with every port rewritten; upstreams answer 200 naming their original port. */
async function runExample(file: string): Promise<RunningExample> {
  const text = await readConfigText(`${EXAMPLES_DIR}${file}`);
  if (!text.ok) throw new Error(text.errors[0]!.message);
  const parsed = parseConfigText(text.value, file);
  if (!parsed.ok) throw new Error(parsed.errors[0]!.message);
  const doc = obj(parsed.value);
  const { listeners, admin, endpoints } = socketAddresses(doc);
  expect(listeners.length, `${file} has no listener`).toBeGreaterThan(0);
  for (const socket of [...listeners, ...(admin ? [admin] : [])]) {
    socket.address = '127.0.0.1';
    socket.port_value = 0;
  }

  const upstreams = new Map<number, TestUpstream>();
  for (const socket of endpoints) {
    expect(LOOPBACK.has(String(socket.address)), `${file}: examples use 127.0.0.1/localhost endpoints, got ${String(socket.address)}`).toBe(true);
    const original = Number(socket.port_value);
    let up = upstreams.get(original);
    if (!up) {
      const name = String(original);
      up = await startUpstream(name, (_req, res) => {
        // x-powered-by lets the front proxy show it strips what backends leak.
        res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': name, 'x-powered-by': 'test-upstream' });
        res.end(name);
      });
      upstreams.set(original, up);
      cleanups.push(() => up!.close());
    }
    socket.port_value = up.port;
  }

  // Real DNS (STRICT_DNS on localhost), observed so the test can wait for the first answers.
  const lookups: Promise<unknown>[] = [];
  const resolver: DnsResolver = (host, family) => {
    const answer = systemResolver(host, family);
    lookups.push(answer);
    return answer;
  };
  const stdout: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(String(chunk));
    return true;
  });
  cleanups.push(() => { spy.mockRestore(); });
  const server = await startProxy(JSON.stringify(doc), { resolver, random: new SeededRandom(7) });
  cleanups.push(() => server.close());
  await Promise.all(lookups);
  const listenerName = String(list(obj(doc.static_resources).listeners)[0]!.name);
  return {
    server,
    stdout,
    send: (path, init) => send(server.listenerPort(listenerName), path, init),
    upstream: (port) => {
      const up = upstreams.get(port);
      if (!up) throw new Error(`${file} has no endpoint on port ${port}`);
      return up;
    },
    upstreamRequests: () => [...upstreams.values()].reduce((n, u) => n + u.received.length, 0),
  };
}

/** The upstream (by original port) that answered each of `n` requests. */
async function answeredBy(ex: RunningExample, n: number, path: string, headers: (i: number) => Record<string, string> = () => ({})): Promise<string[]> {
  const who: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await ex.send(path, { headers: headers(i) });
    expect(r.status).toBe(200);
    who.push(r.body);
  }
  return who;
}

function counter(s: Server, name: string): number {
  return s.stats.counters.get(name)?.value() ?? 0;
}

describe('every example runs', () => {
  it('finds the examples', () => {
    expect(EXAMPLES).toContain('demo/envoy.yaml');
    expect(EXAMPLES.length).toBeGreaterThanOrEqual(5);
  });

  it.each(EXAMPLES)('%s: GET / is proxied to an upstream', async (file) => {
    const ex = await runExample(file);
    const r = await ex.send('/');
    expect(r.status).toBe(200);
    expect(r.headers['x-upstream']).toBe(r.body);
    expect(ex.upstreamRequests()).toBe(1);
  });
});

describe('front-proxy.yaml', () => {
  it('sends / to web with the edge headers, and strips what clients and backends should not pass', async () => {
    const ex = await runExample('front-proxy.yaml');
    const r = await ex.send('/index.html', { headers: { 'x-debug-internal': '1', 'x-forwarded-for': '203.0.113.9' } });
    expect([r.status, r.body]).toEqual([200, '8081']);
    expect(r.headers.server).toBe('nodevoy-edge');
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers).not.toHaveProperty('x-powered-by');
    const got = ex.upstream(8081).received[0]!;
    expect(got.url).toBe('/index.html');
    expect(got.headers.host).toBe('web.internal');
    expect(got.headers['x-edge-route']).toBe('web');
    expect(got.headers['x-client-ip']).toBe('127.0.0.1');
    // use_remote_address: the peer address is appended to what the client sent.
    expect(got.headers['x-forwarded-for']).toBe('203.0.113.9,127.0.0.1');
    expect(got.headers).not.toHaveProperty('x-debug-internal');
  });

  it('rewrites /api/users to /users on api.internal', async () => {
    const ex = await runExample('front-proxy.yaml');
    const r = await ex.send('/api/users?page=2');
    expect([r.status, r.body, r.headers['cache-control']]).toEqual([200, '8082', 'no-store']);
    const got = ex.upstream(8082).received[0]!;
    expect([got.url, got.headers.host, got.headers['x-edge-route']]).toEqual(['/users?page=2', 'api.internal', 'api']);
  });

  it('answers /healthz itself and redirects without touching a backend', async () => {
    const ex = await runExample('front-proxy.yaml');
    const health = await ex.send('/healthz');
    expect([health.status, health.body]).toEqual([200, 'ok\n']);
    const moved = await ex.send('/old-docs', { headers: { host: 'www.example.com' } });
    expect([moved.status, moved.headers.location]).toEqual([302, 'http://www.example.com/docs']);
    const apex = await ex.send('/a?b=1', { headers: { host: 'example.com:8080' } });
    expect([apex.status, apex.headers.location]).toEqual([301, 'http://www.example.com/a?b=1']);
    expect(ex.upstreamRequests()).toBe(0);
  });

  it('logs each request on stdout with its response flags', async () => {
    const ex = await runExample('front-proxy.yaml');
    await ex.send('/healthz');
    await ex.server.close();
    const line = ex.stdout.find((l) => l.includes('"GET /healthz HTTP/1.1"'));
    // RESPONSE_FLAGS is "-" when nothing went wrong; the route name and "no upstream" follow.
    expect(line).toMatch(/"GET \/healthz HTTP\/1\.1" 200 - 0 3 \d+ms route=health upstream=-\/- client=127\.0\.0\.1 id=[0-9a-f-]{36}\n$/);
  });
});

describe('sidecar-inbound.yaml', () => {
  it('hands requests to the local app with Istio-style stats and a JSON access log', async () => {
    const ex = await runExample('sidecar-inbound.yaml');
    const r = await ex.send('/productpage', { headers: { 'x-forwarded-for': '10.0.0.7' } });
    expect([r.status, r.body]).toEqual([200, '9080']);
    expect(ex.upstream(9080).received[0]!.url).toBe('/productpage');
    expect(counter(ex.server, 'http.inbound_0.0.0.0_9080.downstream_rq_2xx')).toBe(1);
    expect(counter(ex.server, 'cluster.inbound|9080||.upstream_rq_200')).toBe(1);
    await ex.server.close();
    const entry = ex.stdout.map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.path === '/productpage');
    expect(entry).toMatchObject({
      method: 'GET', response_code: 200, response_flags: '-', upstream_cluster: 'inbound|9080||',
      upstream_host: `127.0.0.1:${ex.upstream(9080).port}`, route_name: 'default', x_forwarded_for: '10.0.0.7',
    });
  });
});

describe('canary-subsets.yaml', () => {
  it('x-canary: always goes to the v2 endpoint only', async () => {
    const ex = await runExample('canary-subsets.yaml');
    expect(new Set(await answeredBy(ex, 10, '/reviews/1', () => ({ 'x-canary': 'always' })))).toEqual(new Set(['9082']));
  });

  it('/stable/ goes to the v1 endpoint only', async () => {
    const ex = await runExample('canary-subsets.yaml');
    expect(new Set(await answeredBy(ex, 10, '/stable/reviews'))).toEqual(new Set(['9081']));
    expect((await ex.send('/stable/x')).headers['x-route']).toBe('stable-only');
  });

  it('splits other requests 90/10 between the two subsets of one cluster', async () => {
    const ex = await runExample('canary-subsets.yaml');
    const who = await answeredBy(ex, 200, '/reviews/1');
    const v2 = who.filter((w) => w === '9082').length;
    expect(who.filter((w) => w === '9081').length + v2).toBe(200);
    // Seeded randomness: deterministic, and close to 10%.
    expect(v2).toBeGreaterThanOrEqual(8);
    expect(v2).toBeLessThanOrEqual(35);
    expect(counter(ex.server, 'cluster.reviews.lb_subsets_selected')).toBe(200);
  });
});

describe('ring-hash.yaml', () => {
  it('sends the same x-user-id to the same upstream every time, and different users across upstreams', async () => {
    const ex = await runExample('ring-hash.yaml');
    const alice = await answeredBy(ex, 20, '/cart', () => ({ 'x-user-id': 'alice' }));
    expect(new Set(alice).size).toBe(1);
    const users = await answeredBy(ex, 30, '/cart', (i) => ({ 'x-user-id': `user-${i}` }));
    expect(new Set(users).size).toBeGreaterThanOrEqual(2);
    // And again: each user still lands where it did the first time.
    expect(await answeredBy(ex, 30, '/cart', (i) => ({ 'x-user-id': `user-${i}` }))).toEqual(users);
  });
});

describe('strict-dns.yaml', () => {
  it('resolves localhost to 127.0.0.1 endpoints and balances over both replicas', async () => {
    const ex = await runExample('strict-dns.yaml');
    const hosts = ex.server.clusterManager.get('catalog')!.hosts().map((h) => h.addressString).sort();
    expect(hosts).toEqual([`127.0.0.1:${ex.upstream(9101).port}`, `127.0.0.1:${ex.upstream(9102).port}`].sort());
    expect(new Set(await answeredBy(ex, 20, '/items'))).toEqual(new Set(['9101', '9102']));
  });
});

describe('demo/envoy.yaml', () => {
  it('sends end-user: jason to reviews v2', async () => {
    const ex = await runExample('demo/envoy.yaml');
    expect(new Set(await answeredBy(ex, 10, '/reviews/1', () => ({ 'end-user': 'jason' })))).toEqual(new Set(['18082']));
    expect((await ex.send('/', { headers: { 'end-user': 'jason' } })).headers['x-demo-route']).toBe('canary-jason');
  });
});

describe('envoy-sds-sidecar.yaml', () => {
  const scope = testScope();

  it('takes default and ROOTCA from the workload agent over SDS for its mTLS listener and its mTLS cluster', async () => {
    const ca = createCa({ trustDomain: 'cluster.local', clock: realClock });
    const issue = (serviceAccount: string) => {
      const r = issueWorkloadCertificate(ca, { trustDomain: 'cluster.local', namespace: 'default', serviceAccount }, { clock: realClock });
      if (!r.ok) throw new Error(r.reason);
      return r.value;
    };
    const peer = (serviceAccount: string) => {
      const w = issue(serviceAccount);
      return { cert: w.certChainPem, key: w.keyPem, ca: w.rootCertPem };
    };
    const web = issue('web');
    const sds = await startSdsServer({ host: '127.0.0.1', port: 0, clock: realClock, secrets: { current: () => ({ version: '1', files: web }), onChange: () => () => {} } });
    scope.defer(() => sds.close());
    const app = await scope.upstream('app');
    const reviews = await tlsUpstream(scope, peer('reviews'), 'reviews');
    const validated = validateBootstrap(sdsSidecarBootstrap({ sds: sds.port, app: app.port, reviews: reviews.port }));
    if (!validated.ok) throw new Error(JSON.stringify(validated.errors));
    const server = await ProxyServer.start({ bootstrap: validated.value, logger: createLogger('off') });
    scope.defer(() => server.close());

    const inbound = await mtlsGet(server.listenerPort(INBOUND), '/', peer('sleep'));
    expect(inbound).toEqual({ status: 200, body: 'app', serial: web.svid.certificate.serialNumber.toLowerCase() });
    const outbound = await send(server.listenerPort(OUTBOUND), '/');
    expect([outbound.status, outbound.body]).toEqual([200, 'reviews']);
    expect(reviews.clientSerials).toEqual([web.svid.certificate.serialNumber.toLowerCase()]);
  });
});
