// The mesh end to end: the control plane translating Istio YAML from a watched directory, nodevoy sidecars
// running only what it serves over xDS, and traffic between test applications. Covers what issue 4 is
// checked by: traffic split, header routing, retries and ejection observed through the proxies, invalid
// updates while traffic flows, the control plane killed and restarted, and a seed article's YAML as written.

import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startControlPlane } from '../../control-plane/server/control-plane.ts';
import { ISTIO_TRANSLATION } from '../../control-plane/server/istio-source.ts';
import { realClock } from '../../proxy/common/clock.ts';
import { TestMesh, type WorkloadSpec } from '../support/mesh.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function mesh(workloads: readonly WorkloadSpec[], files: Record<string, string> = {}): Promise<TestMesh> {
  const m = await TestMesh.start({ workloads, files });
  cleanups.push(() => m.close());
  return m;
}

const BOOKINFO: readonly WorkloadSpec[] = [
  { name: 'productpage-v1', app: 'productpage', version: 'v1' },
  { name: 'reviews-v1', app: 'reviews', version: 'v1' },
  { name: 'reviews-v2', app: 'reviews', version: 'v2' },
];

const REVIEWS_SUBSETS = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;

function reviewsRoute(v1: number, v2: number): string {
  return `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route:
    - {destination: {host: reviews, subset: v1}, weight: ${v1}}
    - {destination: {host: reviews, subset: v2}, weight: ${v2}}
`;
}

/** True once `n` consecutive calls are all answered by `who`. */
async function allAnsweredBy(m: TestMesh, who: string, n = 10): Promise<true | undefined> {
  const counts = await m.answeredBy('productpage-v1', 'reviews:9080', n);
  return counts.get(who) === n ? true : undefined;
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  return res.json();
}

describe('traffic management through sidecars fed by the control plane', () => {
  it('splits by VirtualService weights and routes by header', async () => {
    const m = await mesh(BOOKINFO, { 'reviews.yaml': REVIEWS_SUBSETS + '---\n' + reviewsRoute(50, 50) });
    const split = await m.answeredBy('productpage-v1', 'reviews:9080', 40);
    expect([...split.keys()].sort()).toEqual(['reviews-v1', 'reviews-v2']);
    expect(await m.answeredBy('productpage-v1', 'reviews.default.svc.cluster.local:9080', 10, { 'end-user': 'jason' })).toEqual(new Map([['reviews-v2', 10]]));
    // The application's own traffic reaches it through its sidecar's inbound listener, with Envoy's headers.
    const received = m.workload('reviews-v2').app.received.at(-1)!;
    expect(received.headers['x-request-id']).toBeDefined();
    expect(received.headers['x-forwarded-proto']).toBe('http');
  });

  it('applies a weight edit without restarting anything, and the control plane reports every sidecar synced', async () => {
    const m = await mesh(BOOKINFO, { 'reviews.yaml': REVIEWS_SUBSETS + '---\n' + reviewsRoute(100, 0) });
    expect(await m.answeredBy('productpage-v1', 'reviews:9080', 10)).toEqual(new Map([['reviews-v1', 10]]));
    const sidecar = m.workload('productpage-v1').sidecar;
    await m.write('reviews.yaml', REVIEWS_SUBSETS + '---\n' + reviewsRoute(0, 100));
    await m.until('the 0/100 weights to reach productpage', () => allAnsweredBy(m, 'reviews-v2'));
    expect(m.workload('productpage-v1').sidecar).toBe(sidecar);
    const syncz = await getJson(`${m.controlPlane.server.url}/debug/syncz`) as { proxies: { id: string; types: Record<string, { status: string }> }[] };
    expect(syncz.proxies).toHaveLength(3);
    for (const p of syncz.proxies) expect(p.types.routes?.status, p.id).toBe('SYNCED');
  });

  it('rejects an invalid update with its file and field path while traffic keeps the last good routes', async () => {
    const m = await mesh(BOOKINFO, { 'reviews.yaml': REVIEWS_SUBSETS + '---\n' + reviewsRoute(0, 100) });
    expect(await m.answeredBy('productpage-v1', 'reviews:9080', 5)).toEqual(new Map([['reviews-v2', 5]]));
    await m.write('reviews.yaml', REVIEWS_SUBSETS + '---\n' + reviewsRoute(100, 0).replace('hosts: [reviews]', 'hosts: [reviews]\n  tcpRoutes: nope'));
    const errors = await m.until('the invalid VirtualService to be reported', async () => {
      const report = JSON.stringify(await getJson(`${m.controlPlane.server.url}/debug/config_errors`));
      return report.includes('tcpRoutes') ? report : undefined;
    });
    expect(errors).toContain('reviews.yaml');
    expect(errors).toContain('reviews');
    expect(await m.answeredBy('productpage-v1', 'reviews:9080', 10)).toEqual(new Map([['reviews-v2', 10]]));
  });

  it("retries a 503 with Istio's default retry policy, and not when the VirtualService sets attempts: 0", async () => {
    let calls = 0;
    const flaky: WorkloadSpec = {
      name: 'ratings-v1', app: 'ratings', version: 'v1',
      handler: (_req, res) => {
        calls++;
        res.writeHead(calls % 2 === 1 ? 503 : 200);
        res.end(calls % 2 === 1 ? 'overloaded' : 'ratings-v1');
      },
    };
    const m = await mesh([BOOKINFO[0]!, flaky]);
    for (let i = 0; i < 5; i++) expect((await m.call('productpage-v1', 'ratings:9080')).status).toBe(200);
    expect(calls).toBe(10);

    await m.write('ratings.yaml', `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - route: [{destination: {host: ratings}}]
    retries: {attempts: 0}
`);
    const statuses = await m.until('attempts: 0 to reach productpage', async () => {
      const seen = [(await m.call('productpage-v1', 'ratings:9080')).status, (await m.call('productpage-v1', 'ratings:9080')).status];
      return seen.includes(503) ? seen : undefined;
    });
    expect(statuses.sort()).toEqual([200, 503]);
  });

  it("ejects an endpoint after DestinationRule outlierDetection's consecutive 5xx errors", async () => {
    const broken: WorkloadSpec = { name: 'reviews-v1', app: 'reviews', version: 'v1', handler: (_req, res) => { res.writeHead(500); res.end('broken'); } };
    const m = await mesh([BOOKINFO[0]!, broken, BOOKINFO[2]!], {
      'reviews.yaml': `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 2, interval: 10s, baseEjectionTime: 60s, maxEjectionPercent: 100}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
    retries: {attempts: 0}
`,
    });
    const before = await m.answeredBy('productpage-v1', 'reviews:9080', 6);
    expect(before.get('status 500')).toBe(2);
    expect(await m.answeredBy('productpage-v1', 'reviews:9080', 10)).toEqual(new Map([['reviews-v2', 10]]));
    const stats = await (await fetch(`http://127.0.0.1:${m.workload('productpage-v1').sidecar.adminPort}/stats?filter=outlier_detection.ejections_enforced_consecutive_5xx`)).text();
    expect(stats).toContain('cluster.outbound|9080||reviews.default.svc.cluster.local.outlier_detection.ejections_enforced_consecutive_5xx: 1');
  });

  it('keeps serving while the control plane is down and takes new config from its restart', async () => {
    const m = await mesh(BOOKINFO, { 'reviews.yaml': REVIEWS_SUBSETS + '---\n' + reviewsRoute(100, 0) });
    const port = m.controlPlane.server.port;
    await m.controlPlane.close();
    expect(await m.answeredBy('productpage-v1', 'reviews:9080', 10)).toEqual(new Map([['reviews-v1', 10]]));
    await m.write('reviews.yaml', REVIEWS_SUBSETS + '---\n' + reviewsRoute(0, 100));
    m.controlPlane = await startControlPlane({ configDir: m.dir, host: '127.0.0.1', port, clock: realClock, translation: ISTIO_TRANSLATION, debounceMs: 10 });
    await m.until('the restarted control plane to push 0/100', () => allAnsweredBy(m, 'reviews-v2'), 20_000);
  });
});

describe('mirroring', () => {
  it('mirror sends a copy to another subset with a -shadow host while the caller gets the primary answer', async () => {
    const m = await mesh(BOOKINFO, { 'reviews.yaml': REVIEWS_SUBSETS + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews, subset: v1}}]
    mirror: {host: reviews, subset: v2}
    mirrorPercentage: {value: 100}
` });
    expect(await m.answeredBy('productpage-v1', 'reviews:9080', 3)).toEqual(new Map([['reviews-v1', 3]]));
    const shadows = await m.until('three shadow requests at reviews-v2', async () => {
      const got = m.workload('reviews-v2').app.received;
      return got.length >= 3 ? got : undefined;
    });
    expect(shadows.map((r) => r.headers.host)).toEqual(['reviews-shadow:9080', 'reviews-shadow:9080', 'reviews-shadow:9080']);
  });
});

describe("the seed articles' YAML, as written", () => {
  it('004-reviews: the 90/10 canary VirtualService splits traffic between subsets', async () => {
    const seed = await readFile(new URL('../../../shared/seeds/yaml/004-reviews.yaml', import.meta.url), 'utf8');
    const m = await mesh(BOOKINFO, { 'seed.yaml': seed, 'subsets.yaml': REVIEWS_SUBSETS });
    const counts = await m.answeredBy('productpage-v1', 'reviews:9080', 100);
    expect((counts.get('reviews-v1') ?? 0) + (counts.get('reviews-v2') ?? 0)).toBe(100);
    // 90/10 with 100 requests: v2 lands outside [2, 25] with probability < 1e-4.
    expect(counts.get('reviews-v2') ?? 0).toBeGreaterThanOrEqual(2);
    expect(counts.get('reviews-v2') ?? 0).toBeLessThanOrEqual(25);
  });
});
