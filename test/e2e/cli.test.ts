// The nodevoy command line as a user runs it: real `node cli/main.ts` processes for `validate` and
// `proxy` (config errors, flags, SIGTERM drain, /quitquitquit) and the `npm start` demo. Every child is
// bounded by a timeout and killed if a test leaves it running.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ROOT, bounded, freePort, portIsFree, run, start, waitLive, STEP_MS } from '../support/processes.ts';
import { bootstrapYaml, send, staticCluster } from '../support/proxy.ts';
import { startUpstream, type TestUpstream } from '../support/upstream.ts';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'nodevoy-cli-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

async function writeConfig(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

/** A valid bootstrap sending everything to one upstream, with fixed admin and listener ports. */
function proxyConfig(upstreamPort: number, ports: { admin: number; listener: number }): string {
  const doc = parseYaml(bootstrapYaml({ routes: '- match: { prefix: / }\n  route: { cluster: web }', clusters: staticCluster('web', [upstreamPort]) })) as {
    admin: { address: { socket_address: { port_value: number } } };
    static_resources: { listeners: { address: { socket_address: { port_value: number } } }[] };
  };
  doc.admin.address.socket_address.port_value = ports.admin;
  doc.static_resources.listeners[0]!.address.socket_address.port_value = ports.listener;
  return stringifyYaml(doc);
}

/** The 1-based line of the first line containing `needle`. */
function lineOf(text: string, needle: string): number {
  const i = text.split('\n').findIndex((l) => l.includes(needle));
  if (i < 0) throw new Error(`"${needle}" not in config`);
  return i + 1;
}

// Four different kinds of problem. The unknown cluster is in a second listener that is otherwise valid
// (a listener that fails its schema is not also cross-checked against the clusters).
const BAD_CONFIG = ((): string => {
  const good = parseYaml(bootstrapYaml({
    routes: '- match: { prefix: / }\n  route: { cluster: web, hedge_policy: { initial_requests: 2 } }',
    clusters: staticCluster('web', [1]).replace('connect_timeout: 1s', 'connect_timeout: 5 parsecs'),
  })) as { static_resources: { listeners: Record<string, unknown>[] } };
  const listeners = good.static_resources.listeners;
  const second = parseYaml(bootstrapYaml({ routes: '- match: { prefix: / }\n  route: { cluster: nope }', clusters: staticCluster('unused', [1]) })) as typeof good;
  listeners.push({ ...second.static_resources.listeners[0]!, name: 'second' });
  listeners[0]!.bogus_field = 1;
  return stringifyYaml(good);
})();

describe('nodevoy validate', () => {
  it('prints the OK line and exits 0 for a good file', async () => {
    const file = await writeConfig('good.yaml', proxyConfig(1, { admin: 0, listener: 0 }));
    const r = await run(['validate', file]);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, `configuration '${file}' OK\n`, '']);
  });

  it('lists every problem with its field path and file:line, and exits 1', async () => {
    expect(BAD_CONFIG).toContain('bogus_field');
    const file = await writeConfig('bad.yaml', BAD_CONFIG);
    const r = await run(['validate', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`configuration '${file}' is invalid: 4 errors\n`);
    const hcm = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';
    const routes = `${hcm}.route_config.virtual_hosts[0].routes`;
    const expected = [
      [lineOf(BAD_CONFIG, 'bogus_field'), 'static_resources.listeners[0].bogus_field', 'unknown field'],
      [lineOf(BAD_CONFIG, 'hedge_policy'), `${routes}[0].route.hedge_policy`, 'not implemented by nodevoy'],
      [lineOf(BAD_CONFIG, 'parsecs'), 'static_resources.clusters[0].connect_timeout', 'invalid'],
    ] as const;
    for (const [line, path, kind] of expected) {
      expect(r.stdout).toMatch(new RegExp(`^  ${escape(file)}:${line}: ${escape(path)}: .+ \\[${kind}\\]$`, 'm'));
    }
    expect(r.stdout).toContain('a Duration must be');
    expect(r.stdout).toMatch(new RegExp(`^  ${escape(file)}:${lineOf(BAD_CONFIG, 'nope')}: ${escape(routes.replace('listeners[0]', 'listeners[1]'))}\\[0\\]\\.route\\.cluster: unknown cluster "nope".* \\[invalid\\]$`, 'm'));
  });

  it('says clearly that a file is missing, and exits 1', async () => {
    const file = join(dir, 'does-not-exist.yaml');
    const r = await run(['validate', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`cannot read config file "${file}": no such file`);
  });

  it('reports a YAML syntax error with line:column, and exits 1', async () => {
    const file = await writeConfig('syntax.yaml', 'admin:\n  address: [1, 2\nstatic_resources: {}\n');
    const r = await run(['validate', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`${escape(file)}:\\d+:\\d+: YAML syntax error: `));
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('nodevoy proxy', () => {
  const upstreams: TestUpstream[] = [];
  afterEach(async () => {
    while (upstreams.length > 0) await upstreams.pop()!.close();
  });

  /** Starts `nodevoy proxy -c` on fresh ports in front of `up`, waiting until /ready says LIVE. */
  async function startProxyProcess(up: TestUpstream, extraArgs: readonly string[] = []) {
    const ports = { admin: await freePort(), listener: await freePort() };
    const file = await writeConfig(`proxy-${ports.listener}.yaml`, proxyConfig(up.port, ports));
    const child = start(['proxy', '-c', file, ...extraArgs]);
    await waitLive(child, ports.admin);
    return { child, ports };
  }

  it('serves traffic, and on SIGTERM lets the in-flight request finish, then exits 0 within the drain time', async () => {
    let release!: () => void;
    let slowArrived!: () => void;
    const arrived = new Promise<void>((resolve) => { slowArrived = resolve; });
    const up = await startUpstream('web', (req, res) => {
      if (req.url !== '/slow') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('fast');
        return;
      }
      release = () => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('slow done'); };
      slowArrived();
    });
    upstreams.push(up);
    const { child, ports } = await startProxyProcess(up, ['--drain-time-s', '1']);

    const fast = await send(ports.listener, '/');
    expect([fast.status, fast.body]).toEqual([200, 'fast']);

    const slow = send(ports.listener, '/slow');
    await arrived;
    const signalledAt = performance.now();
    child.process.kill('SIGTERM');
    // The proxy is draining (admin stays up until the listeners are drained) while the request is open.
    await bounded((async () => {
      while ((await send(ports.admin, '/ready')).body !== 'DRAINING\n') await new Promise((r) => setTimeout(r, 10));
    })(), STEP_MS, () => `never DRAINING: ${child.stderr()}`);
    release();
    const r = await slow;
    expect([r.status, r.body]).toEqual([200, 'slow done']);
    const exit = await child.exited();
    expect(exit).toEqual({ code: 0, signal: null });
    // --drain-time-s 1, plus process start-up slack for a loaded machine.
    expect(performance.now() - signalledAt).toBeLessThan(1000 + 1500);
  });

  it('exits 0 after POST /quitquitquit', async () => {
    const up = await startUpstream('web');
    upstreams.push(up);
    const { child, ports } = await startProxyProcess(up);
    const r = await send(ports.admin, '/quitquitquit', { method: 'POST' });
    expect([r.status, r.body]).toEqual([200, 'OK\n']);
    expect(await child.exited()).toEqual({ code: 0, signal: null });
  });

  it('--mode validate checks a good config and exits 0 without serving', async () => {
    const file = await writeConfig('mode-validate.yaml', proxyConfig(1, { admin: 0, listener: 0 }));
    const r = await run(['proxy', '--mode', 'validate', '-c', file]);
    expect([r.code, r.stdout]).toEqual([0, `configuration '${file}' OK\n`]);
  });

  it('refuses a bad config with the errors on stderr, exit 1', async () => {
    const file = await writeConfig('proxy-bad.yaml', BAD_CONFIG);
    const r = await run(['proxy', '-c', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`configuration '${file}' is invalid: 4 errors`);
    expect(r.stderr).toContain('static_resources.listeners[0].bogus_field');
  });

  it('refuses an unknown flag, exit 1', async () => {
    const r = await run(['proxy', '--no-such-flag', '-c', 'x.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--no-such-flag');
  });
});

describe('npm start (examples/demo/run-demo.ts)', () => {
  const WORKLOAD_IPS = ['127.0.10.1', '127.0.10.2', '127.0.10.3', '127.0.10.4'];
  const DEMO_ADDRESSES = [
    ...[15010, 19080, 19081, 19082, 19083].map((port) => ({ host: '127.0.0.1', port })),
    ...WORKLOAD_IPS.flatMap((host) => [9080, 15001, 15000, 15090].map((port) => ({ host, port }))),
  ];

  it('runs the control plane (with its CA) and one sidecar per workload, answers productpage -> reviews over mTLS, shows an allowed and a denied call, and stops on SIGINT with exit 0', async (ctx) => {
    const busy = [];
    for (const a of DEMO_ADDRESSES) if (!(await portIsFree(a.port, a.host))) busy.push(`${a.host}:${a.port}`);
    if (busy.length > 0) ctx.skip(`demo addresses ${busy.join(', ')} are in use on this machine`);

    const demo = start([], join(ROOT, 'examples/demo/run-demo.ts'));
    await demo.output(/nodevoy demo mesh is running/);
    const r = await send(9080, '/', { host: '127.0.10.1', headers: { 'end-user': 'jason' } });
    expect(r.status).toBe(200);
    // jason is routed to reviews v2, which calls ratings: three services, each through two sidecars.
    expect(JSON.parse(r.body)).toMatchObject({ service: 'productpage', reviews: { status: 200, body: { service: 'reviews', version: 'v2', ratings: { status: 200 } } } });
    // Istio's metrics on Istio's Prometheus port (the bootstrap's prometheus_stats listener): ratings reports reviews
    // v2's call, the caller known from the peer metadata exchange, the connection mTLS.
    expect((await send(15090, '/stats/prometheus', { host: '127.0.10.4' })).body).toMatch(
      /\nistio_requests_total\{reporter="destination",source_workload="reviews-v2",.*,destination_workload="ratings-v1",.*,response_code="200",.*,connection_security_policy="mutual_tls"\} [1-9]/);
    // mesh/security.yaml: mTLS between sidecars with the CA's certificates, one call allowed and one denied, plaintext refused.
    await demo.output(/productpage -> reviews  over mTLS as spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-productpage: allowed, 200/);
    await demo.output(/productpage -> ratings  over mTLS as \S+: 403 RBAC: access denied/);
    await demo.output(/plaintext   -> reviews  127\.0\.10\.2:9080 \(STRICT mTLS\): connection refused by the sidecar/);
    expect((await send(15001, '/', { host: '127.0.10.1', headers: { host: 'ratings:9080' } })).body).toBe('RBAC: access denied');
    await demo.output(/traffic: 20 requests via productpage -> reviews-v1/);
    demo.process.kill('SIGINT');
    expect(await demo.exited()).toEqual({ code: 0, signal: null });
  });
});

describe('examples/backends.ts', () => {
  it('starts a sample backend on every endpoint of an example, and stops on SIGINT with exit 0', async (ctx) => {
    const ports = [9091, 9092, 9093]; // examples/ring-hash.yaml
    const busy = [];
    for (const p of ports) if (!(await portIsFree(p))) busy.push(p);
    if (busy.length > 0) ctx.skip(`ports ${busy.join(', ')} used by examples/ring-hash.yaml are in use on this machine`);

    const backends = start(['examples/ring-hash.yaml'], join(ROOT, 'examples/backends.ts'));
    await backends.output(/are running/);
    for (const port of ports) {
      const r = await send(port, '/cart');
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ service: 'sessions', path: '/cart' });
    }
    backends.process.kill('SIGINT');
    expect(await backends.exited()).toEqual({ code: 0, signal: null });
  });
});
