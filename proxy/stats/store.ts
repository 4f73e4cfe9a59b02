// The stats store: owns every counter, gauge and histogram by its Envoy flat name. Handles are plain
// objects so recording on the hot path is a field update; rendering (admin /stats, Prometheus) reads them.

import { addBins, binKey, type Bins } from './histogram-bins.ts';
import type { Counter, Gauge, Histogram, StatTag, StatsScope } from './scope.ts';

export class CounterImpl implements Counter {
  v = 0;
  /** true once recorded at least once (for `usedonly`). */
  used = false;
  inc(n = 1): void {
    this.v += n;
    this.used = true;
  }
  value(): number {
    return this.v;
  }
}

export class GaugeImpl implements Gauge {
  v = 0;
  used = false;
  set(v: number): void {
    this.v = v;
    this.used = true;
  }
  inc(n = 1): void {
    this.v += n;
    this.used = true;
  }
  dec(n = 1): void {
    this.v -= n;
    this.used = true;
  }
  value(): number {
    return this.v;
  }
}

/** Envoy's default histogram bucket bounds (ms for *_time histograms). */
export const DEFAULT_BUCKETS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

export class HistogramImpl implements Histogram {
  /** Disjoint counts per bucket since start; the last slot counts values above the highest bound (Prometheus). */
  readonly counts: number[];
  count = 0;
  sum = 0;
  readonly bounds: readonly number[];
  /** true once recorded at least once (for `usedonly`). */
  used = false;
  /** Log-linear bins of the samples recorded since the last merge() (Envoy's flush interval). */
  private recording: Bins = new Map();
  /** The last completed interval's bins (the first value of /stats `P50(interval,cumulative)`). */
  interval: Bins = new Map();
  /** Every merged sample's bins (the cumulative value). */
  readonly cumulative: Bins = new Map();
  constructor(bounds: readonly number[] = DEFAULT_BUCKETS) {
    this.bounds = bounds;
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }
  record(v: number): void {
    let i = 0;
    const b = this.bounds;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.count++;
    this.sum += v;
    this.used = true;
    const k = binKey(v);
    this.recording.set(k, (this.recording.get(k) ?? 0) + 1);
  }
  /** Ends the current interval (Envoy merges histograms on every stats flush, `stats_flush_interval`). */
  merge(): void {
    this.interval = this.recording;
    this.recording = new Map();
    addBins(this.cumulative, this.interval);
  }
}

/** A stat created with explicit tags: the name without its tags and the tags in order (Envoy keeps both). */
export interface TaggedStatName {
  readonly name: string;
  readonly tags: readonly StatTag[];
}

/** Envoy's TagStatNameJoiner: `<name>.<tag name>.<tag value>…`, the flat name /stats prints. */
export function joinStatTags(name: string, tags: readonly StatTag[]): string {
  let flat = name;
  for (const t of tags) flat += `.${t.name}.${t.value}`;
  return flat;
}

export class StatsStore implements StatsScope {
  readonly counters = new Map<string, CounterImpl>();
  readonly gauges = new Map<string, GaugeImpl>();
  readonly histograms = new Map<string, HistogramImpl>();
  /** Flat name → name and tags, for stats created with explicit tags (rendered without tag extraction). */
  readonly explicitTags = new Map<string, TaggedStatName>();
  /** Registered custom stat namespaces (see StatsScope.registerCustomNamespace). */
  readonly customNamespaces = new Set<string>();

  scope(prefix: string): StatsScope {
    return new PrefixedScope(this, prefix);
  }
  counter(name: string): CounterImpl {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = new CounterImpl()));
    return c;
  }
  gauge(name: string): GaugeImpl {
    let g = this.gauges.get(name);
    if (!g) this.gauges.set(name, (g = new GaugeImpl()));
    return g;
  }
  histogram(name: string, bounds?: readonly number[]): HistogramImpl {
    let h = this.histograms.get(name);
    if (!h) this.histograms.set(name, (h = new HistogramImpl(bounds)));
    return h;
  }
  counterFromTags(name: string, tags: readonly StatTag[]): CounterImpl {
    return this.counter(this.tagged(name, tags));
  }
  gaugeFromTags(name: string, tags: readonly StatTag[]): GaugeImpl {
    return this.gauge(this.tagged(name, tags));
  }
  histogramFromTags(name: string, tags: readonly StatTag[], bounds?: readonly number[]): HistogramImpl {
    return this.histogram(this.tagged(name, tags), bounds);
  }
  registerCustomNamespace(ns: string): void {
    this.customNamespaces.add(ns);
  }
  /** The flat name of a tagged stat, remembering its tags for the Prometheus renderer. */
  private tagged(name: string, tags: readonly StatTag[]): string {
    const flat = joinStatTags(name, tags);
    if (!this.explicitTags.has(flat)) this.explicitTags.set(flat, { name, tags: Object.freeze([...tags]) });
    return flat;
  }
  /** Closes the histograms' current interval (run every `stats_flush_interval`, see flush.ts). */
  mergeHistograms(): void {
    for (const h of this.histograms.values()) h.merge();
  }
  /** Admin `POST /reset_counters`: counters back to zero (gauges and histograms are kept, as in Envoy). */
  resetCounters(): void {
    for (const c of this.counters.values()) c.v = 0;
  }
}

class PrefixedScope implements StatsScope {
  private readonly store: StatsStore;
  private readonly prefix: string;
  constructor(store: StatsStore, prefix: string) {
    this.store = store;
    this.prefix = prefix.endsWith('.') ? prefix : `${prefix}.`;
  }
  scope(prefix: string): StatsScope {
    return new PrefixedScope(this.store, this.prefix + prefix);
  }
  counter(name: string): Counter {
    return this.store.counter(this.prefix + name);
  }
  gauge(name: string): Gauge {
    return this.store.gauge(this.prefix + name);
  }
  histogram(name: string): Histogram {
    return this.store.histogram(this.prefix + name);
  }
  counterFromTags(name: string, tags: readonly StatTag[]): Counter {
    return this.store.counterFromTags(this.prefix + name, tags);
  }
  gaugeFromTags(name: string, tags: readonly StatTag[]): Gauge {
    return this.store.gaugeFromTags(this.prefix + name, tags);
  }
  histogramFromTags(name: string, tags: readonly StatTag[], bounds?: readonly number[]): Histogram {
    return this.store.histogramFromTags(this.prefix + name, tags, bounds);
  }
  registerCustomNamespace(ns: string): void {
    this.store.registerCustomNamespace(ns);
  }
}
