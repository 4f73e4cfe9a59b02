// The load balancer contract: pick one Host for a request from a fixed host list. Each lb_policy
// registers a factory (registry.ts); priorities, panic mode and subsets are layered on top of it.

import type { Random } from '../../common/clock.ts';
import type { ClusterConfig } from '../cluster-config.ts';
import type { Host, LoadBalancerContext } from '../types.ts';

export interface LoadBalancer {
  /** The chosen host, or null when there is none to choose (the router answers 503 UH). */
  chooseHost(ctx: LoadBalancerContext): Host | null;
}

export interface LoadBalancerFactory {
  /**
   * Builds a balancer over `hosts` (non-empty, already filtered for health by the caller). Called at
   * config/membership-change time, never per request.
   */
  create(hosts: readonly Host[], cluster: ClusterConfig, random: Random): LoadBalancer;
  /**
   * Hash-based balancers pick the priority from the request hash too (Envoy's ThreadAwareLoadBalancer),
   * so one key stays on one host across priorities.
   */
  readonly hashBased: boolean;
}
