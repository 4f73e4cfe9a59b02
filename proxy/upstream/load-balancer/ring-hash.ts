// RING_HASH (Envoy's RingHashLoadBalancer, Ketama): every host gets ring entries in proportion to its
// weight, hashed from "<ip:port>_<i>"; a request's hash maps to the first entry at or after it
// (wrapping), so removing a host only moves the keys that were on its entries. No hash → random point.

import type { Random } from '../../common/clock.ts';
import type { ClusterConfig } from '../cluster-config.ts';
import type { Host, LoadBalancerContext } from '../types.ts';
import { xxHash64 } from '../../route/xxhash64.ts';
import { murmurHash2 } from './murmur-hash2.ts';
import { registerLoadBalancer } from './registry.ts';
import type { LoadBalancer } from './types.ts';

export class RingHashLoadBalancer implements LoadBalancer {
  /** Sorted entry hashes; `ringHosts[i]` owns `ringHashes[i]`. */
  private readonly ringHashes: BigUint64Array;
  private readonly ringHosts: Host[];
  private readonly random: Random;

  constructor(hosts: readonly Host[], config: ClusterConfig['ringHash'], random: Random) {
    this.random = random;
    const hash = config.hashFunction === 'MURMUR_HASH_2' ? murmurHash2 : xxHash64;
    const totalWeight = hosts.reduce((sum, h) => sum + h.weight, 0);
    const normalized = hosts.map((h) => h.weight / totalWeight);
    const minNormalized = Math.min(...normalized);
    // Scale so the lightest host gets a whole number of entries, capped at maximum_ring_size.
    const scale = Math.min(Math.ceil(minNormalized * config.minimumRingSize) / minNormalized, config.maximumRingSize);
    const entries: { hash: bigint; host: Host }[] = [];
    // Running sums keep the ring stable when weights do not divide evenly.
    let current = 0;
    let target = 0;
    hosts.forEach((host, k) => {
      target += scale * normalized[k]!;
      for (let i = 0; current < target; i++, current++) entries.push({ hash: hash(`${host.addressString}_${i}`), host });
    });
    entries.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
    this.ringHashes = BigUint64Array.from(entries, (e) => e.hash);
    this.ringHosts = entries.map((e) => e.host);
  }

  get size(): number {
    return this.ringHosts.length;
  }

  chooseHost(ctx: LoadBalancerContext): Host | null {
    const n = this.ringHashes.length;
    if (n === 0) return null;
    const h = ctx.hashKey ?? (BigInt(this.random.nextUint32()) << 32n) | BigInt(this.random.nextUint32());
    // First entry with hash >= h; past the end wraps to the first entry.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ringHashes[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return this.ringHosts[lo === n ? 0 : lo]!;
  }
}

registerLoadBalancer('RING_HASH', {
  create: (hosts, cluster, random) => new RingHashLoadBalancer(hosts, cluster.ringHash, random),
  hashBased: true,
});
