// The control plane assembled: a real temp config directory watched (debounce on the fake clock), Istio
// translation, the xDS server. An edit reaches a held long-poll; an invalid edit keeps the last valid
// resource and shows in /debug/config_errors; a translation that throws keeps the previous mesh.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadIstioFiles } from '../../../control-plane/istio/load.ts';
import { startControlPlane, type ControlPlane } from '../../../control-plane/server/control-plane.ts';
import { createIstioMeshSource, ISTIO_TRANSLATION, type Translation } from '../../../control-plane/server/istio-source.ts';
import { eventually } from '../control-client/fake-xds-server.ts';
import { CountingClock, discover, EMPTY, getJson } from './server-fake-mesh.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const service = (name: string, port: number) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [${name}.default.svc.cluster.local]
  ports: [{number: ${port}, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.9}]
`;

const sidecar = { id: 'sidecar-1', cluster: 'web.default', metadata: { NAMESPACE: 'default', INSTANCE_IPS: '127.0.0.5' } };
const clusterNames = (body: any): string[] => body.resources.map((r: { name: string }) => r.name).filter((n: string) => n.startsWith('outbound|')).sort();

async function start(files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'nodevoy-cp-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const clock = new CountingClock();
  const cp: ControlPlane = await startControlPlane({ configDir: dir, host: '127.0.0.1', port: 0, clock, translation: ISTIO_TRANSLATION, debounceMs: 20 });
  cleanups.push(() => cp.close());
  /** Writes a file, waits for its event to arm the debounce, and lets the debounce pass. */
  const edit = async (name: string, text: string) => {
    const before = clock.armed;
    writeFileSync(join(dir, name), text);
    await eventually(() => clock.armed > before, 'the file event');
    clock.advance(20);
  };
  return { dir, cp, clock, edit };
}

describe('control plane', () => {
  it('serves the directory, and pushes an edit to a held long-poll', async () => {
    const t = await start({ 'services.yaml': service('reviews', 9080) });
    expect((await fetch(`${t.cp.server.url}/ready`)).status).toBe(200);
    const first = (await discover(t.cp.server.url, 'clusters', { node: sidecar })).body;
    expect(clusterNames(first)).toEqual(['outbound|9080||reviews.default.svc.cluster.local']);

    const held = discover(t.cp.server.url, 'clusters', { node: sidecar, version_info: first.version_info, response_nonce: first.nonce }, { 'x-nodevoy-wait': '30' });
    await eventually(() => t.cp.server.heldRequests() === 1, 'the long-poll to be held');
    await t.edit('services.yaml', `${service('reviews', 9080)}---\n${service('ratings', 9080)}`);
    const pushed = await held;
    expect(pushed.status).toBe(200);
    expect(clusterNames(pushed.body)).toEqual(['outbound|9080||ratings.default.svc.cluster.local', 'outbound|9080||reviews.default.svc.cluster.local']);
  });

  it('keeps serving the last valid version of a resource edited into an invalid one, and reports why', async () => {
    const t = await start({ 'services.yaml': service('reviews', 9080) });
    const before = (await discover(t.cp.server.url, 'clusters', { node: sidecar })).body;
    await t.edit('services.yaml', service('reviews', 9080).replace('resolution: STATIC', 'resolution: STATIC\n  bogus: 1'));
    // The rescan reads files asynchronously: ask until the error shows (bounded).
    let report = (await getJson(`${t.cp.server.url}/debug/config_errors`)).body;
    for (let tries = 0; report.count === 0 && tries < 100; tries++) report = (await getJson(`${t.cp.server.url}/debug/config_errors`)).body;
    expect(report.errors.map((e: { text: string }) => e.text)).toEqual([
      expect.stringMatching(/services\.yaml\[0\]:\d+ ServiceEntry default\/reviews: spec\.bogus: .*the last valid version of this resource stays in force/),
    ]);
    const after = (await discover(t.cp.server.url, 'clusters', { node: sidecar })).body;
    expect(after.version_info).toBe(before.version_info);
  });
});

describe('Istio mesh source', () => {
  it('keeps the previous mesh and reports the failure when translation throws', () => {
    let fail = false;
    const translation: Translation<string> = {
      proxyIdentity: ISTIO_TRANSLATION.proxyIdentity,
      translateMesh: (resources) => {
        if (fail) throw new Error('bug');
        return { mesh: resources.map((r) => r.metadata.name).join(), errors: [] };
      },
      proxySnapshot: (mesh) => ({ ...EMPTY, clusters: [{ name: mesh }] }),
    };
    const source = createIstioMeshSource(translation);
    const changes: number[] = [];
    source.onChange(() => changes.push(source.generation()));
    expect(source.ready()).toBe(false);
    source.update(loadIstioFiles([{ file: 'a.yaml', text: service('a', 80) }]));
    expect(source.ready()).toBe(true);
    fail = true;
    source.update(loadIstioFiles([{ file: 'a.yaml', text: `${service('a', 80)}---\n${service('b', 80)}` }]));
    expect(changes).toEqual([1, 2]);
    const identity = ISTIO_TRANSLATION.proxyIdentity(sidecar);
    if (!identity.ok) throw new Error('bad identity');
    expect(source.proxySnapshot(identity.value).clusters).toEqual([{ name: 'a' }]);
    expect(source.configErrors()).toEqual([expect.objectContaining({ message: expect.stringMatching(/translation failed, the previous mesh stays in force: bug/) })]);
  });
});
