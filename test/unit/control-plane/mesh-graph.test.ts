// The mesh graph's arithmetic on scripted scrapes and a fake clock: per-edge request rate from counter increases
// (resets included) over the window, 5xx share, p99 by histogram_quantile over bucket increases, which reporter an
// edge comes from, stale proxies, health thresholds and the layout by call depth.

import { describe, expect, it } from 'vitest';
import {
  counterIncrease, DEFAULT_THRESHOLDS, edgeHealth, histogramQuantile, layout, MeshGraph, type GraphProxy,
} from '../../../control-plane/server/mesh-graph.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { appOf, exposition, times, versionOf, type Series } from './graph-exposition.ts';

const proxy = (workload: string, id = `${workload}.default`): GraphProxy => ({
  id, workload: { name: workload, namespace: 'default', app: appOf(workload), version: versionOf(workload) }, target: `10.0.0.1:15090`,
});

function setup(windowMs = 30_000) {
  const clock = new FakeClock();
  const graph = new MeshGraph(clock, { windowMs });
  return { clock, graph };
}

describe('histogramQuantile (Prometheus histogram_quantile)', () => {
  const buckets = (pairs: [number, number][]) => new Map(pairs);

  it('interpolates linearly inside the bucket that holds the rank', () => {
    const b = buckets([[0.5, 0], [1, 10], [5, 90], [10, 100], [Infinity, 100]]);
    expect(histogramQuantile(0.99, b)).toBeCloseTo(9.5);
    expect(histogramQuantile(0.5, b)).toBeCloseTo(3);
    expect(histogramQuantile(0.05, b)).toBeCloseTo(0.75);
  });

  it('starts the first bucket at 0, answers the highest finite bound for a rank in +Inf, NaN without data', () => {
    expect(histogramQuantile(0.99, buckets([[1, 100], [Infinity, 100]]))).toBeCloseTo(0.99);
    expect(histogramQuantile(0.99, buckets([[1, 0], [5, 0], [Infinity, 10]]))).toBe(5);
    expect(histogramQuantile(0.99, buckets([[1, 0], [Infinity, 0]]))).toBeNaN();
    expect(histogramQuantile(0.99, buckets([[1, 3], [5, 4]]))).toBeNaN(); // no +Inf bucket
    expect(histogramQuantile(0.99, buckets([[Infinity, 4]]))).toBeNaN();
  });

  it('makes non-monotonic counts monotonic first', () => {
    expect(histogramQuantile(0.5, buckets([[1, 10], [5, 4], [10, 20], [Infinity, 20]]))).toBeCloseTo(histogramQuantile(0.5, buckets([[1, 10], [5, 10], [10, 20], [Infinity, 20]])));
  });
});

describe('counterIncrease and edgeHealth', () => {
  it('a lower value is a counter reset, counted from 0', () => {
    expect(counterIncrease(10, 25)).toBe(15);
    expect(counterIncrease(10, 4)).toBe(4);
    expect(counterIncrease(undefined, 7)).toBe(7);
  });

  it('amber above 0.1 % of 5xx, red above 5 %', () => {
    expect([0, 0.001, 0.0011, 0.05, 0.0501, 1].map((r) => edgeHealth(r, DEFAULT_THRESHOLDS)))
      .toEqual(['healthy', 'healthy', 'degraded', 'degraded', 'failure', 'failure']);
  });
});

describe('MeshGraph', () => {
  it('the first scrape is a baseline; the next gives each edge its rate, 5xx share and p99 from the increases', () => {
    const { clock, graph } = setup();
    const pp = proxy('productpage-v1');
    graph.scraped(pp.id, exposition([{ reporter: 'source', from: 'productpage-v1', to: 'reviews-v1', count: 100, durations: times(100, 3) }]));
    expect(graph.json([pp]).edges).toEqual([]);
    clock.advance(5_000);
    graph.scraped(pp.id, exposition([
      { reporter: 'source', from: 'productpage-v1', to: 'reviews-v1', count: 140, durations: times(140, 3) },
      { reporter: 'source', from: 'productpage-v1', to: 'reviews-v1', code: 503, count: 10, durations: times(10, 40) },
    ]));
    const g = graph.json([pp]);
    expect(g.edges).toEqual([{
      source: 'default/productpage-v1', target: 'default/reviews-v1', reporter: 'source', services: ['reviews.default.svc.cluster.local'],
      // 40 + 10 requests in 5 s; p99: rank 49.5 of 50 falls in (25, 50] holding the 10 slow ones: 25 + 25 × 9.5/10.
      requests: 50, errors: 10, request_rate: 10, error_rate: 0.2, p99_ms: 48.75, health: 'failure', stale: false,
    }]);
    expect(g.nodes.map((n) => [n.id, n.kind, n.column, n.row, n.scrape])).toEqual([
      ['default/productpage-v1', 'workload', 0, 0, 'ok'],
      ['default/reviews-v1', 'workload', 1, 0, 'none'],
    ]);
    expect(g.nodes[1]).toMatchObject({ name: 'reviews-v1', namespace: 'default', app: 'reviews', version: 'v1' });
    expect(g).toMatchObject({ window_seconds: 30, thresholds: DEFAULT_THRESHOLDS, generated_at: new Date(clock.now()).toISOString() });
    expect(g.proxies).toEqual([{
      id: 'productpage-v1.default', workload: 'default/productpage-v1', target: '10.0.0.1:15090', status: 'ok',
      last_attempt: new Date(clock.now()).toISOString(), last_success: new Date(clock.now()).toISOString(),
    }]);
  });

  it('counts a counter reset (a restarted sidecar) from 0, and rates cover every interval in the window', () => {
    const { clock, graph } = setup();
    const pp = proxy('productpage-v1');
    const scrape = (count: number) => graph.scraped(pp.id, exposition([{ reporter: 'source', from: 'productpage-v1', to: 'reviews-v1', count }]));
    scrape(100);
    clock.advance(5_000);
    scrape(150);
    clock.advance(5_000);
    scrape(20);
    // Every request took 2 ms: in (1, 5], whose share of the rank puts p99 at 1 + 4 × 0.99.
    expect(graph.json([pp]).edges[0]).toMatchObject({ requests: 70, request_rate: 7, errors: 0, error_rate: 0, health: 'healthy', p99_ms: 4.96 });
  });

  it('a series that appears between two scrapes counts from 0', () => {
    const { clock, graph } = setup();
    const pp = proxy('productpage-v1');
    graph.scraped(pp.id, exposition([{ reporter: 'source', from: 'productpage-v1', to: 'reviews-v1', count: 10 }]));
    clock.advance(2_000);
    graph.scraped(pp.id, exposition([
      { reporter: 'source', from: 'productpage-v1', to: 'reviews-v1', count: 10 },
      { reporter: 'source', from: 'productpage-v1', to: 'reviews-v1', code: 500, count: 1 },
    ]));
    expect(graph.json([pp]).edges[0]).toMatchObject({ requests: 1, errors: 1, request_rate: 0.5, error_rate: 1, health: 'failure' });
  });

  it('only the intervals ending within the window count; an edge without requests in it is not drawn', () => {
    const { clock, graph } = setup(10_000);
    const pp = proxy('productpage-v1');
    let count = 0;
    for (const added of [0, 10, 20, 30, 40]) {
      if (added > 0) clock.advance(5_000);
      count += added;
      graph.scraped(pp.id, exposition([{ reporter: 'source', from: 'productpage-v1', to: 'reviews-v1', count }]));
    }
    // Scrapes at 0, 5, 10, 15, 20 s; at 20 s the last 10 s hold the 30 + 40 requests.
    expect(graph.json([pp]).edges[0]).toMatchObject({ requests: 70, request_rate: 7 });
    clock.advance(5_000);
    expect(graph.json([pp]).edges[0]).toMatchObject({ requests: 40, request_rate: 8 });
    clock.advance(5_000);
    expect(graph.json([pp]).edges).toEqual([]);
  });

  it('edges come from the caller\'s reports; the callee\'s stand in for a caller without a sidecar or one not scraped', () => {
    const { clock, graph } = setup();
    const pp = proxy('productpage-v1');
    const reviews = proxy('reviews-v1');
    const scrape = (n: number) => {
      graph.scraped(pp.id, exposition([
        { reporter: 'destination', from: 'unknown', to: 'productpage-v1', count: 3 * n },
        { reporter: 'source', from: 'productpage-v1', to: 'reviews-v1', count: 2 * n },
      ]));
      // reviews-v1 counts the same calls from productpage (once more each: a retry it answered 503).
      graph.scraped(reviews.id, exposition([
        { reporter: 'destination', from: 'productpage-v1', to: 'reviews-v1', count: 2 * n },
        { reporter: 'destination', from: 'productpage-v1', to: 'reviews-v1', code: 503, count: n },
      ]));
    };
    scrape(0);
    clock.advance(10_000);
    scrape(10);
    const g = graph.json([pp, reviews]);
    expect(g.edges.map((e) => [e.source, e.target, e.reporter, e.requests, e.request_rate])).toEqual([
      ['default/productpage-v1', 'default/reviews-v1', 'source', 20, 2],
      ['unknown', 'default/productpage-v1', 'destination', 30, 3],
    ]);
    expect(g.nodes.map((n) => [n.id, n.kind, n.column])).toEqual([
      ['default/productpage-v1', 'workload', 1], ['default/reviews-v1', 'workload', 2], ['unknown', 'unknown', 0],
    ]);
    // productpage's proxy gone from the control plane: reviews' reports of its calls are all there is.
    expect(graph.json([reviews]).edges).toEqual([expect.objectContaining({
      source: 'default/productpage-v1', target: 'default/reviews-v1', reporter: 'destination', requests: 30, errors: 10, request_rate: 3,
    })]);
  });

  it('a call that failed before a peer answered goes to the service node', () => {
    const { clock, graph } = setup();
    const pp = proxy('productpage-v1');
    const abort = (count: number): Series => ({ reporter: 'source', from: 'productpage-v1', to: 'unknown', service: 'reviews', code: 503, count, durations: times(count, 0) });
    graph.scraped(pp.id, exposition([abort(0)]));
    clock.advance(1_000);
    graph.scraped(pp.id, exposition([abort(4)]));
    const g = graph.json([pp]);
    expect(g.edges).toEqual([expect.objectContaining({ target: 'svc:reviews.default.svc.cluster.local', errors: 4, health: 'failure', p99_ms: 0.495 })]);
    expect(g.nodes[1]).toMatchObject({ id: 'svc:reviews.default.svc.cluster.local', kind: 'service', name: 'reviews', namespace: 'default', scrape: 'none' });
  });

  it('a proxy that does not answer is stale: its edges say so until its data leaves the window', () => {
    const { clock, graph } = setup(10_000);
    const pp = proxy('productpage-v1');
    graph.scraped(pp.id, exposition([{ reporter: 'source', from: 'productpage-v1', to: 'reviews-v1', count: 0 }]));
    clock.advance(5_000);
    graph.scraped(pp.id, exposition([{ reporter: 'source', from: 'productpage-v1', to: 'reviews-v1', count: 5 }]));
    clock.advance(5_000);
    graph.failed(pp.id, 'GET http://10.0.0.1:15090/stats/prometheus: connect ECONNREFUSED');
    let g = graph.json([pp]);
    expect(g.edges[0]).toMatchObject({ requests: 5, request_rate: 1, stale: true });
    expect(g.nodes[0]).toMatchObject({ id: 'default/productpage-v1', scrape: 'stale' });
    expect(g.proxies[0]).toMatchObject({ status: 'stale', error: 'GET http://10.0.0.1:15090/stats/prometheus: connect ECONNREFUSED' });
    expect(g.proxies[0]!.last_success).not.toBe(g.proxies[0]!.last_attempt);
    clock.advance(5_000);
    g = graph.json([pp]);
    expect(g.edges).toEqual([]);
    expect(g.nodes.map((n) => n.id)).toEqual(['default/productpage-v1']);
  });

  it('sums the replicas of a workload, and shows the worst scrape status of them', () => {
    const { clock, graph } = setup();
    const a = proxy('reviews-v2', 'reviews-v2-a');
    const b = proxy('reviews-v2', 'reviews-v2-b');
    for (const [i, n] of [0, 10].entries()) {
      if (i > 0) clock.advance(10_000);
      graph.scraped(a.id, exposition([{ reporter: 'source', from: 'reviews-v2', to: 'ratings-v1', count: n, durations: times(n, 1) }]));
      graph.scraped(b.id, exposition([{ reporter: 'source', from: 'reviews-v2', to: 'ratings-v1', count: 3 * n, durations: times(3 * n, 20) }]));
    }
    graph.failed(b.id, 'timeout');
    const g = graph.json([a, b]);
    expect(g.edges[0]).toMatchObject({ requests: 40, request_rate: 4, stale: false });
    // 10 requests in (0.5, 1], 30 in (10, 25]: rank 39.6 → 10 + 15 × 29.6/30.
    expect(g.edges[0]!.p99_ms).toBeCloseTo(24.8);
    expect(g.nodes.find((n) => n.id === 'default/reviews-v2')!.scrape).toBe('stale');
  });

  it('shows connected proxies without traffic, not yet scraped, and forgets proxies no longer connected', () => {
    const { graph } = setup();
    const pp = proxy('productpage-v1');
    expect(graph.json([pp]).nodes).toEqual([expect.objectContaining({ id: 'default/productpage-v1', scrape: 'pending', column: 0, row: 0 })]);
    graph.failed(pp.id, 'no answer');
    graph.retain(new Set());
    expect(graph.status(pp.id)).toBe('pending');
  });
});

describe('layout', () => {
  it('puts each node one column right of its deepest caller and orders rows by caller', () => {
    const place = layout(['a', 'b', 'c', 'd', 'e', 'x'], [
      { source: 'a', target: 'c' }, { source: 'a', target: 'b' }, { source: 'b', target: 'd' }, { source: 'a', target: 'd' }, { source: 'x', target: 'e' },
    ]);
    expect(Object.fromEntries(place)).toEqual({
      a: { column: 0, row: 0 }, x: { column: 0, row: 1 },
      b: { column: 1, row: 0 }, c: { column: 1, row: 1 }, e: { column: 1, row: 2 },
      d: { column: 2, row: 0 },
    });
  });

  it('breaks a cycle at its first node by id, and ignores calls to itself', () => {
    const place = layout(['p', 'q', 'r'], [{ source: 'q', target: 'r' }, { source: 'r', target: 'q' }, { source: 'p', target: 'p' }]);
    expect(Object.fromEntries(place)).toEqual({ p: { column: 0, row: 0 }, q: { column: 0, row: 1 }, r: { column: 1, row: 0 } });
  });
});
