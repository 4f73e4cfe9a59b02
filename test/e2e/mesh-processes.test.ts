// The mesh as separate processes, as a user runs it: `nodevoy control-plane --config-dir` and one
// `nodevoy proxy -c` per workload. An edit to the directory shifts traffic; the control plane is killed
// with SIGKILL mid-run (traffic keeps flowing on the last good config) and restarted on the same port
// (the sidecars reconnect by themselves and take the config changed meanwhile); `proxy-status` reports them.
// Then a STRICT mesh the way docs/security.md runs one by hand: `certs init`, `control-plane --ca-dir`, a
// `certs token` per workload and `proxy --ca-token-file`.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { allowOnly, MESH_WIDE_STRICT } from '../support/istio-yaml.ts';
import { registryYaml, sidecarBootstrap, type WorkloadSpec } from '../support/mesh.ts';
import { bounded, freePort, run, start, waitLive, type Child } from '../support/processes.ts';
import { send } from '../support/proxy.ts';
import { startUpstream, type TestUpstream } from '../support/upstream.ts';

const OUTBOUND_PORT = 15001;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function reviewsYaml(v1: number, v2: number): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: ${v1}}
    - {destination: {host: reviews, subset: v2}, weight: ${v2}}
`;
}

async function startControlPlane(dir: string, port = 0, extra: readonly string[] = []): Promise<{ child: Child; port: number }> {
  const child = start(['control-plane', '--config-dir', dir, '--port', String(port), ...extra]);
  await child.output(/listening on http:\/\/127\.0\.0\.1:\d+/);
  const bound = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(child.stdout() + child.stderr())!;
  return { child, port: Number(bound[1]) };
}

/** Retries `probe` every 20 ms until it returns true (another process's state: there is no event to await). */
async function until(what: string, probe: () => Promise<boolean>, ms = 20_000): Promise<void> {
  await bounded((async () => {
    while (!(await probe())) await new Promise((resolve) => setTimeout(resolve, 20));
  })(), ms, () => `gave up waiting for ${what}`);
}

describe('nodevoy control-plane and nodevoy proxy as processes', () => {
  it('shifts traffic on an edit, survives the control plane being killed, and resyncs when it restarts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nodevoy-mesh-e2e-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const base = `127.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 256)}`;
    const specs: WorkloadSpec[] = [
      { name: 'productpage-v1', app: 'productpage', version: 'v1' },
      { name: 'reviews-v1', app: 'reviews', version: 'v1' },
      { name: 'reviews-v2', app: 'reviews', version: 'v2' },
    ];
    const workloads: { spec: WorkloadSpec; ip: string; app: TestUpstream }[] = [];
    for (const [i, spec] of specs.entries()) {
      const app = await startUpstream(spec.name);
      cleanups.push(() => app.close());
      workloads.push({ spec, ip: `${base}.${i + 1}`, app });
    }
    await writeFile(join(dir, 'registry.yaml'), registryYaml(workloads));
    await writeFile(join(dir, 'reviews.yaml'), reviewsYaml(100, 0));
    let cp = await startControlPlane(dir);

    for (const w of workloads) {
      // The same bootstrap as the in-process mesh tests, with a fixed outbound port so this test can reach it.
      const bootstrap = JSON.parse(sidecarBootstrap(w, cp.port)) as { node: { metadata: Record<string, unknown> }; admin: { address: { socket_address: { port_value: number } } } };
      bootstrap.node.metadata['OUTBOUND_PORT'] = OUTBOUND_PORT;
      const adminPort = await freePort();
      bootstrap.admin.address.socket_address.port_value = adminPort;
      const file = join(dir, `${w.spec.name}.bootstrap.json`);
      await writeFile(file, JSON.stringify(bootstrap));
      const proxy = start(['proxy', '-c', file, '-l', 'warning']);
      await waitLive(proxy, adminPort);
    }
    const caller = workloads[0]!.ip;
    const reviews = async (): Promise<string> => {
      const r = await send(OUTBOUND_PORT, '/', { host: caller, headers: { host: 'reviews:9080' } });
      return r.status === 200 ? r.body : `status ${r.status}`;
    };
    const allFrom = async (who: string): Promise<boolean> => {
      for (let i = 0; i < 10; i++) if ((await reviews()) !== who) return false;
      return true;
    };

    expect(await allFrom('reviews-v1')).toBe(true);
    await writeFile(join(dir, 'reviews.yaml'), reviewsYaml(0, 100));
    await until('the 0/100 edit to reach the caller', () => allFrom('reviews-v2'));

    cp.child.process.kill('SIGKILL');
    expect(await cp.child.exited()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await allFrom('reviews-v2')).toBe(true);

    await writeFile(join(dir, 'reviews.yaml'), reviewsYaml(100, 0));
    cp = await startControlPlane(dir, cp.port);
    await until('the restarted control plane to push 100/0', () => allFrom('reviews-v1'));

    await until('proxy-status to list all three sidecars synced', async () => {
      const status = await run(['proxy-status', '--control-plane', `http://127.0.0.1:${cp.port}`]);
      const rows = status.stdout.split('\n').filter((l) => l.startsWith('sidecar~'));
      return rows.length === 3 && rows.every((l) => !/STALE|NACKED|NOT SENT/.test(l));
    });
  });

  it('runs a STRICT mesh from the CLI: certs init, control-plane --ca-dir, a bootstrap token per sidecar; calls are mTLS and a policy is enforced', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nodevoy-mesh-mtls-e2e-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const configDir = join(dir, 'mesh');
    const caDir = join(dir, 'ca');
    expect((await run(['certs', 'init', '--dir', caDir])).code).toBe(0);
    const base = `127.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 256)}`;
    const specs: WorkloadSpec[] = [{ name: 'productpage-v1', app: 'productpage', version: 'v1' }, { name: 'reviews-v1', app: 'reviews', version: 'v1' }];
    const workloads: { spec: WorkloadSpec; ip: string; app: TestUpstream }[] = [];
    for (const [i, spec] of specs.entries()) {
      const app = await startUpstream(spec.name);
      cleanups.push(() => app.close());
      workloads.push({ spec, ip: `${base}.${i + 1}`, app });
    }
    await mkdir(configDir);
    await writeFile(join(configDir, 'registry.yaml'), registryYaml(workloads));
    await writeFile(join(configDir, 'security.yaml'), `${MESH_WIDE_STRICT}---\n${allowOnly({ name: 'reviews-viewer', app: 'reviews', serviceAccounts: ['productpage'] })}`);
    const cp = await startControlPlane(configDir, 0, ['--ca-dir', caDir]);
    for (const w of workloads) {
      const token = await run(['certs', 'token', '--dir', caDir, '--namespace', 'default', '--service-account', w.spec.app]);
      expect(token.code).toBe(0);
      const tokenFile = join(dir, `${w.spec.name}.token`);
      await writeFile(tokenFile, token.stdout);
      const bootstrap = JSON.parse(sidecarBootstrap(w, cp.port, '5s', 9080, join(dir, 'certs', w.spec.name))) as { node: { metadata: Record<string, unknown> }; admin: { address: { socket_address: { port_value: number } } } };
      bootstrap.node.metadata['OUTBOUND_PORT'] = OUTBOUND_PORT;
      const adminPort = await freePort();
      bootstrap.admin.address.socket_address.port_value = adminPort;
      const file = join(dir, `${w.spec.name}.bootstrap.json`);
      await writeFile(file, JSON.stringify(bootstrap));
      await waitLive(start(['proxy', '-c', file, '-l', 'warning', '--ca-token-file', tokenFile]), adminPort);
    }
    const [productpage, reviews] = workloads;
    const fromProductpage = await send(OUTBOUND_PORT, '/', { host: productpage!.ip, headers: { host: 'reviews:9080' } });
    expect([fromProductpage.status, fromProductpage.body]).toEqual([200, 'reviews-v1']);
    // reviews saw productpage's SPIFFE ID, which only mTLS with the CA's certificate can carry.
    expect(reviews!.app.received.at(-1)!.headers['x-forwarded-client-cert']).toMatch(/;URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/productpage$/);
    const fromReviews = await send(OUTBOUND_PORT, '/', { host: reviews!.ip, headers: { host: 'reviews:9080' } });
    expect([fromReviews.status, fromReviews.body]).toEqual([403, 'RBAC: access denied']);
    await expect(send(9080, '/', { host: reviews!.ip, headers: { host: 'reviews:9080' } })).rejects.toThrow(/ECONNRESET|socket hang up/);
    expect(cp.child.stdout() + cp.child.stderr()).toMatch(/CA: issued spiffe:\/\/cluster\.local\/ns\/default\/sa\/productpage/);
  });
});
