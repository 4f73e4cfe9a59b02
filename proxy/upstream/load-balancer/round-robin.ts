// ROUND_ROBIN (Envoy's RoundRobinLoadBalancer): plain rotation when all weights are equal, EDF
// scheduling by load_balancing_weight otherwise. The start position comes from a random seed so that
// many proxies do not all begin with the same host.

import type { Random } from '../../common/clock.ts';
import type { Host } from '../types.ts';
import { EdfScheduler } from './edf-scheduler.ts';
import { registerLoadBalancer } from './registry.ts';
import type { LoadBalancer } from './types.ts';

export function allWeightsEqual(hosts: readonly Host[]): boolean {
  return hosts.every((h) => h.weight === hosts[0]!.weight);
}

class RotationLoadBalancer implements LoadBalancer {
  private readonly hosts: readonly Host[];
  private index: number;
  constructor(hosts: readonly Host[], seed: number) {
    this.hosts = hosts;
    this.index = seed % hosts.length;
  }
  chooseHost(): Host {
    const host = this.hosts[this.index]!;
    this.index = (this.index + 1) % this.hosts.length;
    return host;
  }
}

export class EdfLoadBalancer implements LoadBalancer {
  private readonly scheduler = new EdfScheduler<Host>();
  private readonly weightOf: (h: Host) => number;
  /** `weightOf` is evaluated each time a host is (re)scheduled, so it may depend on live load. */
  constructor(hosts: readonly Host[], weightOf: (h: Host) => number, seed: number) {
    this.weightOf = weightOf;
    for (const h of hosts) this.scheduler.add(h, weightOf(h));
    // Envoy's EdfScheduler::createWithPicks: skip `seed % hosts` picks to randomize the start.
    for (let i = seed % hosts.length; i > 0; i--) this.scheduler.pickAndAdd(weightOf);
  }
  chooseHost(): Host | null {
    return this.scheduler.pickAndAdd(this.weightOf) ?? null;
  }
}

function create(hosts: readonly Host[], _cluster: unknown, random: Random): LoadBalancer {
  const seed = random.nextUint32();
  return allWeightsEqual(hosts) ? new RotationLoadBalancer(hosts, seed) : new EdfLoadBalancer(hosts, (h) => h.weight, seed);
}

registerLoadBalancer('ROUND_ROBIN', { create, hashBased: false });
