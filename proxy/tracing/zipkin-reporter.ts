// Envoy's Zipkin ReporterImpl: buffers finished sampled spans and POSTs them as Zipkin v2 JSON to
// collector_cluster + collector_endpoint through the proxy's own cluster manager (its load balancer, pools
// and circuit breakers), every flush interval or once min_flush_spans are buffered. Off the request path:
// a report is fire-and-forget with a bounded timeout; its outcome only moves tracing.zipkin.* counters.

import type { Clock, TimerHandle } from '../common/clock.ts';
import type { Failure } from '../common/error-catalogue.ts';
import { UpstreamRequest, type UpstreamCallbacks } from '../filters/http/router/upstream-request.ts';
import type { ResponseHeaders } from '../http/headers.ts';
import { namedCounters, type NamedCounters } from '../stats/named-counters.ts';
import type { StatsScope } from '../stats/scope.ts';
import type { Cluster, ClusterManager } from '../upstream/types.ts';
import type { SpanSink, ZipkinSpan } from './zipkin-span.ts';

/** Envoy's runtime defaults tracing.zipkin.{flush_interval_ms, min_flush_spans, request_timeout}. */
export const ZIPKIN_REPORTER_DEFAULTS = { flushIntervalMs: 5_000, minFlushSpans: 5, requestTimeoutMs: 5_000, shutdownTimeoutMs: 1_000 } as const;

export interface ZipkinReporterTuning {
  readonly flushIntervalMs: number;
  readonly minFlushSpans: number;
  readonly requestTimeoutMs: number;
  /** How long close() waits for reports in flight before abandoning them. */
  readonly shutdownTimeoutMs: number;
}

export interface CollectorInfo {
  readonly cluster: string;
  readonly endpoint: string;
  /** The Host header (collector_hostname, else the cluster name). */
  readonly hostname: string;
}

/** Envoy's ZIPKIN_TRACER_STATS under `tracing.zipkin.` (shared by every Zipkin provider). */
const ZIPKIN_STATS = ['spans_sent', 'timer_flushed', 'reports_skipped_no_cluster', 'reports_sent', 'reports_dropped', 'reports_failed'] as const;
export type ZipkinStats = NamedCounters<(typeof ZIPKIN_STATS)[number]>;

export function zipkinStats(root: StatsScope): ZipkinStats {
  return namedCounters(root.scope('tracing.zipkin'), ZIPKIN_STATS);
}

type Outcome = 'sent' | 'dropped' | 'failed' | 'abandoned';

const NO_LB_CONTEXT = Object.freeze({});

/**
 * One POST to the collector (Envoy's async client request). Like Envoy's, the router's local replies count as
 * responses: no healthy host, connect failure, overflow (503) and the timeout (504) end as `dropped`; only a
 * reset after the response started is a `failure`. A collector answers 202 Accepted when it took the spans.
 */
class ReportRequest implements UpstreamCallbacks {
  readonly done: Promise<Outcome>;
  private readonly cluster: Cluster;
  private readonly clock: Clock;
  private upstream: UpstreamRequest | null = null;
  private timer: TimerHandle | null = null;
  private status = 0;
  private settled = false;
  private resolve!: (o: Outcome) => void;

  constructor(cluster: Cluster, clock: Clock) {
    this.cluster = cluster;
    this.clock = clock;
    this.done = new Promise((resolve) => { this.resolve = resolve; });
  }

  start(collector: CollectorInfo, body: Buffer, timeoutMs: number): void {
    const cluster = this.cluster;
    const host = cluster.chooseHost(NO_LB_CONTEXT);
    if (host === null) {
      cluster.stats.upstream_cx_none_healthy.inc();
      this.finish('dropped');
      return;
    }
    const upstream = new UpstreamRequest(cluster, host, cluster.resourceManager('DEFAULT'), this.clock, true, this);
    this.upstream = upstream;
    this.timer = this.clock.setTimer(() => this.onTimeout(), timeoutMs);
    if (!upstream.start('POST', collector.endpoint, collector.hostname, { 'content-type': 'application/json' }, body)) this.finish('dropped');
  }

  /** Shutdown: stop waiting for the collector. */
  abandon(): void {
    const upstream = this.upstream;
    if (this.finish('abandoned')) upstream?.abort(new Error('zipkin reporter closed'));
  }

  private onTimeout(): void {
    this.timer = null;
    const upstream = this.upstream;
    this.cluster.stats.upstream_rq_timeout.inc();
    if (this.finish('dropped')) upstream?.timeout();
  }

  /** Settles once; true the first time. */
  private finish(outcome: Outcome): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.timer?.cancel();
    this.timer = null;
    this.upstream = null;
    this.resolve(outcome);
    return true;
  }

  // --- UpstreamCallbacks: the collector's answer is read and discarded -----------------------------

  onUpstreamHeaders(response: ResponseHeaders): void {
    this.status = response.status;
    this.cluster.stats.recordResponseCode(response.status);
  }

  onUpstreamData(): boolean {
    return true;
  }

  onUpstreamTrailers(): void {
    this.finish(this.status === 202 ? 'sent' : 'dropped');
  }

  onUpstreamFailure(_failure: Failure, _reason: unknown, _transportFailureReason: string, _started: boolean, headersReceived: boolean): void {
    this.finish(headersReceived ? 'failed' : 'dropped');
  }
}

export interface ZipkinReporterDeps {
  readonly collector: CollectorInfo;
  readonly clusterManager: ClusterManager;
  readonly clock: Clock;
  readonly stats: ZipkinStats;
  readonly tuning?: Partial<ZipkinReporterTuning>;
}

export class ZipkinReporter implements SpanSink {
  private readonly deps: ZipkinReporterDeps;
  private readonly tuning: ZipkinReporterTuning;
  private pending: ZipkinSpan[] = [];
  private readonly inFlight = new Set<ReportRequest>();
  private timer: TimerHandle | null = null;
  private closed = false;

  constructor(deps: ZipkinReporterDeps) {
    this.deps = deps;
    this.tuning = { ...ZIPKIN_REPORTER_DEFAULTS, ...deps.tuning };
    this.armTimer();
  }

  /** Spans waiting for the next flush. */
  pendingSpans(): number {
    return this.pending.length;
  }

  /** Reports sent and not yet answered. */
  reportsInFlight(): number {
    return this.inFlight.size;
  }

  report(span: ZipkinSpan): void {
    if (this.closed) return;
    this.pending.push(span);
    if (this.pending.length >= this.tuning.minFlushSpans) this.flush();
  }

  /** Sends the buffered spans as one report (nothing when the buffer is empty). */
  flush(): void {
    const spans = this.pending;
    if (spans.length === 0) return;
    this.pending = [];
    const { stats, collector, clusterManager, clock } = this.deps;
    stats.spans_sent.inc(spans.length);
    const cluster = clusterManager.get(collector.cluster);
    if (cluster === undefined) {
      stats.reports_skipped_no_cluster.inc();
      return;
    }
    const body = Buffer.from(JSON.stringify(spans.map((s) => s.toJsonV2())));
    const request = new ReportRequest(cluster, clock);
    this.inFlight.add(request);
    void request.done.then((outcome) => {
      this.inFlight.delete(request);
      if (outcome === 'sent') stats.reports_sent.inc();
      else if (outcome === 'dropped') stats.reports_dropped.inc();
      else if (outcome === 'failed') stats.reports_failed.inc();
    });
    request.start(collector, body, this.tuning.requestTimeoutMs);
  }

  /** Stops the flush timer, sends what is buffered and waits (bounded) for the reports in flight. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.timer?.cancel();
    this.timer = null;
    this.flush();
    if (this.inFlight.size === 0) return;
    let deadline: TimerHandle | undefined;
    const timedOut = new Promise<void>((resolve) => { deadline = this.deps.clock.setTimer(resolve, this.tuning.shutdownTimeoutMs); });
    await Promise.race([Promise.all([...this.inFlight].map((r) => r.done)), timedOut]);
    deadline?.cancel();
    for (const r of [...this.inFlight]) r.abandon();
  }

  private armTimer(): void {
    this.timer = this.deps.clock.setTimer(() => {
      this.timer = null;
      if (this.closed) return;
      this.deps.stats.timer_flushed.inc();
      this.flush();
      this.armTimer();
    }, this.tuning.flushIntervalMs);
  }
}
