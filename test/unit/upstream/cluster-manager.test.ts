// The ClusterManager's runtime changes (CDS): add, update and remove with Envoy's warming (a cluster serves
// only once its discovery initialized; EDS clusters wait for their assignment or initial_fetch_timeout),
// static clusters untouched, and the cluster_manager.* gauges and counters. A scripted EndpointSource
// stands in for EDS; no sockets.

import { describe, expect, it } from 'vitest';
import type { ConfigError } from '../../../proxy/common/result.ts';
import type { ConfigSourceConfig } from '../../../proxy/config/config-source.ts';
import { StatsStore } from '../../../proxy/stats/store.ts';
import { createClusterManager } from '../../../proxy/upstream/cluster-manager.ts';
import type { ClusterWire } from '../../../proxy/upstream/cluster-schema.ts';
import { ClusterSchema } from '../../../proxy/upstream/cluster-schema.ts';
import type { EndpointSource } from '../../../proxy/upstream/discovery.ts';
import type { ClusterLoadAssignmentWire } from '../../../proxy/upstream/load-assignment-schema.ts';
import { FakeClock, SeededRandom } from '../../support/fake-clock.ts';
import { assignment, edsCluster, staticClusterJson } from '../../support/xds-resources.ts';

function wire(json: Record<string, unknown>): ClusterWire {
  const r = ClusterSchema.safeParse(json);
  if (!r.success) throw new Error(JSON.stringify(r.error.issues));
  return r.data;
}

/** An EndpointSource the test drives: deliver(name, ports) plays an accepted EDS update. */
class ScriptedEndpoints implements EndpointSource {
  readonly watched = new Map<string, Set<(a: ClusterLoadAssignmentWire) => readonly ConfigError[]>>();
  readonly sources: ConfigSourceConfig[] = [];
  watch(name: string, source: ConfigSourceConfig, onAssignment: (a: ClusterLoadAssignmentWire) => readonly ConfigError[]) {
    const set = this.watched.get(name) ?? new Set();
    this.watched.set(name, set.add(onAssignment));
    this.sources.push(source);
    return { cancel: () => { set.delete(onAssignment); if (set.size === 0) this.watched.delete(name); } };
  }
  deliver(name: string, ports: number[] | Record<string, unknown>): readonly ConfigError[] {
    const set = this.watched.get(name);
    if (!set) throw new Error(`nobody watches ${name}`);
    const cla = (Array.isArray(ports) ? assignment(name, ports) : ports) as unknown as ClusterLoadAssignmentWire;
    return [...set].flatMap((cb) => cb(cla));
  }
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

function setup() {
  const stats = new StatsStore();
  const clock = new FakeClock();
  const cm = createClusterManager([wire(staticClusterJson('xds_cluster', [18000]))], { stats, clock, random: new SeededRandom(1) });
  const endpoints = new ScriptedEndpoints();
  cm.setEndpointSource(endpoints);
  const gauge = (n: string): number => stats.gauges.get(`cluster_manager.${n}`)?.value() ?? 0;
  const counter = (n: string): number => stats.counters.get(`cluster_manager.${n}`)?.value() ?? 0;
  return { cm, clock, endpoints, gauge, counter };
}

describe('DynamicClusterManager', () => {
  it('warms an EDS cluster until its first assignment, then serves it with added_via_api', async () => {
    const { cm, endpoints, gauge, counter } = setup();
    cm.addOrUpdateCluster(wire(edsCluster('web')), 'v1');
    await flush();
    expect(cm.get('web')).toBeUndefined();
    expect(cm.has('web')).toBe(true);
    expect([gauge('active_clusters'), gauge('warming_clusters'), counter('cluster_added')]).toEqual([1, 1, 2]);
    expect(cm.entries().warming.map((e) => e.cluster.name)).toEqual(['web']);
    expect(endpoints.sources[0]).toMatchObject({ clusterName: 'xds_cluster', initialFetchTimeoutMs: 15_000 });

    expect(endpoints.deliver('web', [8080, 8081])).toEqual([]);
    await flush();
    const web = cm.get('web')!;
    expect(web.addedViaApi).toBe(true);
    expect(web.edsServiceName).toBe('web');
    expect(web.hosts().map((h) => h.addressString)).toEqual(['127.0.0.1:8080', '127.0.0.1:8081']);
    expect([gauge('active_clusters'), gauge('warming_clusters')]).toEqual([2, 0]);
    expect(cm.entries()).toMatchObject({ static: [{ versionInfo: '' }], active: [{ versionInfo: 'v1' }], warming: [] });
    await cm.close();
  });

  it('keeps hosts whose endpoint is unchanged across EDS updates and rejects non-IP endpoints', async () => {
    const { cm, endpoints } = setup();
    cm.addOrUpdateCluster(wire(edsCluster('web')), 'v1');
    endpoints.deliver('web', [8080, 8081]);
    await flush();
    const before = cm.get('web')!.hosts()[0];
    endpoints.deliver('web', [8080, 8082]);
    expect(cm.get('web')!.hosts()[0]).toBe(before);
    expect(cm.get('web')!.hosts().map((h) => h.port)).toEqual([8080, 8082]);
    const bad = { cluster_name: 'web', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'svc.example', port_value: 1 } } } }] }] };
    expect(endpoints.deliver('web', bad).map((e) => e.path)).toEqual(['endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address']);
    expect(cm.get('web')!.hosts().map((h) => h.port)).toEqual([8080, 8082]);
    await cm.close();
  });

  it('stops warming after eds_config.initial_fetch_timeout without endpoints', async () => {
    const { cm, clock, gauge } = setup();
    let warm = false;
    cm.addOrUpdateCluster(wire(edsCluster('web')), 'v1');
    void cm.whenWarm().then(() => { warm = true; });
    clock.advance(14_999);
    await flush();
    expect(warm).toBe(false);
    clock.advance(1);
    await flush();
    expect(warm).toBe(true);
    expect(cm.get('web')!.hosts()).toEqual([]);
    expect(gauge('warming_clusters')).toBe(0);
    await cm.close();
  });

  it('replaces an updated cluster only once the new one is warm, and removes clusters', async () => {
    const { cm, endpoints, counter, gauge } = setup();
    cm.addOrUpdateCluster(wire(edsCluster('web')), 'v1');
    endpoints.deliver('web', [8080]);
    await flush();
    const first = cm.get('web');
    cm.addOrUpdateCluster(wire(edsCluster('web', { connect_timeout: '3s' })), 'v2');
    await flush();
    // The old cluster serves while the new one warms (both watch the assignment).
    expect(cm.get('web')).toBe(first);
    expect(endpoints.watched.get('web')?.size).toBe(2);
    expect(counter('cluster_modified')).toBe(1);
    endpoints.deliver('web', [8080]);
    await flush();
    expect(cm.get('web')).not.toBe(first);
    expect(cm.get('web')!.connectTimeoutMs).toBe(3000);
    expect(endpoints.watched.get('web')?.size).toBe(1);

    expect(cm.removeCluster('web')).toBe(true);
    expect(cm.get('web')).toBeUndefined();
    expect(cm.removeCluster('web')).toBe(false);
    expect([counter('cluster_removed'), gauge('active_clusters')]).toEqual([1, 1]);
    expect(endpoints.watched.has('web')).toBe(false);
    expect(cm.isStatic('xds_cluster')).toBe(true);
    expect(cm.isStatic('web')).toBe(false);
    await cm.close();
  });

  it('serves a CDS cluster of a non-EDS type once its discovery initialized', async () => {
    const { cm } = setup();
    cm.addOrUpdateCluster(wire(staticClusterJson('direct', [9000])), 'v1');
    expect(cm.get('direct')).toBeUndefined();
    await cm.whenWarm();
    expect(cm.get('direct')!.hosts().map((h) => h.port)).toEqual([9000]);
    await cm.close();
  });
});
