// What a mesh change costs and re-sends: answers made of the same resource objects are built once per
// generation and shared between proxies; a change to routes only answers the held RDS request; RDS/EDS
// responses carry only what the proxy's running version lacks (xDS requires the full set for LDS/CDS only).

import { afterEach, describe, expect, it } from 'vitest';
import { SnapshotCache } from '../../../control-plane/server/snapshot-cache.ts';
import { startXdsServer, type XdsServer } from '../../../control-plane/server/xds-server.ts';
import type { EnvoyResource } from '../../../control-plane/xds/snapshot.ts';
import { XDS_TYPES } from '../../../control-plane/xds/snapshot.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { eventually } from '../control-client/fake-xds-server.ts';
import { cla, cluster, discover, EMPTY, FakeMesh, node } from './server-fake-mesh.ts';

const servers: XdsServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

const listener = (name: string): EnvoyResource => ({ name, address: { socket_address: { address: '127.0.0.1', port_value: 15001 } } });
const routes = (weight: number): EnvoyResource => ({ name: 'outbound_http', virtual_hosts: [{ name: 'r', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'a' }, weight }] }] });
const namesOf = (body: any): string[] => body.resources.map((r: any) => r.name ?? r.cluster_name);

async function setup() {
  const mesh = new FakeMesh();
  const server = await startXdsServer({ host: '127.0.0.1', port: 0, clock: new FakeClock(), source: mesh });
  servers.push(server);
  /** One exchange for proxy p1: `version`/`nonce` = what it runs and last saw. */
  const ask = (kind: string, names: string[], version = '', nonce = '', headers: Record<string, string> = {}, extra: Record<string, unknown> = {}) =>
    discover(server.url, kind, { node: node('p1'), resource_names: names, version_info: version, response_nonce: nonce, type_url: XDS_TYPES[kind as keyof typeof XDS_TYPES], ...extra }, headers);
  return { mesh, server, ask };
}

describe('SnapshotCache: answers shared between proxies', () => {
  it('two proxies selecting the same resource objects get the very same answer; one with other objects does not', () => {
    const mesh = new FakeMesh();
    const shared = [cluster('a'), cluster('b')];
    const inbound = cluster('inbound|80||');
    mesh.set((identity) => ({ ...EMPTY, clusters: identity.id === 'p3' ? [...shared, inbound] : shared }));
    const cache = new SnapshotCache(mesh, new FakeClock(), { expireAfterMs: 60_000, maxEntries: 10 });
    const entry = (id: string) => {
      const e = cache.entry(node(id));
      if (!e.ok) throw new Error('bad node');
      return e.value;
    };
    const [p1, p2, p3] = [entry('p1'), entry('p2'), entry('p3')];
    const a1 = cache.answer(p1, 'clusters', []);
    expect(cache.answer(p2, 'clusters', [])).toBe(a1);
    expect(cache.answer(p3, 'clusters', []).version).not.toBe(a1.version);
    // A new generation with equal content keeps the version, though the answer is rebuilt.
    mesh.set({ ...EMPTY, clusters: [cluster('a'), cluster('b')] });
    expect(cache.answer(entry('p1'), 'clusters', []).version).toBe(a1.version);
  });
});

describe('mesh changes re-send only what changed', () => {
  it('a routes-only change answers the held RDS request and leaves LDS, CDS and EDS held', async () => {
    const t = await setup();
    const clusters = [cluster('a')];
    const endpoints = [cla('a', 1)];
    const listeners = [listener('virtualOutbound')];
    t.mesh.set({ listeners, routes: [routes(1)], clusters, endpoints });
    const kinds = [['listeners', []], ['routes', ['outbound_http']], ['clusters', []], ['endpoints', ['a']]] as const;
    const first = await Promise.all(kinds.map(([kind, names]) => t.ask(kind, [...names])));
    const held = kinds.map(([kind, names], i) => t.ask(kind, [...names], first[i]!.body.version_info, first[i]!.body.nonce, { 'x-nodevoy-wait': '30' }));
    await eventually(() => t.server.heldRequests() === 4, '4 held requests');

    t.mesh.set({ listeners, routes: [routes(2)], clusters, endpoints });
    const rds = await held[1]!;
    expect(rds.status).toBe(200);
    expect(rds.body.resources[0].virtual_hosts[0].routes[0].weight).toBe(2);
    expect(t.server.heldRequests()).toBe(3);
  });

  it('EDS sends only the assignments that differ from the version the proxy runs; the version is the full set\'s', async () => {
    const t = await setup();
    t.mesh.set({ ...EMPTY, endpoints: [cla('a', 1), cla('b', 2), cla('c', 3)] });
    const v1 = (await t.ask('endpoints', ['a', 'b'])).body;
    expect(namesOf(v1)).toEqual(['a', 'b']);

    t.mesh.set({ ...EMPTY, endpoints: [cla('a', 1), cla('b', 20), cla('c', 3)] });
    const v2 = (await t.ask('endpoints', ['a', 'b'], v1.version_info, v1.nonce)).body;
    expect(v2.resources).toEqual([{ '@type': XDS_TYPES.endpoints, ...cla('b', 20) }]);
    // A proxy that runs nothing yet gets every resource, under the same version.
    const fresh = (await t.ask('endpoints', ['a', 'b'])).body;
    expect(namesOf(fresh)).toEqual(['a', 'b']);
    expect(fresh.version_info).toBe(v2.version_info);

    // Subscribing to one more name (ACKing v2): only the new one.
    const v3 = (await t.ask('endpoints', ['a', 'b', 'c'], v2.version_info, v2.nonce)).body;
    expect(namesOf(v3)).toEqual(['c']);
  });

  it('after a NACK the base stays the version the proxy runs, so the rejected change is sent again with the next', async () => {
    const t = await setup();
    t.mesh.set({ ...EMPTY, endpoints: [cla('a', 1), cla('b', 2)] });
    const v1 = (await t.ask('endpoints', ['a', 'b'])).body;
    t.mesh.set({ ...EMPTY, endpoints: [cla('a', 1), cla('b', 20)] });
    const v2 = (await t.ask('endpoints', ['a', 'b'], v1.version_info, v1.nonce)).body;
    expect(namesOf(v2)).toEqual(['b']);
    t.mesh.set({ ...EMPTY, endpoints: [cla('a', 10), cla('b', 20)] });
    const nack = { error_detail: { code: 3, message: 'resources[0]: bad' } };
    const v3 = (await t.ask('endpoints', ['a', 'b'], v1.version_info, v2.nonce, {}, nack)).body;
    expect(namesOf(v3)).toEqual(['a', 'b']);
  });

  it('CDS and LDS always carry the state of the world: whole bodies, or to a client that takes heartbeats, a heartbeat per unchanged resource', async () => {
    const t = await setup();
    t.mesh.set({ ...EMPTY, clusters: [cluster('a'), cluster('b')] });
    const v1 = (await t.ask('clusters', [])).body;
    t.mesh.set({ ...EMPTY, clusters: [cluster('a'), cluster('b', { connect_timeout: '2s' })] });
    const v2 = (await t.ask('clusters', [], v1.version_info, v1.nonce)).body;
    expect(v2.resources).toEqual([{ '@type': XDS_TYPES.clusters, ...cluster('a') }, { '@type': XDS_TYPES.clusters, ...cluster('b', { connect_timeout: '2s' }) }]);

    // nodevoy's long-poll client: a, unchanged since v1, comes as an xDS Resource heartbeat; same version.
    const heartbeats = { 'x-nodevoy-resource-heartbeats': '1' };
    const v2h = (await t.ask('clusters', [], v1.version_info, v1.nonce, heartbeats)).body;
    expect(v2h.version_info).toBe(v2.version_info);
    expect(v2h.resources).toEqual([
      { '@type': 'type.googleapis.com/envoy.service.discovery.v3.Resource', name: 'a' },
      { '@type': XDS_TYPES.clusters, ...cluster('b', { connect_timeout: '2s' }) },
    ]);
    // Nothing known about what the client runs (a fresh client): whole bodies.
    expect((await t.ask('clusters', [], '', '', heartbeats)).body.resources).toEqual(v2.resources);
  });
});
