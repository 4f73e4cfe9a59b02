// A real STATIC cluster with outlier_detection, built by createClusterManager on a FakeClock, plus
// shorthands to report results to a host's monitor and read the outlier_detection stats.

import type { Random } from '../../../proxy/common/clock.ts';
import type { HostImpl } from '../../../proxy/upstream/host.ts';
import type { OutlierResult } from '../../../proxy/upstream/types.ts';
import { harness, staticCluster, uint32s, type Harness } from '../upstream/helpers.ts';

export interface OutlierHarness extends Harness {
  /** The cluster's hosts in priority order. */
  readonly hosts: readonly HostImpl[];
  /** Reports `codes` in order to host `i`. */
  respond(i: number, ...codes: number[]): void;
  /** Reports `result` `times` times to host `i`. */
  result(i: number, result: OutlierResult, times?: number): void;
  /** `cluster.c.outlier_detection.<name>` (counter, or the ejections_active gauge). */
  stat(name: string): number;
  /** Which hosts are ejected (health flag FAILED_OUTLIER_CHECK). */
  ejected(): boolean[];
  /** Addresses the load balancer returns over `n` picks. */
  picks(n?: number): Set<string | undefined>;
}

/** `byPriority[p]` = number of hosts at priority p; addresses are 10.0.<p>.<i+1>. */
export function outlierHarness(outlier: Record<string, unknown>, byPriority: readonly number[] = [10],
  opts: { random?: Random; extra?: Record<string, unknown> } = {}): OutlierHarness {
  const endpoints = byPriority.map((n, p) => Array.from({ length: n }, (_, i) => ({ ip: `10.0.${p}.${i + 1}` })));
  const h = harness(staticCluster(endpoints, { outlier_detection: outlier, ...opts.extra }), opts.random ?? uint32s(0));
  const hosts = h.cluster.hosts() as readonly HostImpl[];
  const monitor = (i: number) => {
    const m = hosts[i]?.outlier;
    if (!m) throw new Error(`host ${i} has no outlier monitor`);
    return m;
  };
  return {
    ...h,
    hosts,
    respond: (i, ...codes) => codes.forEach((c) => monitor(i).putHttpResponseCode(c)),
    result: (i, result, times = 1) => {
      for (let k = 0; k < times; k++) monitor(i).putResult(result);
    },
    stat: (name) => {
      const full = `cluster.c.outlier_detection.${name}`;
      return (h.stats.counters.get(full) ?? h.stats.gauges.get(full))?.value() ?? Number.NaN;
    },
    ejected: () => hosts.map((x) => x.failedOutlierCheck),
    picks: (n = 50) => new Set(Array.from({ length: n }, () => h.cluster.chooseHost({})?.addressString)),
  };
}

/** `n` copies of `code`. */
export const times = (n: number, code: number): number[] => Array.from({ length: n }, () => code);

/** `failures` 500s and `successes` 200s, alternating while both remain (no consecutive run of 5xx). */
export function mixed(failures: number, successes: number): number[] {
  const out: number[] = [];
  while (failures > 0 || successes > 0) {
    if (successes > 0) { out.push(200); successes--; }
    if (failures > 0) { out.push(500); failures--; }
  }
  return out;
}
