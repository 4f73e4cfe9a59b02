// Server init from dynamic resources, as Envoy's init manager: the admin server answers /ready 503
// INITIALIZING until CDS (+EDS) and LDS (+RDS) are in or their initial_fetch_timeout elapsed (fake clock);
// an unreachable or restarted control plane never blocks the proxy nor takes its last good config away.

import { describe, expect, it } from 'vitest';
import type { Server } from '../../proxy/server/server.ts';
import { FakeClock, ScriptedRandom } from '../support/fake-clock.ts';
import { send } from '../support/proxy.ts';
import { testScope } from '../support/scope.ts';
import { closedPort } from '../support/upstream.ts';
import { ManagementServer } from '../support/xds-management-server.ts';
import { assignment, createServer, dynamicBootstrap, edsCluster, inlineListener, rdsListener, routeConfiguration } from '../support/xds-resources.ts';
import { eventually } from '../unit/control-client/fake-xds-server.ts';

const scope = testScope();

type Json = Record<string, unknown>;

function create(bootstrap: Json, clock: FakeClock): Server {
  const proxy = createServer(bootstrap, { clock, random: new ScriptedRandom([0]) });
  scope.defer(() => proxy.close());
  return proxy;
}

async function ready(proxy: Server): Promise<{ status: number; body: string }> {
  await eventually(() => proxy.adminPort !== undefined, 'the admin server');
  const { status, body } = await send(proxy.adminPort!, '/ready');
  return { status, body };
}

/** Settles `p` or reports that it is still pending after the event loop ran a while (real I/O only). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => { done = true; }, () => { done = true; });
  await eventually(() => done, 'settle', 300).catch(() => {});
  return done;
}

describe('server init with dynamic resources', () => {
  it('answers /ready 503 INITIALIZING while the control plane is unreachable, and goes LIVE after initial_fetch_timeout', async () => {
    const clock = new FakeClock();
    const proxy = create(dynamicBootstrap(await closedPort()), clock);
    const started = proxy.start();
    expect(await ready(proxy)).toEqual({ status: 503, body: 'INITIALIZING\n' });
    expect(await settled(started)).toBe(false);

    // CDS waits its 15 s initial_fetch_timeout, then LDS its own.
    clock.advance(15_000);
    expect(await settled(started)).toBe(false);
    expect((await ready(proxy)).status).toBe(503);
    clock.advance(15_000);
    expect(await settled(started)).toBe(true);
    expect(await ready(proxy)).toEqual({ status: 200, body: 'LIVE\n' });
    expect(proxy.serverState).toBe('LIVE');
  });

  it('honours initial_fetch_timeout: a cluster whose endpoints never come stops warming after it', async () => {
    const cp = await ManagementServer.start();
    scope.defer(() => cp.stop());
    cp.set('clusters', 'c1', [edsCluster('web')]);
    cp.set('endpoints', 'e1', []);
    cp.set('listeners', 'l1', [inlineListener('outbound', 'web')]);
    const clock = new FakeClock();
    const proxy = create(dynamicBootstrap(cp.port), clock);
    const started = proxy.start();
    await eventually(() => cp.count('endpoints') > 0, 'the EDS request');
    expect(await settled(started)).toBe(false);
    expect(proxy.stats.gauges.get('cluster_manager.warming_clusters')?.value()).toBe(1);
    expect(cp.count('listeners')).toBe(0); // LDS starts only once CDS (and its EDS) are warm

    clock.advance(14_999);
    expect(await settled(started)).toBe(false);
    clock.advance(1);
    expect(await settled(started)).toBe(true);
    expect((await ready(proxy)).status).toBe(200);
    // The cluster serves without endpoints: no healthy upstream.
    const r = await send(proxy.listenerPort('outbound'), '/');
    expect(r.status).toBe(503);
    expect(r.body).toBe('no healthy upstream');
  });

  it('a first response the client itself rejects ends warming, as Envoy\'s onConfigUpdateFailed: CDS, RDS and EDS', async () => {
    const cp = await ManagementServer.start();
    scope.defer(() => cp.stop());
    // Duplicate names: NACKed by the subscription before any resource reaches the managers.
    cp.set('clusters', 'c1', [edsCluster('web'), edsCluster('web')]);
    cp.set('endpoints', 'e1', [assignment('web', [1]), assignment('web', [2])]);
    cp.set('listeners', 'l1', [rdsListener('outbound', 'outbound_http')]);
    cp.set('routes', 'r1', [routeConfiguration('outbound_http', 'web'), routeConfiguration('outbound_http', 'web')]);
    const clock = new FakeClock();
    const proxy = create(dynamicBootstrap(cp.port), clock);
    const counter = (name: string): number | undefined => proxy.stats.counters.get(name)?.v;
    const gauge = (name: string): number | undefined => proxy.stats.gauges.get(name)?.value();
    // No initial_fetch_timeout elapses: the rejected CDS response ends the CDS first fetch, the rejected RDS one
    // ends the listener's warming (with the null route table).
    expect(await settled(proxy.start())).toBe(true);
    expect(await ready(proxy)).toEqual({ status: 200, body: 'LIVE\n' });
    expect(counter('cluster_manager.cds.update_rejected')).toBe(1);
    expect(counter('http.outbound.rds.outbound_http.update_rejected')).toBe(1);
    expect((await send(proxy.listenerPort('outbound'), '/')).status).toBe(404);

    // A CDS cluster whose first EDS response is rejected ends warming without endpoints.
    cp.set('clusters', 'c2', [edsCluster('web')]);
    clock.advance(1_000);
    await eventually(() => cp.count('endpoints') > 0, 'the EDS request');
    // Active: xds_cluster and web.
    await eventually(() => gauge('cluster_manager.active_clusters') === 2 && gauge('cluster_manager.warming_clusters') === 0, 'the EDS cluster to warm');
  });

  it('keeps serving while the control plane is down, and applies new config once it is back', async () => {
    const v1 = await scope.upstream('v1');
    const v2 = await scope.upstream('v2');
    const cp = await ManagementServer.start();
    scope.defer(() => cp.stop());
    cp.set('clusters', 'c1', [edsCluster('web')]);
    cp.set('endpoints', 'e1', [assignment('web', [v1.port])]);
    cp.set('listeners', 'l1', [rdsListener('outbound', 'outbound_http')]);
    cp.set('routes', 'r1', [routeConfiguration('outbound_http', 'web')]);
    const clock = new FakeClock();
    const proxy = create(dynamicBootstrap(cp.port), clock);
    await proxy.start();
    const get = (): Promise<string> => send(proxy.listenerPort('outbound'), '/').then((r) => r.body);
    expect(await get()).toBe('v1');

    await cp.stop();
    const failuresBefore = cp.received.length;
    // Several polls fail (refused) and back off; the last good config keeps serving.
    for (let i = 0; i < 5; i++) clock.advance(1_000);
    await eventually(() => true, 'polls');
    expect(await get()).toBe('v1');
    expect(cp.received.length).toBe(failuresBefore);

    cp.set('endpoints', 'e2', [assignment('web', [v2.port])]);
    await cp.restart();
    // Back-off (random 0) retries at the next clock step; the restarted server sends e2.
    for (let i = 0; i < 20 && (await get()) !== 'v2'; i++) {
      clock.advance(1_000);
      await eventually(() => cp.received.length > failuresBefore, 'a poll after the restart', 300).catch(() => {});
    }
    expect(await get()).toBe('v2');
  });

  it('ends a pending init when the proxy is closed', async () => {
    const clock = new FakeClock();
    const proxy = create(dynamicBootstrap(await closedPort()), clock);
    const started = proxy.start();
    await ready(proxy);
    await proxy.close();
    expect(await settled(started)).toBe(true);
    expect(clock.pendingTimers()).toBeLessThanOrEqual(1); // at most the abandoned initial-fetch timer
  });
});
