// NamedWatches (the RDS/EDS subscriptions of the xDS wiring) against a scripted xDS client: watches made in
// one tick share one resource_names update, and a response rejected for one resource still holds the
// resources every handler applied.

import { describe, expect, it } from 'vitest';
import type { XdsClient, XdsWatch } from '../../../control-client/client.ts';
import type { RejectCallback, ResourceUpdate, UpdateCallback } from '../../../control-client/types.ts';
import type { ConfigError } from '../../../proxy/common/result.ts';
import type { ConfigSourceConfig } from '../../../proxy/config/config-source.ts';
import type { ClusterLoadAssignmentWire } from '../../../proxy/upstream/load-assignment-schema.ts';
import type { XdsClientPool } from '../../../proxy/xds/client-pool.ts';
import { NamedWatches } from '../../../proxy/xds/named-watches.ts';
import { clusterLoadAssignmentResourceType } from '../../../proxy/xds/resource-types.ts';
import { TrackedType } from '../../../proxy/xds/tracked-type.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { assignment } from '../../support/xds-resources.ts';

type Cla = ClusterLoadAssignmentWire;

const SOURCE: ConfigSourceConfig = { clusterName: 'xds_cluster', refreshDelayMs: 1_000, requestTimeoutMs: 1_000, initialFetchTimeoutMs: 15_000 };

/** Records what the watches ask of the client, and plays responses into the subscription. */
class ScriptedClient {
  readonly subscribed: string[][] = [];
  readonly resubscribed: string[][] = [];
  private onUpdate: UpdateCallback<Cla> | undefined;
  private onRejected: RejectCallback | undefined;

  asPool(): XdsClientPool {
    const client: Pick<XdsClient, 'subscribe'> = {
      subscribe: <T>(_type: unknown, names: readonly string[], onUpdate: UpdateCallback<T>, onRejected?: RejectCallback): XdsWatch => {
        this.subscribed.push([...names]);
        this.onUpdate = onUpdate as unknown as UpdateCallback<Cla>;
        this.onRejected = onRejected;
        return { setResourceNames: (next) => { this.resubscribed.push([...next]); }, cancel: () => {} };
      },
    };
    return { get: () => client } as unknown as XdsClientPool;
  }

  respond(versionInfo: string, resources: readonly Cla[]): readonly ConfigError[] {
    const added = new Map(resources.map((r) => [r.cluster_name, r] as const));
    const update: ResourceUpdate<Cla> = { versionInfo, added, updated: new Map(), removed: [], resources: added };
    return this.onUpdate!(update) ?? [];
  }

  /** A NACK, as the subscription reports it after rejecting a response. */
  reject(errors: readonly ConfigError[]): void {
    this.onRejected!(errors);
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function setup(): { client: ScriptedClient; watches: NamedWatches<Cla>; tracked: TrackedType<Cla> } {
  const clock = new FakeClock();
  const client = new ScriptedClient();
  const tracked = new TrackedType(clusterLoadAssignmentResourceType, null, clock, 'cluster_name');
  return { client, watches: new NamedWatches(tracked, client.asPool(), clock), tracked };
}

const cla = (name: string): Cla => assignment(name, [8080]) as unknown as Cla;
const ok = (): readonly ConfigError[] => [];

describe('NamedWatches', () => {
  it('sends the resource_names of every watch made in one tick in one request', async () => {
    const { client, watches } = setup();
    for (const name of ['d', 'a', 'c', 'b']) watches.watch(SOURCE, name, ok);
    await tick();
    expect(client.subscribed).toEqual([['a', 'b', 'c', 'd']]);
    expect(client.resubscribed).toEqual([]);

    // A CDS response adding two EDS clusters and removing one: one re-subscription.
    const c = watches.watch(SOURCE, 'e', ok);
    watches.watch(SOURCE, 'f', ok);
    c.cancel();
    await tick();
    expect(client.resubscribed).toEqual([['a', 'b', 'c', 'd', 'f']]);
  });

  it('holds the resources every handler applied when another resource of the response is rejected', async () => {
    const { client, watches } = setup();
    watches.watch(SOURCE, 'good', ok);
    watches.watch(SOURCE, 'bad', () => [{ path: 'endpoints', kind: 'invalid', message: 'rejected' }]);
    await tick();
    expect(client.respond('v1', [cla('good'), cla('bad')])).toHaveLength(1);

    const seen: Cla[] = [];
    watches.watch(SOURCE, 'good', (r) => { seen.push(r); return []; });
    expect(seen).toEqual([cla('good')]);
    expect(watches.held().map((h) => [h.name, h.versionInfo])).toEqual([['good', 'v1']]);
  });

  it('tells the watchers of the resources a NACK implicates, and every watcher when the body could not be read', async () => {
    const { client, watches, tracked } = setup();
    const told: string[] = [];
    for (const name of ['a', 'b', 'c']) watches.watch(SOURCE, name, ok, () => told.push(name));
    await tick();

    // A response the subscription validated (so its resources are known) and rejected for its second resource.
    tracked.type.validate([cla('a'), cla('b')]);
    client.reject([{ path: 'resources[1].endpoints', kind: 'invalid', message: 'bad' }]);
    expect(told).toEqual(['b']);
    expect([...tracked.lastRejected()!.resources.keys()]).toEqual(['b']);

    // A handler's errors implicate its own resource.
    told.length = 0;
    watches.watch(SOURCE, 'd', () => [{ path: 'endpoints', kind: 'invalid', message: 'rejected' }], () => told.push('d'));
    await tick();
    tracked.type.validate([cla('a'), cla('d')]);
    const errors = client.respond('v2', [cla('a'), cla('d')]);
    expect(errors).toEqual([{ path: 'resources[1].endpoints', kind: 'invalid', message: 'rejected' }]);
    client.reject(errors);
    expect(told).toEqual(['d']);

    // A body rejected before validation (malformed, another type): every watched name.
    told.length = 0;
    client.reject([{ path: 'type_url', kind: 'invalid', message: 'type URL mismatch' }]);
    expect(told.sort()).toEqual(['a', 'b', 'c', 'd']);
  });
});
