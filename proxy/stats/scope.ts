// The stats contract every component records through: Envoy-style flat stat names (`cluster.a.upstream_rq_total`)
// with cheap handles resolved at config time. The store behind it renders /stats and /stats/prometheus.

export interface Counter {
  inc(n?: number): void;
  value(): number;
}

export interface Gauge {
  set(v: number): void;
  inc(n?: number): void;
  dec(n?: number): void;
  value(): number;
}

export interface Histogram {
  /** Records one sample in the histogram's unit (milliseconds for Envoy's *_time / *_ms histograms). */
  record(v: number): void;
}

/** One explicit tag of a stat: its Prometheus label name and value. */
export interface StatTag {
  readonly name: string;
  readonly value: string;
}

export interface StatsScope {
  /** `prefix` is joined with '.', e.g. scope('cluster.web').counter('upstream_rq_total'). */
  scope(prefix: string): StatsScope;
  counter(name: string): Counter;
  gauge(name: string): Gauge;
  histogram(name: string): Histogram;
  /**
   * A stat created with explicit tags (Envoy's Stats::Utility::counterFromStatNames with a tag vector, as Istio's
   * stats filter creates its metrics): its flat name in /stats is `<name>.<tag>.<value>…`, its Prometheus series
   * `<name>{<tag>="<value>",…}` with the tags in this order (no tag extraction). Resolve once per tag set: building
   * the flat name is not free.
   */
  counterFromTags(name: string, tags: readonly StatTag[]): Counter;
  gaugeFromTags(name: string, tags: readonly StatTag[]): Gauge;
  /** `bounds`: the Prometheus bucket bounds (default Envoy's, DEFAULT_BUCKETS). */
  histogramFromTags(name: string, tags: readonly StatTag[], bounds?: readonly number[]): Histogram;
  /**
   * Envoy's CustomStatNamespaces::registerStatNamespace: stats named `<ns>.…` are exported to Prometheus without
   * the `envoy_` prefix and without `<ns>_` (Istio registers `istiocustom`: `istio_requests_total`).
   */
  registerCustomNamespace(ns: string): void;
}
