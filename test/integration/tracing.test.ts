// Tracing end to end with real sockets: sidecars (separate nodevoy servers with outbound and inbound
// listeners) around an application that copies x-request-id and the B3 headers to its own upstream call,
// a test Zipkin collector receiving the reports; the span tree, sampling over many requests, forced and
// unsampled requests, W3C propagation, and a collector that is down while traffic flows.

import { request as httpRequest, Agent, createServer, type Server as HttpServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { Server } from '../../proxy/server/server.ts';
import { requestIdInteger } from '../../proxy/tracing/request-id.ts';
import { ZIPKIN_TYPE_URL } from '../../proxy/tracing/tracing-schema.ts';
import { SeededRandom } from '../support/fake-clock.ts';
import { send, startProxy } from '../support/proxy.ts';
import { closedPort, startUpstream, type TestUpstream } from '../support/upstream.ts';
import { startZipkinCollector, type ReceivedSpan, type ZipkinCollector } from '../support/zipkin-collector.ts';

type Json = Record<string, unknown>;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function track<T extends { close(): Promise<void> }>(x: T): T {
  cleanups.push(() => x.close());
  return x;
}

const B3_HEADERS = ['x-request-id', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'b3', 'traceparent'];

function tracing(collectorCluster: string, extra: Json = {}, zipkinExtra: Json = {}): Json {
  return {
    ...extra,
    provider: {
      name: 'envoy.tracers.zipkin',
      typed_config: {
        '@type': ZIPKIN_TYPE_URL, collector_cluster: collectorCluster, collector_endpoint: '/api/v2/spans',
        collector_endpoint_version: 'HTTP_JSON', ...zipkinExtra,
      },
    },
  };
}

interface ListenerSpec {
  readonly name: string;
  readonly direction: 'INBOUND' | 'OUTBOUND';
  /** The cluster every request goes to. */
  readonly cluster: string;
  readonly tracing: Json;
  readonly hcmExtra?: Json;
}

function staticCluster(name: string, port: number): Json {
  return {
    name, type: 'STATIC', connect_timeout: '1s',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] },
  };
}

/** A sidecar bootstrap: node.cluster = the service (the Zipkin service name), listeners on port 0. */
function sidecarYaml(service: string, listeners: readonly ListenerSpec[], clusters: Record<string, number>): string {
  return JSON.stringify({
    node: { id: `sidecar~${service}`, cluster: service, locality: { zone: 'zone-a' } },
    static_resources: {
      listeners: listeners.map((l) => ({
        name: l.name, traffic_direction: l.direction,
        address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
        filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          stat_prefix: l.name, tracing: l.tracing, ...l.hcmExtra,
          route_config: { name: l.name, virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: l.cluster } }] }] },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
        } }] }],
      })),
      clusters: Object.entries(clusters).map(([name, port]) => staticCluster(name, port)),
    },
  });
}

async function sidecar(service: string, listeners: readonly ListenerSpec[], clusters: Record<string, number>): Promise<Server> {
  return track(await startProxy(sidecarYaml(service, listeners, clusters)));
}

async function collector(): Promise<ZipkinCollector> {
  return track(await startZipkinCollector());
}

/**
 * An application that, for each request, calls `upstream()` through its sidecar's outbound listener with the
 * trace headers it received copied over (what Istio asks applications to do), then answers with the body.
 */
async function app(host: string, upstream: () => number): Promise<{ port: number; received: Record<string, string | string[] | undefined>[] }> {
  const received: Record<string, string | string[] | undefined>[] = [];
  const server: HttpServer = createServer((req, res) => {
    received.push(req.headers);
    const headers: Record<string, string> = { host };
    for (const h of B3_HEADERS) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const out = httpRequest({ host: '127.0.0.1', port: upstream(), path: '/ratings', headers, agent: false }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`reviews+${Buffer.concat(chunks).toString()}`);
      });
    });
    out.on('error', () => { res.writeHead(502); res.end(); });
    out.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  const addr = server.address();
  return { port: typeof addr === 'object' && addr ? addr.port : 0, received };
}

function counter(server: Server, name: string): number {
  return server.stats.counter(name).value();
}

/** A UUIDv4-shaped request id from a seeded random (its first 8 hex digits drive random_sampling). */
function requestId(random: SeededRandom): string {
  const hex = (n: number) => random.nextUint32().toString(16).padStart(8, '0').slice(0, n);
  return `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(8)}${hex(4)}`;
}

describe('tracing through two sidecar hops', () => {
  it('reports one trace: CLIENT and shared SERVER spans, parent links, the same trace and request id', async () => {
    const zipkin = await collector();
    const ratings = track(await startUpstream('ratings'));
    let reviewsOutboundPort = 0;
    const reviewsApp = await app('ratings:9080', () => reviewsOutboundPort);
    const ratingsSidecar = await sidecar('ratings', [
      { name: 'inbound', direction: 'INBOUND', cluster: 'ratings_app', tracing: tracing('zipkin') },
    ], { ratings_app: ratings.port, zipkin: zipkin.port });
    const reviewsSidecar = await sidecar('reviews', [
      { name: 'inbound', direction: 'INBOUND', cluster: 'reviews_app', tracing: tracing('zipkin') },
      { name: 'outbound', direction: 'OUTBOUND', cluster: 'ratings', tracing: tracing('zipkin') },
    ], { reviews_app: reviewsApp.port, ratings: ratingsSidecar.listenerPort('inbound'), zipkin: zipkin.port });
    reviewsOutboundPort = reviewsSidecar.listenerPort('outbound');
    const productpage = await sidecar('productpage', [
      { name: 'outbound', direction: 'OUTBOUND', cluster: 'reviews', tracing: tracing('zipkin') },
    ], { reviews: reviewsSidecar.listenerPort('inbound'), zipkin: zipkin.port });

    const res = await send(productpage.listenerPort('outbound'), '/reviews/1', { headers: { host: 'reviews:9080', 'user-agent': 'it' } });
    expect([res.status, res.body]).toEqual([200, 'reviews+ratings']);

    // Spans are reported as the proxies flush: min_flush_spans is not reached, shutdown flushes them.
    await productpage.close();
    await reviewsSidecar.close();
    await ratingsSidecar.close();
    const spans = zipkin.spans();
    expect(spans).toHaveLength(4);
    const by = (service: string, kind: 'CLIENT' | 'SERVER'): ReceivedSpan => {
      const s = spans.find((x) => x.localEndpoint.serviceName === service && x.kind === kind);
      if (!s) throw new Error(`no ${kind} span from ${service}: ${JSON.stringify(spans)}`);
      return s;
    };
    const ppClient = by('productpage', 'CLIENT');
    const reviewsServer = by('reviews', 'SERVER');
    const reviewsClient = by('reviews', 'CLIENT');
    const ratingsServer = by('ratings', 'SERVER');

    const traceId = ppClient.traceId;
    expect(traceId).toMatch(/^[0-9a-f]{16}$/);
    for (const s of spans) expect(s.traceId).toBe(traceId);
    // The egress proxy starts the trace; the ingress proxy shares its span (Zipkin's shared span model).
    expect([ppClient.id, ppClient.parentId, ppClient.shared]).toEqual([traceId, undefined, undefined]);
    expect([reviewsServer.id, reviewsServer.parentId, reviewsServer.shared]).toEqual([ppClient.id, undefined, true]);
    // The application's own call (headers copied) is a child of the span it received.
    expect(reviewsClient.parentId).toBe(ppClient.id);
    expect(reviewsClient.id).not.toBe(ppClient.id);
    expect([ratingsServer.id, ratingsServer.parentId, ratingsServer.shared]).toEqual([reviewsClient.id, ppClient.id, true]);

    expect([ppClient.name, reviewsServer.name, reviewsClient.name, ratingsServer.name]).toEqual(['reviews:9080', 'reviews:9080', 'ratings:9080', 'ratings:9080']);
    const requestIds = new Set(spans.map((s) => s.tags?.['guid:x-request-id']));
    expect(requestIds.size).toBe(1);
    expect([...requestIds][0]![14]).toBe('9'); // sampled, packed into the request id by the first proxy
    expect(ppClient.tags).toMatchObject({
      component: 'proxy', 'http.method': 'GET', 'http.url': 'http://reviews:9080/reviews/1', 'http.protocol': 'HTTP/1.1',
      'http.status_code': '200', response_flags: '-', upstream_cluster: 'reviews', 'upstream_cluster.name': 'reviews',
      node_id: 'sidecar~productpage', zone: 'zone-a', user_agent: 'it', downstream_cluster: '-', request_size: '0', response_size: '15',
      'peer.address': '127.0.0.1',
    });
    expect(ppClient.tags?.error).toBeUndefined();
    expect(ratingsServer.tags).toMatchObject({ upstream_cluster: 'ratings_app', 'http.url': 'http://ratings:9080/ratings' });
    for (const s of spans) {
      expect(s.timestamp).toBeGreaterThan(1_600_000_000_000_000);
      expect(s.duration).toBeGreaterThanOrEqual(0);
      expect(s.localEndpoint.port).toBe(0);
    }

    // What each hop sent upstream.
    const seenByApp = reviewsApp.received[0]!;
    expect([seenByApp['x-b3-traceid'], seenByApp['x-b3-spanid'], seenByApp['x-b3-parentspanid'], seenByApp['x-b3-sampled']]).toEqual([traceId, ppClient.id, undefined, '1']);
    const seenByRatings = ratings.received[0]!.headers;
    expect([seenByRatings['x-b3-traceid'], seenByRatings['x-b3-spanid'], seenByRatings['x-b3-parentspanid'], seenByRatings['x-b3-sampled']])
      .toEqual([traceId, reviewsClient.id, ppClient.id, '1']);
    expect(seenByRatings.traceparent).toBeUndefined();
  });
});

describe('tracing on one sidecar', () => {
  async function ingress(backend: TestUpstream, zipkinPort: number, tracingBlock: Json, hcmExtra: Json = {}): Promise<Server> {
    return sidecar('web', [{ name: 'inbound', direction: 'INBOUND', cluster: 'app', tracing: tracingBlock, hcmExtra }], { app: backend.port, zipkin: zipkinPort });
  }

  it('random_sampling 10 % over 2,000 requests samples by the request id hash, within tolerance, and reports exactly those', async () => {
    const zipkin = await collector();
    const backend = track(await startUpstream('app'));
    const proxy = await ingress(backend, zipkin.port, tracing('zipkin', { random_sampling: { value: 10 } }));
    const random = new SeededRandom(2026);
    const ids = Array.from({ length: 2_000 }, () => requestId(random));
    const expected = ids.filter((id) => requestIdInteger(id)! % 10_000 < 1_000);
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    cleanups.push(async () => agent.destroy());
    const port = proxy.listenerPort('inbound');
    const statuses = await Promise.all(ids.map((id) => new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/', agent, headers: { 'x-request-id': id } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    })));
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(expected.length / ids.length).toBeGreaterThan(0.085);
    expect(expected.length / ids.length).toBeLessThan(0.115);
    expect(counter(proxy, 'http.inbound.tracing.random_sampling')).toBe(expected.length);
    expect(counter(proxy, 'http.inbound.tracing.not_traceable')).toBe(ids.length - expected.length);
    // The decision travels in the request id and in x-b3-sampled.
    for (const r of backend.received) {
      const id = r.headers['x-request-id'] as string;
      const sampled = r.headers['x-b3-sampled'];
      expect(id[14]).toBe(sampled === '1' ? '9' : '4');
    }
    await proxy.close();
    const reported = zipkin.spans().map((s) => s.tags?.['guid:x-request-id']!.replace(/^(.{14})9/, '$14'));
    expect(reported.sort()).toEqual([...expected].sort());
    expect(counter(proxy, 'tracing.zipkin.spans_sent')).toBe(expected.length);
    expect(counter(proxy, 'tracing.zipkin.reports_sent')).toBe(zipkin.reports.length);
  });

  it('unsampled requests still carry x-b3-sampled: 0; an internal x-envoy-force-trace forces a trace and echoes the request id', async () => {
    const zipkin = await collector();
    const backend = track(await startUpstream('app'));
    const proxy = await ingress(backend, zipkin.port, tracing('zipkin', { random_sampling: { value: 0 } }), {
      use_remote_address: true, internal_address_config: { cidr_ranges: [{ address_prefix: '127.0.0.1', prefix_len: 32 }] },
    });
    const port = proxy.listenerPort('inbound');
    const plain = await send(port, '/', { headers: { 'x-request-id': '00000001-0000-4000-8000-000000000000' } });
    expect(plain.headers['x-request-id']).toBeUndefined();
    expect([backend.received[0]!.headers['x-b3-sampled'], backend.received[0]!.headers['x-request-id']]).toEqual(['0', '00000001-0000-4000-8000-000000000000']);
    const forced = await send(port, '/', { headers: { 'x-request-id': '00000002-0000-4000-8000-000000000000', 'x-envoy-force-trace': 'true' } });
    expect(forced.headers['x-request-id']).toBe('00000002-0000-a000-8000-000000000000');
    expect(backend.received[1]!.headers['x-b3-sampled']).toBe('1');
    await proxy.close();
    expect(zipkin.spans().map((s) => s.tags?.['guid:x-request-id'])).toEqual(['00000002-0000-a000-8000-000000000000']);
    expect([counter(proxy, 'http.inbound.tracing.not_traceable'), counter(proxy, 'http.inbound.tracing.service_forced')]).toEqual([1, 1]);
  });

  it('with USE_B3_WITH_W3C_PROPAGATION a caller\'s traceparent is the parent, and traceparent goes upstream', async () => {
    const zipkin = await collector();
    const backend = track(await startUpstream('app'));
    const proxy = await sidecar('web', [
      { name: 'outbound', direction: 'OUTBOUND', cluster: 'app', tracing: tracing('zipkin', {}, { trace_context_option: 'USE_B3_WITH_W3C_PROPAGATION' }) },
    ], { app: backend.port, zipkin: zipkin.port });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await send(proxy.listenerPort('outbound'), '/', { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    const h = backend.received[0]!.headers;
    expect([h['x-b3-traceid'], h['x-b3-parentspanid'], h['x-b3-sampled']]).toEqual([traceId, '00f067aa0ba902b7', '1']);
    expect(h.traceparent).toBe(`00-${traceId}-${h['x-b3-spanid']}-01`);
    await proxy.close();
    expect(zipkin.spans().map((s) => [s.traceId, s.parentId, s.id, s.kind])).toEqual([[traceId, '00f067aa0ba902b7', h['x-b3-spanid'], 'CLIENT']]);
  });

  it('a collector that is down never fails or delays proxied requests; the failed reports are counted', async () => {
    const backend = track(await startUpstream('app'));
    const proxy = await ingress(backend, await closedPort(), tracing('zipkin'));
    const port = proxy.listenerPort('inbound');
    for (let i = 0; i < 25; i++) {
      const res = await send(port, '/');
      expect(res.status).toBe(200);
    }
    await proxy.close();
    expect(counter(proxy, 'tracing.zipkin.spans_sent')).toBe(25);
    expect(counter(proxy, 'tracing.zipkin.reports_dropped')).toBe(5);
    expect(counter(proxy, 'tracing.zipkin.reports_sent')).toBe(0);
    expect(counter(proxy, 'http.inbound.downstream_rq_2xx')).toBe(25);
  });

  it('a failed request is traced too (503 UF, error: true)', async () => {
    const zipkin = await collector();
    const backend = track(await startUpstream('app'));
    const proxy = await sidecar('web', [{ name: 'inbound', direction: 'INBOUND', cluster: 'missing_cluster', tracing: tracing('zipkin') }],
      { app: backend.port, zipkin: zipkin.port, missing_cluster: await closedPort() });
    const res = await send(proxy.listenerPort('inbound'), '/x');
    expect(res.status).toBe(503);
    await proxy.close();
    const [span] = zipkin.spans();
    expect(span?.tags).toMatchObject({ 'http.status_code': '503', response_flags: 'UF', error: 'true', upstream_cluster: 'missing_cluster' });
  });
});
