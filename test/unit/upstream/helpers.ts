// Shared fixtures for upstream unit tests: parse + translate a Cluster, build a cluster manager with a
// StatsStore, scripted uint32 randomness, and endpoint shorthands.

import type { Random } from '../../../proxy/common/clock.ts';
import { parseWith } from '../../../proxy/config/schema-kit.ts';
import { StatsStore } from '../../../proxy/stats/store.ts';
import { ClusterSchema, type ClusterWire } from '../../../proxy/upstream/cluster-schema.ts';
import { createClusterManager, type DnsResolver } from '../../../proxy/upstream/cluster-manager.ts';
import type { ClusterImpl } from '../../../proxy/upstream/cluster.ts';
import type { ClusterManager } from '../../../proxy/upstream/types.ts';
import { FakeClock, ScriptedRandom } from '../../support/fake-clock.ts';

export function parseCluster(input: unknown): ClusterWire {
  const r = parseWith(ClusterSchema, input);
  if (!r.ok) throw new Error(`unexpected config errors: ${JSON.stringify(r.errors)}`);
  return r.value;
}

/** Random whose nextUint32() returns exactly `values` in order (then repeats the last). */
export function uint32s(...values: number[]): Random {
  return new ScriptedRandom(values.map((v) => v / 0x1_0000_0000));
}

export interface Endpoint {
  ip: string;
  port?: number;
  weight?: number;
  health?: string;
  lb?: Record<string, unknown>;
}

export function lbEndpoints(endpoints: readonly Endpoint[]): unknown[] {
  return endpoints.map((e) => ({
    endpoint: { address: { socket_address: { address: e.ip, port_value: e.port ?? 80 } } },
    ...(e.weight !== undefined ? { load_balancing_weight: e.weight } : {}),
    ...(e.health !== undefined ? { health_status: e.health } : {}),
    ...(e.lb !== undefined ? { metadata: { filter_metadata: { 'envoy.lb': e.lb } } } : {}),
  }));
}

/** A STATIC cluster named `c` with one locality per priority. */
export function staticCluster(byPriority: readonly (readonly Endpoint[])[], extra: Record<string, unknown> = {}): unknown {
  return {
    name: 'c',
    type: 'STATIC',
    load_assignment: {
      cluster_name: 'c',
      endpoints: byPriority.map((endpoints, priority) => ({ priority, lb_endpoints: lbEndpoints(endpoints) })),
    },
    ...extra,
  };
}

export interface Harness {
  readonly cm: ClusterManager;
  readonly cluster: ClusterImpl;
  readonly stats: StatsStore;
  readonly clock: FakeClock;
}

export function harness(config: unknown, random: Random = uint32s(0), resolver?: DnsResolver): Harness {
  const stats = new StatsStore();
  const clock = new FakeClock();
  const cm = createClusterManager([parseCluster(config)], { stats, clock, random, ...(resolver ? { resolver } : {}) });
  const cluster = [...cm.all()][0] as ClusterImpl;
  return { cm, cluster, stats, clock };
}

/** Lets already-settled promises (fake DNS answers) run their callbacks. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
