// /stats/prometheus: renders the StatsStore as Prometheus text exposition v0.0.4 the way Envoy names it
// (tag extraction → labels, or a stat's explicit tags; `.` → `_`, `envoy_` prefix unless in a custom namespace),
// through a prom-client Registry built per scrape from the store's handles. Tag extraction is cached per stat
// name; recording never touches this file.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StatsStore, HistogramImpl } from './store.ts';
import { TagProducer } from './tag-extractor.ts';

export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

export interface PrometheusQuery {
  /** `usedonly`: only stats that were ever written. */
  readonly usedOnly?: boolean;
  /** `filter=<regex>`: only stats whose Envoy name matches (partial match, as RE2 PartialMatch). */
  readonly filter?: RegExp | null;
}

/** A stat's Prometheus identity: family name and labels in Envoy's order (null = not exported). */
interface SeriesId {
  readonly family: string;
  readonly labels: Readonly<Record<string, string>>;
}

type Kind = 'counter' | 'gauge' | 'histogram';

/** One exported series: counters and gauges carry `scalar`, histograms their store handle. */
interface Series {
  readonly id: SeriesId;
  readonly scalar: number;
  readonly histogram: HistogramImpl | null;
}

/** Envoy's PrometheusStatsFormatter::sanitizeName: anything but [a-zA-Z0-9_] becomes '_'. */
export function sanitizeName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, '_');
}

/**
 * A histogram family whose series come from StatsStore histograms: overrides prom-client's get() so the
 * buckets are the store's counts (cumulative `le` buckets, `_sum`, `_count`), with `le` as the last label.
 */
class StoreHistogram extends Histogram {
  private readonly family: string;
  private readonly series: { labels: Readonly<Record<string, string>>; h: HistogramImpl }[] = [];

  constructor(config: { name: string; help: string; labelNames: string[]; registers: Registry[] }) {
    super({ ...config, buckets: [] });
    this.family = config.name;
  }

  add(labels: Readonly<Record<string, string>>, h: HistogramImpl): void {
    this.series.push({ labels, h });
  }

  override async get(): Promise<Awaited<ReturnType<Histogram['get']>>> {
    const values: { value: number; labels: Record<string, string>; metricName: string }[] = [];
    for (const { labels, h } of this.series) {
      let acc = 0;
      h.bounds.forEach((bound, i) => {
        acc += h.counts[i]!;
        values.push({ value: acc, labels: { ...labels, le: String(bound) }, metricName: `${this.family}_bucket` });
      });
      values.push({ value: h.count, labels: { ...labels, le: '+Inf' }, metricName: `${this.family}_bucket` });
      values.push({ value: h.sum, labels: { ...labels }, metricName: `${this.family}_sum` });
      values.push({ value: h.count, labels: { ...labels }, metricName: `${this.family}_count` });
    }
    // prom-client's typings declare `type` as a numeric enum, but its registry prints this string.
    return { name: this.family, help: this.family, type: 'histogram' as never, aggregator: 'sum', collect: () => undefined, values };
  }

  async getForPromString(): Promise<Awaited<ReturnType<Histogram['get']>>> {
    return this.get();
  }
}

export class PrometheusRenderer {
  private readonly store: StatsStore;
  private readonly tags: TagProducer;
  private readonly customNamespaces: readonly string[];
  private readonly ids = new Map<string, SeriesId | null>();

  /**
   * `customNamespaces`: stat name prefixes emitted without `envoy_` and with the namespace stripped
   * (Envoy's CustomStatNamespaces, e.g. `istio` for `istio.istio_requests_total`), besides the ones
   * registered in the store (StatsStore.customNamespaces, e.g. Istio's stats filter's `istiocustom`).
   */
  constructor(store: StatsStore, opts: { tagProducer?: TagProducer; customNamespaces?: readonly string[] } = {}) {
    this.store = store;
    this.tags = opts.tagProducer ?? new TagProducer();
    this.customNamespaces = opts.customNamespaces ?? [];
  }

  /** Envoy's PrometheusStatsFormatter::metricName plus tag labels; cached per stat name. */
  seriesId(stat: string): SeriesId | null {
    let id = this.ids.get(stat);
    if (id !== undefined) return id;
    // A stat created with explicit tags carries them; the others go through Envoy's tag extraction.
    const extracted = this.store.explicitTags.get(stat) ?? this.tags.produceTags(stat);
    const labels: Record<string, string> = {};
    for (const t of extracted.tags) labels[sanitizeName(t.name)] = t.value;
    const inNamespace = (n: string): boolean => extracted.name.startsWith(`${n}.`);
    const ns = this.customNamespaces.find(inNamespace) ?? [...this.store.customNamespaces].find(inNamespace);
    if (ns !== undefined) {
      const family = sanitizeName(extracted.name.slice(ns.length + 1));
      // Custom-namespace stats starting with a digit are not exposed (not a valid metric name).
      id = /^[0-9]/.test(family) || family === '' ? null : { family, labels };
    } else {
      id = { family: `envoy_${sanitizeName(extracted.name)}`, labels };
    }
    this.ids.set(stat, id);
    return id;
  }

  /** The exposition text for one scrape. */
  async render(query: PrometheusQuery = {}): Promise<string> {
    const registry = new Registry();
    const families = new Map<string, { kind: Kind; series: Series[] }>();
    const collect = <H extends { used: boolean }>(kind: Kind, entries: Map<string, H>, scalar: (h: H) => number,
      histogram: (h: H) => HistogramImpl | null): void => {
      for (const [stat, handle] of [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        if (query.usedOnly && !handle.used) continue;
        if (query.filter && !query.filter.test(stat)) continue;
        const id = this.seriesId(stat);
        if (!id) continue;
        let fam = families.get(id.family);
        if (!fam) families.set(id.family, (fam = { kind, series: [] }));
        // A name already taken by another stat type cannot be a second family; Envoy emits it once too.
        if (fam.kind !== kind) continue;
        fam.series.push({ id, scalar: scalar(handle), histogram: histogram(handle) });
      }
    };
    collect('counter', this.store.counters, (c) => c.v, () => null);
    collect('gauge', this.store.gauges, (g) => g.v, () => null);
    collect('histogram', this.store.histograms, (h) => h.count, (h) => h);

    const order: Kind[] = ['counter', 'gauge', 'histogram'];
    const sorted = [...families].sort(([a, fa], [b, fb]) =>
      order.indexOf(fa.kind) - order.indexOf(fb.kind) || (a < b ? -1 : a > b ? 1 : 0));
    for (const [name, fam] of sorted) {
      const labelNames = [...new Set(fam.series.flatMap((s) => Object.keys(s.id.labels)))];
      const config = { name, help: name, labelNames, registers: [registry] };
      if (fam.kind === 'counter') {
        const c = new Counter(config);
        for (const s of fam.series) c.inc({ ...s.id.labels }, s.scalar);
      } else if (fam.kind === 'gauge') {
        const g = new Gauge(config);
        for (const s of fam.series) g.set({ ...s.id.labels }, s.scalar);
      } else {
        const h = new StoreHistogram(config);
        for (const s of fam.series) if (s.histogram) h.add(s.id.labels, s.histogram);
      }
    }
    return families.size === 0 ? '' : registry.metrics();
  }
}
