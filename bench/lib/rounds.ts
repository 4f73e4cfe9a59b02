// What the interleaved-round benchmarks (bench/mtls-bench.ts, bench/telemetry-bench.ts) share: the order of
// the variants in each round, the noisy-run test and warning, medians, rows grouped per tool and variant, and
// the paired per-round ratio of two variants. Pure.

import type { LoadTool } from './load.ts';
import { NOISY_OTHER_LOAD_PCT } from './proc-stat.ts';

/** Round 1 runs A then B, round 2 B then A, …: drift of the host over the run hits both alike. */
export function interleaved<T>(items: readonly T[], round: number): readonly T[] {
  return round % 2 === 1 ? items : [...items].reverse();
}

/** A run was noisy when other processes took more than NOISY_OTHER_LOAD_PCT of the proxy CPUs meanwhile. */
export function isNoisy(row: { readonly otherCpuS: number; readonly durationS: number }): boolean {
  return (row.otherCpuS / row.durationS) * 100 > NOISY_OTHER_LOAD_PCT;
}

/** The warning for a run in which other processes took more than NOISY_OTHER_LOAD_PCT of the proxy CPUs, else undefined. */
export function noisyRunWarning(otherCpuS: number, durationS: number, proxyCpus: string): string | undefined {
  return isNoisy({ otherCpuS, durationS })
    ? `  warning: other processes used ${((otherCpuS / durationS) * 100).toFixed(0)}% of CPU ${proxyCpus} during this run; its numbers are noisy`
    : undefined;
}

/** The median of the defined values; undefined when there is none. */
export function median(values: readonly (number | undefined)[]): number | undefined {
  const sorted = values.filter((v): v is number => v !== undefined && Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** One measured run of a variant in a round, as the round helpers read it. */
export interface RoundRun<V> {
  readonly variant: V;
  readonly tool: LoadTool;
  readonly round: number;
  /** Busy seconds of the proxy CPUs not spent in the measured proxies. */
  readonly otherCpuS: number;
  readonly durationS: number;
}

/** The runs per tool (in the order tools first appear) and per variant (in `variants` order); empty groups left out. */
export function byToolAndVariant<V, R extends RoundRun<V>>(rows: readonly R[], variants: readonly V[]): { tool: LoadTool; variant: V; runs: R[] }[] {
  const tools = [...new Set(rows.map((r) => r.tool))];
  return tools.flatMap((tool) => variants.flatMap((variant) => {
    const runs = rows.filter((r) => r.tool === tool && r.variant === variant);
    return runs.length === 0 ? [] : [{ tool, variant, runs }];
  }));
}

export interface RoundRatio {
  readonly round: number;
  /** The second variant's metric ÷ the first's, in this round (same tool). */
  readonly ratio: number;
  /** Either of the two runs was noisy (shown with a `*`). */
  readonly noisy: boolean;
}

export interface PairedRatios {
  /** In round order; rounds where either variant has no value are left out. */
  readonly perRound: readonly RoundRatio[];
  /**
   * The median of the rounds' ratios: the paired comparison, which drift of the host between rounds disturbs
   * least. Noisy rounds stay in (they are marked): on a shared host, a quiet proxy core does not make a quiet
   * run (the load generator's core and the hypervisor disturb it too), and the median already resists outliers.
   */
  readonly medianPerRound?: number;
}

/** `metric` of `variants[1]` ÷ `metric` of `variants[0]`, per round of `tool`, and the median of those ratios. */
export function pairedRatios<V, R extends RoundRun<V>>(rows: readonly R[], tool: LoadTool, variants: readonly [V, V], metric: (r: R) => number | undefined): PairedRatios {
  const rounds = [...new Set(rows.filter((r) => r.tool === tool).map((r) => r.round))].sort((a, b) => a - b);
  const perRound = rounds.flatMap((round): RoundRatio[] => {
    const [base, other] = variants.map((variant) => rows.find((r) => r.tool === tool && r.round === round && r.variant === variant));
    const [baseValue, otherValue] = [base && metric(base), other && metric(other)];
    return baseValue === undefined || otherValue === undefined || baseValue === 0 ? [] : [{ round, ratio: otherValue / baseValue, noisy: isNoisy(base!) || isNoisy(other!) }];
  });
  const medianPerRound = median(perRound.map((r) => r.ratio));
  return { perRound, ...(medianPerRound === undefined ? {} : { medianPerRound }) };
}
