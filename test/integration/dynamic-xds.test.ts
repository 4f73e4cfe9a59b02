// The proxy running from dynamic xDS config over real sockets: CDS/EDS/LDS/RDS from a REST management
// server, traffic through dynamic listeners to EDS clusters, updates and removals (with in-flight requests
// finishing), warming, NACKs keeping the last good config, and /config_dump's dynamic sections.
// Polls are driven by a fake clock; only real I/O is awaited.

import { describe, expect, it } from 'vitest';
import type { ServerResponse } from 'node:http';
import { send } from '../support/proxy.ts';
import { testScope } from '../support/scope.ts';
import { harness, section, type Json } from '../support/xds-harness.ts';
import { assignment, edsCluster, inlineListener, rdsListener, restSource, routeConfiguration } from '../support/xds-resources.ts';
import { eventually } from '../unit/control-client/fake-xds-server.ts';

const scope = testScope();

describe('a proxy configured by LDS/RDS/CDS/EDS', () => {
  it('serves a dynamic listener routing to an EDS cluster, shows it in /clusters, /config_dump and stats', async () => {
    const web = await scope.upstream('web-v1');
    const h = await harness(scope, {
      clusters: ['c1', [edsCluster('web')]],
      endpoints: ['e1', [assignment('web', [web.port])]],
      listeners: ['l1', [rdsListener('outbound', 'outbound_http')]],
      routes: ['r1', [routeConfiguration('outbound_http', 'web')]],
    });
    expect(h.proxy.serverState).toBe('LIVE');
    const r = await h.get('/');
    expect(r.status).toBe(200);
    expect(r.body).toBe('web-v1');

    expect(h.counter('cluster_manager.cds.update_success')).toBe(1);
    expect(h.counter('listener_manager.lds.update_success')).toBe(1);
    expect(h.counter('cluster_manager.cluster_added')).toBe(2); // xds_cluster + web
    expect(h.gauge('cluster_manager.active_clusters')).toBe(2);
    expect(h.gauge('cluster_manager.warming_clusters')).toBe(0);
    expect(h.gauge('listener_manager.total_listeners_active')).toBe(1);
    expect(h.counter('listener_manager.listener_added')).toBe(1);
    expect(h.counter('http.outbound.rds.outbound_http.config_reload')).toBe(1);
    expect(h.gauge('cluster_manager.cds.version')).not.toBe(0);

    const clusters = (await send(h.proxy.adminPort!, '/clusters')).body;
    expect(clusters).toContain('web::added_via_api::true');
    expect(clusters).toContain('xds_cluster::added_via_api::false');
    expect(clusters).toContain('web::eds_service_name::web');
    expect(clusters).toContain(`web::127.0.0.1:${web.port}::health_flags::healthy`);

    const configs = await h.dump('?include_eds');
    expect(configs.map((c) => String(c['@type']).split('.').at(-1))).toEqual([
      'BootstrapConfigDump', 'ClustersConfigDump', 'EndpointsConfigDump', 'ListenersConfigDump', 'RoutesConfigDump', 'SecretsConfigDump',
    ]);
    const cds = section(configs, 'ClustersConfigDump');
    expect(cds.version_info).toBe('c1');
    expect((cds.static_clusters as Json[]).map((c) => (c.cluster as Json).name)).toEqual(['xds_cluster']);
    expect(cds.dynamic_active_clusters).toEqual([{
      version_info: 'c1', last_updated: expect.any(String) as unknown,
      cluster: { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', ...edsCluster('web') },
    }]);
    expect(cds.dynamic_warming_clusters).toEqual([]);
    const lds = section(configs, 'ListenersConfigDump');
    expect(lds.version_info).toBe('l1');
    expect(lds.dynamic_listeners).toEqual([{
      name: 'outbound',
      active_state: {
        version_info: 'l1', last_updated: expect.any(String) as unknown,
        listener: { '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', ...rdsListener('outbound', 'outbound_http') },
      },
    }]);
    expect(section(configs, 'RoutesConfigDump').dynamic_route_configs).toEqual([{
      version_info: 'r1', last_updated: expect.any(String) as unknown,
      route_config: { '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', ...routeConfiguration('outbound_http', 'web') },
    }]);
    expect(section(configs, 'EndpointsConfigDump').dynamic_endpoint_configs).toEqual([{
      version_info: 'e1', last_updated: expect.any(String) as unknown,
      endpoint_config: { '@type': 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment', ...assignment('web', [web.port]) },
    }]);
    // Without ?include_eds, as Envoy: no EndpointsConfigDump.
    expect((await h.dump()).some((c) => String(c['@type']).endsWith('EndpointsConfigDump'))).toBe(false);
  });

  it('shifts traffic when EDS endpoints change, and sends RDS route changes to new requests', async () => {
    const v1 = await scope.upstream('v1');
    const v2 = await scope.upstream('v2');
    const h = await harness(scope, {
      clusters: ['c1', [edsCluster('web'), edsCluster('other')]],
      endpoints: ['e1', [assignment('web', [v1.port]), assignment('other', [v2.port])]],
      listeners: ['l1', [rdsListener('outbound', 'outbound_http')]],
      routes: ['r1', [routeConfiguration('outbound_http', 'web')]],
    });
    expect((await h.get('/')).body).toBe('v1');

    expect(await h.push('endpoints', 'e2', [assignment('web', [v2.port]), assignment('other', [v2.port])])).toBe('ack');
    expect((await h.get('/')).body).toBe('v2');

    await h.push('endpoints', 'e3', [assignment('web', [v1.port]), assignment('other', [v2.port])]);
    expect(await h.push('routes', 'r2', [routeConfiguration('outbound_http', 'other')])).toBe('ack');
    expect((await h.get('/')).body).toBe('v2');
    expect(h.counter('http.outbound.rds.outbound_http.config_reload')).toBe(2);
  });

  it('adds, updates and removes clusters by CDS; a removed cluster answers 503 NC once in-flight requests finished', async () => {
    let hold: ServerResponse | undefined;
    const slow = await scope.upstream('slow', (_req, res) => { hold = res; });
    const h = await harness(scope, {
      clusters: ['c1', [edsCluster('web')]],
      endpoints: ['e1', [assignment('web', [slow.port])]],
      listeners: ['l1', [rdsListener('outbound', 'outbound_http')]],
      routes: ['r1', [routeConfiguration('outbound_http', 'web')]],
    });
    const inFlight = h.get('/');
    await eventually(() => hold !== undefined, 'the request to reach the upstream');

    expect(await h.push('clusters', 'c2', [])).toBe('ack');
    expect(h.counter('cluster_manager.cluster_removed')).toBe(1);
    expect(h.proxy.clusterManager.get('web')).toBeUndefined();
    // The request already routed to the removed cluster completes on its draining pool.
    hold!.end('finished');
    expect((await inFlight).body).toBe('finished');
    const after = await h.get('/');
    expect(after.status).toBe(503);
    expect(after.headers['x-envoy-upstream-service-time']).toBeUndefined();
    expect(h.counter('cluster.web.upstream_cx_active')).toBe(0);
    // The EDS subscription no longer names the removed cluster.
    await h.push('clusters', 'c3', [edsCluster('web', { connect_timeout: '2s' })]);
    await eventually(() => h.proxy.clusterManager.get('web') !== undefined, 'web to come back');
    expect(h.counter('cluster_manager.cluster_added')).toBe(3);
    hold = undefined;
    const again = h.get('/');
    await eventually(() => hold !== undefined, 'a request to the re-added cluster');
    hold!.end('again');
    expect((await again).body).toBe('again');
  });

  it('keeps a CDS cluster warming until its endpoints arrive, and a listener off until its routes arrive', async () => {
    const web = await scope.upstream('web');
    const h = await harness(scope, {
      clusters: ['c1', []],
      listeners: ['l1', []],
    });
    // A cluster whose ClusterLoadAssignment does not exist yet stays warming.
    await h.push('clusters', 'c2', [edsCluster('web')]);
    await eventually(() => h.cp.count('endpoints') > 0, 'the EDS request');
    expect(h.gauge('cluster_manager.warming_clusters')).toBe(1);
    expect(h.proxy.clusterManager.get('web')).toBeUndefined();
    const warmingDump = section(await h.dump(), 'ClustersConfigDump');
    expect((warmingDump.dynamic_warming_clusters as Json[]).map((c) => (c.cluster as Json).name)).toEqual(['web']);

    await h.push('endpoints', 'e1', [assignment('web', [web.port])]);
    await eventually(() => h.proxy.clusterManager.get('web') !== undefined, 'web to warm');
    expect(h.gauge('cluster_manager.warming_clusters')).toBe(0);

    // A listener whose RouteConfiguration has not arrived does not accept connections.
    await h.push('listeners', 'l2', [rdsListener('outbound', 'outbound_http')]);
    await eventually(() => h.cp.count('routes') > 0, 'the RDS request');
    expect(h.gauge('listener_manager.total_listeners_warming')).toBe(1);
    expect(() => h.proxy.listenerPort('outbound')).toThrow(/no listener named outbound/);
    const listeners = section(await h.dump(), 'ListenersConfigDump').dynamic_listeners as Json[];
    expect(listeners.map((l) => Object.keys(l).sort())).toEqual([['name', 'warming_state']]);

    await h.push('routes', 'r1', [routeConfiguration('outbound_http', 'web')]);
    await eventually(() => h.gauge('listener_manager.total_listeners_active') === 1, 'the listener to warm');
    expect((await h.get('/')).body).toBe('web');
  });

  it('NACKs an invalid update with every error, keeps serving the last good config and shows the NACK in /config_dump', async () => {
    const web = await scope.upstream('web');
    const h = await harness(scope, {
      clusters: ['c1', [edsCluster('web')]],
      endpoints: ['e1', [assignment('web', [web.port])]],
      listeners: ['l1', [rdsListener('outbound', 'outbound_http')]],
      routes: ['r1', [routeConfiguration('outbound_http', 'web')]],
    });
    // A bad field in one cluster, and a cluster taking the static xds_cluster's name.
    const bad = [edsCluster('web', { connect_timeout: 'soon' }), { ...edsCluster('xds_cluster') }];
    expect(await h.push('clusters', 'c2', bad)).toBe('nack');
    const nack = h.cp.nacks('clusters')[0]!;
    expect(nack.version_info).toBe('c1');
    expect(nack.error_detail!.message).toContain('resources[0].connect_timeout');
    expect(h.counter('cluster_manager.cds.update_rejected')).toBe(1);
    expect((await h.get('/')).body).toBe('web');

    const cds = section(await h.dump(), 'ClustersConfigDump');
    expect(cds.version_info).toBe('c1');
    const active = cds.dynamic_active_clusters as Json[];
    expect(active[0]).toMatchObject({ version_info: 'c1', cluster: { name: 'web', connect_timeout: '1s' } });
    expect(active[0]!.error_state).toEqual({
      failed_configuration: { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', ...bad[0] },
      last_update_attempt: expect.any(String) as unknown,
      details: nack.error_detail!.message,
      version_info: 'c2',
    });

    // A cross-check the schema cannot make (a static cluster's name) is a NACK too.
    expect(await h.push('clusters', 'c3', [edsCluster('web'), edsCluster('xds_cluster')])).toBe('nack');
    expect(h.cp.nacks('clusters').at(-1)!.error_detail!.message).toMatch(/resources\[1\]\.name: .*static cluster of that name exists/);

    // A listener update that is invalid is NACKed; the old listener keeps serving.
    expect(await h.push('listeners', 'l2', [{ ...rdsListener('outbound', 'outbound_http'), bogus: 1 }])).toBe('nack');
    expect((await h.get('/')).body).toBe('web');
    const lds = section(await h.dump(), 'ListenersConfigDump');
    expect(lds.version_info).toBe('l1');
    expect((lds.dynamic_listeners as Json[])[0]).toMatchObject({ name: 'outbound', active_state: { version_info: 'l1' }, error_state: { version_info: 'l2' } });

    // RDS and EDS NACK per resource too; the route table and endpoints in force stay.
    expect(await h.push('routes', 'r2', [{ ...routeConfiguration('outbound_http', 'web'), virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: {}, route: { cluster: 'web' } }] }] }])).toBe('nack');
    const hostname = { cluster_name: 'web', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'web.example', port_value: 80 } } } }] }] };
    expect(await h.push('endpoints', 'e2', [hostname])).toBe('nack');
    expect(h.cp.nacks('endpoints').at(-1)!.error_detail!.message).toContain('resources[0].endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address: ClusterLoadAssignment "web": malformed IP address "web.example"');
    expect((await h.get('/')).body).toBe('web');
    const routes = section(await h.dump(), 'RoutesConfigDump').dynamic_route_configs as Json[];
    expect(routes).toMatchObject([{ version_info: 'r1', error_state: { version_info: 'r2' } }]);
    // Envoy counts every rejected RDS response in the table's subscription stats, the schema's rejections too.
    expect(h.counter('http.outbound.rds.outbound_http.update_rejected')).toBe(1);

    // Fixing it clears the error state.
    expect(await h.push('clusters', 'c4', [edsCluster('web')])).toBe('ack');
    expect((section(await h.dump(), 'ClustersConfigDump').dynamic_active_clusters as Json[])[0]!.error_state).toBeUndefined();
  });

  it('updates a listener in place (same socket, new routes for new requests) and removes it (stops accepting)', async () => {
    const a = await scope.upstream('a');
    const b = await scope.upstream('b');
    const h = await harness(scope, {
      clusters: ['c1', [edsCluster('a'), edsCluster('b')]],
      endpoints: ['e1', [assignment('a', [a.port]), assignment('b', [b.port])]],
      listeners: ['l1', [inlineListener('outbound', 'a')]],
    });
    const port = h.proxy.listenerPort('outbound');
    expect((await h.get('/')).body).toBe('a');

    expect(await h.push('listeners', 'l2', [inlineListener('outbound', 'b')])).toBe('ack');
    expect(h.counter('listener_manager.listener_modified')).toBe(1);
    await eventually(() => h.gauge('listener_manager.total_listeners_warming') === 0, 'the update to warm');
    expect(h.proxy.listenerPort('outbound')).toBe(port);
    expect((await h.get('/')).body).toBe('b');

    await h.push('listeners', 'l3', []);
    await eventually(() => h.counter('listener_manager.listener_removed') === 1, 'the listener removal');
    await expect(send(port, '/')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('lets requests in flight finish when their listener is updated or removed, answering them with connection: close', async () => {
    const held: ServerResponse[] = [];
    const slow = await scope.upstream('slow', (_req, res) => { held.push(res); });
    const fast = await scope.upstream('fast');
    const h = await harness(scope, {
      clusters: ['c1', [edsCluster('slow'), edsCluster('fast')]],
      endpoints: ['e1', [assignment('slow', [slow.port]), assignment('fast', [fast.port])]],
      listeners: ['l1', [inlineListener('outbound', 'slow')]],
    });
    const port = h.proxy.listenerPort('outbound');
    const beforeUpdate = h.get('/');
    await eventually(() => held.length === 1, 'the first request upstream');

    // Update in place: the in-flight request stays on the old connection manager.
    expect(await h.push('listeners', 'l2', [inlineListener('outbound', 'fast')])).toBe('ack');
    await eventually(() => h.gauge('listener_manager.total_listeners_warming') === 0, 'the update to warm');
    expect((await h.get('/')).body).toBe('fast');
    expect(h.gauge('listener_manager.total_listeners_draining')).toBe(1);
    held[0]!.end('old');
    const first = await beforeUpdate;
    expect(first.body).toBe('old');
    expect(first.headers.connection).toBe('close');
    await eventually(() => h.gauge('listener_manager.total_listeners_draining') === 0, 'the old connection manager to drain');

    // Removal: no new connections; the request in flight finishes within the drain time.
    expect(await h.push('listeners', 'l3', [inlineListener('outbound', 'slow')])).toBe('ack');
    await eventually(() => h.gauge('listener_manager.total_listeners_warming') === 0, 'the second update to warm');
    const beforeRemoval = h.get('/');
    await eventually(() => held.length === 2, 'the second request upstream');
    expect(await h.push('listeners', 'l4', [])).toBe('ack');
    expect(h.gauge('listener_manager.total_listeners_draining')).toBe(1);
    await expect(send(port, '/')).rejects.toThrow(/ECONNREFUSED/);
    held[1]!.end('drained');
    const second = await beforeRemoval;
    expect(second.body).toBe('drained');
    expect(second.headers.connection).toBe('close');
    await eventually(() => h.gauge('listener_manager.total_listeners_draining') === 0, 'the removed listener to close');
  });
});

describe('dynamic resources across updates', () => {
  const initial = (port: number): Parameters<typeof harness>[1] => ({
    clusters: ['c1', [edsCluster('web')]],
    endpoints: ['e1', [assignment('web', [port])]],
    listeners: ['l1', [rdsListener('outbound', 'outbound_http')]],
    routes: ['r1', [routeConfiguration('outbound_http', 'web')]],
  });

  it('counts each RDS update once however many times the listener using the route table was updated', async () => {
    const web = await scope.upstream('web');
    const h = await harness(scope, initial(web.port));
    for (const [version, limit] of [['l2', 2048], ['l3', 4096]] as const) {
      expect(await h.push('listeners', version, [{ ...rdsListener('outbound', 'outbound_http'), per_connection_buffer_limit_bytes: limit }])).toBe('ack');
      await eventually(() => h.gauge('listener_manager.total_listeners_warming') === 0 && h.gauge('listener_manager.total_listeners_draining') === 0, `${version} to replace the previous version`);
    }
    expect(await h.push('routes', 'r2', [{ ...routeConfiguration('outbound_http', 'web'), validate_clusters: false }])).toBe('ack');
    expect(h.counter('http.outbound.rds.outbound_http.config_reload')).toBe(2);
    expect(h.counter('http.outbound.rds.outbound_http.update_success')).toBe(2);
    expect((await h.get('/')).body).toBe('web');
  });

  it('shows the active and the warming version of a cluster and of a listener in /config_dump, each with its own config', async () => {
    const web = await scope.upstream('web');
    const h = await harness(scope, initial(web.port));
    // Versions that stay warming: no ClusterLoadAssignment `web-v2`, no RouteConfiguration `other_routes`.
    const clusterV2 = edsCluster('web', { eds_cluster_config: { eds_config: restSource(), service_name: 'web-v2' } });
    const listenerV2 = rdsListener('outbound', 'other_routes');
    expect(await h.push('clusters', 'c2', [clusterV2])).toBe('ack');
    expect(await h.push('listeners', 'l2', [listenerV2])).toBe('ack');
    await eventually(() => h.gauge('cluster_manager.warming_clusters') === 1 && h.gauge('listener_manager.total_listeners_warming') === 1, 'both to warm');

    const configs = await h.dump();
    const cds = section(configs, 'ClustersConfigDump');
    expect(cds.dynamic_active_clusters).toMatchObject([{ version_info: 'c1', cluster: edsCluster('web') }]);
    expect(cds.dynamic_warming_clusters).toMatchObject([{ version_info: 'c2', cluster: clusterV2 }]);
    expect(section(configs, 'ListenersConfigDump').dynamic_listeners).toMatchObject([{
      name: 'outbound',
      active_state: { version_info: 'l1', listener: rdsListener('outbound', 'outbound_http') },
      warming_state: { version_info: 'l2', listener: listenerV2 },
    }]);
  });
});
