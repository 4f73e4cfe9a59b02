// A runtime Cluster: its hosts (by priority), the load balancer built over them (lb_policy from the
// registry, priority/panic layer, optional subsets), cluster stats and membership gauges, and its outlier
// detector when configured. Discovery (static / DNS) feeds it through updateHosts(); the router only
// calls chooseHost().

import type { Clock, Random } from '../common/clock.ts';
import type { StatsScope } from '../stats/scope.ts';
import type { ClusterConfig, EndpointConfig, LocalityEndpointsConfig } from './cluster-config.ts';
import { ClusterStatsImpl } from './cluster-stats.ts';
import { HostImpl } from './host.ts';
import { loadBalancerFactory } from './load-balancer/index.ts';
import { PriorityLoadBalancer, type LoadBalancerDeps } from './load-balancer/priority-load-balancer.ts';
import { SubsetLoadBalancer } from './load-balancer/subset.ts';
import type { LoadBalancer } from './load-balancer/types.ts';
import { OutlierDetector } from './outlier/detector.ts';
import { ClusterCircuitBreakers } from './circuit-breaker.ts';
import type { CircuitBreakerThresholds, Cluster, Host, LoadBalancerContext, ResourceManager, ResourcePriority } from './types.ts';

export interface ClusterDeps {
  /** The root scope; the cluster records under `cluster.<statName>.`. */
  readonly stats: StatsScope;
  readonly random: Random;
  /** Drives the outlier detector's interval sweeps and ejection times. */
  readonly clock: Clock;
  readonly addedViaApi: boolean;
}

export class ClusterImpl implements Cluster {
  readonly name: string;
  readonly statName: string;
  readonly observabilityName: string;
  readonly connectTimeoutMs: number;
  readonly stats: ClusterStatsImpl;
  readonly addedViaApi: boolean;
  readonly edsServiceName?: string;
  readonly circuitBreakers: { readonly default: CircuitBreakerThresholds; readonly high: CircuitBreakerThresholds };
  readonly config: unknown;
  readonly model: ClusterConfig;
  /** Envoy's outlier detector; null without outlier_detection. The cluster manager starts and stops its sweeps. */
  readonly outlierDetector: OutlierDetector | null;
  private hostList: readonly HostImpl[] = [];
  private readonly breakers: ClusterCircuitBreakers;
  private lb: LoadBalancer;
  private readonly lbDeps: LoadBalancerDeps;
  /** Removed hosts whose pools still drain in-flight requests. */
  private readonly closing = new Set<HostImpl>();

  constructor(model: ClusterConfig, deps: ClusterDeps) {
    this.model = model;
    this.name = model.name;
    this.statName = model.statName;
    this.observabilityName = model.wire.alt_stat_name || model.name;
    this.connectTimeoutMs = model.pool.connectTimeoutMs;
    const scope = deps.stats.scope(`cluster.${model.statName}`);
    this.stats = new ClusterStatsImpl(scope);
    this.addedViaApi = deps.addedViaApi;
    if (model.eds) this.edsServiceName = model.eds.serviceName;
    this.circuitBreakers = model.circuitBreakers;
    this.breakers = new ClusterCircuitBreakers(model.circuitBreakers, scope, this.stats.upstream_cx_active);
    this.config = model.wire;
    this.lbDeps = { cluster: model, random: deps.random, stats: this.stats, factory: loadBalancerFactory(model.lbPolicy) };
    this.lb = this.buildLoadBalancer();
    this.outlierDetector = model.outlierDetection
      ? new OutlierDetector(model.outlierDetection, { clock: deps.clock, random: deps.random, stats: scope, onHealthChanged: () => this.refreshHealth() })
      : null;
  }

  hosts(): readonly Host[] {
    return this.hostList;
  }

  chooseHost(ctx: LoadBalancerContext): Host | null {
    return this.lb.chooseHost(ctx);
  }

  resourceManager(priority: ResourcePriority): ResourceManager {
    return this.breakers.get(priority);
  }

  /** A host for `endpoint`; `address` overrides the configured one (DNS clusters pass the resolved IP). */
  createHost(endpoint: EndpointConfig, locality: LocalityEndpointsConfig, address = endpoint.address): HostImpl {
    return new HostImpl({
      address,
      port: endpoint.port,
      // Envoy: the endpoint's hostname, else the DNS name the host was resolved from.
      hostname: endpoint.hostname || (address === endpoint.address ? '' : endpoint.address),
      weight: endpoint.weight,
      priority: locality.priority,
      locality: locality.locality,
      metadata: endpoint.metadata,
      healthStatus: endpoint.healthStatus,
    }, this.model.pool, this.stats);
  }

  /**
   * Replaces the membership. Hosts kept by identity keep their pools; removed hosts' pools close once
   * their in-flight requests finish. Rebuilds the load balancer (a config-time cost, not per request).
   */
  updateHosts(hosts: readonly HostImpl[]): void {
    const next = new Set(hosts);
    const previous = new Set(this.hostList);
    const removed = this.hostList.filter((h) => !next.has(h));
    const added = hosts.filter((h) => !previous.has(h));
    // Stable sort: priority order, then discovery order.
    this.hostList = [...hosts].sort((a, b) => a.priority - b.priority);
    this.outlierDetector?.onMembershipChange(added, removed);
    this.refreshHealth();
    this.stats.membership_total.set(this.hostList.length);
    this.stats.membership_degraded.set(this.hostList.filter((h) => h.healthStatus === 'DEGRADED').length);
    if (removed.length > 0 || added.length > 0) this.stats.membership_change.inc();
    for (const h of removed) {
      this.closing.add(h);
      void h.drain().finally(() => this.closing.delete(h));
    }
  }

  /** A cluster replaced or removed by CDS: every pool closes once its in-flight requests finish. */
  async drain(): Promise<void> {
    await Promise.all([...this.hostList, ...this.closing].map((h) => h.drain()));
  }

  /** Shutdown: destroys every host pool, draining ones included (listeners were drained before). */
  async close(): Promise<void> {
    await Promise.all([...this.hostList, ...this.closing].map((h) => h.close()));
  }

  /**
   * Rebuilds what depends on host health: the load balancer (priority load, panic mode, per-priority
   * healthy sets) and membership_healthy. Runs on membership changes and outlier ejection/return, never
   * per request.
   */
  private refreshHealth(): void {
    this.lb = this.buildLoadBalancer();
    this.stats.membership_healthy.set(this.hostList.filter((h) => h.healthy()).length);
  }

  private buildLoadBalancer(): LoadBalancer {
    const byPriority: Host[][] = [[]];
    for (const h of this.hostList) {
      while (byPriority.length <= h.priority) byPriority.push([]);
      byPriority[h.priority]!.push(h);
    }
    const subset = this.model.subset;
    return subset ? new SubsetLoadBalancer(byPriority, subset, this.lbDeps) : new PriorityLoadBalancer(byPriority, this.lbDeps);
  }
}
