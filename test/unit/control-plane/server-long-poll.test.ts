// Long-poll push on the REST endpoints, with a fake clock: a request for a version the proxy has seen is held
// until the mesh changes into one it has not (200) or the wait runs out (304, capped at 60 s); server close
// and client disconnects release held requests; one change reaches 50 long-polling nodevoy clients.

import { afterEach, describe, expect, it } from 'vitest';
import { createXdsClient, type XdsClient } from '../../../control-client/client.ts';
import { createRestTransport } from '../../../control-client/rest-transport.ts';
import type { ResourceType } from '../../../control-client/types.ts';
import { ok } from '../../../proxy/common/result.ts';
import { startXdsServer, type XdsServer } from '../../../control-plane/server/xds-server.ts';
import { XDS_TYPES } from '../../../control-plane/xds/snapshot.ts';
import { FakeClock, SeededRandom } from '../../support/fake-clock.ts';
import { eventually } from '../control-client/fake-xds-server.ts';
import { cla, cluster, discover, EMPTY, FakeMesh, node } from './server-fake-mesh.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const mesh = new FakeMesh();
  const clock = new FakeClock();
  mesh.set({ ...EMPTY, clusters: [cluster('a')] });
  const server = await startXdsServer({ host: '127.0.0.1', port: 0, clock, source: mesh });
  let closed = false;
  cleanups.push(async () => { if (!closed) await server.close(); });
  const closeServer = async () => { closed = true; await server.close(); };
  const first = (await discover(server.url, 'clusters', { node: node('p1') })).body;
  /** A request for the version the proxy already runs, asking to wait `wait` seconds. */
  const poll = (wait: string, extra: Record<string, unknown> = {}, signal?: AbortSignal) =>
    discover(server.url, 'clusters', { node: node('p1'), version_info: first.version_info, response_nonce: first.nonce, ...extra }, { 'x-nodevoy-wait': wait }, signal);
  const held = (n: number) => eventually(() => server.heldRequests() === n, `${n} held requests`);
  return { mesh, clock, server, first, poll, held, closeServer };
}

describe('long-poll', () => {
  it('holds a request for the current version and answers 200 as soon as the mesh changes it', async () => {
    const t = await setup();
    const answer = t.poll('30');
    await t.held(1);
    t.mesh.set({ ...EMPTY, clusters: [cluster('a'), cluster('b')] });
    const a = await answer;
    expect(a.status).toBe(200);
    expect(a.headers.get('x-nodevoy-long-poll')).toBe('60');
    expect(a.body.resources.map((r: any) => r.name)).toEqual(['a', 'b']);
    expect(t.server.heldRequests()).toBe(0);
  });

  it('keeps holding through a mesh change that leaves this type as it was', async () => {
    const t = await setup();
    const answer = t.poll('30');
    await t.held(1);
    t.mesh.set({ ...EMPTY, clusters: [cluster('a')], endpoints: [cla('a', 1)] });
    expect(t.server.heldRequests()).toBe(1);
    t.mesh.set({ ...EMPTY, clusters: [cluster('c')] });
    expect((await answer).body.resources.map((r: any) => r.name)).toEqual(['c']);
  });

  it.each([
    ['the requested wait', '10', 10_000],
    ['the 60 s cap', '600', 60_000],
  ])('answers 304 when %s runs out', async (_what, wait, ms) => {
    const t = await setup();
    const answer = t.poll(wait);
    await t.held(1);
    t.clock.advance(ms - 1);
    expect(t.server.heldRequests()).toBe(1);
    t.clock.advance(1);
    const a = await answer;
    expect(a.status).toBe(304);
    expect(a.headers.get('x-nodevoy-long-poll')).toBe('60');
  });

  it('holds a NACK of the current version (its nonce) instead of sending the same rejected config again', async () => {
    const t = await setup();
    const answer = t.poll('30', { version_info: 'previous-good', error_detail: { code: 3, message: 'bad' } });
    await t.held(1);
    t.mesh.set({ ...EMPTY, clusters: [cluster('fixed')] });
    expect((await answer).body.resources.map((r: any) => r.name)).toEqual(['fixed']);
  });

  it('answers at once when the proxy has not seen the current version, even with a wait', async () => {
    const t = await setup();
    const a = await t.poll('30', { version_info: 'old', response_nonce: 'old-nonce' });
    expect(a.status).toBe(200);
  });

  it('releases held requests with 304 when the server closes', async () => {
    const t = await setup();
    const answers = [t.poll('30'), t.poll('30')];
    await t.held(2);
    await t.closeServer();
    expect((await Promise.all(answers)).map((a) => a.status)).toEqual([304, 304]);
  });

  it('forgets a held request (and its timer) when the client goes away', async () => {
    const t = await setup();
    const timersBefore = t.clock.pendingTimers();
    const abort = new AbortController();
    const answer = t.poll('30', {}, abort.signal).catch((e: Error) => e.name);
    await t.held(1);
    expect(t.clock.pendingTimers()).toBe(timersBefore + 1);
    abort.abort();
    expect(await answer).toBe('AbortError');
    await t.held(0);
    expect(t.clock.pendingTimers()).toBe(timersBefore);
  });

  it('pushes one change to 50 nodevoy clients that upgraded from REST to long-poll', async () => {
    const t = await setup();
    const clusterType: ResourceType<{ name: string }> = {
      typeUrl: XDS_TYPES.clusters, restPath: 'clusters', stateOfTheWorld: true,
      validate: (resources) => ok(resources as { name: string }[]), name: (c) => c.name,
    };
    const held = new Map<number, string[]>();
    const clients: XdsClient[] = [];
    for (let i = 0; i < 50; i++) {
      const client = createXdsClient({
        node: node(`proxy-${i}`), clock: t.clock,
        transport: createRestTransport({ baseUrl: t.server.url, clock: t.clock, random: new SeededRandom(i), refreshDelayMs: 1_000 }),
      });
      client.subscribe(clusterType, [], (u) => void held.set(i, [...u.resources.keys()]));
      clients.push(client);
    }
    cleanups.push(async () => { await Promise.all(clients.map((c) => c.stop())); });
    // Each client's first answer advertises long-poll; its next request is held without the clock moving.
    await t.held(50);
    expect([...held.values()].every((names) => names.join() === 'a')).toBe(true);
    t.mesh.set({ ...EMPTY, clusters: [cluster('a'), cluster('b')] });
    await eventually(() => held.size === 50 && [...held.values()].every((names) => names.join() === 'a,b'), 'every client to apply the change', 5_000);
    await t.held(50); // and each is waiting again, having ACKed
  });
});
