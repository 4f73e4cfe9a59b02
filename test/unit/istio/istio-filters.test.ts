// Istio's two HTTP filters on their own: their config schemas (what istiod sends is accepted, what nodevoy does
// not do is `not implemented`), the peer metadata exchange on requests and responses (strip, learn, answer), and
// the stats reporter's series: labels from StreamInfo, whole milliseconds, one handle per label set, the route's
// cluster when no router ran, the endpoint's metadata when no peer answered.

import { describe, expect, it } from 'vitest';
import { encodePeerMetadataHeader, workloadFromNodeMetadata } from '../../../proxy/common/workload-metadata.ts';
import { ResponseFlag } from '../../../proxy/common/response-flags.ts';
import { parseWith } from '../../../proxy/config/schema-kit.ts';
import { istioStatsFilter } from '../../../proxy/filters/http/istio-stats/index.ts';
import { peerMetadataFilter } from '../../../proxy/filters/http/peer-metadata/index.ts';
import { PeerMetadataCache } from '../../../proxy/filters/http/peer-metadata/peer-metadata-filter.ts';
import type { FilterCallbacks, FilterFactoryContext, HttpFilter } from '../../../proxy/http/filter.ts';
import type { HeaderMap } from '../../../proxy/http/headers.ts';
import { newStreamInfo, type StreamInfo } from '../../../proxy/http/stream-info.ts';
import type { Route } from '../../../proxy/route/types.ts';
import { PrometheusRenderer } from '../../../proxy/stats/prometheus.ts';
import { StatsStore } from '../../../proxy/stats/store.ts';
import type { Cluster, ClusterManager, Host } from '../../../proxy/upstream/types.ts';
import { FakeClock, SeededRandom } from '../../support/fake-clock.ts';

const PRODUCTPAGE_NODE = { id: 'sidecar~10.0.0.1~productpage-v1.default~default.svc.cluster.local', metadata: {
  NAME: 'productpage-v1', NAMESPACE: 'default', LABELS: { app: 'productpage', version: 'v1' } } };
const REVIEWS_NODE = { id: 'sidecar~10.0.0.2~reviews-v1.default~default.svc.cluster.local', metadata: {
  WORKLOAD_NAME: 'reviews-v1', NAMESPACE: 'default', LABELS: { app: 'reviews', version: 'v1' } } };
const PRODUCTPAGE_HEADER = encodePeerMetadataHeader(workloadFromNodeMetadata(PRODUCTPAGE_NODE.metadata));
const REVIEWS_HEADER = encodePeerMetadataHeader(workloadFromNodeMetadata(REVIEWS_NODE.metadata));

/** Errors of a config as `path [kind]`. */
function configErrors(schema: typeof istioStatsFilter.configSchema | typeof peerMetadataFilter.configSchema, wire: unknown): string[] {
  const r = parseWith(schema as never, wire);
  return r.ok ? [] : r.errors.map((e) => `${e.path} [${e.kind}]`);
}

const INBOUND_MX = { downstream_discovery: [{ istio_headers: {} }, { workload_discovery: {} }], downstream_propagation: [{ istio_headers: {} }] };
const OUTBOUND_MX = { upstream_discovery: [{ istio_headers: {} }, { workload_discovery: {} }], upstream_propagation: [{ istio_headers: {} }] };

describe('istio.stats and peer metadata configs', () => {
  it('accept what istiod sends a sidecar', () => {
    expect(configErrors(istioStatsFilter.configSchema, {})).toEqual([]);
    expect(configErrors(istioStatsFilter.configSchema, { disable_host_header_fallback: true, reporter: 'UNSPECIFIED' })).toEqual([]);
    expect(configErrors(peerMetadataFilter.configSchema, INBOUND_MX)).toEqual([]);
    expect(configErrors(peerMetadataFilter.configSchema, { upstreamDiscovery: [{ istioHeaders: { skipExternalClusters: false } }], upstreamPropagation: [{ istioHeaders: {} }] })).toEqual([]);
  });

  it('report what nodevoy does not implement, and what Istio does not have', () => {
    expect(configErrors(istioStatsFilter.configSchema, {
      metrics: [{ name: 'requests_total', drop: true }], definitions: [], tcp_reporting_duration: '5s', rotation_interval: '1h',
      graceful_deletion_interval: '5m', reporter: 'SERVER_GATEWAY', debug: true,
    }).sort()).toEqual(['debug [unknown-field]', 'definitions [not-implemented]', 'graceful_deletion_interval [not-implemented]',
      'metrics [not-implemented]', 'reporter [not-implemented]', 'rotation_interval [not-implemented]', 'tcp_reporting_duration [not-implemented]']);
    expect(configErrors(peerMetadataFilter.configSchema, {
      downstream_discovery: [{ baggage: {} }, {}, { istio_headers: {}, workload_discovery: {} }],
      upstream_propagation: [{ istio_headers: { skip_external_clusters: true } }],
      shared_with_upstream: true, additional_labels: ['role'],
    })).toEqual([
      'downstream_discovery[0].baggage [not-implemented]', 'downstream_discovery[1] [invalid]', 'downstream_discovery[2] [invalid]',
      'upstream_propagation[0].istio_headers.skip_external_clusters [not-implemented]', 'shared_with_upstream [not-implemented]',
      'additional_labels [not-implemented]',
    ]);
  });
});

function parsed<T>(schema: Parameters<typeof parseWith<T>>[0], wire: unknown): T {
  const r = parseWith(schema, wire);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

/** A Cluster with Istio's service metadata (what the router and the stats filter read). */
function clusterNamed(name: string, service?: string): Cluster {
  const metadata = service === undefined ? undefined : { filter_metadata: { istio: { services: [{ host: `${service}.default.svc.cluster.local`, name: service, namespace: 'default' }] } } };
  return { name, config: { name, metadata } } as unknown as Cluster;
}

function clusterManager(...clusters: Cluster[]): ClusterManager {
  const byName = new Map(clusters.map((c) => [c.name, c]));
  return { get: (n: string) => byName.get(n), all: () => byName.values() } as unknown as ClusterManager;
}

function routeTo(cluster: string): Route {
  return {
    name: 'default', virtualHost: { name: 'vh' },
    action: {
      type: 'route', selectCluster: () => ({ name: cluster }), clusterNotFoundStatus: 503, timeoutMs: 0,
      idleTimeoutMs: undefined, computeHash: () => undefined, rewriteRequest: () => {}, autoHostRewrite: false,
    },
    applyRequestHeaders: () => {}, applyResponseHeaders: () => {}, perFilterConfig: () => undefined,
  };
}

interface Stream {
  readonly info: StreamInfo;
  readonly request: { method: string; path: string; authority: string; scheme: string; headers: HeaderMap };
  readonly filters: HttpFilter[];
}

/** One listener's MX + stats filters, built from `node` and `direction`, and a way to run streams through them. */
function listener(node: { id: string; metadata: Record<string, unknown> }, direction: 'INBOUND' | 'OUTBOUND', cm: ClusterManager, statsWire: unknown = {}) {
  const stats = new StatsStore();
  const clock = new FakeClock();
  const ctx = (filterName: string): FilterFactoryContext => ({
    stats: stats.scope('http.test'), rootStats: stats, clock, random: new SeededRandom(1), clusterManager: cm, filterName,
    bufferLimitBytes: 1 << 20, node, trafficDirection: direction,
  });
  const mx = peerMetadataFilter.create(parsed(peerMetadataFilter.configSchema, direction === 'INBOUND' ? INBOUND_MX : OUTBOUND_MX), ctx('istio.metadata_exchange'));
  const statsFilter = istioStatsFilter.create(parsed(istioStatsFilter.configSchema, statsWire), ctx('istio.stats'));
  return {
    stats, clock,
    /** A stream on `route` with request `headers`; the test plays the rest (decode, encode, complete). */
    stream(headers: HeaderMap, route: Route | null, authority = 'reviews:9080'): Stream {
      const info = newStreamInfo(clock.now(), clock.monotonicMs());
      const request = { method: 'GET', path: '/', authority, scheme: 'http', headers: { ...headers } };
      const cb = { info, request, route } as unknown as FilterCallbacks;
      return { info, request, filters: [mx(cb), statsFilter(cb)] };
    },
    async prometheus(): Promise<string[]> {
      return (await new PrometheusRenderer(stats).render()).split('\n').filter((l) => l.startsWith('istio_requests_total{'));
    },
  };
}

function decode(s: Stream): void {
  for (const f of s.filters) f.decodeHeaders?.(s.request, true);
}
function encode(s: Stream, status: number, headers: HeaderMap = {}): HeaderMap {
  const response = { status, headers: { ...headers } };
  for (const f of [...s.filters].reverse()) f.encodeHeaders?.(response, true);
  s.info.responseCode = status;
  return response.headers;
}
function complete(s: Stream, endMs: number): void {
  s.info.streamEnd = endMs;
  for (const f of s.filters) f.onStreamComplete?.();
}

describe('the peer metadata exchange', () => {
  it('inbound: learns the caller from the request, strips its headers, answers with its own only to a caller that sent them', () => {
    const l = listener(REVIEWS_NODE, 'INBOUND', clusterManager());
    const s = l.stream({ 'x-envoy-peer-metadata-id': PRODUCTPAGE_NODE.id, 'x-envoy-peer-metadata': PRODUCTPAGE_HEADER, accept: '*/*' }, null);
    decode(s);
    expect(s.request.headers).toEqual({ accept: '*/*' });
    expect(s.info.downstreamPeer).toMatchObject({ workloadName: 'productpage-v1', appName: 'productpage', namespace: 'default' });
    expect(encode(s, 200, { 'content-type': 'text/plain' })).toEqual({
      'content-type': 'text/plain', 'x-envoy-peer-metadata-id': REVIEWS_NODE.id, 'x-envoy-peer-metadata': REVIEWS_HEADER,
    });
    // A caller outside the mesh sent nothing: it gets nothing.
    const plain = l.stream({}, null);
    decode(plain);
    expect(encode(plain, 200)).toEqual({});
    expect(plain.info.downstreamPeer).toBeUndefined();
  });

  it('outbound: sends this workload (replacing what the app wrote), learns and strips the answer\'s', () => {
    const l = listener(PRODUCTPAGE_NODE, 'OUTBOUND', clusterManager());
    const s = l.stream({ 'x-envoy-peer-metadata': 'forged' }, null);
    decode(s);
    expect(s.request.headers).toEqual({ 'x-envoy-peer-metadata-id': PRODUCTPAGE_NODE.id, 'x-envoy-peer-metadata': PRODUCTPAGE_HEADER });
    expect(encode(s, 200, { 'x-envoy-peer-metadata-id': REVIEWS_NODE.id, 'x-envoy-peer-metadata': REVIEWS_HEADER, server: 'envoy' })).toEqual({ server: 'envoy' });
    expect(s.info.upstreamPeer).toMatchObject({ workloadName: 'reviews-v1', canonicalName: 'reviews', canonicalRevision: 'v1' });
  });

  it('a value that is not a base64 Struct names no peer but is still stripped', () => {
    const l = listener(REVIEWS_NODE, 'INBOUND', clusterManager());
    const s = l.stream({ 'x-envoy-peer-metadata': '%%%' }, null);
    decode(s);
    expect(s.request.headers).toEqual({});
    expect(s.info.downstreamPeer).toBeUndefined();
  });

  it('decodes each header value once, keeps the decoded peer\'s identity, and stays bounded', () => {
    const cache = new PeerMetadataCache(4);
    const first = cache.lookup(PRODUCTPAGE_HEADER);
    expect(cache.lookup(PRODUCTPAGE_HEADER)).toBe(first);
    for (let i = 0; i < 4; i++) cache.lookup(encodePeerMetadataHeader(workloadFromNodeMetadata({ NAME: `w${i}` })));
    // The oldest quarter went when the fifth value came: the first peer is decoded again, into a new object.
    const again = cache.lookup(PRODUCTPAGE_HEADER);
    expect(again).toEqual(first);
    expect(again).not.toBe(first);
  });
});

describe('the stats reporter', () => {
  const REVIEWS_CLUSTER = 'outbound|9080||reviews.default.svc.cluster.local';

  it('records one series per label set with whole-millisecond durations and body sizes, reusing its handles', async () => {
    const l = listener(PRODUCTPAGE_NODE, 'OUTBOUND', clusterManager(clusterNamed(REVIEWS_CLUSTER, 'reviews')));
    const run = (endMs: number, status: number, flags = 0) => {
      const s = l.stream({}, routeTo(REVIEWS_CLUSTER));
      decode(s);
      s.info.upstreamCluster = REVIEWS_CLUSTER;
      s.info.bytesReceived = 7;
      encode(s, status, { 'x-envoy-peer-metadata': REVIEWS_HEADER });
      s.info.bytesSent = 3;
      s.info.responseFlags = flags;
      complete(s, s.info.startMonotonic + endMs);
    };
    run(12.9, 200);
    const handles = l.stats.counters.size + l.stats.histograms.size;
    run(0.2, 200);
    expect(l.stats.counters.size + l.stats.histograms.size).toBe(handles);
    run(1, 503, ResponseFlag.UpstreamRetryLimitExceeded);
    const out = await l.prometheus();
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(/^istio_requests_total\{reporter="source",source_workload="productpage-v1",.*destination_workload="reviews-v1",.*destination_service="reviews\.default\.svc\.cluster\.local",.*response_code="200",grpc_response_status="",response_flags="-",connection_security_policy="unknown"\} 2$/);
    expect(out[1]).toMatch(/response_code="503",grpc_response_status="",response_flags="URX",connection_security_policy="unknown"\} 1$/);
    const duration = [...l.stats.histograms].find(([n]) => n.startsWith('istiocustom.istio_request_duration_milliseconds.') && n.includes('.response_code.200.'))![1];
    expect({ sum: duration.sum, count: duration.count }).toEqual({ sum: 12, count: 2 });
    expect(l.stats.gauges.get('istiocustom.istio_build.component.proxy.tag.unknown')?.value()).toBe(1);
  });

  it('a local reply before the router: the service from the route\'s cluster; no answer: the endpoint\'s metadata', async () => {
    const inbound = listener(REVIEWS_NODE, 'INBOUND', clusterManager(clusterNamed('inbound|9080||', 'reviews')), { disable_host_header_fallback: true });
    const denied = inbound.stream({ 'x-envoy-peer-metadata': PRODUCTPAGE_HEADER }, routeTo('inbound|9080||'));
    decode(denied);
    encode(denied, 403);
    complete(denied, denied.info.startMonotonic);
    expect(await inbound.prometheus()).toEqual([expect.stringMatching(
      /^istio_requests_total\{reporter="destination",source_workload="productpage-v1",.*,source_principal="unknown",.*destination_service="reviews\.default\.svc\.cluster\.local",.*response_code="403",.*connection_security_policy="none"\} 1$/)]);

    const outbound = listener(PRODUCTPAGE_NODE, 'OUTBOUND', clusterManager(clusterNamed(REVIEWS_CLUSTER, 'reviews')));
    const failed = outbound.stream({}, routeTo(REVIEWS_CLUSTER));
    decode(failed);
    failed.info.upstreamCluster = REVIEWS_CLUSTER;
    failed.info.upstreamHostDescription = { metadata: { istio: { workload: 'reviews-v2;default;reviews;v2;Kubernetes' } }, peerUriSan: 'spiffe://stale' } as unknown as Host;
    failed.info.responseFlags = ResponseFlag.UpstreamConnectionFailure;
    encode(failed, 503);
    complete(failed, failed.info.startMonotonic);
    expect(await outbound.prometheus()).toEqual([expect.stringMatching(
      /destination_workload="reviews-v2",destination_workload_namespace="default",destination_principal="unknown",destination_app="unknown",destination_version="unknown",.*destination_canonical_service="reviews",destination_canonical_revision="v2",.*response_code="503",grpc_response_status="",response_flags="UF"/)]);
  });

  it('the Host header stands in for the service only where the fallback is on and the cluster says nothing', async () => {
    for (const [wire, expected] of [[{}, 'reviews:9080'], [{ disable_host_header_fallback: true }, 'unknown']] as const) {
      const l = listener(PRODUCTPAGE_NODE, 'OUTBOUND', clusterManager(clusterNamed('bare')), wire);
      const s = l.stream({}, routeTo('bare'));
      decode(s);
      s.info.upstreamCluster = 'bare';
      encode(s, 200);
      complete(s, s.info.startMonotonic);
      expect((await l.prometheus())[0]).toContain(`destination_service="${expected}",`);
    }
  });
});
