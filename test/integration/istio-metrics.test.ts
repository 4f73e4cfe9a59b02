// Istio's standard metrics end to end: a mesh of real sidecars (control plane, CA, auto mTLS) with Istio's
// peer metadata exchange and stats filters in every HCM; scripted calls from productpage — a success, an app
// 503 retried to exhaustion, a 503 that succeeds on retry, a local rate limit 429, an RBAC 403 and a connection
// refused — then both sides' /stats/prometheus, compared label set by label set with what Istio reports.
// Request durations are exact: the sidecars' monotonic clock moves only when an application says so.

import { afterEach, describe, expect, it } from 'vitest';
import { realClock, type Clock, type TimerHandle } from '../../proxy/common/clock.ts';
import { localRateLimitEnvoyFilter } from '../support/istio-yaml.ts';
import { TestMesh, type WorkloadSpec } from '../support/mesh.ts';
import { send } from '../support/proxy.ts';

/** Real wall time and timers; monotonic time (request durations) moves only through advance(). */
class SteppedClock implements Clock {
  private mono = 1_000;
  now(): number {
    return realClock.now();
  }
  monotonicMs(): number {
    return this.mono;
  }
  setTimer(fn: () => void, ms: number): TimerHandle {
    return realClock.setTimer(fn, ms);
  }
  advance(ms: number): void {
    this.mono += ms;
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const POLICIES = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ratings-viewer, namespace: default}
spec:
  selector: {matchLabels: {app: ratings}}
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/default/sa/reviews]}}]}]
---
${localRateLimitEnvoyFilter({ name: 'details-ratelimit', app: 'details', maxTokens: 1 })}`;

/** One side of a report as Istio labels it. */
interface Side {
  readonly workload: string;
  readonly canonicalService: string;
  readonly canonicalRevision: string;
  readonly namespace: string;
  readonly principal: string;
  readonly app: string;
  readonly version: string;
  readonly cluster: string;
}

const workloadSide = (app: string, version = 'v1'): Side => ({
  workload: `${app}-${version}`, canonicalService: app, canonicalRevision: version, namespace: 'default',
  principal: `spiffe://cluster.local/ns/default/sa/${app}`, app, version, cluster: 'Kubernetes',
});

/** The label set of one series, in the order Istio's stats filter emits its tags. */
function labels(reporter: 'source' | 'destination', src: Side, dst: Side, service: string, code: number, flags: string): string {
  const pairs: [string, string][] = [
    ['reporter', reporter],
    ['source_workload', src.workload], ['source_canonical_service', src.canonicalService], ['source_canonical_revision', src.canonicalRevision],
    ['source_workload_namespace', src.namespace], ['source_principal', src.principal], ['source_app', src.app],
    ['source_version', src.version], ['source_cluster', src.cluster],
    ['destination_workload', dst.workload], ['destination_workload_namespace', dst.namespace], ['destination_principal', dst.principal],
    ['destination_app', dst.app], ['destination_version', dst.version], ['destination_service', `${service}.default.svc.cluster.local`],
    ['destination_canonical_service', dst.canonicalService], ['destination_canonical_revision', dst.canonicalRevision],
    ['destination_service_name', service], ['destination_service_namespace', dst.namespace], ['destination_cluster', dst.cluster],
    ['request_protocol', 'http'], ['response_code', String(code)], ['grpc_response_status', ''], ['response_flags', flags],
    ['connection_security_policy', reporter === 'source' ? 'unknown' : 'mutual_tls'],
  ];
  return `{${pairs.map(([k, v]) => `${k}="${v}"`).join(',')}}`;
}

/** The lines of one metric (`name{…} value`), sorted. */
function seriesLines(body: string, name: string): string[] {
  return body.split('\n').filter((l) => l.startsWith(`${name}{`)).sort();
}

/** `_bucket` lines of a histogram series: le → cumulative count, plus sum and count. */
function histogram(body: string, name: string, labelSet: string): { buckets: Record<string, number>; sum: number; count: number } {
  const inner = labelSet.slice(1, -1);
  const buckets: Record<string, number> = {};
  for (const l of body.split('\n')) {
    const m = /^(.*)_bucket\{(.*),le="([^"]+)"\} (\S+)$/.exec(l);
    if (m && m[1] === name && m[2] === inner) buckets[m[3]!] = Number(m[4]);
  }
  const value = (suffix: string): number => Number(body.split('\n').find((l) => l.startsWith(`${name}_${suffix}${labelSet} `))?.split(' ').at(-1));
  return { buckets, sum: value('sum'), count: value('count') };
}

const LE = ['0.5', '1', '5', '10', '25', '50', '100', '250', '500', '1000', '2500', '5000', '10000', '30000', '60000', '300000', '600000', '1800000', '3600000', '+Inf'];

/** Cumulative bucket counts for `values` over Istio's (Envoy's default) bounds. */
function cumulative(values: readonly number[]): Record<string, number> {
  return Object.fromEntries(LE.map((le) => [le, values.filter((v) => le === '+Inf' || v <= Number(le)).length]));
}

describe('Istio standard metrics through sidecars', () => {
  it('reports every outcome from both sides with Istio\'s names, types, label sets and histograms', async () => {
    const clock = new SteppedClock();
    let flaky = 0;
    const workloads: WorkloadSpec[] = [
      { name: 'productpage-v1', app: 'productpage', version: 'v1' },
      {
        name: 'reviews-v1', app: 'reviews', version: 'v1',
        handler: (req, res) => {
          if (req.url === '/ok') {
            clock.advance(30); // this request takes 30 ms on both sidecars
            res.writeHead(200, { 'content-type': 'text/plain' }).end('reviews-v1');
          } else if (req.url === '/flaky' && ++flaky > 1) {
            res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
          } else {
            res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
          }
        },
      },
      { name: 'ratings-v1', app: 'ratings', version: 'v1' },
      { name: 'details-v1', app: 'details', version: 'v1' },
    ];
    const m = await TestMesh.start({ workloads, files: { 'policies.yaml': POLICIES }, sidecarClock: clock });
    cleanups.push(() => m.close());
    const productpage = m.workload('productpage-v1');
    const outbound = productpage.sidecar.listenerPort('virtualOutbound');

    // A POST with a 100-byte body that takes 30 ms; an app 503 (retried twice by Istio's default policy, then
    // given up); a 503 that the first retry turns into a 200; the rate limit's one token, then a 429; an RBAC 403.
    const ok = await send(outbound, '/ok', { host: productpage.ip, method: 'POST', headers: { host: 'reviews:9080' }, body: 'x'.repeat(100) });
    expect(ok).toMatchObject({ status: 200, body: 'reviews-v1' });
    expect((await m.call('productpage-v1', 'reviews:9080', '/fail')).status).toBe(503);
    expect((await m.call('productpage-v1', 'reviews:9080', '/flaky')).status).toBe(200);
    expect((await m.call('productpage-v1', 'details:9080')).status).toBe(200);
    expect((await m.call('productpage-v1', 'details:9080')).status).toBe(429);
    expect(await m.call('productpage-v1', 'ratings:9080')).toMatchObject({ status: 403, body: 'RBAC: access denied' });

    // Neither application saw the other side's peer metadata headers.
    expect(ok.headers['x-envoy-peer-metadata']).toBeUndefined();
    expect(ok.headers['x-envoy-peer-metadata-id']).toBeUndefined();
    for (const r of m.workload('reviews-v1').app.received) {
      expect(Object.keys(r.headers).filter((h) => h.startsWith('x-envoy-peer-metadata'))).toEqual([]);
    }

    // The rate limit's 429 is a local reply of details' sidecar (flag RL there; its caller just sees a 429).
    const detailsReport = (await m.admin('details-v1', '/stats/prometheus')).body;

    // details' sidecar goes away: connections are refused, no peer answers; its endpoint metadata names it.
    await m.workload('details-v1').sidecar.close();
    expect((await m.call('productpage-v1', 'details:9080')).status).toBe(503);

    const pp = workloadSide('productpage');
    const reviews = workloadSide('reviews');
    const ratings = workloadSide('ratings');
    const details = workloadSide('details');
    // From the endpoint's `istio.workload` metadata only: no app, version or principal. Without an upstream TLS
    // connection the source principal (this side's certificate on it) is unknown too, as in Istio.
    const detailsEndpoint: Side = { ...details, principal: 'unknown', app: 'unknown', version: 'unknown' };
    const ppNoConnection: Side = { ...pp, principal: 'unknown' };

    const source = (await m.admin('productpage-v1', '/stats/prometheus')).body;
    expect(source).toContain('# TYPE istio_requests_total counter');
    expect(source).toContain('# TYPE istio_request_duration_milliseconds histogram');
    expect(source).toContain('# TYPE istio_request_bytes histogram');
    expect(source).toContain('# TYPE istio_response_bytes histogram');
    expect(source).toContain('istio_build{component="proxy",tag="unknown"} 1');
    expect(seriesLines(source, 'istio_requests_total')).toEqual([
      `istio_requests_total${labels('source', pp, reviews, 'reviews', 200, '-')} 2`,
      `istio_requests_total${labels('source', pp, reviews, 'reviews', 503, 'URX')} 1`,
      `istio_requests_total${labels('source', pp, details, 'details', 200, '-')} 1`,
      `istio_requests_total${labels('source', pp, details, 'details', 429, '-')} 1`,
      `istio_requests_total${labels('source', ppNoConnection, detailsEndpoint, 'details', 503, 'UF,URX')} 1`,
      `istio_requests_total${labels('source', pp, ratings, 'ratings', 403, '-')} 1`,
    ].sort());

    const reviewsReport = (await m.admin('reviews-v1', '/stats/prometheus')).body;
    expect(seriesLines(reviewsReport, 'istio_requests_total')).toEqual([
      `istio_requests_total${labels('destination', pp, reviews, 'reviews', 200, '-')} 2`,
      // /fail three times (the first try and two retries), /flaky once.
      `istio_requests_total${labels('destination', pp, reviews, 'reviews', 503, '-')} 4`,
    ].sort());
    expect(seriesLines((await m.admin('ratings-v1', '/stats/prometheus')).body, 'istio_requests_total')).toEqual([
      `istio_requests_total${labels('destination', pp, ratings, 'ratings', 403, '-')} 1`,
    ]);
    expect(seriesLines(detailsReport, 'istio_requests_total')).toEqual([
      `istio_requests_total${labels('destination', pp, details, 'details', 200, '-')} 1`,
      `istio_requests_total${labels('destination', pp, details, 'details', 429, 'RL')} 1`,
    ].sort());

    // Histograms: /ok took 30 ms with 100 bytes in and 10 out, /flaky's 200 took 0 ms with 0 in and 2 out.
    for (const [body, reporter] of [[source, 'source'], [reviewsReport, 'destination']] as const) {
      const set = labels(reporter, pp, reviews, 'reviews', 200, '-');
      expect(histogram(body, 'istio_request_duration_milliseconds', set)).toEqual({ buckets: cumulative([30, 0]), sum: 30, count: 2 });
      expect(histogram(body, 'istio_request_bytes', set)).toEqual({ buckets: cumulative([100, 0]), sum: 100, count: 2 });
      expect(histogram(body, 'istio_response_bytes', set)).toEqual({ buckets: cumulative([10, 2]), sum: 12, count: 2 });
    }

    // /stats shows the same stats under Envoy's flat names (the tags joined to the name).
    const text = (await m.admin('reviews-v1', '/stats?filter=^istiocustom\\.istio_requests_total')).body;
    expect(text).toContain('istiocustom.istio_requests_total.reporter.destination.source_workload.productpage-v1.');
  });
});
