// Re-subscription races (an RDS/EDS name removed and re-added before the server answered the removal): the
// server treats a request whose resource_names differ from those it last answered as new, narrows what it
// believes the proxy holds to the names it still requests, and a nodevoy client that dropped resources asks
// for everything again; so the re-added resource is always sent, over REST and long-poll alike.

import { afterEach, describe, expect, it } from 'vitest';
import { createXdsClient } from '../../../control-client/client.ts';
import { createRestTransport } from '../../../control-client/rest-transport.ts';
import { startXdsServer, type XdsServer } from '../../../control-plane/server/xds-server.ts';
import { XDS_TYPES } from '../../../control-plane/xds/snapshot.ts';
import { clusterLoadAssignmentResourceType } from '../../../proxy/xds/resource-types.ts';
import { FakeClock, SeededRandom } from '../../support/fake-clock.ts';
import { eventually } from '../control-client/fake-xds-server.ts';
import { cla, discover, EMPTY, FakeMesh, node } from './server-fake-mesh.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const mesh = new FakeMesh();
  const clock = new FakeClock();
  mesh.set({ ...EMPTY, endpoints: [cla('a', 1), cla('b', 2)] });
  const server: XdsServer = await startXdsServer({ host: '127.0.0.1', port: 0, clock, source: mesh });
  cleanups.push(() => server.close());
  /** One EDS exchange for proxy p1 that does not reset version_info when it drops names (a generic client). */
  const ask = (names: string[], version: string, nonce: string, headers: Record<string, string> = {}) =>
    discover(server.url, 'endpoints', { node: node('p1'), resource_names: names, version_info: version, response_nonce: nonce, type_url: XDS_TYPES.endpoints }, headers);
  return { mesh, clock, server, ask };
}

const namesOf = (body: any): string[] => body.resources.map((r: any) => r.cluster_name);

describe('re-subscription: the server', () => {
  it('answers a request whose resource_names changed even when it carries the current version', async () => {
    const t = await setup();
    const v1 = (await t.ask(['a', 'b'], '', '')).body;
    // A name that does not exist leaves the selection's version as it was; the request is still answered
    // (with nothing the proxy lacks), not held as "already seen".
    const more = await t.ask(['a', 'b', 'missing'], v1.version_info, v1.nonce);
    expect(more.status).toBe(200);
    expect(more.body.version_info).toBe(v1.version_info);
    expect(more.body.resources).toEqual([]);
    // The same names again with that version: seen, 304.
    expect((await t.ask(['a', 'b', 'missing'], v1.version_info, more.body.nonce)).status).toBe(304);
  });

  it('sends a re-added name again when the client re-subscribes with the version it ran before the removal', async () => {
    const t = await setup();
    const v1 = (await t.ask(['a', 'b'], '', '')).body;
    expect((await t.ask(['a', 'b'], v1.version_info, v1.nonce)).status).toBe(304); // ACK
    // b removed: answered (the client drops b) ...
    const removed = (await t.ask(['a'], v1.version_info, v1.nonce)).body;
    expect(namesOf(removed)).toEqual([]);
    // ... and re-added before the client took that answer: it still says it runs v1, which had b.
    const readded = await t.ask(['a', 'b'], v1.version_info, v1.nonce, { 'x-nodevoy-wait': '30' });
    expect(readded.status).toBe(200);
    expect(namesOf(readded.body)).toEqual(['b']);
    expect(readded.body.version_info).toBe(v1.version_info);
  });
});

describe('re-subscription: a nodevoy client against the server', () => {
  it('gets a resource back that it dropped and named again while its long-poll request was held', async () => {
    const t = await setup();
    const client = createXdsClient({
      node: node('p1'), clock: t.clock,
      transport: createRestTransport({ baseUrl: t.server.url, clock: t.clock, random: new SeededRandom(1), refreshDelayMs: 1_000 }),
    });
    cleanups.push(() => client.stop());
    const held: string[][] = [];
    const watch = client.subscribe(clusterLoadAssignmentResourceType, ['a', 'b'], (u) => { held.push([...u.resources.keys()]); });
    await eventually(() => held.length === 1, 'the first response');
    // The answer advertised long-poll: the next request (after refresh_delay) is held.
    t.clock.advance(2_000);
    await eventually(() => t.server.heldRequests() === 1, 'a held request');

    watch.setResourceNames(['a']);
    watch.setResourceNames(['a', 'b']);
    await eventually(() => held.length === 2, 'the re-subscription answer');
    expect(held[1]).toEqual(['a', 'b']);
    expect(client.status()[0]).toMatchObject({ resourceCount: 2, versionInfo: expect.stringMatching(/^[0-9a-f]{16}$/) });
  });
});
