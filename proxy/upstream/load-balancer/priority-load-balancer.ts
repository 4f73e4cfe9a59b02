// The priority layer over an lb_policy: picks a priority by the precomputed load split, then asks that
// priority's balancer (built over its healthy hosts, or all of its hosts in panic mode). Built whenever
// membership or health changes; per request it only draws a number and delegates.

import type { Random } from '../../common/clock.ts';
import type { ClusterConfig } from '../cluster-config.ts';
import type { ClusterStatsImpl } from '../cluster-stats.ts';
import type { Host, LoadBalancerContext } from '../types.ts';
import { choosePriority, computePriorityState } from './priority-load.ts';
import type { LoadBalancer, LoadBalancerFactory } from './types.ts';

export interface LoadBalancerDeps {
  readonly cluster: ClusterConfig;
  readonly random: Random;
  readonly stats: ClusterStatsImpl;
  readonly factory: LoadBalancerFactory;
}

export class PriorityLoadBalancer implements LoadBalancer {
  private readonly load: readonly number[];
  private readonly panic: readonly boolean[];
  /** Per priority; null when the priority has no host to offer. */
  private readonly balancers: readonly (LoadBalancer | null)[];
  /** The priority that takes all load, or -1 when load is split (then a number is drawn per request). */
  private readonly onlyPriority: number;
  private readonly deps: LoadBalancerDeps;

  /** `hostsByPriority[p]` holds every host of priority p (healthy or not); at least one entry. */
  constructor(hostsByPriority: readonly (readonly Host[])[], deps: LoadBalancerDeps) {
    this.deps = deps;
    const levels = hostsByPriority.length > 0 ? hostsByPriority : [[]];
    const healthy = levels.map((hosts) => hosts.filter((h) => h.healthy()));
    const state = computePriorityState(levels.map((hosts, p) => ({ total: hosts.length, healthy: healthy[p]!.length })),
      deps.cluster.overprovisioningFactor, deps.cluster.healthyPanicThreshold);
    this.load = state.load;
    this.panic = state.panic;
    this.balancers = levels.map((hosts, p) => {
      const eligible = state.panic[p] ? hosts : healthy[p]!;
      return eligible.length > 0 ? deps.factory.create(eligible, deps.cluster, deps.random) : null;
    });
    this.onlyPriority = this.load.indexOf(100);
  }

  chooseHost(ctx: LoadBalancerContext): Host | null {
    const p = this.onlyPriority >= 0 ? this.onlyPriority : choosePriority(this.load, this.draw(ctx));
    const lb = this.balancers[p];
    if (!lb) return null;
    if (this.panic[p]) this.deps.stats.lb_healthy_panic.inc();
    return lb.chooseHost(ctx);
  }

  private draw(ctx: LoadBalancerContext): number {
    if (this.deps.factory.hashBased && ctx.hashKey !== undefined) return Number(ctx.hashKey % 100n);
    return this.deps.random.nextUint32() % 100;
  }
}
