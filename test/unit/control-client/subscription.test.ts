// One Subscription fed response bodies directly (no transport): a resource whose wire JSON is unchanged since
// the last accepted response is reused, not validated again; a changed or new one is validated; NACKs (invalid
// resource, duplicate names, onUpdate rejection) and the last good set behave exactly as without the reuse.

import { describe, expect, it } from 'vitest';
import { Subscription } from '../../../control-client/subscription.ts';
import type { ResourceType, ResourceUpdate, UpdateCallback } from '../../../control-client/types.ts';
import type { ConfigError } from '../../../proxy/common/result.ts';
import { clusterResourceType } from '../../../proxy/xds/resource-types.ts';
import type { ClusterWire } from '../../../proxy/upstream/cluster-schema.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { THING_URL, thingType } from './fake-xds-server.ts';
import type { Thing } from './fake-xds-server.ts';

const NODE = { id: 'sidecar-1' };
const A1 = { name: 'a', value: 1 };
const B2 = { name: 'b', value: 2 };
const C3 = { name: 'c', value: 3 };

function body(typeUrl: string, version: string, nonce: string, items: readonly Record<string, unknown>[]): string {
  return JSON.stringify({ version_info: version, nonce, type_url: typeUrl, resources: items.map((r) => ({ '@type': typeUrl, ...r })) });
}

function harness<T>(type: ResourceType<T>, options: { names?: string[]; onUpdate?: UpdateCallback<T> } = {}) {
  const updates: ResourceUpdate<T>[] = [];
  const sub = new Subscription(type, options.names ?? [], NODE, (u) => {
    updates.push(u);
    return options.onUpdate?.(u);
  }, new FakeClock());
  return {
    sub, updates,
    respond: (version: string, nonce: string, items: readonly Record<string, unknown>[]) => sub.onResponse(body(type.typeUrl, version, nonce, items)),
  };
}

function thingHarness(stateOfTheWorld: boolean, onUpdate?: (u: ResourceUpdate<Thing>) => ConfigError[]) {
  const validated: string[] = [];
  const h = harness(thingType(stateOfTheWorld, validated), onUpdate === undefined ? {} : { onUpdate });
  /** The names validate parsed since the last call. */
  const drain = (): string[] => validated.splice(0);
  return { ...h, drain };
}

describe('Subscription: validating only changed resources', () => {
  it('validates new and changed resources and reuses the held value of unchanged ones (state of the world)', () => {
    const h = thingHarness(true);
    h.respond('v1', 'n1', [A1, B2]);
    expect(h.drain()).toEqual(['a', 'b']);
    const a = h.updates[0]!.resources.get('a');

    h.respond('v2', 'n2', [A1, { name: 'b', value: 20 }, C3]);
    expect(h.drain()).toEqual(['b', 'c']);
    const u = h.updates[1]!;
    expect(u.resources.get('a')).toBe(a);
    expect([...u.updated.keys()]).toEqual(['b']);
    expect([...u.added.keys()]).toEqual(['c']);
    expect(h.sub.nextRequest()).toMatchObject({ version_info: 'v2', response_nonce: 'n2' });
    expect(h.sub.nextRequest().error_detail).toBeUndefined();

    // The same set again: nothing validated, nothing reported as changed.
    h.respond('v3', 'n3', [A1, { name: 'b', value: 20 }, C3]);
    expect(h.drain()).toEqual([]);
    expect(h.updates[2]).toMatchObject({ versionInfo: 'v3', removed: [] });
    expect(h.updates[2]!.added.size + h.updates[2]!.updated.size).toBe(0);
  });

  it('takes xDS Resource wrappers: with a body it is validated; a heartbeat (no body) keeps the held resource unvalidated', () => {
    const h = thingHarness(true);
    const RESOURCE = 'type.googleapis.com/envoy.service.discovery.v3.Resource';
    const send = (version: string, nonce: string, items: unknown[]) => h.sub.onResponse(JSON.stringify({ version_info: version, nonce, type_url: THING_URL, resources: items }));
    send('v1', 'n1', [{ '@type': RESOURCE, name: 'a', version: 'x', resource: { '@type': THING_URL, ...A1 } }, { '@type': THING_URL, ...B2 }]);
    expect(h.drain()).toEqual(['a', 'b']);
    const a = h.updates[0]!.resources.get('a');

    send('v2', 'n2', [{ '@type': RESOURCE, name: 'a' }, { '@type': THING_URL, name: 'b', value: 20 }]);
    expect(h.drain()).toEqual(['b']);
    const u = h.updates[1]!;
    expect(u.resources.get('a')).toBe(a);
    expect([...u.updated.keys()]).toEqual(['b']);
    expect(h.sub.nextRequest()).toMatchObject({ version_info: 'v2', response_nonce: 'n2' });

    // A heartbeat for a resource the client does not hold, or a wrapper field nodevoy does not implement: NACK, v2 kept.
    send('v3', 'n3', [{ '@type': RESOURCE, name: 'zzz' }, { '@type': RESOURCE, name: 'a', ttl: '5s' }]);
    const nack = h.sub.nextRequest();
    expect(nack).toMatchObject({ version_info: 'v2', response_nonce: 'n3' });
    expect(nack.error_detail?.message).toContain('resources[0].name');
    expect(nack.error_detail?.message).toContain('resources[1].ttl');
    expect(h.updates).toHaveLength(2);
  });

  it('reuses resources held from earlier responses of a merged (non state-of-the-world) type', () => {
    const h = thingHarness(false);
    h.respond('v1', 'n1', [A1, B2]);
    h.respond('v2', 'n2', [C3]);
    h.respond('v3', 'n3', [B2, { name: 'c', value: 30 }]);
    expect(h.drain()).toEqual(['a', 'b', 'c', 'c']);
    expect([...h.updates[2]!.resources.keys()]).toEqual(['a', 'b', 'c']);
  });

  it('a field order or value change is a change: only identical wire JSON is reused', () => {
    const h = thingHarness(true);
    h.respond('v1', 'n1', [A1]);
    h.respond('v2', 'n2', [{ value: 1, name: 'a' }]);
    expect(h.drain()).toEqual(['a', 'a']);
  });

  it('reuses real parsed Clusters: an unchanged Cluster keeps its object, a changed one is parsed again', () => {
    const cluster = (name: string, timeout: string) => ({ name, type: 'STATIC', connect_timeout: timeout });
    const h = harness<ClusterWire>(clusterResourceType);
    h.respond('v1', 'n1', [cluster('x', '1s'), cluster('y', '1s')]);
    const [x, y] = [h.updates[0]!.resources.get('x'), h.updates[0]!.resources.get('y')];
    h.respond('v2', 'n2', [cluster('x', '1s'), cluster('y', '2s')]);
    const u = h.updates[1]!;
    expect(u.resources.get('x')).toBe(x);
    expect(u.resources.get('y')).not.toBe(y);
    expect(u.updated.get('y')).toMatchObject({ name: 'y', connect_timeout: 2_000 });
    // An invalid change is still NACKed with its path, however many unchanged resources come with it.
    h.respond('v3', 'n3', [cluster('x', '1s'), cluster('y', 'soon')]);
    expect(h.sub.nextRequest()).toMatchObject({ version_info: 'v2', response_nonce: 'n3', error_detail: { code: 3 } });
    expect(h.sub.nextRequest().error_detail?.message).toMatch(/^resources\[1\]\.connect_timeout: /);
    expect(h.updates).toHaveLength(2);
  });
});

describe('Subscription: NACK and last good set with reuse', () => {
  it('NACKs an invalid changed resource next to unchanged ones; a NACKed resource is validated again when resent', () => {
    const h = thingHarness(true);
    h.respond('v1', 'n1', [A1, B2]);
    h.drain();
    h.respond('v2', 'n2', [A1, { name: 'b', value: 'two' }]);
    expect(h.drain()).toEqual(['b']);
    expect(h.sub.nextRequest()).toEqual({
      version_info: 'v1', node: NODE, resource_names: [], type_url: THING_URL, response_nonce: 'n2',
      error_detail: { code: 3, message: 'resources[1].value: value must be a number' },
    });
    expect(h.sub.status()).toMatchObject({ versionInfo: 'v1', resourceCount: 2, lastNack: { versionInfo: 'v2', nonce: 'n2' } });

    h.respond('v3', 'n3', [A1, { name: 'b', value: 'two' }]);
    expect(h.drain()).toEqual(['b']);
    expect(h.sub.nextRequest()).toMatchObject({ version_info: 'v1', response_nonce: 'n3', error_detail: { code: 3 } });
    expect(h.updates).toHaveLength(1);
  });

  it('NACKs duplicate names even when both copies are unchanged held resources', () => {
    const h = thingHarness(true);
    h.respond('v1', 'n1', [A1, B2]);
    h.drain();
    h.respond('v2', 'n2', [A1, B2, A1]);
    expect(h.drain()).toEqual([]);
    expect(h.sub.nextRequest()).toMatchObject({
      version_info: 'v1', response_nonce: 'n2', error_detail: { code: 3, message: 'resources[2]: duplicate resource name "a" in one response' },
    });
    expect(h.updates).toHaveLength(1);
  });

  it('a response onUpdate rejects is not held: its resources are validated again next time, the last good set stays', () => {
    let calls = 0;
    const h = thingHarness(true, () => (++calls === 2 ? [{ path: 'resources[1]', kind: 'invalid', message: 'cannot apply' }] : []));
    h.respond('v1', 'n1', [A1]);
    h.respond('v2', 'n2', [A1, B2]);
    expect(h.drain()).toEqual(['a', 'b']);
    expect(h.sub.nextRequest()).toMatchObject({ version_info: 'v1', response_nonce: 'n2', error_detail: { message: 'resources[1]: cannot apply' } });

    h.respond('v3', 'n3', [A1, B2]);
    expect(h.drain()).toEqual(['b']);
    expect([...h.updates[2]!.added.keys()]).toEqual(['b']);
    expect(h.sub.nextRequest()).toMatchObject({ version_info: 'v3', response_nonce: 'n3' });
  });

  it('resources dropped by a re-subscription are validated again when they come back', () => {
    const validated: string[] = [];
    const h = harness(thingType(false, validated), { names: ['a', 'b'] });
    h.respond('v1', 'n1', [A1, B2]);
    h.sub.setResourceNames(['b']);
    h.sub.setResourceNames(['a', 'b']);
    h.respond('v2', 'n2', [A1, B2]);
    expect(validated).toEqual(['a', 'b', 'a']);
  });
});

describe('Subscription: re-subscription asks for everything again once the held set changed', () => {
  const merged = (names: string[]) => harness(thingType(false), { names });

  it.each([
    ['a held resource is dropped', ['a', 'b'], [['a']]],
    ['a held resource is dropped and named again before the server answered', ['a', 'b'], [['a'], ['a', 'b']]],
    ['a name neither requested nor held is added', ['a', 'b'], [['a', 'b', 'c']]],
  ])('sends version_info "" (and no error_detail) when %s', (_what, names, changes) => {
    const h = merged(names);
    h.respond('v1', 'n1', [A1, B2]);
    h.respond('v2', 'n2', [{ name: 'a', value: 'bad' }]); // a NACK: error_detail pending
    for (const next of changes) h.sub.setResourceNames(next);
    const request = h.sub.nextRequest();
    expect(request).toMatchObject({ version_info: '', response_nonce: 'n2', resource_names: changes.at(-1) });
    expect(request.error_detail).toBeUndefined();
  });

  it('keeps version_info when nothing held is dropped and no new name is added', () => {
    const h = merged(['a', 'b', 'c']);
    h.respond('v1', 'n1', [A1, B2]);
    h.sub.setResourceNames(['a', 'b']); // c was requested but never held
    h.sub.setResourceNames(['b', 'a']);
    expect(h.sub.nextRequest()).toMatchObject({ version_info: 'v1', response_nonce: 'n1', resource_names: ['b', 'a'] });
  });
});

describe('Subscription: re-subscribing with a server that tracks what the client holds', () => {
  const merged = (names: string[]) => harness(thingType(false), { names });
  it('adds and drops names under the same version; a name added back before the server saw its drop resets it', () => {
    const h = merged(['a', 'b']);
    h.sub.serverTracksHeld(true);
    h.sub.nextRequest();
    h.respond('v1', 'n1', [A1, B2]);
    h.sub.setResourceNames(['a', 'b', 'c']); // a new name: the server answers it under v1
    expect(h.sub.nextRequest()).toMatchObject({ version_info: 'v1', resource_names: ['a', 'b', 'c'] });
    h.sub.setResourceNames(['a', 'c']); // b dropped: the server narrows what it thinks the client holds
    expect(h.sub.nextRequest()).toMatchObject({ version_info: 'v1', resource_names: ['a', 'c'] });
    // b back before any request built after its drop was answered: the server may still think b is held.
    h.sub.setResourceNames(['a', 'b', 'c']);
    expect(h.sub.nextRequest()).toMatchObject({ version_info: '', resource_names: ['a', 'b', 'c'] });

    h.respond('v2', 'n2', [A1, B2, C3]);
    h.sub.setResourceNames(['a', 'c']);
    h.sub.nextRequest();
    h.respond('v2', 'n3', []); // answers the request that dropped b: the server has seen it
    h.sub.setResourceNames(['a', 'b', 'c']);
    expect(h.sub.nextRequest()).toMatchObject({ version_info: 'v2', resource_names: ['a', 'b', 'c'] });
  });

  it('without that (an Envoy management server), a new name resets version_info', () => {
    const h = merged(['a']);
    h.respond('v1', 'n1', [A1]);
    h.sub.setResourceNames(['a', 'b']);
    expect(h.sub.nextRequest()).toMatchObject({ version_info: '' });
  });
});

describe('Subscription: onRejected hears of every NACK', () => {
  const rejectedBy = (respond: (sub: Subscription<Thing>) => void, onUpdate?: UpdateCallback<Thing>): string[][] => {
    const rejections: string[][] = [];
    const sub = new Subscription(thingType(true), [], NODE, onUpdate ?? (() => {}), new FakeClock(), (errors) => {
      rejections.push(errors.map((e) => `${e.path}: ${e.message}`));
    });
    respond(sub);
    expect(sub.nextRequest().error_detail).toBeDefined();
    return rejections;
  };

  it.each<[string, (sub: Subscription<Thing>) => void, RegExp]>([
    ['a malformed body', (sub) => sub.onResponse('{"version_info":'), /not valid JSON|JSON/],
    ['a type_url mismatch', (sub) => sub.onResponse(body('type.googleapis.com/other', 'v1', 'n1', [A1])), /^type_url: type URL mismatch/],
    ['an @type mismatch', (sub) => sub.onResponse(JSON.stringify({ version_info: 'v1', nonce: 'n1', type_url: THING_URL, resources: [{ '@type': 'x', ...A1 }] })), /^resources\[0\]\.@type: /],
    ['an invalid resource', (sub) => sub.onResponse(body(THING_URL, 'v1', 'n1', [{ name: 'a', value: 'x' }])), /^resources\[0\]\.value: /],
    ['duplicate names', (sub) => sub.onResponse(body(THING_URL, 'v1', 'n1', [A1, A1])), /^resources\[1\]: duplicate resource name/],
  ])('%s', (_what, respond, message) => {
    const rejections = rejectedBy(respond);
    expect(rejections).toHaveLength(1);
    expect(rejections[0]![0]).toMatch(message);
  });

  it('errors onUpdate returns, or a throw from it', () => {
    const returned = rejectedBy((sub) => sub.onResponse(body(THING_URL, 'v1', 'n1', [A1])), () => [{ path: 'resources[0]', kind: 'invalid', message: 'no' }]);
    expect(returned).toEqual([['resources[0]: no']]);
    const thrown = rejectedBy((sub) => sub.onResponse(body(THING_URL, 'v1', 'n1', [A1])), () => { throw new Error('boom'); });
    expect(thrown).toEqual([[': update rejected: boom']]);
  });

  it('a throwing onRejected leaves the NACK in place and does not throw into the transport', () => {
    const sub = new Subscription(thingType(true), [], NODE, () => {}, new FakeClock(), () => { throw new Error('oops'); });
    expect(() => sub.onResponse('nonsense')).not.toThrow();
    expect(sub.nextRequest().error_detail).toMatchObject({ code: 3 });
  });
});
