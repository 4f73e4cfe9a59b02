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

export interface StatsScope {
  /** `prefix` is joined with '.', e.g. scope('cluster.web').counter('upstream_rq_total'). */
  scope(prefix: string): StatsScope;
  counter(name: string): Counter;
  gauge(name: string): Gauge;
  histogram(name: string): Histogram;
}
