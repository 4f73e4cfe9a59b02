// The REST polling transport on a real socket with a FakeClock: refresh_delay + jitter, request_timeout,
// non-200/304 statuses as failures, exponential back-off with jitter while the server is down (the last good
// set staying), and resuming with the last version once the server is back.

import { afterEach, describe, expect, it } from 'vitest';
import { createXdsClient } from '../../../control-client/client.ts';
import { createRestTransport } from '../../../control-client/rest-transport.ts';
import type { DiscoveryRequest, TransportStream, XdsTransport } from '../../../control-client/types.ts';
import type { Random } from '../../../proxy/common/clock.ts';
import { eventually, FakeXdsServer, RecordingClock, thingType, things } from './fake-xds-server.ts';
import type { Reply } from './fake-xds-server.ts';

const TIMEOUT_MS = 777;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** next() drives the poll jitter; nextUint32() = 239999 = -1 mod every back-off window, so each wait is window - 1. */
const random = (next: number): Random => ({ next: () => next, nextUint32: () => 239_999 });

/** A stream that records what the transport does with it. */
function recordingStream() {
  const events: string[] = [];
  const request: DiscoveryRequest = { version_info: '', node: {}, resource_names: [], type_url: 't', response_nonce: '' };
  const stream: TransportStream = {
    restPath: 'clusters',
    nextRequest: () => request,
    onResponse: (body) => events.push(`response ${body}`),
    onFailure: (message) => events.push(`failure ${message}`),
  };
  return { stream, events };
}

async function setup(reply: () => Reply | Promise<Reply>, next = 0.5) {
  const server = await FakeXdsServer.start();
  server.handler = reply;
  const clock = new RecordingClock();
  const transport: XdsTransport = createRestTransport({ baseUrl: server.baseUrl, clock, random: random(next), refreshDelayMs: 1_000, requestTimeoutMs: TIMEOUT_MS });
  cleanups.push(async () => { await transport.stop(); await server.close(); });
  const { stream, events } = recordingStream();
  const waits = (): number[] => clock.delays.filter((d) => d !== TIMEOUT_MS);
  /** Waits for the n-th scheduled wait (after a response or failure) and returns it. */
  const nthWait = async (n: number): Promise<number> => {
    await eventually(() => waits().length >= n, `wait #${n}`);
    return waits()[n - 1]!;
  };
  return { server, clock, transport, stream, events, nthWait };
}

describe('REST transport', () => {
  it.each([[0, 1_000], [0.25, 1_250], [0.999, 1_999]])('polls again after refresh_delay + random(0, refresh_delay): next() = %s → %s ms', async (next, expected) => {
    const t = await setup(() => ({ status: 304 }), next);
    t.transport.open(t.stream);
    expect(await t.nthWait(1)).toBe(expected);
    expect(t.server.last().path).toBe('/v3/discovery:clusters');
  });

  it('hands a 200 body to the stream and treats any other status but 304 as a failure', async () => {
    const replies: Reply[] = [{ status: 200, json: { nonce: 'x' } }, { status: 304 }, { status: 503 }, { status: 404 }];
    const t = await setup(() => replies.shift()!);
    t.transport.open(t.stream);
    for (let n = 1; n <= 3; n++) t.clock.advance(await t.nthWait(n));
    await t.nthWait(4);
    expect(t.events).toEqual(['response {"nonce":"x"}', 'failure management server answered HTTP 503', 'failure management server answered HTTP 404']);
  });

  it('backs off exponentially with full jitter up to 30 s while failing, and resets after a success', async () => {
    let status = 503;
    const t = await setup(() => ({ status }));
    t.transport.open(t.stream);
    const seen: number[] = [];
    for (let n = 1; n <= 8; n++) {
      seen.push(await t.nthWait(n));
      if (n === 8) status = 304;
      t.clock.advance(seen.at(-1)!);
    }
    // Windows 500, 1000, 2000, ... pinned at 30 000 ms; each wait is random % window.
    expect(seen).toEqual([499, 999, 1_999, 3_999, 7_999, 15_999, 29_999, 29_999]);
    expect(await t.nthWait(9)).toBe(1_500); // a 304 is a success: back to polling
    status = 503;
    t.clock.advance(1_500);
    expect(await t.nthWait(10)).toBe(499); // and the next failure starts from the base again
  });

  it('abandons a request after request_timeout and backs off', async () => {
    const t = await setup(() => new Promise<Reply>(() => {}));
    t.transport.open(t.stream);
    await eventually(() => t.server.received.length === 1, 'the first request');
    t.clock.advance(TIMEOUT_MS - 1);
    expect(t.events).toEqual([]);
    t.clock.advance(1);
    expect(await t.nthWait(1)).toBe(499);
    expect(t.events).toEqual([`failure no response within request_timeout (${TIMEOUT_MS} ms)`]);
  });
});

describe('an unreachable management server', () => {
  it('keeps the last good set while backing off, then resumes with the last version when the server is back', async () => {
    let server = await FakeXdsServer.start();
    const port = server.port;
    const clock = new RecordingClock();
    const transport = createRestTransport({ baseUrl: server.baseUrl, clock, random: random(0.5), refreshDelayMs: 1_000, requestTimeoutMs: TIMEOUT_MS });
    const client = createXdsClient({ node: { id: 'n' }, transport, clock });
    cleanups.push(async () => { await client.stop(); await server.close(); });
    const updates: string[] = [];
    server.handler = () => things('v1', 'n1', [{ name: 'a', value: 1 }]);
    client.subscribe(thingType(true), [], (u) => { updates.push(`${u.versionInfo} removed=${u.removed.join(',')}`); });
    const waits = (): number[] => clock.delays.filter((d) => d !== TIMEOUT_MS);
    await eventually(() => waits().length === 1, 'the first poll to be scheduled');

    await server.close();
    for (let n = 1; n <= 4; n++) {
      clock.advance(waits().at(-1)!);
      await eventually(() => waits().length === n + 1, `failure #${n}`);
    }
    expect(waits()).toEqual([1_500, 499, 999, 1_999, 3_999]);
    expect(updates).toEqual(['v1 removed=']);
    const status = client.status()[0]!;
    expect(status).toMatchObject({ versionInfo: 'v1', resourceCount: 1 });
    expect(status.lastTransportFailure?.message).toMatch(/ECONNREFUSED/);

    server = await FakeXdsServer.start(port);
    server.handler = () => things('v2', 'n2', [{ name: 'b', value: 2 }]);
    clock.advance(3_999);
    await eventually(() => updates.length === 2, 'the update after the server came back');
    expect(server.received[0]!.request).toMatchObject({ version_info: 'v1', response_nonce: 'n1' });
    expect(updates).toEqual(['v1 removed=', 'v2 removed=a']);
    expect(await eventually(() => waits().length === 6, 'polling again').then(() => waits()[5])).toBe(1_500);
  });
});
