// LEAST_REQUEST (Envoy's LeastRequestLoadBalancer): with equal weights, sample choice_count random hosts
// and keep the one with the fewest active requests (P2C by default); with unequal weights, EDF over
// the dynamic weight `load_balancing_weight / (active_requests + 1)^active_request_bias`.

import type { Random } from '../../common/clock.ts';
import type { ClusterConfig } from '../cluster-config.ts';
import type { Host } from '../types.ts';
import { registerLoadBalancer } from './registry.ts';
import { allWeightsEqual, EdfLoadBalancer } from './round-robin.ts';
import type { LoadBalancer } from './types.ts';

class ChoiceLoadBalancer implements LoadBalancer {
  private readonly hosts: readonly Host[];
  private readonly choiceCount: number;
  private readonly random: Random;
  constructor(hosts: readonly Host[], choiceCount: number, random: Random) {
    this.hosts = hosts;
    this.choiceCount = choiceCount;
    this.random = random;
  }
  chooseHost(): Host {
    const n = this.hosts.length;
    let candidate = this.hosts[this.random.nextUint32() % n]!;
    for (let i = 1; i < this.choiceCount; i++) {
      const sampled = this.hosts[this.random.nextUint32() % n]!;
      if (sampled.stats.rq_active < candidate.stats.rq_active) candidate = sampled;
    }
    return candidate;
  }
}

function dynamicWeight(bias: number): (h: Host) => number {
  if (bias === 0) return (h) => h.weight;
  if (bias === 1) return (h) => h.weight / (h.stats.rq_active + 1);
  return (h) => h.weight / Math.pow(h.stats.rq_active + 1, bias);
}

function create(hosts: readonly Host[], cluster: ClusterConfig, random: Random): LoadBalancer {
  const { choiceCount, activeRequestBias } = cluster.leastRequest;
  if (allWeightsEqual(hosts)) return new ChoiceLoadBalancer(hosts, choiceCount, random);
  return new EdfLoadBalancer(hosts, dynamicWeight(activeRequestBias), random.nextUint32());
}

registerLoadBalancer('LEAST_REQUEST', { create, hashBased: false });
