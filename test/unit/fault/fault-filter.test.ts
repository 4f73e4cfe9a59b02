// The fault filter per stream, with a FakeClock and scripted draws: percentage decisions (Envoy's
// random % denominator < numerator), delay then abort, header controls and their caps, max_active_faults,
// matching (headers, upstream_cluster, downstream_nodes), per-route override, stats and cleanup.

import { describe, expect, it } from 'vitest';
import { ResponseFlag } from '../../../proxy/common/response-flags.ts';
import { CountingRandom, draws, harness, parseFault, routeTo } from './harness.ts';

const DI = ResponseFlag.DelayInjected;
const FI = ResponseFlag.FaultInjected;

describe('percentage decisions', () => {
  it.each([
    // [what, percentage, draw, aborted]
    ['Istio abort 50%: draw 49', { numerator: 50 }, 49, true],
    ['Istio abort 50%: draw 50', { numerator: 50 }, 50, false],
    ['50%: draw 149 (149 % 100 = 49)', { numerator: 50 }, 149, true],
    ['50%: draw 4294967295 (% 100 = 95)', { numerator: 50 }, 4294967295, false],
    ['100%: draw 99', { numerator: 100 }, 99, true],
    ['TEN_THOUSAND 5: draw 4', { numerator: 5, denominator: 'TEN_THOUSAND' }, 4, true],
    ['TEN_THOUSAND 5: draw 5', { numerator: 5, denominator: 'TEN_THOUSAND' }, 5, false],
    ['TEN_THOUSAND 5: draw 10004', { numerator: 5, denominator: 'TEN_THOUSAND' }, 10004, true],
    ['MILLION 1: draw 1000000', { numerator: 1, denominator: 'MILLION' }, 1_000_000, true],
    ['MILLION 1: draw 1', { numerator: 1, denominator: 'MILLION' }, 1, false],
    ['numerator above the denominator: always', { numerator: 150 }, 99, true],
    ['numerator 0: never', { numerator: 0 }, 0, false],
    ['denominator given as a number (1 = TEN_THOUSAND)', { numerator: 5, denominator: 1 }, 104, false],
  ])('%s', (_what, percentage, draw, aborted) => {
    const h = harness({ abort: { http_status: 500, percentage } }, draws(draw));
    const s = h.stream();
    expect(s.decode()).toBe(aborted ? 'stop' : 'continue');
    expect(s.reply?.status).toBe(aborted ? 500 : undefined);
    expect(h.counter('aborts_injected')).toBe(aborted ? 1 : 0);
  });

  it('an unset percentage is 0%: a configured fault never fires', () => {
    const h = harness({ delay: { fixed_delay: '1s' }, abort: { http_status: 503 } }, draws(0));
    expect(h.stream().decode()).toBe('continue');
    expect([h.counter('delays_injected'), h.counter('aborts_injected')]).toEqual([0, 0]);
  });
});

describe('abort', () => {
  it('answers the status with body "fault filter abort", flag FI and details fault_filter_abort, without delay', () => {
    const h = harness({ abort: { http_status: 503, percentage: { numerator: 100 } } }, draws(0));
    const s = h.stream();
    expect(s.decode()).toBe('stop');
    expect(s.reply).toEqual({ status: 503, body: 'fault filter abort', opts: { flags: FI, details: 'fault_filter_abort' } });
    expect(s.info.responseFlags).toBe(FI);
    expect(h.counter('aborts_injected')).toBe(1);
    expect(h.counter('delays_injected')).toBe(0);
    // The stream ended with the reply: it no longer counts as active.
    expect(h.gauge('active_faults')).toBe(0);
  });

  it('grpc_status on a gRPC request: HTTP 200, trailers-only with grpc-status and grpc-message', () => {
    const h = harness({ abort: { grpc_status: 14, percentage: { numerator: 100 } } }, draws(0));
    const s = h.stream({ 'content-type': 'application/grpc+proto' }, { method: 'POST' });
    expect(s.decode()).toBe('stop');
    expect(s.reply).toEqual({
      status: 200, body: '',
      opts: {
        flags: FI, details: 'fault_filter_abort',
        headers: { 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'fault filter abort' },
      },
    });
  });

  it.each([
    ['GET with content-type application/grpc', 'GET', 'application/grpc'],
    ['POST with content-type application/grpc-web', 'POST', 'application/grpc-web'],
    ['POST with text/plain', 'POST', 'text/plain'],
  ])('grpc_status on a non-gRPC request (%s): plain 200 "fault filter abort"', (_what, method, contentType) => {
    const h = harness({ abort: { grpc_status: 14, percentage: { numerator: 100 } } }, draws(0));
    const s = h.stream({ 'content-type': contentType }, { method });
    s.decode();
    expect([s.reply?.status, s.reply?.body, s.reply?.opts.headers]).toEqual([200, 'fault filter abort', undefined]);
  });
});

describe('delay', () => {
  it('Istio fixed_delay 7s at 100%: holds the stream until the clock reaches 7 s, then continues', () => {
    const h = harness({ delay: { fixed_delay: '7s', percentage: { numerator: 100 } } }, draws(99));
    const s = h.stream();
    expect(s.decode()).toBe('stop');
    expect(s.info.responseFlags).toBe(DI);
    expect([h.counter('delays_injected'), h.gauge('active_faults')]).toEqual([1, 1]);
    h.clock.advance(6_999);
    expect(s.continued).toBe(0);
    h.clock.advance(1);
    expect(s.continued).toBe(1);
    expect(s.reply).toBeNull();
    // The delay is over and nothing else is injected: no longer an active fault.
    expect(h.gauge('active_faults')).toBe(0);
    s.complete();
    expect(h.gauge('active_faults')).toBe(0);
  });

  it('delay then abort: the abort is drawn when the delay ends; flags DI and FI', () => {
    const random = new CountingRandom(0);
    const h = harness({
      delay: { fixed_delay: '1s', percentage: { numerator: 100 } },
      abort: { http_status: 500, percentage: { numerator: 100 } },
    }, random);
    const s = h.stream();
    expect(s.decode()).toBe('stop');
    expect(random.count).toBe(1);
    expect(s.reply).toBeNull();
    h.clock.advance(1_000);
    expect(random.count).toBe(2);
    expect(s.reply?.status).toBe(500);
    expect(s.info.responseFlags).toBe(DI | FI);
    expect(s.continued).toBe(0);
    expect([h.counter('delays_injected'), h.counter('aborts_injected'), h.gauge('active_faults')]).toEqual([1, 1, 0]);
  });

  it.each([
    // [draws, delayed, aborted] with delay 50% and abort 50%: delay draw first, abort draw after it
    ['delay yes, abort yes', [10, 20], true, true],
    ['delay yes, abort no', [10, 70], true, false],
    ['delay no, abort yes (drawn at once)', [70, 20], false, true],
    ['delay no, abort no', [70, 70], false, false],
  ])('draw order: %s', (_what, values, delayed, aborted) => {
    const h = harness({
      delay: { fixed_delay: '2s', percentage: { numerator: 50 } },
      abort: { http_status: 503, percentage: { numerator: 50 } },
    }, draws(...values));
    const s = h.stream();
    s.decode();
    h.clock.advance(2_000);
    expect(Boolean(s.info.responseFlags & DI)).toBe(delayed);
    expect(s.reply?.status === 503).toBe(aborted);
    expect(s.continued).toBe(!aborted && delayed ? 1 : 0);
    expect(s.status).toBe(delayed || aborted ? 'stop' : 'continue');
  });

  it('a fixed_delay that truncates to 0 ms is not injected (Envoy reads whole milliseconds)', () => {
    const h = harness({ delay: { fixed_delay: '0.0005s', percentage: { numerator: 100 } } }, draws(0));
    expect(h.stream().decode()).toBe('continue');
    expect(h.counter('delays_injected')).toBe(0);
  });

  it('the downstream going away cancels the delay timer and releases the active fault', () => {
    const h = harness({ delay: { fixed_delay: '5s', percentage: { numerator: 100 } } }, draws(0));
    const s = h.stream();
    s.decode();
    expect(h.clock.pendingTimers()).toBe(1);
    s.destroy();
    expect(h.clock.pendingTimers()).toBe(0);
    expect(h.gauge('active_faults')).toBe(0);
    h.clock.advance(10_000);
    expect(s.continued).toBe(0);
  });
});

describe('header-controlled faults', () => {
  it.each([
    // [header_delay percentage, request headers, draw, expected delay ms or null]
    ['x-envoy-fault-delay-request 250', 100, { 'x-envoy-fault-delay-request': '250' }, 0, 250],
    ['with surrounding spaces and +', 100, { 'x-envoy-fault-delay-request': ' +250 ' }, 0, 250],
    ['no header: no delay', 100, {}, 0, null],
    ['not a number: no delay', 100, { 'x-envoy-fault-delay-request': '25ms' }, 0, null],
    ['negative: no delay', 100, { 'x-envoy-fault-delay-request': '-5' }, 0, null],
    ['0 ms: no delay', 100, { 'x-envoy-fault-delay-request': '0' }, 0, null],
    ['header percentage 10 under configured 50: draw 9', 50, { 'x-envoy-fault-delay-request': '100', 'x-envoy-fault-delay-request-percentage': '10' }, 9, 100],
    ['header percentage 10 under configured 50: draw 10', 50, { 'x-envoy-fault-delay-request': '100', 'x-envoy-fault-delay-request-percentage': '10' }, 10, null],
    ['header percentage 80 capped at configured 50: draw 49', 50, { 'x-envoy-fault-delay-request': '100', 'x-envoy-fault-delay-request-percentage': '80' }, 49, 100],
    ['header percentage 80 capped at configured 50: draw 50', 50, { 'x-envoy-fault-delay-request': '100', 'x-envoy-fault-delay-request-percentage': '80' }, 50, null],
    ['invalid header percentage: the configured one', 50, { 'x-envoy-fault-delay-request': '100', 'x-envoy-fault-delay-request-percentage': 'all' }, 49, 100],
    ['configured 0%: the header cannot raise it', 0, { 'x-envoy-fault-delay-request': '100', 'x-envoy-fault-delay-request-percentage': '100' }, 0, null],
  ])('header_delay: %s', (_what, numerator, headers, draw, delayMs) => {
    const h = harness({ delay: { header_delay: {}, percentage: { numerator } } }, draws(draw));
    const s = h.stream(headers);
    expect(s.decode()).toBe(delayMs === null ? 'continue' : 'stop');
    if (delayMs === null) return;
    h.clock.advance(delayMs - 1);
    expect(s.continued).toBe(0);
    h.clock.advance(1);
    expect(s.continued).toBe(1);
  });

  it.each([
    ['429', { 'x-envoy-fault-abort-request': '429' }, 0, 429],
    ['200 (lowest allowed)', { 'x-envoy-fault-abort-request': '200' }, 0, 200],
    ['599 (highest allowed)', { 'x-envoy-fault-abort-request': '599' }, 0, 599],
    ['600 is ignored', { 'x-envoy-fault-abort-request': '600' }, 0, null],
    ['199 is ignored', { 'x-envoy-fault-abort-request': '199' }, 0, null],
    ['no header', {}, 0, null],
    ['header percentage 30 (capped at nothing: configured 100): draw 29', { 'x-envoy-fault-abort-request': '503', 'x-envoy-fault-abort-request-percentage': '30' }, 29, 503],
    ['header percentage 30: draw 30', { 'x-envoy-fault-abort-request': '503', 'x-envoy-fault-abort-request-percentage': '30' }, 30, null],
    ['only a gRPC status header: 200', { 'x-envoy-fault-abort-grpc-request': '4' }, 0, 200],
    ['an HTTP status wins over the gRPC one', { 'x-envoy-fault-abort-request': '503', 'x-envoy-fault-abort-grpc-request': '4' }, 0, 503],
  ])('header_abort: %s', (_what, headers, draw, status) => {
    const h = harness({ abort: { header_abort: {}, percentage: { numerator: 100 } } }, draws(draw));
    const s = h.stream(headers);
    expect(s.decode()).toBe(status === null ? 'continue' : 'stop');
    expect(s.reply?.status ?? null).toBe(status);
  });

  it('header_abort with x-envoy-fault-abort-grpc-request on a gRPC request answers that grpc-status', () => {
    const h = harness({ abort: { header_abort: {}, percentage: { numerator: 100 } } }, draws(0));
    const s = h.stream({ 'x-envoy-fault-abort-grpc-request': '8', 'content-type': 'application/grpc' }, { method: 'POST' });
    s.decode();
    expect([s.reply?.status, s.reply?.opts.headers?.['grpc-status']]).toEqual([200, '8']);
  });

  it('header abort percentage is capped by the configured numerator and keeps its denominator', () => {
    const h = harness({ abort: { header_abort: {}, percentage: { numerator: 20, denominator: 'TEN_THOUSAND' } } }, draws(19, 20));
    const headers = { 'x-envoy-fault-abort-request': '503', 'x-envoy-fault-abort-request-percentage': '5000' };
    expect(h.stream(headers).decode()).toBe('stop');
    expect(h.stream(headers).decode()).toBe('continue');
  });

  it('fixed faults ignore the header controls', () => {
    const h = harness({
      delay: { fixed_delay: '0.1s', percentage: { numerator: 100 } },
      abort: { http_status: 503, percentage: { numerator: 50 } },
    }, draws(0, 10));
    const s = h.stream({
      'x-envoy-fault-delay-request': '5000', 'x-envoy-fault-delay-request-percentage': '0',
      'x-envoy-fault-abort-request': '429', 'x-envoy-fault-abort-request-percentage': '0',
    });
    expect(s.decode()).toBe('stop');
    h.clock.advance(100);
    expect(s.reply?.status).toBe(503);
  });
});

describe('max_active_faults', () => {
  it('over the limit a fault is not injected and faults_overflow counts it', () => {
    const h = harness({ max_active_faults: 1, delay: { fixed_delay: '1s', percentage: { numerator: 100 } } }, draws(0));
    const a = h.stream();
    expect(a.decode()).toBe('stop');
    const b = h.stream();
    expect(b.decode()).toBe('continue');
    expect(b.info.responseFlags).toBe(0);
    expect([h.counter('faults_overflow'), h.counter('delays_injected'), h.gauge('active_faults')]).toEqual([1, 1, 1]);
    h.clock.advance(1_000);
    expect(a.continued).toBe(1);
    expect(h.gauge('active_faults')).toBe(0);
    expect(h.stream().decode()).toBe('stop');
    expect(h.counter('delays_injected')).toBe(2);
  });

  it('an abort over the limit is not injected either', () => {
    const h = harness({
      max_active_faults: 1,
      delay: { header_delay: {}, percentage: { numerator: 100 } },
      abort: { http_status: 503, percentage: { numerator: 100 } },
    }, draws(0));
    h.stream({ 'x-envoy-fault-delay-request': '1000' }).decode();
    const s = h.stream();
    expect(s.decode()).toBe('continue');
    expect([h.counter('aborts_injected'), h.counter('faults_overflow')]).toEqual([0, 1]);
  });

  it('max_active_faults 0 blocks every fault', () => {
    const h = harness({ max_active_faults: 0, abort: { http_status: 503, percentage: { numerator: 100 } } }, draws(0));
    expect(h.stream().decode()).toBe('continue');
    expect(h.counter('faults_overflow')).toBe(1);
  });

  it('unset is unlimited; a delayed-then-aborted stream counts once', () => {
    const h = harness({
      delay: { fixed_delay: '1s', percentage: { numerator: 100 } },
      abort: { http_status: 503, percentage: { numerator: 100 } },
    }, draws(0));
    const streams = Array.from({ length: 50 }, () => h.stream());
    for (const s of streams) expect(s.decode()).toBe('stop');
    expect(h.gauge('active_faults')).toBe(50);
    h.clock.advance(1_000);
    expect(streams.every((s) => s.reply?.status === 503)).toBe(true);
    expect([h.gauge('active_faults'), h.counter('faults_overflow')]).toEqual([0, 0]);
  });

  it('a request that is not faulted never counts as overflow', () => {
    const h = harness({ max_active_faults: 0, abort: { http_status: 503, percentage: { numerator: 10 } } }, draws(50));
    expect(h.stream().decode()).toBe('continue');
    expect(h.counter('faults_overflow')).toBe(0);
  });
});

describe('which requests a fault applies to', () => {
  const abortAll = { http_status: 503, percentage: { numerator: 100 } };

  it('headers: all must match; no draw is made for a request that does not match', () => {
    const random = new CountingRandom(0);
    const h = harness({
      abort: abortAll,
      headers: [{ name: 'end-user', string_match: { exact: 'jason' } }, { name: ':method', exact_match: 'GET' }],
    }, random);
    expect(h.stream({ 'end-user': 'other' }).decode()).toBe('continue');
    expect(h.stream({ 'end-user': 'jason' }, { method: 'POST' }).decode()).toBe('continue');
    expect(random.count).toBe(0);
    expect(h.stream({ 'end-user': 'jason' }).decode()).toBe('stop');
  });

  it.each([
    ['the route\'s cluster', routeTo('backend'), true],
    ['another cluster', routeTo('other'), false],
    ['no route', null, false],
    ['a random weighted_clusters pick (made later by the router)', routeTo('weighted'), false],
  ])('upstream_cluster: %s', (_what, route, faulted) => {
    const h = harness({ abort: abortAll, upstream_cluster: 'backend' }, draws(0));
    expect(h.stream({}, { route }).decode()).toBe(faulted ? 'stop' : 'continue');
  });

  it.each([
    ['a listed node', { 'x-envoy-downstream-service-node': 'node-b' }, true],
    ['an unlisted node', { 'x-envoy-downstream-service-node': 'node-c' }, false],
    ['no node header', {}, false],
  ])('downstream_nodes: %s', (_what, headers, faulted) => {
    const h = harness({ abort: abortAll, downstream_nodes: ['node-a', 'node-b'] }, draws(0));
    expect(h.stream(headers).decode()).toBe(faulted ? 'stop' : 'continue');
  });
});

describe('per-route typed_per_filter_config', () => {
  const filterLevel = { abort: { http_status: 503, percentage: { numerator: 100 } } };

  it('replaces the filter-level HTTPFault for its route', () => {
    const h = harness(filterLevel, draws(0));
    const perRoute = parseFault({ abort: { http_status: 418, percentage: { numerator: 100 } } });
    const s = h.stream({}, { route: routeTo('backend', perRoute) });
    s.decode();
    expect(s.reply?.status).toBe(418);
    const other = h.stream();
    other.decode();
    expect(other.reply?.status).toBe(503);
  });

  it('an empty per-route HTTPFault turns faults off on that route', () => {
    const h = harness(filterLevel, draws(0));
    expect(h.stream({}, { route: routeTo('backend', parseFault({})) }).decode()).toBe('continue');
  });

  it('per-route max_active_faults applies to that route', () => {
    const h = harness(filterLevel, draws(0));
    const perRoute = parseFault({ max_active_faults: 0, abort: { http_status: 418, percentage: { numerator: 100 } } });
    expect(h.stream({}, { route: routeTo('backend', perRoute) }).decode()).toBe('continue');
    expect(h.counter('faults_overflow')).toBe(1);
  });
});

describe('stats', () => {
  it('declares Envoy\'s fault stats at config time under http.<stat_prefix>.fault.', () => {
    const h = harness({}, draws(0));
    expect([...h.stats.counters.keys()].sort()).toEqual([
      'http.ingress.fault.aborts_injected', 'http.ingress.fault.delays_injected',
      'http.ingress.fault.faults_overflow', 'http.ingress.fault.response_rl_injected',
    ]);
    expect([...h.stats.gauges.keys()]).toEqual(['http.ingress.fault.active_faults']);
  });

  it('counts per downstream cluster (x-envoy-downstream-service-cluster) unless disabled', () => {
    const wire = {
      delay: { fixed_delay: '1s', percentage: { numerator: 100 } },
      abort: { http_status: 503, percentage: { numerator: 100 } },
    };
    const h = harness(wire, draws(0));
    h.stream({ 'x-envoy-downstream-service-cluster': 'frontend' }).decode();
    h.clock.advance(1_000);
    expect(h.counter('frontend.delays_injected')).toBe(1);
    expect(h.counter('frontend.aborts_injected')).toBe(1);
    const off = harness({ ...wire, disable_downstream_cluster_stats: true }, draws(0));
    off.stream({ 'x-envoy-downstream-service-cluster': 'frontend' }).decode();
    off.clock.advance(1_000);
    expect(off.stats.counters.has('http.ingress.fault.frontend.delays_injected')).toBe(false);
    expect(off.counter('aborts_injected')).toBe(1);
  });
});
