// The Zipkin tracer behind the OpenTelemetry API: span ids by Envoy's rules (root, egress child, shared and
// unshared ingress), sampling inheritance, the Zipkin v2 JSON shape, context injection, and the standard
// tags, decorators and stats of a stream's trace (StreamTrace).

import { defaultTextMapGetter, ROOT_CONTEXT, SpanKind, trace, type Span } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { newStreamInfo } from '../../../proxy/http/stream-info.ts';
import type { RequestHeaders } from '../../../proxy/http/headers.ts';
import type { Route } from '../../../proxy/route/types.ts';
import { StatsStore } from '../../../proxy/stats/store.ts';
import { StreamTrace, tracingStats, type HttpTracing } from '../../../proxy/tracing/http-tracer.ts';
import { toTracingConfig, type TracingWire } from '../../../proxy/tracing/tracing-schema.ts';
import { TRACE_DECISION_KEY, ZipkinPropagator } from '../../../proxy/tracing/zipkin-propagator.ts';
import { ZipkinSpan } from '../../../proxy/tracing/zipkin-span.ts';
import { ZipkinTracer } from '../../../proxy/tracing/zipkin-tracer.ts';
import { FakeClock, ScriptedRandom } from '../../support/fake-clock.ts';
import { ResponseFlag } from '../../../proxy/common/response-flags.ts';

const T = '463ac35c9f6413ad';
const S = 'a2fb4a1d1a96d312';
const P = '0020000000000001';
const LOCAL = { serviceName: 'reviews', ipv4: '10.1.2.3', port: 0 };

/** uint32 draws, in order (ScriptedRandom repeats the last). */
function draws(...values: number[]): ScriptedRandom {
  return new ScriptedRandom(values.map((v) => v / 2 ** 32));
}

function setup(opts: { shared?: boolean; trace128?: boolean; w3c?: boolean; random?: ScriptedRandom } = {}) {
  const clock = new FakeClock();
  const reported: ZipkinSpan[] = [];
  const tracer = new ZipkinTracer({
    localEndpoint: LOCAL, sharedSpanContext: opts.shared ?? true, clock, sink: { report: (s) => reported.push(s) },
    random: opts.random ?? draws(0x11111111, 0x22222222, 0x33333333, 0x44444444), traceId128bit: opts.trace128 ?? false,
  });
  const propagator = new ZipkinPropagator<Record<string, string>>(opts.w3c ?? false);
  const start = (kind: SpanKind, headers: Record<string, string>, decision = true): Span => {
    const ctx = propagator.extract(ROOT_CONTEXT.setValue(TRACE_DECISION_KEY, decision), headers, defaultTextMapGetter);
    return tracer.startSpan('reviews:9080', { kind, startTime: clock.now() }, ctx);
  };
  return { clock, reported, tracer, propagator, start };
}

function zipkin(span: Span): ZipkinSpan {
  expect(span).toBeInstanceOf(ZipkinSpan);
  return span as ZipkinSpan;
}

describe('ZipkinTracer span ids', () => {
  it('a request without context starts a root span: trace id = span id, random, no parent', () => {
    const s = zipkin(setup().start(SpanKind.CLIENT, {}));
    expect([s.traceIdHigh, s.traceId, s.spanId, s.parentId, s.kind, s.sampled]).toEqual(['', '1111111122222222', '1111111122222222', '', 'CLIENT', true]);
  });

  it('trace_id_128bit draws a high half for new traces', () => {
    const s = zipkin(setup({ trace128: true }).start(SpanKind.SERVER, {}));
    expect([s.traceIdHigh, s.traceId, s.spanId]).toEqual(['3333333344444444', '1111111122222222', '1111111122222222']);
    expect(s.spanContext().traceId).toBe('33333333444444441111111122222222');
  });

  it('egress: a child of the caller\'s span, same trace id', () => {
    const s = zipkin(setup().start(SpanKind.CLIENT, { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-parentspanid': P }));
    expect([s.traceId, s.spanId, s.parentId, s.kind]).toEqual([T, '1111111122222222', S, 'CLIENT']);
  });

  it('ingress with shared_span_context: the caller\'s span id and parent (Zipkin shared span)', () => {
    const s = zipkin(setup().start(SpanKind.SERVER, { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-parentspanid': P }));
    expect([s.traceId, s.spanId, s.parentId, s.kind]).toEqual([T, S, P, 'SERVER']);
    const root = zipkin(setup().start(SpanKind.SERVER, { 'x-b3-traceid': T, 'x-b3-spanid': S }));
    expect([root.spanId, root.parentId]).toEqual([S, '']);
  });

  it('ingress without shared_span_context: a new SERVER span whose parent is the caller\'s span', () => {
    const s = zipkin(setup({ shared: false }).start(SpanKind.SERVER, { 'x-b3-traceid': T, 'x-b3-spanid': S }));
    expect([s.traceId, s.spanId, s.parentId, s.kind]).toEqual([T, '1111111122222222', S, 'SERVER']);
  });

  it('keeps a 128-bit trace id from the caller', () => {
    const s = zipkin(setup().start(SpanKind.CLIENT, { b3: `${P}${T}-${S}-1` }));
    expect([s.traceIdHigh, s.traceId]).toEqual([P, T]);
  });

  it.each([
    ['the local decision without B3 sampling', {}, true, true],
    ['the local decision (not traced)', {}, false, false],
    ['x-b3-sampled: 1 over a local "not traced"', { 'x-b3-sampled': '1' }, false, true],
    ['x-b3-sampled: 0 over a local "traced"', { 'x-b3-sampled': '0' }, true, false],
    ['a caller context inherits its sampled flag', { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '0' }, true, false],
    ['b3 d (debug)', { b3: `${T}-${S}-d` }, false, true],
  ])('sampled: %s', (_name, headers, decision, sampled) => {
    expect(zipkin(setup().start(SpanKind.SERVER, headers, decision)).sampled).toBe(sampled);
  });

  it('malformed B3 ids start no span at all (Envoy\'s NullSpan): not recording, nothing injected', () => {
    const t = setup();
    const span = t.start(SpanKind.SERVER, { 'x-b3-traceid': 'nothex', 'x-b3-spanid': S });
    expect(span).not.toBeInstanceOf(ZipkinSpan);
    expect(span.isRecording()).toBe(false);
    const headers: Record<string, string> = {};
    t.propagator.inject(ROOT_CONTEXT, headers, { set: (c, k, v) => { c[k] = v; } });
    expect(headers).toEqual({});
  });

  it('startActiveSpan runs the callback with the new span', () => {
    const t = setup();
    const id = t.tracer.startActiveSpan('op', (span) => span.spanContext().spanId);
    expect(id).toBe('1111111122222222');
  });
});

describe('ZipkinSpan', () => {
  it('serializes as Zipkin v2 JSON: µs timestamp and duration, local endpoint, tags, shared SERVER span', () => {
    const t = setup();
    const s = t.start(SpanKind.SERVER, { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-parentspanid': P });
    s.setAttribute('http.method', 'GET').setAttribute('empty', '').setAttribute('http.status_code', '200');
    t.clock.advance(12.5);
    s.end();
    expect(t.reported).toHaveLength(1);
    expect(zipkin(s).toJsonV2()).toEqual({
      traceId: T, parentId: P, id: S, kind: 'SERVER', name: 'reviews:9080',
      timestamp: t.clock.now() * 1000 - 12_500, duration: 12_500,
      localEndpoint: LOCAL, tags: { 'http.method': 'GET', 'http.status_code': '200' }, shared: true,
    });
  });

  it('CLIENT spans and unshared configs carry no shared flag; events become annotations; updateName renames', () => {
    const t = setup({ shared: false });
    const s = t.start(SpanKind.CLIENT, {});
    s.addEvent('first_upstream_tx_byte_sent', t.clock.now() + 1);
    s.updateName('GET /reviews');
    s.end();
    const json = zipkin(s).toJsonV2();
    expect(json.shared).toBeUndefined();
    expect(json.parentId).toBeUndefined();
    expect(json.name).toBe('GET /reviews');
    expect(json.annotations).toEqual([{ timestamp: (t.clock.now() + 1) * 1000, value: 'first_upstream_tx_byte_sent' }]);
  });

  it('an unsampled span is not reported; a span ends once', () => {
    const t = setup();
    const s = t.start(SpanKind.SERVER, {}, false);
    s.end();
    expect(t.reported).toEqual([]);
    const sampled = t.start(SpanKind.SERVER, {});
    sampled.end();
    sampled.end();
    expect(t.reported).toHaveLength(1);
  });

  it('the propagator injects the span\'s context (and traceparent with W3C propagation)', () => {
    const t = setup({ w3c: true });
    const s = t.start(SpanKind.CLIENT, { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '1' });
    const headers: Record<string, string> = { b3: 'left-alone' };
    t.propagator.inject(ROOT_CONTEXT.setValue(Symbol.for('x'), 1), headers, { set: (c, k, v) => { c[k] = v; } });
    expect(headers).toEqual({ b3: 'left-alone' });
    t.propagator.inject(trace.setSpan(ROOT_CONTEXT, s), headers, { set: (c, k, v) => { c[k] = v; } });
    expect(headers).toEqual({
      b3: 'left-alone', 'x-b3-traceid': T, 'x-b3-spanid': '1111111122222222', 'x-b3-parentspanid': S, 'x-b3-sampled': '1',
      traceparent: `00-0000000000000000${T}-1111111122222222-01`,
    });
    expect(t.propagator.fields()).toContain('traceparent');
  });
});

describe('StreamTrace', () => {
  function tracing(wire: TracingWire, opts: { operation?: 'ingress' | 'egress' } = {}) {
    const t = setup();
    const store = new StatsStore();
    const config: HttpTracing = {
      operation: opts.operation ?? 'ingress', config: toTracingConfig(wire, { POD: 'reviews-v1' }),
      driver: { tracer: t.tracer, propagator: t.propagator as ZipkinPropagator<never> }, stats: tracingStats(store.scope('http.ingress')),
      random: draws(0), nodeId: 'sidecar~10.1.2.3', zone: 'z1', observabilityName: (c) => `${c}-obs`,
    };
    return { ...t, store, config };
  }

  function request(headers: Record<string, string>, path = '/reviews/1?x=y'): RequestHeaders {
    return { method: 'GET', path, authority: 'reviews:9080', scheme: 'http', headers: { 'x-forwarded-proto': 'http', ...headers } };
  }

  const REQUEST_ID = '0000000a-1111-4222-8333-444444444444';

  it('sets Envoy\'s standard tags and custom tags, then ends the span', () => {
    const t = tracing({
      max_path_tag_length: 8,
      custom_tags: [
        { tag: 'literal', literal: { value: 'x' } },
        { tag: 'pod', environment: { name: 'POD' } },
        { tag: 'missing-env', environment: { name: 'NOPE', default_value: 'dflt' } },
        { tag: 'user', request_header: { name: 'X-User', default_value: 'anon' } },
        { tag: 'absent', request_header: { name: 'x-absent' } },
        { tag: 'literal', literal: { value: 'second definition ignored' } },
      ],
    });
    const req = request({ 'x-request-id': REQUEST_ID, 'user-agent': 'curl/8', 'x-client-trace-id': 'ct', 'x-user': 'alice' });
    const info = newStreamInfo(t.clock.now(), t.clock.monotonicMs());
    info.downstreamDirectRemoteAddress = '10.9.8.7:50123';
    const stream = StreamTrace.start(t.config, req, info, null);
    expect(stream.reason).toBe('ClientForced');
    Object.assign(info, { bytesReceived: 12, bytesSent: 345, responseCode: 503, upstreamCluster: 'outbound|9080||reviews', responseFlags: ResponseFlag.UpstreamConnectionFailure });
    stream.finish(req, info);
    expect(t.reported).toHaveLength(1);
    expect(Object.fromEntries(t.reported[0]!.tags)).toEqual({
      node_id: 'sidecar~10.1.2.3', zone: 'z1',
      'guid:x-request-id': '0000000a-1111-b222-8333-444444444444', 'http.url': 'http://reviews:9080/reviews', 'http.method': 'GET',
      downstream_cluster: '-', user_agent: 'curl/8', 'http.protocol': 'HTTP/1.1', 'peer.address': '10.9.8.7', 'guid:x-client-trace-id': 'ct',
      request_size: '12', response_size: '345', component: 'proxy',
      upstream_cluster: 'outbound|9080||reviews', 'upstream_cluster.name': 'outbound|9080||reviews-obs',
      'http.status_code': '503', response_flags: 'UF', error: 'true',
      literal: 'x', pod: 'reviews-v1', 'missing-env': 'dflt', user: 'alice',
    });
    expect(t.store.counter('http.ingress.tracing.client_enabled').value()).toBe(1);
  });

  it('uses x-envoy-original-path in http.url; no response is an error with status 0; verbose adds timing annotations', () => {
    const t = tracing({ verbose: true });
    const req = request({ 'x-request-id': REQUEST_ID, 'x-envoy-original-path': '/api/v1/reviews' }, '/reviews');
    const info = newStreamInfo(t.clock.now(), t.clock.monotonicMs());
    const stream = StreamTrace.start(t.config, req, info, null);
    info.lastDownstreamRxByteReceived = info.startMonotonic + 2;
    info.firstUpstreamTxByteSent = info.startMonotonic + 3;
    stream.finish(req, info);
    const span = t.reported[0]!;
    expect(span.tags.get('http.url')).toBe('http://reviews:9080/api/v1/reviews');
    expect(span.tags.get('http.status_code')).toBe('0');
    expect(span.tags.get('error')).toBe('true');
    expect(span.tags.get('upstream_cluster')).toBeUndefined();
    expect(span.annotations).toEqual([
      { timestamp: (info.startTime + 2) * 1000, value: 'last_downstream_rx_byte_received' },
      { timestamp: (info.startTime + 3) * 1000, value: 'first_upstream_tx_byte_sent' },
    ]);
  });

  it('charges http.<prefix>.tracing.* by reason and rewrites x-request-id', () => {
    const t = tracing({ random_sampling: { value: 0 } });
    const notTraced = request({ 'x-request-id': REQUEST_ID });
    StreamTrace.start(t.config, notTraced, newStreamInfo(0, 0), null).finish(notTraced, newStreamInfo(0, 0));
    const forced = request({ 'x-request-id': REQUEST_ID, 'x-envoy-force-trace': 'true' });
    StreamTrace.start(t.config, forced, newStreamInfo(0, 0), null);
    expect(forced.headers['x-request-id']).toBe('0000000a-1111-a222-8333-444444444444');
    expect(t.store.counter('http.ingress.tracing.not_traceable').value()).toBe(1);
    expect(t.store.counter('http.ingress.tracing.service_forced').value()).toBe(1);
    expect(t.reported).toEqual([]);
  });

  it('without a provider, requests are still sampled but no span is made', () => {
    const t = tracing({});
    const config = { ...t.config, driver: null };
    const req = request({ 'x-request-id': REQUEST_ID });
    const stream = StreamTrace.start(config, req, newStreamInfo(0, 0), null);
    expect(stream.span).toBeNull();
    stream.injectContext(req.headers);
    stream.finish(req, newStreamInfo(0, 0));
    expect(req.headers['x-request-id']![14]).toBe('9');
    expect(req.headers['x-b3-traceid']).toBeUndefined();
  });

  const decorated = { decorator: { operation: 'reviews.default.svc.cluster.local:9080/*', propagate: true } } as unknown as Route;

  it('ingress: the route decorator names the span and is returned in the response; a caller\'s header overrides it', () => {
    const t = tracing({});
    const req = request({ 'x-request-id': REQUEST_ID });
    const stream = StreamTrace.start(t.config, req, newStreamInfo(0, 0), decorated);
    expect((stream.span as ZipkinSpan).name).toBe('reviews.default.svc.cluster.local:9080/*');
    const response: Record<string, string> = {};
    stream.encodeHeaders(response);
    expect(response['x-envoy-decorator-operation']).toBe('reviews.default.svc.cluster.local:9080/*');

    const overridden = request({ 'x-request-id': REQUEST_ID, 'x-envoy-decorator-operation': 'caller-op' });
    const t2 = StreamTrace.start(t.config, overridden, newStreamInfo(0, 0), decorated);
    expect((t2.span as ZipkinSpan).name).toBe('caller-op');
    expect(overridden.headers['x-envoy-decorator-operation']).toBeUndefined();
    const r2: Record<string, string> = {};
    t2.encodeHeaders(r2);
    expect(r2).toEqual({});
  });

  it('egress: the decorator goes upstream; the callee\'s response header renames the span and is removed', () => {
    const t = tracing({}, { operation: 'egress' });
    const req = request({ 'x-request-id': REQUEST_ID });
    const stream = StreamTrace.start(t.config, req, newStreamInfo(0, 0), decorated);
    expect(req.headers['x-envoy-decorator-operation']).toBe('reviews.default.svc.cluster.local:9080/*');
    expect((stream.span as ZipkinSpan).kind).toBe('CLIENT');
    const response: Record<string, string> = { 'x-envoy-decorator-operation': 'callee-op' };
    stream.encodeHeaders(response);
    expect(response).toEqual({});
    expect((stream.span as ZipkinSpan).name).toBe('callee-op');
  });
});
