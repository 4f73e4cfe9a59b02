// The ClusterManager: builds a ClusterImpl per validated Cluster, starts its discovery (by type, from
// the table below) and its outlier detector's sweeps, and on close() stops DNS and outlier timers and
// closes every connection pool.

import type { Clock, Random } from '../common/clock.ts';
import type { StatsScope } from '../stats/scope.ts';
import { translateCluster } from './cluster-config.ts';
import type { ClusterWire, DiscoveryType } from './cluster-schema.ts';
import { ClusterImpl } from './cluster.ts';
import type { ClusterDiscovery, DiscoveryFactory } from './discovery.ts';
import { systemResolver, type DnsResolver } from './dns-resolver.ts';
import { startLogicalDnsDiscovery } from './logical-dns-cluster.ts';
import { startStaticDiscovery } from './static-cluster.ts';
import { startStrictDnsDiscovery } from './strict-dns-cluster.ts';
import type { Cluster, ClusterManager } from './types.ts';

export type { DnsResolver } from './dns-resolver.ts';

const DISCOVERY: Readonly<Record<DiscoveryType, DiscoveryFactory>> = {
  STATIC: startStaticDiscovery,
  STRICT_DNS: startStrictDnsDiscovery,
  LOGICAL_DNS: startLogicalDnsDiscovery,
};

export interface ClusterManagerDeps {
  /** Root stats scope (clusters record under `cluster.<name>.`, the manager under `cluster_manager.`). */
  readonly stats: StatsScope;
  readonly clock: Clock;
  readonly random: Random;
  /** DNS for STRICT_DNS / LOGICAL_DNS clusters; defaults to the system resolver. */
  readonly resolver?: DnsResolver;
  /** true for clusters from CDS (Envoy's added_via_api in /clusters and config_dump). */
  readonly addedViaApi?: boolean;
}

class ClusterManagerImpl implements ClusterManager {
  private readonly clusters = new Map<string, ClusterImpl>();
  private readonly discoveries: ClusterDiscovery[] = [];
  private closed: Promise<void> | null = null;

  constructor(wires: readonly ClusterWire[], deps: ClusterManagerDeps) {
    const discoveryDeps = { clock: deps.clock, resolver: deps.resolver ?? systemResolver };
    for (const wire of wires) {
      const model = translateCluster(wire);
      const cluster = new ClusterImpl(model, { stats: deps.stats, random: deps.random, clock: deps.clock, addedViaApi: deps.addedViaApi ?? false });
      this.clusters.set(model.name, cluster);
      this.discoveries.push(DISCOVERY[model.type](cluster, discoveryDeps));
      cluster.outlierDetector?.start();
    }
    const cm = deps.stats.scope('cluster_manager');
    cm.gauge('active_clusters').set(this.clusters.size);
    cm.counter('cluster_added').inc(this.clusters.size);
  }

  get(name: string): Cluster | undefined {
    return this.clusters.get(name);
  }

  all(): Iterable<Cluster> {
    return this.clusters.values();
  }

  initialized(): Promise<void> {
    return Promise.all(this.discoveries.map((d) => d.initialized)).then(() => {});
  }

  close(): Promise<void> {
    if (!this.closed) {
      for (const d of this.discoveries) d.stop();
      for (const c of this.clusters.values()) c.outlierDetector?.stop();
      this.closed = Promise.all([...this.clusters.values()].map((c) => c.close())).then(() => {});
    }
    return this.closed;
  }
}

/** Builds the runtime clusters for validated (schema-checked, names unique) Cluster configs. */
export function createClusterManager(clusters: readonly ClusterWire[], deps: ClusterManagerDeps): ClusterManager {
  return new ClusterManagerImpl(clusters, deps);
}
