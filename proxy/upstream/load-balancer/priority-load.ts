// Envoy's per-priority load and panic computation (LoadBalancerBase::recalculatePerPriorityState and
// recalculatePerPriorityPanic): health = min(100, overprovisioning × healthy / total) per priority;
// traffic fills priorities in order by health and spills over; a priority whose healthy share is
// below healthy_panic_threshold balances across all of its hosts. Pure and computed at update time.

export interface PriorityHostCounts {
  readonly total: number;
  readonly healthy: number;
}

export interface PriorityState {
  /** Percent of requests per priority; sums to 100. */
  readonly load: readonly number[];
  /** Per priority: balance across all hosts, ignoring health. */
  readonly panic: readonly boolean[];
}

/** `levels[p]` describes priority p; at least one level. Percentages are integers as in Envoy. */
export function computePriorityState(levels: readonly PriorityHostCounts[], overprovisioningFactor: number,
  panicThreshold: number): PriorityState {
  const health = levels.map((l) => (l.total === 0 ? 0 : Math.min(100, Math.floor((overprovisioningFactor * l.healthy) / l.total))));
  const totalHealth = Math.min(100, health.reduce((a, b) => a + b, 0));
  const load = levels.map(() => 0);

  if (totalHealth > 0) {
    let remaining = 100;
    health.forEach((h, p) => {
      load[p] = Math.min(remaining, Math.floor((h * 100) / totalHealth));
      remaining -= load[p]!;
    });
    // Rounding leftovers go to the first priority with any health.
    if (remaining > 0) load[health.findIndex((h) => h > 0)]! += remaining;
  }

  if (panicThreshold === 0) {
    // Panic disabled: with nothing healthy, all load nominally goes to P0, which then has no host.
    if (totalHealth === 0) load[0] = 100;
    return { load, panic: levels.map(() => false) };
  }

  const panic = levels.map((l) => l.total === 0 || (100 * l.healthy) / l.total < panicThreshold);
  if (panic.every(Boolean)) {
    // Total panic: spread by host count, ignoring health; leftovers to the first non-empty priority.
    const hosts = levels.reduce((a, l) => a + l.total, 0);
    if (hosts === 0) return { load: levels.map((_, p) => (p === 0 ? 100 : 0)), panic };
    let remaining = 100;
    levels.forEach((l, p) => {
      load[p] = Math.floor((100 * l.total) / hosts);
      remaining -= load[p]!;
    });
    load[levels.findIndex((l) => l.total > 0)]! += remaining;
  }
  return { load, panic };
}

/** Envoy's choosePriority: `n` in [0, 100) (from the hash or a random draw) → the priority owning it. */
export function choosePriority(load: readonly number[], n: number): number {
  const point = (n % 100) + 1;
  let aggregate = 0;
  for (let p = 0; p < load.length; p++) {
    aggregate += load[p]!;
    if (point <= aggregate) return p;
  }
  return 0;
}
