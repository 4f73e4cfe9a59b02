// The mesh graph over real sidecars: the control plane scrapes the Istio metrics of the proxies connected to it
// (their node metadata's INSTANCE_IPS and STATS_PORT) and /graph.json shows the demo's topology with rates, 5xx
// share and p99 per edge, the caller outside the mesh from the callee's reports, and an injected fault as a red edge.

import { afterEach, describe, expect, it } from 'vitest';
import type { GraphEdgeJson, GraphJson } from '../../control-plane/server/mesh-graph.ts';
import { startGraphMesh, type GraphMesh } from '../support/graph-mesh.ts';

let m: GraphMesh | undefined;
afterEach(async () => {
  await m?.close();
  m = undefined;
});

const edge = (g: GraphJson, source: string, target: string): GraphEdgeJson | undefined =>
  g.edges.find((e) => e.source === `default/${source}` && e.target === `default/${target}`);

describe('mesh graph', () => {
  it('shows the workloads, who calls whom with rate, errors and p99, and a fault turning an edge red', async () => {
    // Scrapes only when the test asks (the interval is longer than the test).
    m = await startGraphMesh({ intervalMs: 600_000 });
    await m.scrape();
    await m.traffic(10);
    await m.scrape();
    let g = await m.graph();
    expect(g.proxies.map((p) => [p.workload, p.status, p.target.endsWith(':15000')]).sort()).toEqual([
      ['default/productpage-v1', 'ok', true], ['default/ratings-v1', 'ok', true], ['default/reviews-v1', 'ok', true], ['default/reviews-v2', 'ok', true],
    ]);
    expect(g.nodes.map((n) => [n.id, n.column])).toEqual([
      ['default/productpage-v1', 1], ['default/ratings-v1', 3], ['default/reviews-v1', 2], ['default/reviews-v2', 2], ['unknown', 0],
    ]);
    // Round robin over reviews v1 and v2: 10 calls in all, each from productpage's own reports.
    const toV1 = edge(g, 'productpage-v1', 'reviews-v1')!;
    const toV2 = edge(g, 'productpage-v1', 'reviews-v2')!;
    expect([toV1.reporter, toV2.reporter, toV1.requests + toV2.requests]).toEqual(['source', 'source', 10]);
    const ratings = edge(g, 'reviews-v2', 'ratings-v1')!;
    expect(ratings).toMatchObject({ reporter: 'source', requests: 10, errors: 0, error_rate: 0, health: 'healthy', stale: false, services: ['ratings.default.svc.cluster.local'] });
    expect(ratings.request_rate).toBeGreaterThan(0);
    expect(ratings.p99_ms).toBeGreaterThan(0);
    // The outside client has no sidecar: productpage's own (destination) reports give that edge.
    expect(g.edges.find((e) => e.source === 'unknown')).toMatchObject({ target: 'default/productpage-v1', reporter: 'destination', requests: 10 });

    m.ratingsFails(true);
    await m.traffic(10);
    await m.scrape();
    g = await m.graph();
    // Each call is one source report, however often the sidecar retried the 503.
    expect(edge(g, 'reviews-v2', 'ratings-v1')).toMatchObject({ requests: 20, errors: 10, error_rate: 0.5, health: 'failure' });
    expect(edge(g, 'productpage-v1', 'reviews-v1')!.health).toBe('healthy');
  });
});
