// The Zipkin reporter against a real collector socket through a real cluster manager: batching by count and
// by the flush timer (fake clock), the v2 JSON request, Envoy's tracing.zipkin.* counters for every outcome
// (sent, dropped on non-202 / connect failure / timeout, skipped without a cluster), and close().

import { SpanKind } from '@opentelemetry/api';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StatsStore } from '../../../proxy/stats/store.ts';
import { createClusterManager, type DynamicClusterManager } from '../../../proxy/upstream/cluster-manager.ts';
import { ZipkinReporter, zipkinStats, type ZipkinReporterTuning } from '../../../proxy/tracing/zipkin-reporter.ts';
import { ZipkinTracer } from '../../../proxy/tracing/zipkin-tracer.ts';
import { FakeClock, SeededRandom } from '../../support/fake-clock.ts';
import { closedPort } from '../../support/upstream.ts';
import { startZipkinCollector, type ZipkinCollector } from '../../support/zipkin-collector.ts';
import { parseCluster } from '../upstream/helpers.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function counters(store: StatsStore): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, c] of store.counters) if (name.startsWith('tracing.zipkin.') && c.value() > 0) out[name.slice('tracing.zipkin.'.length)] = c.value();
  return out;
}

async function setup(port: number, opts: { cluster?: string; tuning?: Partial<ZipkinReporterTuning> } = {}) {
  const clock = new FakeClock();
  const stats = new StatsStore();
  const cm: DynamicClusterManager = createClusterManager([parseCluster({
    name: 'zipkin', type: 'STATIC', connect_timeout: '1s',
    load_assignment: { cluster_name: 'zipkin', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] },
  })], { stats, clock, random: new SeededRandom(1) });
  await cm.initialized();
  const reporter = new ZipkinReporter({
    collector: { cluster: opts.cluster ?? 'zipkin', endpoint: '/api/v2/spans', hostname: 'zipkin.example' },
    clusterManager: cm, clock, stats: zipkinStats(stats), ...(opts.tuning ? { tuning: opts.tuning } : {}),
  });
  const tracer = new ZipkinTracer({
    localEndpoint: { serviceName: 'web', ipv4: '10.0.0.1', port: 0 }, sharedSpanContext: true, clock, sink: reporter,
    random: new SeededRandom(9), traceId128bit: false,
  });
  let count = 0;
  const finishSpans = (n: number): void => {
    for (let i = 0; i < n; i++) tracer.startSpan(`span-${count++}`, { kind: SpanKind.SERVER }).end();
  };
  cleanups.push(async () => {
    await reporter.close();
    await cm.close();
  });
  return { clock, stats, cm, reporter, finishSpans };
}

async function collector(): Promise<ZipkinCollector> {
  const c = await startZipkinCollector();
  cleanups.push(() => c.close());
  return c;
}

describe('ZipkinReporter', () => {
  it('buffers spans and POSTs them as one v2 JSON report once min_flush_spans (5) are buffered', async () => {
    const c = await collector();
    const t = await setup(c.port);
    t.finishSpans(4);
    expect(t.reporter.pendingSpans()).toBe(4);
    expect(c.reports).toHaveLength(0);
    t.finishSpans(1);
    await c.waitForReports(1);
    const [report] = c.reports;
    expect([report!.method, report!.url, report!.headers.host, report!.headers['content-type']]).toEqual(['POST', '/api/v2/spans', 'zipkin.example', 'application/json']);
    expect(report!.spans.map((s) => s.name)).toEqual(['span-0', 'span-1', 'span-2', 'span-3', 'span-4']);
    expect(report!.spans[0]).toMatchObject({ kind: 'SERVER', shared: true, localEndpoint: { serviceName: 'web', ipv4: '10.0.0.1', port: 0 } });
    await vi.waitFor(() => expect(counters(t.stats)).toEqual({ spans_sent: 5, reports_sent: 1 }));
    // The report went through the cluster like any request.
    expect(t.stats.counter('cluster.zipkin.upstream_rq_202').value()).toBe(1);
  });

  it('flushes what is buffered every flush interval (5 s), counting timer_flushed', async () => {
    const c = await collector();
    const t = await setup(c.port);
    t.finishSpans(2);
    t.clock.advance(4_999);
    expect(c.reports).toHaveLength(0);
    t.clock.advance(1);
    await c.waitForReports(1);
    expect(c.reports[0]!.spans).toHaveLength(2);
    await vi.waitFor(() => expect(counters(t.stats)).toEqual({ spans_sent: 2, reports_sent: 1, timer_flushed: 1 }));
    t.clock.advance(5_000); // nothing buffered: no empty report
    expect(counters(t.stats)).toEqual({ spans_sent: 2, reports_sent: 1, timer_flushed: 2 });
    expect(c.reports).toHaveLength(1);
  });

  it('counts a non-202 answer as reports_dropped', async () => {
    const c = await collector();
    c.status = 500;
    const t = await setup(c.port);
    t.finishSpans(5);
    await vi.waitFor(() => expect(counters(t.stats)).toEqual({ spans_sent: 5, reports_dropped: 1 }));
  });

  it('counts an unreachable collector as reports_dropped (Envoy\'s async client answers 503)', async () => {
    const t = await setup(await closedPort());
    t.finishSpans(10);
    await vi.waitFor(() => expect(counters(t.stats)).toEqual({ spans_sent: 10, reports_dropped: 2 }));
    expect(t.stats.counter('cluster.zipkin.upstream_rq_rx_reset').value() + t.stats.counter('cluster.zipkin.upstream_cx_connect_fail').value()).toBeGreaterThan(0);
  });

  it('gives up on a collector that does not answer after request_timeout (5 s)', async () => {
    const c = await collector();
    c.status = 0;
    const t = await setup(c.port);
    t.finishSpans(5);
    await c.waitForReports(1);
    expect(t.reporter.reportsInFlight()).toBe(1);
    t.clock.advance(5_000);
    await vi.waitFor(() => expect(counters(t.stats)).toMatchObject({ spans_sent: 5, reports_dropped: 1 }));
    expect(t.stats.counter('cluster.zipkin.upstream_rq_timeout').value()).toBe(1);
    expect(t.reporter.reportsInFlight()).toBe(0);
  });

  it('skips reports when the collector cluster is gone (reports_skipped_no_cluster)', async () => {
    const t = await setup(await closedPort(), { cluster: 'removed' });
    t.finishSpans(5);
    expect(counters(t.stats)).toEqual({ spans_sent: 5, reports_skipped_no_cluster: 1 });
  });

  it('close() flushes the buffer, waits for the answer and leaves no timer behind', async () => {
    const c = await collector();
    const t = await setup(c.port);
    t.finishSpans(3);
    await t.reporter.close();
    expect(c.reports.map((r) => r.spans.length)).toEqual([3]);
    expect(counters(t.stats)).toEqual({ spans_sent: 3, reports_sent: 1 });
    expect(t.clock.pendingTimers()).toBe(0);
    t.finishSpans(5); // after close: dropped silently
    expect(t.reporter.pendingSpans()).toBe(0);
  });

  it('close() does not wait for ever on a collector that never answers', async () => {
    const c = await collector();
    c.status = 0;
    const t = await setup(c.port, { tuning: { shutdownTimeoutMs: 100 } });
    t.finishSpans(2);
    const closed = t.reporter.close();
    await c.waitForReports(1);
    t.clock.advance(100);
    await closed;
    expect(t.reporter.reportsInFlight()).toBe(0);
    expect(t.clock.pendingTimers()).toBe(0);
  });
});
