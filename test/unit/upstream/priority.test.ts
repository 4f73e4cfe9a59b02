// Priority load and panic threshold arithmetic (Envoy overprovisioning factor 140, healthy_panic_threshold).

import { describe, expect, it } from 'vitest';
import { choosePriority, computePriorityState } from '../../../proxy/upstream/load-balancer/priority-load.ts';
import { harness, staticCluster, uint32s, type Endpoint } from './helpers.ts';

const level = (total: number, healthy: number) => ({ total, healthy });

describe('computePriorityState (Envoy priority load and panic)', () => {
  it.each([
    ['all healthy', [level(10, 10)], 140, 50, [100], [false]],
    ['P0 at 71% still takes everything (× 1.4 ≥ 100)', [level(100, 72), level(10, 10)], 140, 50, [100, 0], [false, false]],
    ['P0 at 70% spills 2% to P1', [level(10, 7), level(10, 10)], 140, 50, [98, 2], [false, false]],
    ['P0 at 50% spills 30%', [level(10, 5), level(10, 10)], 140, 50, [70, 30], [false, false]],
    ['P0 below the panic threshold', [level(10, 4), level(10, 10)], 140, 50, [56, 44], [true, false]],
    ['overprovisioning 100 spills earlier', [level(10, 9), level(10, 10)], 100, 50, [90, 10], [false, false]],
    ['lone degraded priority gets all load', [level(10, 6)], 140, 50, [100], [false]],
    ['partial health scales up to 100%', [level(10, 1), level(10, 1)], 140, 0, [50, 50], [false, false]],
    ['total panic spreads by host count', [level(4, 0), level(6, 0)], 140, 50, [40, 60], [true, true]],
    ['total panic rounding goes to the first non-empty', [level(0, 0), level(1, 0), level(2, 0)], 140, 50, [0, 34, 66], [true, true, true]],
    ['panic disabled and nothing healthy', [level(3, 0), level(3, 0)], 140, 0, [100, 0], [false, false]],
    ['empty cluster', [level(0, 0)], 140, 50, [100], [true]],
    ['empty P0, healthy P1', [level(0, 0), level(2, 2)], 140, 50, [0, 100], [true, false]],
  ])('%s', (_what, levels, factor, threshold, load, panic) => {
    expect(computePriorityState(levels, factor, threshold)).toEqual({ load, panic });
  });

  it('choosePriority maps 0..99 onto the cumulative load', () => {
    expect([0, 69, 70, 99].map((n) => choosePriority([70, 30], n))).toEqual([0, 0, 1, 1]);
    expect(choosePriority([0, 100], 0)).toBe(1);
  });
});

describe('priority selection in a cluster', () => {
  const hosts = (prefix: string, healthy: number, unhealthy: number): Endpoint[] => [
    ...Array.from({ length: healthy }, (_, i) => ({ ip: `${prefix}.${i + 1}` })),
    ...Array.from({ length: unhealthy }, (_, i) => ({ ip: `${prefix}.${healthy + i + 1}`, health: 'UNHEALTHY' })),
  ];

  it('uses only priority 0 while it is healthy enough, without drawing randomness', () => {
    const { cluster } = harness(staticCluster([hosts('10.0.0', 3, 1), hosts('10.0.1', 2, 0)]), uint32s(0, 0));
    expect(new Set(Array.from({ length: 9 }, () => cluster.chooseHost({})!.address))).toEqual(new Set(['10.0.0.1', '10.0.0.2', '10.0.0.3']));
  });

  it('spills to priority 1 by the computed load and balances healthy hosts only', () => {
    // P0: 3 of 5 healthy → health 84 → load [84, 16]. Draws: two RR seeds, then one per request.
    const { cluster, stats } = harness(staticCluster([hosts('10.0.0', 3, 2), hosts('10.0.1', 2, 0)]), uint32s(0, 0, 83, 84, 99, 0));
    const chosen = Array.from({ length: 4 }, () => cluster.chooseHost({})!.address);
    expect(chosen).toEqual(['10.0.0.1', '10.0.1.1', '10.0.1.2', '10.0.0.2']);
    expect(stats.counter('cluster.c.lb_healthy_panic').value()).toBe(0);
  });

  it('in panic mode balances across all hosts of the priority, unhealthy ones included', () => {
    const { cluster, stats } = harness(staticCluster([hosts('10.0.0', 1, 3)]), uint32s(0));
    expect(Array.from({ length: 4 }, () => cluster.chooseHost({})!.address)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
    expect(stats.counter('cluster.c.lb_healthy_panic').value()).toBe(4);
  });

  it('with the panic threshold disabled and no healthy host, chooses nothing', () => {
    const { cluster } = harness(staticCluster([hosts('10.0.0', 0, 2)], { common_lb_config: { healthy_panic_threshold: { value: 0 } } }));
    expect(cluster.chooseHost({})).toBeNull();
  });

  it('publishes membership gauges', () => {
    const { stats } = harness(staticCluster([hosts('10.0.0', 3, 1), [{ ip: '10.0.1.1', health: 'DEGRADED' }]]));
    expect(stats.gauge('cluster.c.membership_total').value()).toBe(5);
    expect(stats.gauge('cluster.c.membership_healthy').value()).toBe(4);
    expect(stats.gauge('cluster.c.membership_degraded').value()).toBe(1);
    expect(stats.counter('cluster.c.membership_change').value()).toBe(1);
  });
});
