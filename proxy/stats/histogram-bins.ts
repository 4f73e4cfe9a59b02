// Log-linear histogram bins with two significant digits (libcircllhist, which Envoy's histograms use) and
// Envoy's quantile interpolation over them, so /stats prints the same P50(...) numbers Envoy does.
// A bin is [m·10^(e-1), (m+1)·10^(e-1)) with m in 10..99; bins live in a Map keyed by a sortable integer.

/** Bins: sortable key → sample count. */
export type Bins = Map<number, number>;

/** Key of the bin holding zero (and clamped negative samples); width 0 like circllhist's zero bin. */
const ZERO_KEY = 0;
/** Keeps keys positive and ordered: key = (e + EXP_BIAS) * 100 + m. */
const EXP_BIAS = 200;

/** 10^e for e in [-128, 127] (circllhist's exponent range), parsed from decimal so each is the nearest double. */
const POW10 = Float64Array.from({ length: 256 }, (_, i) => Number(`1e${i - 128}`));
const pow10 = (e: number): number => POW10[e + 128]!;

/** The bin key for a sample (no Math.log10/pow: this runs on every record()). */
export function binKey(v: number): number {
  if (!(v > 0)) return ZERO_KEY;
  let e = 0;
  if (v >= 1) { while (e < 126 && v >= pow10(e + 1)) e++; }
  else { while (e > -127 && v < pow10(e)) e--; }
  // Two significant digits: multiply by an exact integer power of ten, or divide by one. The 1e-9 keeps
  // decimal boundaries such as 0.29 (0.28999… in binary) in their own bin.
  const m = Math.min(99, Math.max(10, Math.floor((e <= 1 ? v * pow10(1 - e) : v / pow10(e - 1)) + 1e-9)));
  return (e + EXP_BIAS) * 100 + m;
}

/** n·10^(e-1), dividing by an exact power of ten when e-1 < 0 so 1.1 prints as 1.1. */
function scaled(n: number, e: number): number {
  return e <= 1 ? n / pow10(1 - e) : n * pow10(e - 1);
}

function binLeft(key: number): number {
  return key === ZERO_KEY ? 0 : scaled(key % 100, Math.floor(key / 100) - EXP_BIAS);
}

function binWidth(key: number): number {
  return key === ZERO_KEY ? 0 : scaled(1, Math.floor(key / 100) - EXP_BIAS);
}

export function addBins(into: Bins, from: Bins): void {
  for (const [k, c] of from) into.set(k, (into.get(k) ?? 0) + c);
}

/**
 * Envoy's quantiles (hist_approx_quantile): for each q in [0, 1] (ascending), the value at rank q·total,
 * interpolated linearly inside its bin. Returns NaN for every q when there are no samples.
 */
export function approxQuantiles(bins: Bins, qs: readonly number[]): number[] {
  const keys = [...bins.keys()].filter((k) => bins.get(k)! > 0).sort((a, b) => a - b);
  let total = 0;
  for (const k of keys) total += bins.get(k)!;
  if (total === 0) return qs.map(() => NaN);

  let i = 0;
  let lower = 0;
  let upper = bins.get(keys[0]!)!;
  return qs.map((q) => {
    const target = q * total;
    while (i < keys.length - 1 && upper < target) {
      i++;
      lower = upper;
      upper = lower + bins.get(keys[i]!)!;
    }
    const key = keys[i]!;
    const left = binLeft(key);
    const width = binWidth(key);
    if (lower === target) return left;
    if (upper === target) return left + width;
    if (width === 0) return left;
    return left + ((target - lower) / (upper - lower)) * width;
  });
}
