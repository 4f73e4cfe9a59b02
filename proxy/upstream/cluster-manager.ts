// The ClusterManager: builds a ClusterImpl per validated Cluster, starts its discovery (by type, from the
// table below) and its outlier detector's sweeps. Static clusters live for the server's life; CDS clusters
// are added, replaced and removed at runtime with Envoy's warming: a new cluster serves only once its
// discovery initialized, and a replaced or removed one drains its pools after in-flight requests finish.

import type { Clock, Random } from '../common/clock.ts';
import type { Counter, Gauge, StatsScope } from '../stats/scope.ts';
import { translateCluster } from './cluster-config.ts';
import type { ClusterWire, DiscoveryType } from './cluster-schema.ts';
import { ClusterImpl } from './cluster.ts';
import type { ClusterDiscovery, DiscoveryDeps, DiscoveryFactory, EndpointSource } from './discovery.ts';
import { systemResolver, type DnsResolver } from './dns-resolver.ts';
import { startEdsDiscovery } from './eds-cluster.ts';
import { startLogicalDnsDiscovery } from './logical-dns-cluster.ts';
import { startStaticDiscovery } from './static-cluster.ts';
import { startStrictDnsDiscovery } from './strict-dns-cluster.ts';
import type { Cluster, ClusterManager } from './types.ts';

export type { DnsResolver } from './dns-resolver.ts';

const DISCOVERY: Readonly<Record<DiscoveryType, DiscoveryFactory>> = {
  STATIC: startStaticDiscovery,
  STRICT_DNS: startStrictDnsDiscovery,
  LOGICAL_DNS: startLogicalDnsDiscovery,
  EDS: startEdsDiscovery,
};

export interface ClusterManagerDeps {
  /** Root stats scope (clusters record under `cluster.<name>.`, the manager under `cluster_manager.`). */
  readonly stats: StatsScope;
  readonly clock: Clock;
  readonly random: Random;
  /** DNS for STRICT_DNS / LOGICAL_DNS clusters; defaults to the system resolver. */
  readonly resolver?: DnsResolver;
}

/** One cluster as /config_dump reports it. */
export interface ClusterEntry {
  readonly cluster: ClusterImpl;
  /** The CDS version_info that brought it ('' for static clusters). */
  readonly versionInfo: string;
  /** Wall-clock ms when it was added or last updated. */
  readonly lastUpdatedMs: number;
  /** The Cluster as received from CDS (undefined for static clusters), for /config_dump. */
  readonly raw?: unknown;
}

interface Entry extends ClusterEntry {
  readonly discovery: ClusterDiscovery;
  /** Releases the SDS secrets of the cluster's TLS context (retained while the cluster exists). */
  readonly releaseTls: () => void;
}

interface ManagerStats {
  readonly activeClusters: Gauge;
  readonly warmingClusters: Gauge;
  readonly clusterAdded: Counter;
  readonly clusterModified: Counter;
  readonly clusterRemoved: Counter;
}

export class DynamicClusterManager implements ClusterManager {
  private readonly deps: ClusterManagerDeps;
  private readonly discoveryDeps: { clock: Clock; resolver: DnsResolver; endpoints?: EndpointSource };
  private readonly stats: ManagerStats;
  private readonly active = new Map<string, Entry>();
  private readonly warming = new Map<string, Entry>();
  private readonly staticNames = new Set<string>();
  /** Static EDS clusters wait for setEndpointSource() (the xDS client needs the static clusters first). */
  private pendingStaticEds: ClusterWire[] = [];
  private readonly staticDiscoveries: ClusterDiscovery[] = [];
  /** Static EDS clusters serve at once (with no hosts) but count as warming for server init. */
  private readonly pendingStaticWarm = new Set<Entry>();
  /** Replaced and removed clusters draining their pools. */
  private readonly retiring = new Set<ClusterImpl>();
  private readonly warmWaiters: (() => void)[] = [];
  private closed: Promise<void> | null = null;

  constructor(staticClusters: readonly ClusterWire[], deps: ClusterManagerDeps) {
    this.deps = deps;
    this.discoveryDeps = { clock: deps.clock, resolver: deps.resolver ?? systemResolver };
    const cm = deps.stats.scope('cluster_manager');
    this.stats = {
      activeClusters: cm.gauge('active_clusters'),
      warmingClusters: cm.gauge('warming_clusters'),
      clusterAdded: cm.counter('cluster_added'),
      clusterModified: cm.counter('cluster_modified'),
      clusterRemoved: cm.counter('cluster_removed'),
    };
    for (const wire of staticClusters) {
      this.staticNames.add(wire.name);
      if ((wire.type ?? 'STATIC') === 'EDS') this.pendingStaticEds.push(wire);
      else this.addStatic(wire);
    }
    this.updateGauges();
  }

  get(name: string): Cluster | undefined {
    return this.active.get(name)?.cluster;
  }

  all(): Iterable<Cluster> {
    return [...this.active.values()].map((e) => e.cluster);
  }

  /** Settles when every static cluster finished its first discovery (static EDS clusters: see whenWarm). */
  initialized(): Promise<void> {
    return Promise.all(this.staticDiscoveries.map((d) => d.initialized)).then(() => {});
  }

  /** Whether a cluster came from static_resources (CDS may not add, replace or remove it). */
  isStatic(name: string): boolean {
    return this.staticNames.has(name);
  }

  /** Whether a cluster is active or warming (what a route's validate_clusters may reference). */
  has(name: string): boolean {
    return this.active.has(name) || this.warming.has(name);
  }

  /** Starts the EDS clusters (static ones now, CDS ones as they come) with their endpoint source. */
  setEndpointSource(endpoints: EndpointSource): void {
    this.discoveryDeps.endpoints = endpoints;
    const pending = this.pendingStaticEds;
    this.pendingStaticEds = [];
    for (const wire of pending) this.addStatic(wire);
  }

  /**
   * CDS add or update (Envoy's addOrUpdateCluster): the new cluster warms until its discovery initialized,
   * then replaces the active one of that name, which drains. A newer update of a warming cluster replaces it.
   * `raw` is the Cluster as received.
   */
  addOrUpdateCluster(wire: ClusterWire, versionInfo: string, raw?: unknown): void {
    const name = wire.name;
    const updating = this.active.has(name) || this.warming.has(name);
    this.discard(this.warming.get(name));
    const entry = { ...this.build(wire, versionInfo, true), raw };
    this.warming.set(name, entry);
    (updating ? this.stats.clusterModified : this.stats.clusterAdded).inc();
    this.updateGauges();
    void entry.discovery.initialized.then(() => this.promote(entry));
  }

  /** CDS removal: the cluster stops taking requests now; its pools close once in-flight requests finish. */
  removeCluster(name: string): boolean {
    const warming = this.warming.get(name);
    const active = this.active.get(name);
    if (!warming && !active) return false;
    this.warming.delete(name);
    this.discard(warming);
    this.active.delete(name);
    this.discard(active);
    this.stats.clusterRemoved.inc();
    this.updateGauges();
    this.notifyIfWarm();
    return true;
  }

  /** Static clusters, CDS clusters serving traffic, and CDS clusters still warming. */
  entries(): { readonly static: readonly ClusterEntry[]; readonly active: readonly ClusterEntry[]; readonly warming: readonly ClusterEntry[] } {
    const active = [...this.active.values()];
    return {
      static: active.filter((e) => !e.cluster.addedViaApi),
      active: active.filter((e) => e.cluster.addedViaApi),
      warming: [...this.warming.values()],
    };
  }

  /** Resolves once no cluster is warming (static EDS clusters included). */
  whenWarm(): Promise<void> {
    if (this.isWarm()) return Promise.resolve();
    return new Promise((resolve) => this.warmWaiters.push(resolve));
  }

  close(): Promise<void> {
    if (!this.closed) {
      const clusters = [...this.active.values(), ...this.warming.values()];
      for (const e of clusters) this.stop(e);
      for (const d of this.staticDiscoveries) d.stop();
      this.closed = Promise.all([...clusters.map((e) => e.cluster), ...this.retiring].map((c) => c.close())).then(() => {});
    }
    return this.closed;
  }

  private addStatic(wire: ClusterWire): void {
    const entry = this.build(wire, '', false);
    this.active.set(wire.name, entry);
    this.staticDiscoveries.push(entry.discovery);
    entry.cluster.outlierDetector?.start();
    this.stats.clusterAdded.inc();
    this.updateGauges();
    if (entry.cluster.model.type === 'EDS') {
      this.pendingStaticWarm.add(entry);
      void entry.discovery.initialized.then(() => {
        this.pendingStaticWarm.delete(entry);
        this.notifyIfWarm();
      });
    }
  }

  private build(wire: ClusterWire, versionInfo: string, addedViaApi: boolean): Entry {
    const model = translateCluster(wire);
    const { stats, random, clock } = this.deps;
    const cluster = new ClusterImpl(model, { stats, random, clock, addedViaApi });
    const discovery = DISCOVERY[model.type](cluster, this.discoveryDeps as DiscoveryDeps);
    return { cluster, discovery, versionInfo, lastUpdatedMs: clock.now(), releaseTls: model.pool.tls?.retain() ?? (() => {}) };
  }

  private promote(entry: Entry): void {
    const name = entry.cluster.name;
    if (this.warming.get(name) !== entry || this.closed) return;
    this.warming.delete(name);
    const previous = this.active.get(name);
    this.active.set(name, entry);
    entry.cluster.outlierDetector?.start();
    this.discard(previous);
    this.updateGauges();
    this.notifyIfWarm();
  }

  /** Stops a cluster's discovery and timers and lets its pools drain (in-flight requests finish). */
  private discard(entry: Entry | undefined): void {
    if (!entry) return;
    this.stop(entry);
    const cluster = entry.cluster;
    this.retiring.add(cluster);
    void cluster.drain().finally(() => this.retiring.delete(cluster));
  }

  /** A replaced or removed cluster's draining pools make no new connections that matter: its secrets go now. */
  private stop(entry: Entry): void {
    entry.discovery.stop();
    entry.cluster.outlierDetector?.stop();
    entry.releaseTls();
  }

  private isWarm(): boolean {
    return this.warming.size === 0 && this.pendingStaticWarm.size === 0 && this.pendingStaticEds.length === 0;
  }

  private notifyIfWarm(): void {
    if (!this.isWarm()) return;
    for (const resolve of this.warmWaiters.splice(0)) resolve();
  }

  private updateGauges(): void {
    this.stats.activeClusters.set(this.active.size);
    this.stats.warmingClusters.set(this.warming.size);
  }
}

/** Builds the runtime clusters for validated (schema-checked, names unique) static Cluster configs. */
export function createClusterManager(clusters: readonly ClusterWire[], deps: ClusterManagerDeps): DynamicClusterManager {
  return new DynamicClusterManager(clusters, deps);
}
