// LDS listener lifecycle edge cases over real sockets (fake clock, no sleeps): shutdown cutting drains
// short, updates that keep the socket applying every new setting, updates that cannot (NACK) or fail to
// bind (listener_create_failure in /config_dump), /healthcheck/fail reaching later listeners, and the
// ListenerManager's own bookkeeping (close during binding, RDS refs when a filter factory throws).

import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import '../../proxy/filters/http/index.ts';
import { createLogger } from '../../proxy/common/logger.ts';
import type { HttpFilterConfig } from '../../proxy/http/hcm-schema.ts';
import { translateListener, type ListenerConfig } from '../../proxy/listener/listener-config.ts';
import { ListenerManager, type RouteConfigProviders } from '../../proxy/listener/listener-manager.ts';
import { ListenerSchema } from '../../proxy/listener/listener-schema.ts';
import { RdsRouteConfigProvider } from '../../proxy/route/rds-route-config.ts';
import { StatsStore } from '../../proxy/stats/store.ts';
import { createClusterManager } from '../../proxy/upstream/cluster-manager.ts';
import { FakeClock, ScriptedRandom } from '../support/fake-clock.ts';
import { send } from '../support/proxy.ts';
import { testScope } from '../support/scope.ts';
import { closedPort } from '../support/upstream.ts';
import { harness, section, type Json } from '../support/xds-harness.ts';
import { assignment, edsCluster, inlineListener, rdsListener } from '../support/xds-resources.ts';
import { eventually } from '../unit/control-client/fake-xds-server.ts';

const scope = testScope();

/** Upstream `echo` answers with the names of the request's x-n-* headers. */
async function echoHarness(listeners: Json[], opts: { drainTimeMs?: number } = {}) {
  const echo = await scope.upstream('echo', (req, res) => res.end(Object.keys(req.headers).filter((k) => k.startsWith('x-n-')).join(',')));
  return harness(scope, {
    clusters: ['c1', [edsCluster('echo')]],
    endpoints: ['e1', [assignment('echo', [echo.port])]],
    listeners: ['l1', listeners],
  }, opts);
}

function headers(n: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-n-${i + 1}`, 'v']));
}

describe('LDS listener updates', () => {
  it('ends drains under way when the proxy shuts down, instead of waiting out their drain time', async () => {
    const held: ServerResponse[] = [];
    const slow = await scope.upstream('slow', (_req, res) => { held.push(res); });
    const h = await harness(scope, {
      clusters: ['c1', [edsCluster('slow')]],
      endpoints: ['e1', [assignment('slow', [slow.port])]],
      listeners: ['l1', [inlineListener('removed', 'slow'), inlineListener('kept', 'slow')]],
    }, { drainTimeMs: 600_000 });
    // One request on a listener LDS removes, one on a connection manager an in-place update replaces.
    const onRemoved = h.get('/', 'removed').then(() => 'answered', () => 'closed');
    const onSwapped = h.get('/', 'kept').then(() => 'answered', () => 'closed');
    await eventually(() => held.length === 2, 'both requests upstream');
    expect(await h.push('listeners', 'l2', [inlineListener('kept', 'slow', 0, { stream_idle_timeout: '0s' })])).toBe('ack');
    await eventually(() => h.gauge('listener_manager.total_listeners_draining') === 2, 'both versions draining');

    let done = false;
    const stopped = h.proxy.shutdown(0).then(() => { done = true; });
    await eventually(() => done, 'shutdown(0) to finish without waiting for the 600 s LDS drains');
    await stopped;
    expect([await onRemoved, await onSwapped]).toEqual(['closed', 'closed']);
    expect(h.gauge('listener_manager.total_listeners_draining')).toBe(0);
  });

  it('keeps the socket (and a port_value 0 port) on an update, applying the new header limits and stat prefix', async () => {
    const h = await echoHarness([inlineListener('outbound', 'echo', 0, { max_request_headers_kb: 1, common_http_protocol_options: { max_headers_count: 4 } })]);
    const port = h.proxy.listenerPort('outbound');
    const big = { 'x-big': 'b'.repeat(2048) };
    expect((await h.get('/', 'outbound', { headers: big })).status).toBe(431);
    expect((await h.get('/', 'outbound', { headers: headers(8) })).status).toBe(431);
    const cxBefore = h.counter('http.outbound.downstream_cx_total');

    const v2 = inlineListener('outbound', 'echo', 0, { stat_prefix: 'outbound_v2', max_request_headers_kb: 8, common_http_protocol_options: { max_headers_count: 20 } });
    expect(await h.push('listeners', 'l2', [v2])).toBe('ack');
    await eventually(() => h.gauge('listener_manager.total_listeners_warming') === 0, 'the update');
    expect(h.proxy.listenerPort('outbound')).toBe(port);
    expect((await h.get('/', 'outbound', { headers: big })).status).toBe(200);
    const many = await h.get('/', 'outbound', { headers: headers(8) });
    expect(many.status).toBe(200);
    expect(many.body).toBe(Object.keys(headers(8)).join(','));
    expect(h.counter('http.outbound_v2.downstream_cx_total')).toBe(2);
    expect(h.counter('http.outbound.downstream_cx_total')).toBe(cxBefore);
  });

  it('NACKs an update that changes enable_reuse_port on the same address, as Envoy does', async () => {
    const h = await echoHarness([inlineListener('outbound', 'echo')]);
    const port = h.proxy.listenerPort('outbound');
    expect(await h.push('listeners', 'l2', [{ ...inlineListener('outbound', 'echo'), enable_reuse_port: false }])).toBe('nack');
    expect(h.cp.nacks('listeners')[0]!.error_detail!.message).toContain('resources[0].enable_reuse_port: Listener outbound: reuse port cannot be changed during an update');
    expect(h.proxy.listenerPort('outbound')).toBe(port);
    expect((await h.get('/')).status).toBe(200);
  });

  it('reports a version that cannot bind as listener_create_failure with its error in /config_dump, the previous one serving', async () => {
    const taken = await scope.upstream('taken');
    const h = await echoHarness([inlineListener('outbound', 'echo')]);
    const moved = inlineListener('outbound', 'echo', taken.port);
    expect(await h.push('listeners', 'l2', [moved])).toBe('ack');
    await eventually(() => h.counter('listener_manager.listener_create_failure') === 1, 'the bind failure');
    expect((await h.get('/')).status).toBe(200);
    const [listener] = section(await h.dump(), 'ListenersConfigDump').dynamic_listeners as Json[];
    expect(listener).toMatchObject({
      name: 'outbound',
      active_state: { version_info: 'l1' },
      error_state: { version_info: 'l2', failed_configuration: moved, details: expect.stringContaining(`cannot bind 127.0.0.1:${taken.port}`) as unknown },
    });
  });

  it('answers with connection: close on listeners added or updated after POST /healthcheck/fail', async () => {
    const h = await echoHarness([inlineListener('outbound', 'echo')]);
    const keepAlive = { headers: { connection: 'keep-alive' } };
    expect((await h.get('/', 'outbound', keepAlive)).headers.connection).toBe('keep-alive');
    expect((await send(h.proxy.adminPort!, '/healthcheck/fail', { method: 'POST' })).status).toBe(200);
    expect((await h.get('/', 'outbound', keepAlive)).headers.connection).toBe('close');
    expect(await h.push('listeners', 'l2', [inlineListener('outbound', 'echo', 0, { stream_idle_timeout: '0s' }), inlineListener('added', 'echo')])).toBe('ack');
    await eventually(() => h.gauge('listener_manager.total_listeners_active') === 2 && h.gauge('listener_manager.total_listeners_warming') === 0, 'the update');
    expect((await h.get('/', 'outbound', keepAlive)).headers.connection).toBe('close');
    expect((await h.get('/', 'added', keepAlive)).headers.connection).toBe('close');
  });
});

describe('ListenerManager', () => {
  function listenerConfig(json: Json): ListenerConfig {
    const wire = ListenerSchema.parse(json);
    const r = translateListener(wire, { path: '', defaultName: 'l', clusterExists: () => true });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.value;
  }

  function manager(routeProviders?: RouteConfigProviders): ListenerManager {
    const stats = new StatsStore();
    const clock = new FakeClock();
    const random = new ScriptedRandom([0]);
    const clusterManager = createClusterManager([], { stats, clock, random });
    return new ListenerManager({ stats, clock, random, logger: createLogger('off'), clusterManager, drainTimeMs: 1_000, ...(routeProviders ? { routeProviders } : {}) });
  }

  it('binds nothing once closed, even when close() comes before the workers bound their listeners', async () => {
    const port = await closedPort();
    const lm = manager();
    lm.addStatic(listenerConfig(inlineListener('main', 'none', port)));
    await lm.whenWarm();
    const started = lm.startWorkers();
    await lm.close();
    await started;
    await expect(send(port, '/')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('releases its RDS route table when building the connection manager throws', () => {
    let refs = 0;
    const lm = manager({
      acquire: () => {
        refs++;
        return { provider: new RdsRouteConfigProvider('routes'), release: () => { refs--; } };
      },
    });
    const config = listenerConfig(rdsListener('outbound', 'routes'));
    const chain = config.filterChains[0]!;
    const throwing: HttpFilterConfig[] = chain.hcm.httpFilters.map((f) => ({ ...f, factory: { ...f.factory, create: () => { throw new Error('filter factory failed'); } } }));
    expect(() => lm.addOrUpdate({ ...config, filterChains: [{ ...chain, hcm: { ...chain.hcm, httpFilters: throwing } }] }, 'v1', {})).toThrow(/filter factory failed/);
    expect(refs).toBe(0);
    expect(lm.entries().warming).toEqual([]);
  });
});
