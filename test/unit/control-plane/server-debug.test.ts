// The debug pages next to xDS: /debug/config_dump?proxy=ID in Envoy's config_dump shape, /debug/config_errors,
// /ready, and their errors.

import { afterEach, describe, expect, it } from 'vitest';
import { startXdsServer, type XdsServer } from '../../../control-plane/server/xds-server.ts';
import { XDS_TYPES } from '../../../control-plane/xds/snapshot.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { cla, cluster, discover, EMPTY, FakeMesh, getJson, node } from './server-fake-mesh.ts';

const servers: XdsServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function setup() {
  const mesh = new FakeMesh();
  mesh.set((identity) => ({
    listeners: [{ name: `virtualOutbound-${identity.namespace}` }],
    routes: [{ name: 'outbound_http' }],
    clusters: [cluster('a')],
    endpoints: [cla('a', 1)],
  }));
  const server = await startXdsServer({ host: '127.0.0.1', port: 0, clock: new FakeClock(), source: mesh });
  servers.push(server);
  return { mesh, server };
}

describe('debug endpoints', () => {
  it('/debug/config_dump?proxy=ID shows that proxy\'s snapshot as Envoy\'s admin config_dump would', async () => {
    const t = await setup();
    await discover(t.server.url, 'clusters', { node: node('p1', 'shop') });
    const dump = await getJson(`${t.server.url}/debug/config_dump?proxy=p1`);
    expect(dump.status).toBe(200);
    const [clusters, endpoints, listeners, routes] = dump.body.configs;
    expect(clusters).toEqual({
      '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump', version_info: expect.any(String),
      dynamic_active_clusters: [{ version_info: clusters.version_info, cluster: { '@type': XDS_TYPES.clusters, ...cluster('a') } }],
    });
    expect(endpoints.dynamic_endpoint_configs[0].endpoint_config.cluster_name).toBe('a');
    expect(listeners.dynamic_listeners[0]).toMatchObject({ name: 'virtualOutbound-shop', active_state: { listener: { '@type': XDS_TYPES.listeners } } });
    expect(routes.dynamic_route_configs[0].route_config).toEqual({ '@type': XDS_TYPES.routes, name: 'outbound_http' });
    // istiod's parameter name works too.
    expect((await getJson(`${t.server.url}/debug/config_dump?proxyID=p1`)).body).toEqual(dump.body);
  });

  it.each([
    ['/debug/config_dump', 400, /needs \?proxy=/],
    ['/debug/config_dump?proxy=ghost', 404, /no proxy "ghost"/],
  ])('%s answers %d', async (path, status, message) => {
    const t = await setup();
    const r = await getJson(`${t.server.url}${path}`);
    expect(r.status).toBe(status);
    expect(r.body).toMatch(message);
  });

  it('/debug/config_errors lists every error and warning with its severity and one-line form', async () => {
    const t = await setup();
    t.mesh.errors = [
      { file: 'mesh/vs.yaml', document: 1, line: 7, resource: { kind: 'VirtualService', namespace: 'default', name: 'reviews' }, path: 'spec.http[0].timeout', kind: 'invalid', message: 'bad duration' },
      { resource: { kind: 'VirtualService', namespace: 'default', name: 'reviews-b' }, path: 'spec.hosts[0]', kind: 'invalid', message: 'host conflict', severity: 'error' },
      { file: 'mesh/vs.yaml', document: 2, line: 9, resource: { kind: 'VirtualService', namespace: 'default', name: 'ratings' }, path: 'spec.hosts[0]', kind: 'invalid', message: 'no ServiceEntry', severity: 'warning' },
      { resource: { kind: 'DestinationRule', namespace: 'default', name: 'ratings' }, path: 'spec.host', kind: 'invalid', message: 'no ServiceEntry', severity: 'warning' },
    ];
    const r = await getJson(`${t.server.url}/debug/config_errors`);
    expect(r.body).toMatchObject({ generation: 1, count: 4, error_count: 2, warning_count: 2 });
    expect(r.body.errors.map((e: { severity: string; text: string }) => [e.severity, e.text])).toEqual([
      ['error', 'mesh/vs.yaml[1]:7 VirtualService default/reviews: spec.http[0].timeout: bad duration'],
      ['error', 'VirtualService default/reviews-b: spec.hosts[0]: host conflict'],
      ['warning', 'mesh/vs.yaml[2]:9 VirtualService default/ratings: warning: spec.hosts[0]: no ServiceEntry'],
      ['warning', 'DestinationRule default/ratings: warning: spec.host: no ServiceEntry'],
    ]);
  });

  it('/ready is 503 until the configuration is loaded, then 200', async () => {
    const t = await setup();
    t.mesh.isReady = false;
    expect((await fetch(`${t.server.url}/ready`)).status).toBe(503);
    t.mesh.isReady = true;
    const r = await fetch(`${t.server.url}/ready`);
    expect([r.status, await r.text()]).toEqual([200, 'LIVE\n']);
  });
});
