// Load balancers with injected randomness: round robin, weighted EDF, least request P2C, random, ring hash.

import { describe, expect, it } from 'vitest';
import { xxHash64 } from '../../../proxy/route/xxhash64.ts';
import { murmurHash2 } from '../../../proxy/upstream/load-balancer/murmur-hash2.ts';
import type { Host } from '../../../proxy/upstream/types.ts';
import { SeededRandom } from '../../support/fake-clock.ts';
import { harness, staticCluster, uint32s, type Endpoint } from './helpers.ts';

const ips = (...last: number[]): Endpoint[] => last.map((n) => ({ ip: `10.0.0.${n}` }));

function picks(cluster: { chooseHost(ctx: object): Host | null }, n: number, ctx: object = {}): string[] {
  return Array.from({ length: n }, () => cluster.chooseHost(ctx)?.address ?? 'none');
}

describe('ROUND_ROBIN', () => {
  it('rotates through equal-weight hosts starting at the random seed', () => {
    expect(picks(harness(staticCluster([ips(1, 2, 3)]), uint32s(0)).cluster, 7))
      .toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1']);
    expect(picks(harness(staticCluster([ips(1, 2, 3)]), uint32s(4)).cluster, 4))
      .toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.1', '10.0.0.2']);
  });

  it('schedules unequal weights earliest-deadline-first (ties to the earlier entry)', () => {
    // Deadlines advance by 1/weight: A at 0.5, 1, 1.5, 2 …; B at 1, 2 …; B wins the ties (added first).
    const { cluster } = harness(staticCluster([[{ ip: '10.0.0.1', weight: 2 }, { ip: '10.0.0.2', weight: 1 }]]), uint32s(0));
    expect(picks(cluster, 7)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.1', '10.0.0.1', '10.0.0.2', '10.0.0.1', '10.0.0.1']);
  });

  it('starts the weighted schedule seed % hosts picks in', () => {
    const { cluster } = harness(staticCluster([[{ ip: '10.0.0.1', weight: 2 }, { ip: '10.0.0.2', weight: 1 }]]), uint32s(1));
    expect(picks(cluster, 4)).toEqual(['10.0.0.2', '10.0.0.1', '10.0.0.1', '10.0.0.2']);
  });

  it('keeps exact weight proportions over a full cycle', () => {
    const { cluster } = harness(staticCluster([[{ ip: '10.0.0.1', weight: 5 }, { ip: '10.0.0.2', weight: 2 }, { ip: '10.0.0.3', weight: 1 }]]), uint32s(1));
    const counts = new Map<string, number>();
    for (const a of picks(cluster, 800)) counts.set(a, (counts.get(a) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({ '10.0.0.1': 500, '10.0.0.2': 200, '10.0.0.3': 100 });
  });

  it('skips unhealthy hosts while the priority is above the panic threshold', () => {
    const { cluster } = harness(staticCluster([[{ ip: '10.0.0.1' }, { ip: '10.0.0.2', health: 'UNHEALTHY' }, { ip: '10.0.0.3', health: 'DRAINING' }, { ip: '10.0.0.4', health: 'DEGRADED' }]]), uint32s(0));
    expect(picks(cluster, 4)).toEqual(['10.0.0.1', '10.0.0.4', '10.0.0.1', '10.0.0.4']);
    expect(cluster.hosts().map((h) => h.healthFlags())).toEqual(['healthy', '/failed_eds_health', '/failed_eds_health', '/degraded_eds_health']);
  });

  it('returns null for a cluster without hosts', () => {
    const { cluster, stats } = harness({ name: 'c' });
    expect(cluster.chooseHost({})).toBeNull();
    expect(stats.gauge('cluster.c.membership_total').value()).toBe(0);
  });
});

describe('RANDOM', () => {
  it('picks hosts[random % n], ignoring weights', () => {
    const { cluster } = harness(staticCluster([[{ ip: '10.0.0.1', weight: 100 }, ...ips(2, 3)]], { lb_policy: 'RANDOM' }), uint32s(2, 0, 4, 1));
    expect(picks(cluster, 4)).toEqual(['10.0.0.3', '10.0.0.1', '10.0.0.2', '10.0.0.2']);
  });
});

describe('LEAST_REQUEST', () => {
  it('power of two choices: the sampled host with fewer active requests wins', () => {
    const { cluster } = harness(staticCluster([ips(1, 2, 3)], { lb_policy: 'LEAST_REQUEST' }), uint32s(0, 1, 2, 1, 1, 1));
    const [a, b, c] = cluster.hosts();
    a!.stats.rq_active = 5;
    b!.stats.rq_active = 0;
    c!.stats.rq_active = 2;
    expect(cluster.chooseHost({})).toBe(b); // samples a, b
    expect(cluster.chooseHost({})).toBe(b); // samples c, b
    expect(cluster.chooseHost({})).toBe(b); // samples b, b
  });

  it('samples choice_count hosts', () => {
    const { cluster } = harness(staticCluster([ips(1, 2, 3)], { lb_policy: 'LEAST_REQUEST', least_request_lb_config: { choice_count: 3 } }),
      uint32s(0, 2, 1));
    const [a, b, c] = cluster.hosts();
    a!.stats.rq_active = 3;
    b!.stats.rq_active = 1;
    c!.stats.rq_active = 2;
    expect(cluster.chooseHost({})).toBe(b);
  });

  it('weights unequal hosts by weight / (active + 1)^bias', () => {
    const { cluster } = harness(staticCluster([[{ ip: '10.0.0.1', weight: 2 }, { ip: '10.0.0.2', weight: 1 }]], { lb_policy: 'LEAST_REQUEST' }),
      uint32s(0));
    const [heavy, light] = cluster.hosts();
    // Idle: 2:1 like weighted round robin.
    const idle = picks(cluster, 30);
    expect(idle.filter((a) => a === '10.0.0.1')).toHaveLength(20);
    // A loaded heavy host (3 active → 2/4 = 0.5) now weighs less than the idle light host (1).
    heavy!.stats.rq_active = 3;
    const loaded = picks(cluster, 300);
    expect(loaded.filter((a) => a === light!.address).length).toBeGreaterThan(loaded.filter((a) => a === heavy!.address).length);
  });
});

describe('RING_HASH', () => {
  const cfg = (extra: Record<string, unknown> = {}) => ({ lb_policy: 'RING_HASH', ...extra });

  it('hashes hosts like Envoy (xxHash64 / MurmurHash2 reference values)', () => {
    expect(xxHash64('foo')).toBe(3728699739546630719n);
    expect(murmurHash2('foo')).toBe(9631199822919835226n);
    expect(murmurHash2('')).toBe(murmurHash2(''));
    expect(murmurHash2('10.0.0.1:80_0')).not.toBe(murmurHash2('10.0.0.1:80_1'));
  });

  it('maps the same key to the same host, also across rebuilt rings', () => {
    const a = harness(staticCluster([ips(1, 2, 3, 4)], cfg())).cluster;
    const b = harness(staticCluster([ips(1, 2, 3, 4)], cfg()), uint32s(99)).cluster;
    const rnd = new SeededRandom(7);
    for (let i = 0; i < 200; i++) {
      const hashKey = (BigInt(rnd.nextUint32()) << 32n) | BigInt(rnd.nextUint32());
      const host = a.chooseHost({ hashKey });
      expect(a.chooseHost({ hashKey })).toBe(host);
      expect(b.chooseHost({ hashKey })?.address).toBe(host?.address);
    }
  });

  it('removing a host remaps its keys and leaves most other keys in place', () => {
    const four = harness(staticCluster([ips(1, 2, 3, 4)], cfg())).cluster;
    const three = harness(staticCluster([ips(1, 2, 3)], cfg())).cluster;
    const rnd = new SeededRandom(11);
    let kept = 0;
    let others = 0;
    for (let i = 0; i < 4000; i++) {
      const hashKey = (BigInt(rnd.nextUint32()) << 32n) | BigInt(rnd.nextUint32());
      const before = four.chooseHost({ hashKey })!.address;
      const after = three.chooseHost({ hashKey })!.address;
      if (before === '10.0.0.4') {
        expect(after).not.toBe('10.0.0.4');
      } else {
        others++;
        if (before === after) kept++;
      }
    }
    // Each survivor also gains ring entries (256 → 342, Envoy's scaling), so a minority of their keys moves.
    expect(kept / others).toBeGreaterThan(0.75);
  });

  it('gives hosts ring entries in proportion to weight and spreads keys accordingly', () => {
    const { cluster } = harness(staticCluster([[{ ip: '10.0.0.1', weight: 3 }, { ip: '10.0.0.2', weight: 1 }]], cfg()));
    const rnd = new SeededRandom(3);
    let first = 0;
    for (let i = 0; i < 4000; i++) {
      const hashKey = (BigInt(rnd.nextUint32()) << 32n) | BigInt(rnd.nextUint32());
      if (cluster.chooseHost({ hashKey })!.address === '10.0.0.1') first++;
    }
    expect(first / 4000).toBeGreaterThan(0.68);
    expect(first / 4000).toBeLessThan(0.82);
  });

  it('uses a random ring point when the route gives no hash', () => {
    const { cluster } = harness(staticCluster([ips(1, 2, 3, 4)], cfg({ ring_hash_lb_config: { hash_function: 'MURMUR_HASH_2' } })),
      new SeededRandom(5));
    expect(new Set(picks(cluster, 200)).size).toBe(4);
  });

  it('wraps keys beyond the last ring entry to the first entry', () => {
    const { cluster } = harness(staticCluster([ips(1, 2)], cfg({ ring_hash_lb_config: { minimum_ring_size: 4 } })));
    expect(cluster.chooseHost({ hashKey: 0xffff_ffff_ffff_ffffn })).toBe(cluster.chooseHost({ hashKey: 0n }));
  });
});
