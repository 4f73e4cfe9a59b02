// RANDOM (Envoy's RandomLoadBalancer): a uniformly random host; weights are ignored.

import type { Random } from '../../common/clock.ts';
import type { Host } from '../types.ts';
import { registerLoadBalancer } from './registry.ts';
import type { LoadBalancer } from './types.ts';

class RandomLoadBalancer implements LoadBalancer {
  private readonly hosts: readonly Host[];
  private readonly random: Random;
  constructor(hosts: readonly Host[], random: Random) {
    this.hosts = hosts;
    this.random = random;
  }
  chooseHost(): Host {
    return this.hosts[this.random.nextUint32() % this.hosts.length]!;
  }
}

registerLoadBalancer('RANDOM', { create: (hosts, _cluster, random) => new RandomLoadBalancer(hosts, random), hashBased: false });
