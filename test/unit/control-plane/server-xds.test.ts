// The xDS REST server on a real socket: DiscoveryResponse shape, content-hash versions and 304 (Envoy's
// REST semantic: the request already has the current version), resource_names filtering, 400s for bad
// requests, and per-proxy ACK/NACK bookkeeping as /debug/syncz reports it.

import { afterEach, describe, expect, it } from 'vitest';
import { startXdsServer, type XdsServer } from '../../../control-plane/server/xds-server.ts';
import { XDS_TYPES } from '../../../control-plane/xds/snapshot.ts';
import { FakeClock, ScriptedRandom } from '../../support/fake-clock.ts';
import { cla, cluster, discover, EMPTY, FakeMesh, getJson, node } from './server-fake-mesh.ts';

const servers: XdsServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function setup() {
  const mesh = new FakeMesh();
  const clock = new FakeClock();
  mesh.set({ ...EMPTY, clusters: [cluster('a'), cluster('b')], endpoints: [cla('a', 1), cla('b', 2)] });
  const server = await startXdsServer({ host: '127.0.0.1', port: 0, clock, random: new ScriptedRandom([0.5]), source: mesh, identifier: 'cp-test' });
  servers.push(server);
  const request = (extra: Record<string, unknown> = {}) => ({ version_info: '', node: node('p1'), resource_names: [], response_nonce: '', ...extra });
  const syncz = async () => (await getJson(`${server.url}/debug/syncz`)).body.proxies as any[];
  return { mesh, clock, server, request, syncz };
}

describe('xDS REST server', () => {
  it('answers a DiscoveryRequest with every resource as an Any, a content version, a nonce and the control plane id', async () => {
    const t = await setup();
    const a = await discover(t.server.url, 'clusters', t.request({ type_url: XDS_TYPES.clusters }));
    expect(a.status).toBe(200);
    expect(a.headers.get('x-nodevoy-long-poll')).toBe('60');
    expect(a.body).toEqual({
      version_info: expect.stringMatching(/^[0-9a-f]{16}$/), type_url: XDS_TYPES.clusters, nonce: expect.any(String),
      control_plane: { identifier: 'cp-test' },
      resources: [{ '@type': XDS_TYPES.clusters, ...cluster('a') }, { '@type': XDS_TYPES.clusters, ...cluster('b') }],
    });
  });

  it('accepts lowerCamelCase field names, as proto JSON allows', async () => {
    const t = await setup();
    const a = await discover(t.server.url, 'clusters', { versionInfo: '', node: node('p1'), resourceNames: [], responseNonce: '' });
    expect(a.status).toBe(200);
  });

  it('answers 304 while the request has the current version; a mesh change with new content gets a new version', async () => {
    const t = await setup();
    const first = (await discover(t.server.url, 'clusters', t.request())).body;
    const again = await discover(t.server.url, 'clusters', t.request({ version_info: first.version_info, response_nonce: first.nonce }));
    expect(again.status).toBe(304);
    expect(again.headers.get('x-nodevoy-long-poll')).toBe('60');

    // A new generation whose clusters are the same content keeps the version: still 304.
    t.mesh.set({ ...EMPTY, clusters: [cluster('a'), cluster('b')], endpoints: [cla('a', 9)] });
    expect((await discover(t.server.url, 'clusters', t.request({ version_info: first.version_info }))).status).toBe(304);

    t.mesh.set({ ...EMPTY, clusters: [cluster('a')] });
    const changed = await discover(t.server.url, 'clusters', t.request({ version_info: first.version_info, response_nonce: first.nonce }));
    expect(changed.status).toBe(200);
    expect(changed.body.version_info).not.toBe(first.version_info);
    expect(changed.body.nonce).not.toBe(first.nonce);
    expect(changed.body.resources.map((r: any) => r.name)).toEqual(['a']);
  });

  it('filters by resource_names (empty or "*" = all) and versions each selection by its own content', async () => {
    const t = await setup();
    const names = async (resourceNames: string[]) => {
      const a = await discover(t.server.url, 'endpoints', t.request({ resource_names: resourceNames }));
      return { names: a.body.resources.map((r: any) => r.cluster_name), version: a.body.version_info as string };
    };
    const all = await names([]);
    const onlyB = await names(['b', 'missing']);
    expect(all.names).toEqual(['a', 'b']);
    expect(await names(['*'])).toEqual(all);
    expect(onlyB.names).toEqual(['b']);
    expect(onlyB.version).not.toBe(all.version);
    // b's content did not change when a's did: the filtered version stays.
    t.mesh.set({ ...EMPTY, endpoints: [cla('a', 7), cla('b', 2)] });
    expect((await names(['b'])).version).toBe(onlyB.version);
  });

  it.each([
    ['malformed JSON', 'clusters', '{"node":', {}, /not valid JSON/],
    ['no node', 'clusters', { version_info: '' }, {}, /node is required/],
    ['a node without id', 'clusters', { node: { cluster: 'x' } }, {}, /node\.id is required/],
    ['an unknown field', 'clusters', { node: node('p1'), bogus: 1 }, {}, /unknown field "bogus"/],
    ['a type_url for another type', 'clusters', { node: node('p1'), type_url: XDS_TYPES.listeners }, {}, /does not match the path's type/],
    ['an unknown type', 'secrets', { node: node('p1') }, {}, /unknown xDS type "secrets".*discovery:listeners/],
    ['bad node metadata', 'clusters', { node: { id: 'p', metadata: { NAMESPACE: 3 } } }, {}, /node\.metadata\.NAMESPACE: must be a string/],
    ['a bad wait header', 'clusters', { node: node('p1') }, { 'x-nodevoy-wait': 'soon' }, /x-nodevoy-wait must be a non-negative number/],
  ])('answers 400 with the reason for %s', async (_what, kind, body, headers, message) => {
    const t = await setup();
    const a = await discover(t.server.url, kind, body, headers);
    expect(a.status).toBe(400);
    expect(a.body).toMatch(message);
  });

  it('tracks per proxy and type: sent version and nonce, ACKed version, the last NACK, and the istioctl status', async () => {
    const t = await setup();
    expect(await t.syncz()).toEqual([]);
    const sent = (await discover(t.server.url, 'clusters', t.request())).body;
    let [p] = await t.syncz();
    expect(p).toMatchObject({ id: 'p1', cluster: 'p1.default', namespace: 'default', last_seen: '2026-01-01T00:00:00.000Z' });
    expect(p.types.clusters).toMatchObject({ status: 'STALE', sent_version: sent.version_info, sent_nonce: sent.nonce, acked_version: '' });
    expect(p.types.listeners).toEqual({ type_url: XDS_TYPES.listeners, status: 'NOT SENT' });

    t.clock.advance(5_000);
    expect((await discover(t.server.url, 'clusters', t.request({ version_info: sent.version_info, response_nonce: sent.nonce }))).status).toBe(304);
    [p] = await t.syncz();
    expect(p.types.clusters).toMatchObject({ status: 'SYNCED', acked_version: sent.version_info, last_request: '2026-01-01T00:00:05.000Z' });

    // The proxy rejects the next version: it keeps the previous one and says why. Having seen that version,
    // a REST request for it is answered 304 (not the same bad config again).
    t.mesh.set({ ...EMPTY, clusters: [cluster('bad')] });
    const bad = (await discover(t.server.url, 'clusters', t.request({ version_info: sent.version_info, response_nonce: sent.nonce }))).body;
    const nack = t.request({ version_info: sent.version_info, response_nonce: bad.nonce, error_detail: { code: 3, message: 'resources[0].type: nope' } });
    expect((await discover(t.server.url, 'clusters', nack)).status).toBe(304);
    [p] = await t.syncz();
    expect(p.types.clusters).toMatchObject({ status: 'NACKED', sent_version: bad.version_info, acked_version: sent.version_info,
      nacked_version: bad.version_info, nack_message: 'resources[0].type: nope' });

    // A fixed mesh is sent and ACKed: SYNCED again, the last NACK kept for inspection.
    t.mesh.set({ ...EMPTY, clusters: [cluster('good')] });
    const good = (await discover(t.server.url, 'clusters', nack)).body;
    await discover(t.server.url, 'clusters', t.request({ version_info: good.version_info, response_nonce: good.nonce }));
    [p] = await t.syncz();
    expect(p.types.clusters).toMatchObject({ status: 'SYNCED', nacked_version: bad.version_info });
  });

  it('counts a proxy that already runs the current version (a restarted control plane) as SYNCED', async () => {
    const t = await setup();
    const current = (await discover(t.server.url, 'clusters', t.request())).body;
    const restarted = await startXdsServer({ host: '127.0.0.1', port: 0, clock: t.clock, source: t.mesh });
    servers.push(restarted);
    const proxy = t.request({ node: node('p2'), version_info: current.version_info, response_nonce: current.nonce });
    expect((await discover(restarted.url, 'clusters', proxy)).status).toBe(304);
    const [p] = (await getJson(`${restarted.url}/debug/syncz`)).body.proxies;
    expect(p.types.clusters).toMatchObject({ status: 'SYNCED', sent_version: current.version_info, acked_version: current.version_info });
  });

  it('builds a proxy\'s snapshot once per mesh generation', async () => {
    const t = await setup();
    for (const kind of ['clusters', 'endpoints', 'listeners', 'routes']) await discover(t.server.url, kind, t.request());
    expect(t.mesh.builds).toBe(1);
    t.mesh.set(EMPTY);
    await discover(t.server.url, 'clusters', t.request());
    expect(t.mesh.builds).toBe(2);
  });

  it('answers 500 with the reason when building the snapshot fails, and keeps serving', async () => {
    const t = await setup();
    t.mesh.set(() => { throw new Error('boom'); });
    const a = await discover(t.server.url, 'clusters', t.request());
    expect(a).toMatchObject({ status: 500, body: expect.stringMatching(/cannot build clusters.*boom/) });
    t.mesh.set(EMPTY);
    expect((await discover(t.server.url, 'clusters', t.request())).status).toBe(200);
  });

  it('answers 404 for unknown paths and 405 for GET on a discovery path', async () => {
    const t = await setup();
    expect((await fetch(`${t.server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${t.server.url}/v3/discovery:clusters`)).status).toBe(405);
  });
});
