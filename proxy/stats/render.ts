// Admin /stats rendering in Envoy's text form (`name: value`, then histogram quantile summaries) and its
// `format=json` form, with the `usedonly`, `filter` and `type` query options. Reads the StatsStore only.

import { approxQuantiles } from './histogram-bins.ts';
import type { HistogramImpl, StatsStore } from './store.ts';

/** Envoy's supported quantiles, as printed (P0 … P100). */
export const SUPPORTED_QUANTILES: readonly number[] = [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100];
const QS = SUPPORTED_QUANTILES.map((p) => p / 100);

export type StatsType = 'All' | 'Counters' | 'Gauges' | 'Histograms' | 'TextReadouts';
export const STATS_TYPES: readonly StatsType[] = ['All', 'Counters', 'Gauges', 'Histograms', 'TextReadouts'];

export interface StatsQuery {
  readonly usedOnly?: boolean;
  /** Partial-match regex over the stat name. */
  readonly filter?: RegExp | null;
  readonly type?: StatsType;
}

function byName<T>(a: [string, T], b: [string, T]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

function selected(q: StatsQuery, name: string, used: boolean): boolean {
  return (!q.usedOnly || used) && (!q.filter || q.filter.test(name));
}

/** Counters and gauges (one alphabetical list, as Envoy prints them). */
function scalars(store: StatsStore, q: StatsQuery): [string, number][] {
  const type = q.type ?? 'All';
  const out: [string, number][] = [];
  if (type === 'All' || type === 'Counters') {
    for (const [n, c] of store.counters) if (selected(q, n, c.used)) out.push([n, c.v]);
  }
  if (type === 'All' || type === 'Gauges') {
    for (const [n, g] of store.gauges) if (selected(q, n, g.used)) out.push([n, g.v]);
  }
  return out.sort(byName);
}

function histograms(store: StatsStore, q: StatsQuery): [string, HistogramImpl][] {
  const type = q.type ?? 'All';
  if (type !== 'All' && type !== 'Histograms') return [];
  const out: [string, HistogramImpl][] = [];
  for (const [n, h] of store.histograms) if (selected(q, n, h.used)) out.push([n, h]);
  return out.sort(byName);
}

/** [interval, cumulative] per supported quantile, or null when nothing was merged yet. */
function quantiles(h: HistogramImpl): [number, number][] | null {
  if (h.cumulative.size === 0) return null;
  const interval = approxQuantiles(h.interval, QS);
  const cumulative = approxQuantiles(h.cumulative, QS);
  return cumulative.map((c, i) => [interval[i]!, c]);
}

/** Envoy prints doubles with fmt's shortest form and NaN as `nan`. */
function num(v: number): string {
  return Number.isNaN(v) ? 'nan' : String(v);
}

/** `GET /stats` text. */
export function renderStatsText(store: StatsStore, q: StatsQuery = {}): string {
  let out = '';
  for (const [n, v] of scalars(store, q)) out += `${n}: ${v}\n`;
  for (const [n, h] of histograms(store, q)) {
    const qv = quantiles(h);
    const summary = qv === null
      ? 'No recorded values'
      : qv.map(([i, c], k) => `P${SUPPORTED_QUANTILES[k]}(${num(i)},${num(c)})`).join(' ');
    out += `${n}: ${summary}\n`;
  }
  return out;
}

/** `GET /stats?format=json`. */
export function renderStatsJson(store: StatsStore, q: StatsQuery = {}): string {
  const stats: unknown[] = scalars(store, q).map(([name, value]) => ({ name, value }));
  const hs = histograms(store, q);
  if (hs.length > 0) {
    const nullable = (v: number): number | null => (Number.isNaN(v) ? null : v);
    stats.push({
      histograms: {
        supported_quantiles: SUPPORTED_QUANTILES,
        computed_quantiles: hs.map(([name, h]) => ({
          name,
          values: (quantiles(h) ?? SUPPORTED_QUANTILES.map((): [number, number] => [NaN, NaN]))
            .map(([i, c]) => ({ interval: nullable(i), cumulative: nullable(c) })),
        })),
      },
    });
  }
  return JSON.stringify({ stats });
}
