// createRestTransport's upgrade to long-poll: an answer (200 or 304) carrying `x-nodevoy-long-poll` switches
// the session to long-poll (x-nodevoy-wait, no refresh delay, timeout = wait + request_timeout); an answer
// without it switches back to refresh_delay polling; failures keep the mode. Against a scripted server and
// against the real control-plane server.

import { afterEach, describe, expect, it } from 'vitest';
import { createXdsClient } from '../../../control-client/client.ts';
import { createRestTransport } from '../../../control-client/rest-transport.ts';
import type { XdsTransport } from '../../../control-client/types.ts';
import { ok } from '../../../proxy/common/result.ts';
import { startXdsServer } from '../../../control-plane/server/xds-server.ts';
import { XDS_TYPES } from '../../../control-plane/xds/snapshot.ts';
import { cluster, EMPTY, FakeMesh, node } from '../control-plane/server-fake-mesh.ts';
import { eventually, FakeXdsServer, RecordingClock, thingType, things } from './fake-xds-server.ts';
import type { Reply } from './fake-xds-server.ts';

const TIMEOUT_MS = 777;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const random = { next: () => 0.5, nextUint32: () => 239_999 };
const offer = (seconds: string) => ({ 'x-nodevoy-long-poll': seconds });

async function scripted(replies: Reply[]) {
  const server = await FakeXdsServer.start();
  server.handler = () => replies.shift() ?? { status: 304 };
  const clock = new RecordingClock();
  const transport: XdsTransport = createRestTransport({ baseUrl: server.baseUrl, clock, random, refreshDelayMs: 1_000, requestTimeoutMs: TIMEOUT_MS });
  const client = createXdsClient({ node: { id: 'p' }, transport, clock });
  cleanups.push(async () => { await client.stop(); await server.close(); });
  client.subscribe(thingType(true), [], () => undefined);
  return { server, clock };
}

describe('REST transport upgrade to long-poll', () => {
  it('long-polls while answers advertise it, and polls every refresh_delay again when they stop', async () => {
    const t = await scripted([
      { ...things('1', 'n1', []), headers: offer('20') },
      { status: 304, headers: offer('20') },
      { status: 304 },
    ]);
    await eventually(() => t.server.received.length === 3, 'three requests without the clock moving');
    const waits = t.server.received.map((r) => r.headers['x-nodevoy-wait']);
    expect(waits).toEqual([undefined, '20', '20']); // min(default 30 s, the server's 20 s)
    // Timeouts: request_timeout for the REST request, then wait + request_timeout for each long-poll.
    expect(t.clock.delays).toEqual([TIMEOUT_MS, 20_000 + TIMEOUT_MS, 20_000 + TIMEOUT_MS]);
    // The third answer did not advertise long-poll: back to refresh_delay + jitter, without the header.
    await eventually(() => t.clock.delays.length === 4, 'the next poll to be scheduled');
    expect(t.clock.delays[3]).toBe(1_500);
    t.clock.advance(1_500);
    await eventually(() => t.server.received.length === 4, 'the REST poll');
    expect(t.server.received[3]!.headers['x-nodevoy-wait']).toBeUndefined();
  });

  it('upgrades on a 304 as well, and keeps long-polling across a failure', async () => {
    const t = await scripted([{ status: 304, headers: offer('60') }, { status: 503 }, { status: 304, headers: offer('60') }]);
    await eventually(() => t.server.received.length === 2, 'the long-poll after the 304');
    await eventually(() => t.clock.delays.length === 3, 'the back-off after the 503');
    t.clock.advance(t.clock.delays[2]!);
    await eventually(() => t.server.received.length === 3, 'the retry');
    expect(t.server.received.map((r) => r.headers['x-nodevoy-wait'])).toEqual([undefined, '30', '30']);
  });

  it('ignores an unusable advertisement', async () => {
    const t = await scripted([{ status: 304, headers: offer('soon') }]);
    await eventually(() => t.clock.delays.length === 2, 'the next poll to be scheduled');
    expect(t.clock.delays[1]).toBe(1_500);
  });

  it('receives a change from the control plane server without the clock moving once upgraded', async () => {
    const mesh = new FakeMesh();
    mesh.set({ ...EMPTY, clusters: [cluster('a')] });
    const clock = new RecordingClock();
    const server = await startXdsServer({ host: '127.0.0.1', port: 0, clock, source: mesh });
    const client = createXdsClient({ node: node('p1'), clock, transport: createRestTransport({ baseUrl: server.url, clock, random, refreshDelayMs: 1_000 }) });
    cleanups.push(async () => { await client.stop(); await server.close(); });
    const versions: string[] = [];
    client.subscribe({ typeUrl: XDS_TYPES.clusters, restPath: 'clusters', stateOfTheWorld: true, validate: (r) => ok(r), name: (r) => String((r as { name: string }).name) },
      [], (u) => void versions.push([...u.resources.keys()].join()));
    await eventually(() => server.heldRequests() === 1, 'the long-poll to be held');
    // The client's default request_timeout, then its 30 s wait + 1 s; the server holds for the 30 s asked (same clock).
    expect(clock.delays).toEqual([1_000, 31_000, 30_000]);
    mesh.set({ ...EMPTY, clusters: [cluster('a'), cluster('b')] });
    await eventually(() => versions.length === 2, 'the pushed change');
    expect(versions).toEqual(['a', 'a,b']);
  });
});
