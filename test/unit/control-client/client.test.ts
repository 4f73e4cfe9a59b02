// The xDS client end to end against a scripted REST server on a real socket: ACK carries version and nonce,
// invalid updates are NACKed with every error and the last good set kept, 304, SotW removal, the long-poll
// push variant, and stop() leaving no timers or sockets. Time moves only through a FakeClock.

import { afterEach, describe, expect, it } from 'vitest';
import { createXdsClient } from '../../../control-client/client.ts';
import type { XdsClient } from '../../../control-client/client.ts';
import { createLongPollTransport } from '../../../control-client/long-poll-transport.ts';
import { createRestTransport } from '../../../control-client/rest-transport.ts';
import type { ResourceUpdate } from '../../../control-client/types.ts';
import type { ConfigError } from '../../../proxy/common/result.ts';
import { ScriptedRandom } from '../../support/fake-clock.ts';
import { eventually, FakeXdsServer, RecordingClock, THING_URL, thingType, things } from './fake-xds-server.ts';
import type { Reply, Thing } from './fake-xds-server.ts';

const NODE = { id: 'sidecar-1', cluster: 'web' };
const REFRESH_MS = 1_000;
const TIMEOUT_MS = 777; // distinct from every poll delay, so the schedule can be read without it
const A1 = { name: 'a', value: 1 };
const B2 = { name: 'b', value: 2 };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function harness(opts: { sotw?: boolean; longPoll?: boolean; reject?: (u: ResourceUpdate<Thing>) => ConfigError[] } = {}) {
  const server = await FakeXdsServer.start();
  const clock = new RecordingClock();
  // next() = 0.5: REST polls every refresh_delay + 0.5 × refresh_delay.
  const random = new ScriptedRandom([0.5]);
  const transport = opts.longPoll
    ? createLongPollTransport({ baseUrl: server.baseUrl, clock, random, waitSeconds: 30, requestTimeoutMs: TIMEOUT_MS })
    : createRestTransport({ baseUrl: server.baseUrl, clock, random, refreshDelayMs: REFRESH_MS, requestTimeoutMs: TIMEOUT_MS });
  const client: XdsClient = createXdsClient({ node: NODE, transport, clock });
  cleanups.push(async () => { await client.stop(); await server.close(); });
  const updates: ResourceUpdate<Thing>[] = [];
  const pollDelays = (): number[] => clock.delays.filter((d) => d !== TIMEOUT_MS && d !== 30_000 + TIMEOUT_MS);
  let settled = 0;
  const h = {
    server, clock, client, updates,
    subscribe(names: readonly string[] = []) {
      return client.subscribe(thingType(opts.sotw ?? true), names, (u) => { updates.push(u); return opts.reject?.(u); });
    },
    /** Waits until the last exchange is handled and the next poll scheduled; returns its delay. */
    async settle(): Promise<number> {
      settled++;
      await eventually(() => pollDelays().length >= settled, 'the next poll to be scheduled');
      return pollDelays()[settled - 1]!;
    },
    /** Answers the next poll with `reply` and waits for the client to handle it. */
    async poll(reply: Reply): Promise<void> {
      server.handler = () => reply;
      const n = server.received.length;
      clock.advance(pollDelays()[settled - 1]!);
      await eventually(() => server.received.length > n, 'the next request');
      await h.settle();
    },
    status: () => client.status()[0]!,
  };
  return h;
}

describe('xDS client over REST', () => {
  it('sends the first request at once, applies the response and ACKs its version and nonce on the next poll', async () => {
    const h = await harness();
    h.server.handler = () => things('v1', 'n1', [A1, B2]);
    h.subscribe();
    expect(await h.settle()).toBe(1_500); // refresh_delay + random(0, refresh_delay)
    const first = h.server.last();
    expect(first.path).toBe('/v3/discovery:things');
    expect(first.headers['content-type']).toBe('application/json');
    expect(first.request).toEqual({ version_info: '', node: NODE, resource_names: [], type_url: THING_URL, response_nonce: '' });
    expect(h.updates).toHaveLength(1);
    expect([...h.updates[0]!.added.keys()]).toEqual(['a', 'b']);
    expect(h.updates[0]!.versionInfo).toBe('v1');

    h.server.handler = () => ({ status: 304 });
    h.clock.advance(1_499);
    expect(h.server.received).toHaveLength(1);
    h.clock.advance(1);
    await eventually(() => h.server.received.length === 2, 'the second poll');
    await h.settle();
    expect(h.server.last().request).toEqual({ version_info: 'v1', node: NODE, resource_names: [], type_url: THING_URL, response_nonce: 'n1' });
    expect(h.status()).toMatchObject({ typeUrl: THING_URL, versionInfo: 'v1', resourceCount: 2, lastUpdatedMs: h.clock.now() - 1_500 });
    expect(h.updates).toHaveLength(1);
    expect(h.status().lastNack).toBeUndefined();
  });

  it('304 changes nothing: no update, same version and nonce on the following poll', async () => {
    const h = await harness();
    h.server.handler = () => things('v1', 'n1', [A1]);
    h.subscribe();
    await h.settle();
    await h.poll({ status: 304 });
    await h.poll({ status: 304 });
    expect(h.updates).toHaveLength(1);
    expect(h.server.last().request).toMatchObject({ version_info: 'v1', response_nonce: 'n1' });
    expect(h.status().resourceCount).toBe(1);
  });

  const NACKS: [string, Reply, string[]][] = [
    ['every invalid field', things('v2', 'n2', [{ name: '', value: 'x' }, { name: 'c', value: 'y' }]),
      ['resources[0].name: name is required', 'resources[0].value: value must be a number', 'resources[1].value: value must be a number']],
    ['duplicate names in one response', things('v2', 'n2', [A1, { name: 'a', value: 9 }]),
      ['resources[1]: duplicate resource name "a" in one response']],
    ['a resource of another type', { status: 200, json: { version_info: 'v2', nonce: 'n2', type_url: THING_URL, resources: [{ '@type': 'type.googleapis.com/other', name: 'a', value: 1 }] } },
      ['resources[0].@type: resource type type.googleapis.com/other does not match the response type type.googleapis.com/test.v3.Thing']],
    ['a response for another type URL', { status: 200, json: { version_info: 'v2', nonce: 'n2', type_url: 'type.googleapis.com/other', resources: [] } },
      ['type_url: type URL mismatch: subscribed to type.googleapis.com/test.v3.Thing, got type.googleapis.com/other']],
    ['unknown and unimplemented DiscoveryResponse fields', { status: 200, json: { version_info: 'v2', nonce: 'n2', type_url: THING_URL, resources: [], canary: true, extra: 1 } },
      ['canary: field "canary" of envoy.service.discovery.v3.DiscoveryResponse is valid xDS but nodevoy does not implement it',
        'extra: unknown field "extra": envoy.service.discovery.v3.DiscoveryResponse has no such field']],
  ];

  it.each(NACKS)('NACKs %s with every error, keeps the previous version and set, and does not call onUpdate', async (_, bad, errors) => {
    const h = await harness();
    h.server.handler = () => things('v1', 'n1', [A1]);
    h.subscribe();
    await h.settle();
    await h.poll(bad);
    expect(h.updates).toHaveLength(1);
    await h.poll({ status: 304 });
    const nack = h.server.last().request;
    expect(nack).toMatchObject({ version_info: 'v1', response_nonce: 'n2', error_detail: { code: 3, message: errors.join('\n') } });
    expect(h.status()).toMatchObject({ versionInfo: 'v1', resourceCount: 1, lastNack: { versionInfo: 'v2', nonce: 'n2', message: errors.join('\n') } });

    // The next good response is ACKed and clears error_detail.
    await h.poll(things('v3', 'n3', [A1, B2]));
    await h.poll({ status: 304 });
    expect(h.server.last().request).toEqual({ version_info: 'v3', node: NODE, resource_names: [], type_url: THING_URL, response_nonce: 'n3' });
    expect(h.updates.map((u) => u.versionInfo)).toEqual(['v1', 'v3']);
  });

  it('NACKs a body that is not JSON, echoing the previous nonce', async () => {
    const h = await harness();
    h.server.handler = () => things('v1', 'n1', [A1]);
    h.subscribe();
    await h.settle();
    await h.poll({ status: 200, json: 'not an object' });
    await h.poll({ status: 304 });
    expect(h.server.last().request).toMatchObject({ version_info: 'v1', error_detail: { code: 3, message: '(root): DiscoveryResponse must be a JSON object' } });
  });

  it('NACKs with the errors onUpdate returns (or throws) and keeps the last good set', async () => {
    let calls = 0;
    const h = await harness({ reject: () => (++calls === 2 ? [{ path: 'resources[0]', kind: 'invalid', message: 'cannot apply' }] : []) });
    h.server.handler = () => things('v1', 'n1', [A1]);
    h.subscribe();
    await h.settle();
    await h.poll(things('v2', 'n2', [B2]));
    await h.poll({ status: 304 });
    expect(h.server.last().request).toMatchObject({ version_info: 'v1', response_nonce: 'n2', error_detail: { message: 'resources[0]: cannot apply' } });
    // The rejected update was not applied: the next diff is against {a}.
    await h.poll(things('v3', 'n3', [A1, B2]));
    expect([...h.updates.at(-1)!.added.keys()]).toEqual(['b']);
    expect(h.updates.at(-1)!.removed).toEqual([]);
  });

  it('reports added, updated and removed for a state-of-the-world type (an absent resource is deleted)', async () => {
    const h = await harness({ sotw: true });
    h.server.handler = () => things('v1', 'n1', [A1, B2, { name: 'c', value: 3 }]);
    h.subscribe();
    await h.settle();
    await h.poll(things('v2', 'n2', [{ name: 'b', value: 20 }, { name: 'c', value: 3 }, { name: 'd', value: 4 }]));
    const u = h.updates[1]!;
    expect([...u.added.keys()]).toEqual(['d']);
    expect([...u.updated.entries()]).toEqual([['b', { name: 'b', value: 20 }]]);
    expect(u.removed).toEqual(['a']);
    expect([...u.resources.keys()].sort()).toEqual(['b', 'c', 'd']);
    // An empty response deletes everything.
    await h.poll(things('v3', 'n3', []));
    expect([...h.updates[2]!.removed].sort()).toEqual(['b', 'c', 'd']);
    expect(h.status().resourceCount).toBe(0);
  });

  it('merges responses of a non-SotW type (only changed resources are sent; nothing is removed)', async () => {
    const h = await harness({ sotw: false });
    h.server.handler = () => things('v1', 'n1', [A1, B2]);
    const watch = h.subscribe(['a', 'b']);
    await h.settle();
    expect(h.server.last().request.resource_names).toEqual(['a', 'b']);
    await h.poll(things('v2', 'n2', [{ name: 'b', value: 20 }]));
    const u = h.updates[1]!;
    expect(u.removed).toEqual([]);
    expect([...u.updated.keys()]).toEqual(['b']);
    expect([...u.resources.keys()]).toEqual(['a', 'b']);

    // Changing resource_names sends a request at once and drops what is no longer named; the client no longer
    // runs v2, so it asks for every resource again (version_info '').
    const n = h.server.received.length;
    h.server.handler = () => ({ status: 304 });
    watch.setResourceNames(['b']);
    await eventually(() => h.server.received.length > n, 're-subscription request');
    expect(h.server.last().request).toMatchObject({ resource_names: ['b'], version_info: '', response_nonce: 'n2' });
    expect(h.status().resourceCount).toBe(1);
  });
});

describe('xDS client over long-poll', () => {
  /** A server that holds a request while the client has already seen its current version (by version or nonce). */
  function longPollServer(h: Awaited<ReturnType<typeof harness>>) {
    let current = { version: 'v1', nonce: 'n1', reply: things('v1', 'n1', [A1]) };
    const waiting: ((r: Reply) => void)[] = [];
    h.server.handler = (r) => {
      const seen = r.request.version_info === current.version || r.request.response_nonce === current.nonce;
      if (!seen) return current.reply;
      return new Promise<Reply>((resolve) => waiting.push(resolve));
    };
    return {
      waiting: () => waiting.length,
      push(version: string, nonce: string, items: Record<string, unknown>[]) {
        current = { version, nonce, reply: things(version, nonce, items) };
        for (const w of waiting.splice(0)) w(current.reply);
      },
      expireWaits() {
        for (const w of waiting.splice(0)) w({ status: 304 });
      },
    };
  }

  it('asks the server to hold the request and applies a pushed change at once, without any poll timer', async () => {
    const h = await harness({ longPoll: true });
    const cp = longPollServer(h);
    h.subscribe();
    await eventually(() => cp.waiting() === 1, 'the ACK request to be held');
    expect(h.updates.map((u) => u.versionInfo)).toEqual(['v1']);
    expect(h.server.last().headers['x-nodevoy-wait']).toBe('30');
    expect(h.server.last().request).toMatchObject({ version_info: 'v1', response_nonce: 'n1' });

    cp.push('v2', 'n2', [A1, B2]); // the clock does not move: the change arrives on the held request
    await eventually(() => h.updates.length === 2 && cp.waiting() === 1, 'the pushed update and the next held request');
    expect([...h.updates[1]!.added.keys()]).toEqual(['b']);
    expect(h.server.last().request).toMatchObject({ version_info: 'v2', response_nonce: 'n2' });

    // The wait expires (304): the client asks again at once.
    const n = h.server.received.length;
    cp.expireWaits();
    await eventually(() => h.server.received.length === n + 1 && cp.waiting() === 1, 'a new held request');
    expect(h.updates).toHaveLength(2);
  });

  it('a NACKed push is held on its nonce, not re-sent in a loop', async () => {
    const h = await harness({ longPoll: true });
    const cp = longPollServer(h);
    h.subscribe();
    await eventually(() => cp.waiting() === 1, 'the ACK request to be held');
    cp.push('v2', 'n2', [{ name: 'b', value: 'bad' }]);
    await eventually(() => cp.waiting() === 1 && h.server.received.length === 3, 'the NACK request to be held');
    expect(h.server.last().request).toMatchObject({ version_info: 'v1', response_nonce: 'n2', error_detail: { code: 3, message: 'resources[0].value: value must be a number' } });
    expect(h.updates).toHaveLength(1);
  });

  it('stop() with a held request leaves no timers and no sockets', async () => {
    const h = await harness({ longPoll: true });
    const cp = longPollServer(h);
    h.subscribe();
    await eventually(() => cp.waiting() === 1, 'the ACK request to be held');
    expect(h.server.openSockets()).toBeGreaterThan(0);
    await h.client.stop();
    expect(h.clock.pendingTimers()).toBe(0);
    await eventually(() => h.server.openSockets() === 0, 'the client sockets to close');
  });
});

describe('stop()', () => {
  it('cancels the pending poll timer and closes the connection', async () => {
    const h = await harness();
    h.server.handler = () => things('v1', 'n1', [A1]);
    h.subscribe();
    await h.settle();
    expect(h.clock.pendingTimers()).toBe(1);
    await h.client.stop();
    expect(h.clock.pendingTimers()).toBe(0);
    await eventually(() => h.server.openSockets() === 0, 'the client sockets to close');
    h.clock.advance(60_000);
    expect(h.server.received).toHaveLength(1);
    expect(h.client.status()).toEqual([]);
  });
});
