// Wires xDS subscriptions to the managers, as Envoy's server init does: CDS (wildcard) → ClusterManager,
// EDS (names = EDS clusters' service names) → EDS clusters, LDS (wildcard) → ListenerManager, RDS (names =
// route_config_names of the listeners' HCMs) → shared RdsRouteConfigProviders, SDS (names = the secrets TLS
// contexts retain) → DynamicSecrets. Cross-checks each update,
// NACKing what the managers cannot take (a rejected first RDS/EDS fetch ends warming, as in Envoy), and
// collects the dynamic sections of /config_dump.

import type { ResourceUpdate, SubscriptionStatus, XdsNode } from '../../control-client/types.ts';
import type { Clock, Random, TimerHandle } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import type { ConfigError } from '../common/result.ts';
import { checkBackingCluster, configSourceKey, translateConfigSource, type ConfigSourceConfig } from '../config/config-source.ts';
import type { DumpedFailure, DumpedResource, DynamicConfig, DynamicSection } from '../admin/config-dump.ts';
import type { HcmConfig } from '../http/hcm-schema.ts';
import { rdsSourcesOf, translateListener, type ListenerConfig } from '../listener/listener-config.ts';
import type { ListenerManager, ListenerEntry, RouteConfigHandle, RouteConfigProviders } from '../listener/listener-manager.ts';
import type { ListenerWire } from '../listener/listener-schema.ts';
import { NULL_ROUTE_CONFIG, RdsRouteConfigProvider } from '../route/rds-route-config.ts';
import type { RouteConfigurationWire } from '../route/route-config-schema.ts';
import { buildRouteConfig } from '../route/route-config.ts';
import type { StatsScope } from '../stats/scope.ts';
import type { ClusterEntry, DynamicClusterManager } from '../upstream/cluster-manager.ts';
import type { ClusterWire } from '../upstream/cluster-schema.ts';
import type { EndpointSource } from '../upstream/discovery.ts';
import type { ClusterLoadAssignmentWire } from '../upstream/load-assignment-schema.ts';
import { XdsClientPool } from './client-pool.ts';
import { NamedWatches, type HeldResource } from './named-watches.ts';
import {
  clusterLoadAssignmentResourceType, clusterResourceType, listenerResourceType, routeConfigurationResourceType, secretResourceType, withSecretLookup,
} from './resource-types.ts';
import type { DynamicSecrets, SecretHandler, SecretWatcher } from '../secrets/dynamic-secrets.ts';
import type { LoadedSecret } from '../secrets/secret-schema.ts';
import type { SecretLookup } from '../secrets/secret-scope.ts';
import { TrackedType } from './tracked-type.ts';

export interface XdsManagerDeps {
  readonly node: XdsNode;
  readonly dynamicResources: { readonly lds: ConfigSourceConfig | null; readonly cds: ConfigSourceConfig | null };
  readonly clusterManager: DynamicClusterManager;
  readonly stats: StatsScope;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  /** The bootstrap's static secrets, which TLS contexts of LDS listeners and CDS clusters name. */
  readonly secrets?: SecretLookup;
  /** The proxy's SDS secrets: those TLS contexts of LDS listeners and CDS clusters name with sds_config join them. */
  readonly dynamicSecrets?: DynamicSecrets;
}

interface ProviderEntry {
  readonly provider: RdsRouteConfigProvider;
  /** A RouteConfiguration was applied, or the first fetch ended without one (rejected). */
  warmed: boolean;
  /** The connection managers using the table, one per handle (the same config may appear twice). */
  readonly hcms: HcmConfig[];
  readonly watch: { cancel(): void };
}

type RdsHcm = HcmConfig & { readonly rds: NonNullable<HcmConfig['rds']> };

export class XdsManager implements EndpointSource, RouteConfigProviders, SecretWatcher {
  private readonly deps: XdsManagerDeps;
  private readonly pool: XdsClientPool;
  private readonly primaryClusters: ReadonlySet<string>;
  private readonly cds: TrackedType<ClusterWire>;
  private readonly lds: TrackedType<ListenerWire>;
  private readonly eds: NamedWatches<ClusterLoadAssignmentWire>;
  private readonly edsTracked: TrackedType<ClusterLoadAssignmentWire>;
  private readonly rds: NamedWatches<RouteConfigurationWire>;
  private readonly rdsTracked: TrackedType<RouteConfigurationWire>;
  private readonly sds: NamedWatches<LoadedSecret>;
  private readonly providers = new Map<string, ProviderEntry>();
  /** Set by setListenerManager (the listener manager needs this manager's RDS providers first). */
  private listenerManager: ListenerManager | undefined;
  private cdsVersion = '';
  private ldsVersion = '';
  private stopped = false;
  /** Settles on stop(), so that an init still waiting gives up. */
  private readonly stopSignal: Promise<void>;
  private signalStop: () => void = () => {};

  constructor(deps: XdsManagerDeps) {
    this.deps = deps;
    this.stopSignal = new Promise((resolve) => { this.signalStop = resolve; });
    const cm = deps.clusterManager;
    this.primaryClusters = new Set(cm.entries().static.filter((e) => e.cluster.model.type !== 'EDS').map((e) => e.cluster.name));
    this.pool = new XdsClientPool({
      node: deps.node, clock: deps.clock, random: deps.random,
      baseUrl: (clusterName) => {
        const host = cm.get(clusterName)?.hosts()[0];
        if (!host) deps.logger.get('config').error(`xDS cluster '${clusterName}' has no endpoint: its subscriptions will fail until restart`);
        // A port-0 origin refuses every connection: the subscription backs off and init times out.
        return `http://${host ? host.addressString : '127.0.0.1:0'}`;
      },
    });
    const secrets = deps.dynamicSecrets && deps.secrets ? deps.dynamicSecrets.lookup(deps.secrets, this.primaryClusters) : deps.secrets;
    this.cds = new TrackedType(withSecretLookup(clusterResourceType, secrets), deps.stats.scope('cluster_manager.cds'), deps.clock, 'name');
    this.lds = new TrackedType(withSecretLookup(listenerResourceType, secrets), deps.stats.scope('listener_manager.lds'), deps.clock, 'name');
    // Envoy counts EDS and RDS updates per cluster / per route table, not per type (see applyRoute).
    this.edsTracked = new TrackedType(clusterLoadAssignmentResourceType, null, deps.clock, 'cluster_name');
    this.rdsTracked = new TrackedType(routeConfigurationResourceType, null, deps.clock, 'name');
    this.eds = new NamedWatches(this.edsTracked, this.pool, deps.clock);
    this.rds = new NamedWatches(this.rdsTracked, this.pool, deps.clock);
    // Envoy counts SDS updates per secret (sds.<name>.*, DynamicSecret), not per type.
    this.sds = new NamedWatches(new TrackedType(secretResourceType, null, deps.clock, 'name'), this.pool, deps.clock);
  }

  setListenerManager(listenerManager: ListenerManager): void {
    this.listenerManager = listenerManager;
  }

  /**
   * The ClusterManager calls this for each EDS cluster. A rejected response before any assignment was applied
   * ends the cluster's warming with no endpoints, as Envoy's EdsClusterImpl::onConfigUpdateFailed
   * (onPreInitComplete): the cluster is handed an assignment without endpoints, the state it is in.
   */
  watch(serviceName: string, source: ConfigSourceConfig, onAssignment: (assignment: ClusterLoadAssignmentWire) => readonly ConfigError[]): { cancel(): void } {
    let warmed = false;
    const apply = (assignment: ClusterLoadAssignmentWire): readonly ConfigError[] => {
      const errors = onAssignment(assignment);
      warmed ||= errors.length === 0;
      return errors;
    };
    return this.eds.watch(source, serviceName, apply, () => {
      if (!warmed) apply({ cluster_name: serviceName });
    });
  }

  /** The DynamicSecrets subscribe here: one SDS subscription per config source, resource_names = the secrets in use. */
  watchSecret(source: ConfigSourceConfig, name: string, apply: SecretHandler, rejected: () => void): { cancel(): void } {
    return this.sds.watch(source, name, apply, rejected);
  }

  /**
   * One provider per (config source, route_config_name), shared by the listeners naming it. The handle's
   * release() removes `hcm` from the table's users; the last release ends the RDS watch.
   */
  acquire(hcm: RdsHcm): RouteConfigHandle {
    const key = `${configSourceKey(hcm.rds.configSource)}|${hcm.rds.routeConfigName}`;
    let entry = this.providers.get(key);
    if (!entry) {
      const provider = new RdsRouteConfigProvider(hcm.rds.routeConfigName);
      const hcms: HcmConfig[] = [];
      const e: ProviderEntry = {
        provider, hcms, warmed: false,
        watch: this.rds.watch(hcm.rds.configSource, hcm.rds.routeConfigName, (wire) => this.applyRoute(e, wire), () => this.routeRejected(e)),
      };
      entry = e;
      this.providers.set(key, entry);
    }
    const e = entry;
    e.hcms.push(hcm);
    let released = false;
    return {
      provider: e.provider,
      release: () => {
        if (released) return;
        released = true;
        e.hcms.splice(e.hcms.indexOf(hcm), 1);
        if (e.hcms.length > 0) return;
        e.watch.cancel();
        this.providers.delete(key);
      },
    };
  }

  /**
   * Envoy's init order: CDS (and the EDS of its clusters) warms first, then LDS (and the RDS of its
   * listeners); each first fetch is bounded by its config source's initial_fetch_timeout.
   */
  async initialize(): Promise<void> {
    const { cds, lds } = this.deps.dynamicResources;
    const cm = this.deps.clusterManager;
    const step = (p: Promise<void> | undefined): Promise<void> => Promise.race([p, this.stopSignal]);
    if (cds) {
      this.pool.get(cds).subscribe(this.cds.type, [], (u) => this.applyCds(u), (errors) => this.cds.rejected(errors));
      await step(this.firstFetch(this.cds, cds));
    }
    await step(cm.whenWarm());
    if (lds && !this.stopped) {
      this.pool.get(lds).subscribe(this.lds.type, [], (u) => this.applyLds(u), (errors) => this.lds.rejected(errors));
      await step(this.firstFetch(this.lds, lds));
    }
    await step(this.listenerManager?.whenWarm());
  }

  /** The dynamic sections of /config_dump. */
  dump(): DynamicConfig {
    const statuses = this.pool.statuses();
    const cm = this.deps.clusterManager.entries();
    const clusterResource = (e: ClusterEntry): DumpedResource => ({
      name: e.cluster.name, versionInfo: e.versionInfo, lastUpdatedMs: e.lastUpdatedMs, config: e.raw ?? e.cluster.config,
    });
    const lm = this.listenerManager?.entries() ?? { active: [], warming: [], draining: [] };
    const listenerResource = (e: ListenerEntry): DumpedResource => ({
      name: e.config.name, versionInfo: e.versionInfo, lastUpdatedMs: e.lastUpdatedMs, config: e.raw,
    });
    const dynamic = (entries: readonly ListenerEntry[]): DumpedResource[] => entries.filter((e) => e.addedViaApi).map(listenerResource);
    const held = <T>(h: HeldResource<T>): DumpedResource => ({ name: h.name, versionInfo: h.versionInfo, lastUpdatedMs: h.lastUpdatedMs, config: h.raw });
    return {
      clusters: {
        versionInfo: this.cdsVersion, active: cm.active.map(clusterResource), warming: cm.warming.map(clusterResource),
        failures: failures(this.cds, statuses),
      },
      listeners: {
        versionInfo: this.ldsVersion, active: dynamic(lm.active), warming: dynamic(lm.warming), draining: dynamic(lm.draining),
        failures: new Map([...createFailures(this.listenerManager), ...failures(this.lds, statuses)]),
      },
      routes: { versionInfo: '', active: this.rds.held().map(held), failures: failures(this.rdsTracked, statuses) },
      endpoints: { versionInfo: '', active: this.eds.held().map(held), failures: failures(this.edsTracked, statuses) },
    } satisfies Record<string, DynamicSection>;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.signalStop();
    await this.pool.stop();
  }

  private async firstFetch<T>(tracked: TrackedType<T>, source: ConfigSourceConfig): Promise<void> {
    if (source.initialFetchTimeoutMs === 0) return tracked.firstResponse();
    let timer: TimerHandle | undefined;
    await Promise.race([tracked.firstResponse(), new Promise<void>((resolve) => { timer = this.deps.clock.setTimer(resolve, source.initialFetchTimeoutMs); })]);
    timer?.cancel();
  }

  /** CDS: static names and EDS clusters polling a non-primary cluster are rejected; nothing applies unless all pass. */
  private applyCds(update: ResourceUpdate<ClusterWire>): readonly ConfigError[] | void {
    const cm = this.deps.clusterManager;
    const errors: ConfigError[] = [];
    for (const [name, wire] of [...update.added, ...update.updated]) {
      const at = `resources[${this.cds.indexOf(name)}]`;
      if (cm.isStatic(name)) {
        errors.push({ path: `${at}.name`, kind: 'invalid', message: `Error adding/updating cluster(s) ${name}: a static cluster of that name exists (static_resources.clusters); CDS cannot add, update or remove it` });
      }
      const eds = wire.eds_cluster_config;
      if (eds) errors.push(...checkBackingCluster(translateConfigSource(eds.eds_config), `${at}.eds_cluster_config.eds_config`, this.primaryClusters));
    }
    if (errors.length > 0) return errors;
    if (this.stopped) return;
    for (const name of update.removed) cm.removeCluster(name);
    for (const [name, wire] of [...update.added, ...update.updated]) cm.addOrUpdateCluster(wire, update.versionInfo, this.cds.rawOf(name));
    this.cdsVersion = update.versionInfo;
    this.cds.accepted(update.versionInfo);
  }

  /** LDS: every changed listener is translated and cross-checked before any is applied. */
  private applyLds(update: ResourceUpdate<ListenerWire>): readonly ConfigError[] | void {
    const lm = this.listenerManager;
    if (!lm || this.stopped) return;
    const cm = this.deps.clusterManager;
    const errors: ConfigError[] = [];
    const changed = new Map<string, ListenerConfig>();
    for (const [name, wire] of [...update.added, ...update.updated]) {
      const at = `resources[${this.lds.indexOf(name)}]`;
      const built = translateListener(wire, { path: at, defaultName: name, clusterExists: (c) => cm.has(c) });
      if (!built.ok) {
        errors.push(...built.errors);
        continue;
      }
      changed.set(name, built.value);
      for (const rds of rdsSourcesOf(built.value, at)) errors.push(...checkBackingCluster(rds.source, rds.path, this.primaryClusters));
    }
    const all = new Map<string, ListenerConfig>();
    for (const name of update.resources.keys()) {
      const config = changed.get(name) ?? lm.configOf(name);
      if (config) all.set(name, config);
    }
    errors.push(...lm.checkLds(all, changed.keys(), (n) => this.lds.indexOf(n)));
    if (errors.length > 0) return errors;
    for (const name of update.removed) lm.remove(name);
    for (const [name, config] of changed) lm.addOrUpdate(config, update.versionInfo, this.lds.rawOf(name));
    this.ldsVersion = update.versionInfo;
    this.lds.accepted(update.versionInfo);
  }

  /**
   * RDS: a RouteConfiguration's validate_clusters defaults to false; typed_per_filter_config entries are
   * checked against the HTTP filters of the connection managers using this route table.
   */
  private applyRoute(entry: ProviderEntry, wire: RouteConfigurationWire): readonly ConfigError[] {
    const { provider, hcms } = entry;
    const cm = this.deps.clusterManager;
    const built = buildRouteConfig(wire, {
      path: '',
      clusterExists: (c) => cm.has(c),
      validateClustersByDefault: false,
      perFilterConfig: (filterName) => {
        for (const hcm of hcms) {
          const f = hcm.httpFilters.find((x) => x.name === filterName);
          if (f) return f.factory.perRouteSchema;
        }
        return undefined;
      },
    });
    // A table that cannot be built rejects the response: routeRejected counts it.
    if (!built.ok) return built.errors;
    provider.update(built.value, wire);
    entry.warmed = true;
    this.routeStat(entry, 'update_success');
    this.routeStat(entry, 'config_reload');
    return [];
  }

  /**
   * A rejected response implicating this table: update_rejected, and a first fetch ends with the null table (404
   * NR) so the listeners using it finish warming, as Envoy's RdsRouteConfigSubscription::onConfigUpdateFailed.
   */
  private routeRejected(entry: ProviderEntry): void {
    this.routeStat(entry, 'update_rejected');
    if (entry.warmed) return;
    entry.warmed = true;
    entry.provider.update(NULL_ROUTE_CONFIG, {});
  }

  /**
   * Envoy's http.<stat_prefix>.rds.<route_config_name>.* of each connection manager using the table. Counted
   * once per stat_prefix: while an LDS update drains, the old and new versions of a connection manager both use it.
   */
  private routeStat(entry: ProviderEntry, name: string): void {
    for (const p of new Set(entry.hcms.map((h) => h.statPrefix))) this.deps.stats.counter(`http.${p}.rds.${entry.provider.name}.${name}`).inc();
  }
}

/** LDS listener versions that failed to bind (listener_create_failure), as Envoy's error_state. */
function createFailures(lm: ListenerManager | undefined): Map<string, DumpedFailure> {
  return new Map([...lm?.failures() ?? []].map(([name, f]) => [name, {
    ...(f.raw === undefined ? {} : { failedConfiguration: f.raw }),
    lastUpdateAttemptMs: f.atMs, details: f.message, versionInfo: f.versionInfo,
  }]));
}

/** The last rejected response of a type (until a later one is accepted), per resource, with the NACK's details. */
function failures<T>(tracked: TrackedType<T>, statuses: readonly SubscriptionStatus[]): ReadonlyMap<string, DumpedFailure> {
  const rejected = tracked.lastRejected();
  if (!rejected) return new Map();
  const nacks = statuses.filter((s) => s.typeUrl === tracked.type.typeUrl && s.lastNack).map((s) => s.lastNack!);
  const nack = nacks.sort((a, b) => b.atMs - a.atMs)[0];
  return new Map([...rejected.resources].map(([name, raw]) => [name, {
    ...(raw === undefined ? {} : { failedConfiguration: raw }),
    lastUpdateAttemptMs: nack?.atMs ?? rejected.atMs,
    details: nack?.message ?? '',
    versionInfo: nack?.versionInfo ?? '',
  }]));
}
