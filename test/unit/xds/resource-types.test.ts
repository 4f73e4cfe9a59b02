// The proxy's xDS resource types (proxy/xds/resource-types.ts): Envoy's type URLs and REST paths, valid
// Listener/Cluster/RouteConfiguration/ClusterLoadAssignment resources accepted, invalid ones rejected with
// every error under `resources[i]`, and a Cluster list ACKed/NACKed end to end over REST with a FakeClock.

import { afterEach, describe, expect, it } from 'vitest';
import { createXdsClient } from '../../../control-client/client.ts';
import { createRestTransport } from '../../../control-client/rest-transport.ts';
import type { ResourceType, ResourceUpdate } from '../../../control-client/types.ts';
import type { ConfigError } from '../../../proxy/common/result.ts';
import type { ClusterWire } from '../../../proxy/upstream/cluster-schema.ts';
import {
  clusterLoadAssignmentResourceType, clusterResourceType, listenerResourceType, routeConfigurationResourceType,
} from '../../../proxy/xds/resource-types.ts';
import { ScriptedRandom } from '../../support/fake-clock.ts';
import { eventually, FakeXdsServer, RecordingClock } from '../control-client/fake-xds-server.ts';

type Json = Record<string, unknown>;

const HCM_URL = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER_URL = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const CLUSTER_URL = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
const HCM = 'filter_chains[0].filters[0].typed_config';

const routeConfig = (name: string | undefined): Json => ({
  name, virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] }],
});

function listener(name: string | undefined, routeSpecifier: Json = { route_config: routeConfig('local') }): Json {
  const hcm = { '@type': HCM_URL, stat_prefix: 'ingress', http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_URL } }], ...routeSpecifier };
  return { name, address: { socket_address: { address: '0.0.0.0', port_value: 15001 } }, filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm }] }] };
}

const assignment = (clusterName: string | undefined, port = 8080): Json => ({
  cluster_name: clusterName, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: port } } } }] }],
});

const cluster = (name: string, extra: Json = {}): Json => ({
  name, type: 'STATIC', connect_timeout: '1s', load_assignment: assignment(name), ...extra,
});

function errorsOf<T>(type: ResourceType<T>, resources: readonly unknown[]): Pick<ConfigError, 'path' | 'kind'>[] {
  const r = type.validate(resources);
  if (r.ok) throw new Error('expected validation errors');
  return r.errors.map(({ path, kind }) => ({ path, kind }));
}

describe('proxy xDS resource types', () => {
  it.each([
    [listenerResourceType, 'type.googleapis.com/envoy.config.listener.v3.Listener', 'listeners', true],
    [clusterResourceType, CLUSTER_URL, 'clusters', true],
    [routeConfigurationResourceType, 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', 'routes', false],
    [clusterLoadAssignmentResourceType, 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment', 'endpoints', false],
  ] as [ResourceType<unknown>, string, string, boolean][])('%#: %s is served at /v3/discovery:%s (state of the world: %s)', (type, url, path, sotw) => {
    expect(type.typeUrl).toBe(url);
    expect(type.restPath).toBe(path);
    expect(type.stateOfTheWorld).toBe(sotw);
  });

  it.each([
    ['Listener', listenerResourceType, [listener('inbound'), listener('outbound')], ['inbound', 'outbound']],
    ['Cluster', clusterResourceType, [cluster('a'), cluster('b')], ['a', 'b']],
    // lowerCamelCase is Envoy's JSON spelling too.
    ['RouteConfiguration', routeConfigurationResourceType, [routeConfig('r1'), { name: 'r2', virtualHosts: [] }], ['r1', 'r2']],
    ['ClusterLoadAssignment', clusterLoadAssignmentResourceType, [assignment('a'), { clusterName: 'b' }], ['a', 'b']],
  ] as [string, ResourceType<unknown>, Json[], string[]][])('accepts valid %s resources, one per input, named by their xDS name', (_, type, resources, names) => {
    const r = type.validate(resources);
    if (!r.ok) throw new Error(JSON.stringify(r.errors, null, 2));
    expect(r.value.map((x) => type.name(x))).toEqual(names);
  });

  it.each([
    ['Listener: a missing name and an HCM using rds over ADS (not implemented) in another', listenerResourceType,
      [listener('ok'), listener(undefined), listener('lds', { rds: { route_config_name: 'r', config_source: { ads: {} } } })],
      [{ path: 'resources[1].name', kind: 'invalid' }, { path: `resources[2].${HCM}.rds.config_source.ads`, kind: 'not-implemented' }]],
    ['Cluster: every field error of every resource', clusterResourceType,
      [cluster('ok'), { name: '', connect_timeout: 'soon', bogus: 1 }, cluster('odst', { type: 'ORIGINAL_DST' })],
      [{ path: 'resources[1].name', kind: 'invalid' }, { path: 'resources[1].connect_timeout', kind: 'invalid' },
        { path: 'resources[1].bogus', kind: 'unknown-field' }, { path: 'resources[2].type', kind: 'not-implemented' }]],
    ['RouteConfiguration: a missing name and an incomplete route', routeConfigurationResourceType,
      [{}, { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: {} }] }] }],
      [{ path: 'resources[0].name', kind: 'invalid' }, { path: 'resources[1].virtual_hosts[0].routes[0].route', kind: 'invalid' }]],
    ['ClusterLoadAssignment: a missing cluster_name and a port out of range', clusterLoadAssignmentResourceType,
      [assignment('ok'), assignment(undefined), assignment('big', 70_000)],
      [{ path: 'resources[1].cluster_name', kind: 'invalid' },
        { path: 'resources[2].endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value', kind: 'invalid' }]],
  ] as [string, ResourceType<unknown>, Json[], Pick<ConfigError, 'path' | 'kind'>[]][])('rejects %s, with every error', (_, type, resources, errors) => {
    expect(errorsOf(type, resources)).toEqual(errors);
  });
});

describe('CDS end to end over REST', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  const response = (version: string, nonce: string, clusters: Json[]) => ({
    status: 200 as const,
    json: { version_info: version, nonce, type_url: CLUSTER_URL, resources: clusters.map((c) => ({ '@type': CLUSTER_URL, ...c })) },
  });

  it('ACKs a valid Cluster list, NACKs one with an invalid Cluster (error path in error_detail) and keeps the previous version', async () => {
    const server = await FakeXdsServer.start();
    const clock = new RecordingClock();
    const transport = createRestTransport({ baseUrl: server.baseUrl, clock, random: new ScriptedRandom([0]), refreshDelayMs: 1_000, requestTimeoutMs: 777 });
    const client = createXdsClient({ node: { id: 'sidecar-1', cluster: 'web' }, transport, clock });
    cleanups.push(async () => { await client.stop(); await server.close(); });
    const updates: ResourceUpdate<ClusterWire>[] = [];

    server.handler = () => response('v1', 'n1', [cluster('a'), cluster('b')]);
    client.subscribe(clusterResourceType, [], (u) => { updates.push(u); });
    await eventually(() => updates.length === 1, 'the first update');
    expect([...updates[0]!.added.keys()]).toEqual(['a', 'b']);
    expect(updates[0]!.added.get('a')?.connect_timeout).toBe(1_000);

    // Second poll (refresh_delay + 0 × refresh_delay): ACKs v1 and receives a list with an invalid Cluster.
    server.handler = () => response('v2', 'n2', [cluster('a'), cluster('b', { connect_timeout: 'soon' })]);
    const polls = (): number => clock.delays.filter((d) => d === 1_000).length;
    await eventually(() => polls() === 1, 'the second poll to be scheduled');
    clock.advance(1_000);
    await eventually(() => polls() === 2, 'the second response to be handled and the third poll scheduled');
    expect(server.received).toHaveLength(2);
    expect(server.last().request).toMatchObject({ version_info: 'v1', response_nonce: 'n1' });
    expect(server.last().request.error_detail).toBeUndefined();

    // Third poll carries the NACK.
    server.handler = () => ({ status: 304 });
    clock.advance(1_000);
    await eventually(() => server.received.length === 3, 'the NACK request');
    const nack = server.last().request;
    expect(nack).toMatchObject({ version_info: 'v1', response_nonce: 'n2', type_url: CLUSTER_URL });
    expect(nack.error_detail?.code).toBe(3);
    expect(nack.error_detail?.message).toMatch(/^resources\[1\]\.connect_timeout: /);
    expect(updates).toHaveLength(1);
    expect(client.status()[0]).toMatchObject({ versionInfo: 'v1', resourceCount: 2, lastNack: { versionInfo: 'v2', nonce: 'n2' } });
  });
});
