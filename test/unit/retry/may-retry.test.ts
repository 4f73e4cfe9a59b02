// "May retry": RetryState.shouldRetry's closed result (retries left, the retry circuit breaker and the
// retry budget, a replayable body), retry success accounting, previous_hosts, the internal-only retry
// headers, and the circuit-breaker arithmetic (retry budget, open / remaining gauges).

import { describe, expect, it } from 'vitest';
import { StatsStore } from '../../../proxy/stats/store.ts';
import { ClusterStatsImpl } from '../../../proxy/upstream/cluster-stats.ts';
import { ResourceManagerImpl, retryBudgetMax } from '../../../proxy/upstream/circuit-breaker.ts';
import type { CircuitBreakerThresholds, Host } from '../../../proxy/upstream/types.ts';
import { parseWith } from '../../../proxy/config/schema-kit.ts';
import { RetryOn, RetryPolicySchema, translateRetryPolicy } from '../../../proxy/route/retry-policy-schema.ts';
import type { RetryPolicy } from '../../../proxy/route/types.ts';
import { createRetryState } from '../../../proxy/filters/http/router/retry-state.ts';
import type { RequestHeaders } from '../../../proxy/http/headers.ts';
import { ScriptedRandom } from '../../support/fake-clock.ts';

const DEFAULTS: CircuitBreakerThresholds = { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 };

function setup(thresholds: Partial<CircuitBreakerThresholds> = {}) {
  const store = new StatsStore();
  const stats = new ClusterStatsImpl(store.scope('cluster.c'));
  const resources = new ResourceManagerImpl({ ...DEFAULTS, ...thresholds }, store.scope('cluster.c.circuit_breakers.default'), stats.upstream_cx_active);
  const counter = (n: string): number => store.counters.get(`cluster.c.${n}`)?.value() ?? 0;
  const gauge = (n: string): number | undefined => store.gauges.get(`cluster.c.circuit_breakers.default.${n}`)?.value();
  return { store, stats, resources, counter, gauge };
}

function policy(wire: unknown): RetryPolicy {
  const r = parseWith(RetryPolicySchema, wire);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return translateRetryPolicy(r.value);
}

function request(headers: Record<string, string> = {}): RequestHeaders {
  return { method: 'GET', path: '/', authority: 'a', scheme: 'http', headers: { ...headers } };
}

const random = new ScriptedRandom([0]);

describe('RetryState.shouldRetry', () => {
  it('grants num_retries retries, then says limit-exceeded (URX) and counts it', () => {
    const { stats, resources, counter } = setup();
    const state = createRetryState(policy({ retry_on: '5xx', num_retries: 2 }), request(), { resources, stats, random })!;
    expect(state.shouldRetry('backoff', true)).toEqual({ kind: 'retry', delayMs: 0 });
    expect(state.shouldRetry('backoff', true)).toEqual({ kind: 'retry', delayMs: 0 });
    expect(state.shouldRetry('backoff', true)).toEqual({ kind: 'limit-exceeded' });
    expect([counter('upstream_rq_retry'), counter('upstream_rq_retry_limit_exceeded'), counter('upstream_rq_retry_success')]).toEqual([2, 1, 0]);
    expect(resources.retries.count()).toBe(0); // each granted retry's token came back at the next decision
  });

  it('counts upstream_rq_retry_success when a retried attempt is not retriable, and says no', () => {
    const { stats, resources, counter } = setup();
    const state = createRetryState(policy({ retry_on: '5xx' }), request(), { resources, stats, random })!;
    expect(state.shouldRetry('backoff', true).kind).toBe('retry');
    expect(resources.retries.count()).toBe(1); // held while the retry is pending
    expect(state.shouldRetry('no', true)).toEqual({ kind: 'no', reason: 'not-retriable' });
    expect([counter('upstream_rq_retry'), counter('upstream_rq_retry_success')]).toEqual([1, 1]);
    expect(resources.retries.count()).toBe(0);
  });

  it('refuses with overflow (UO) when max_retries tokens are all held, without using up num_retries', () => {
    const { stats, resources, counter } = setup({ maxRetries: 1 });
    const a = createRetryState(policy({ retry_on: '5xx', num_retries: 5 }), request(), { resources, stats, random })!;
    const b = createRetryState(policy({ retry_on: '5xx', num_retries: 5 }), request(), { resources, stats, random })!;
    expect(a.shouldRetry('backoff', true).kind).toBe('retry');
    expect(b.shouldRetry('backoff', true)).toEqual({ kind: 'overflow' });
    expect(counter('upstream_rq_retry_overflow')).toBe(1);
    a.release();
    expect(b.shouldRetry('backoff', true).kind).toBe('retry');
  });

  it('says body-not-buffered when the request body outgrew the retry buffer', () => {
    const { stats, resources, counter } = setup();
    const state = createRetryState(policy({ retry_on: '5xx' }), request(), { resources, stats, random })!;
    expect(state.shouldRetry('backoff', false)).toEqual({ kind: 'no', reason: 'body-not-buffered' });
    expect(counter('upstream_rq_retry')).toBe(0);
  });

  it('does not back off for "immediately" and uses the jittered back-off otherwise', () => {
    const { stats, resources } = setup();
    const r = new ScriptedRandom([24 / 2 ** 32, 49 / 2 ** 32]);
    const state = createRetryState(policy({ retry_on: '5xx', num_retries: 3 }), request(), { resources, stats, random: r })!;
    expect(state.shouldRetry('immediately', true)).toEqual({ kind: 'retry', delayMs: 0 });
    expect(state.shouldRetry('backoff', true)).toEqual({ kind: 'retry', delayMs: 24 });
    expect(state.shouldRetry('backoff', true)).toEqual({ kind: 'retry', delayMs: 49 });
  });
});

describe('createRetryState', () => {
  it('returns null (and allocates nothing) without a policy or retry headers', () => {
    const { stats, resources } = setup();
    expect(createRetryState(null, request(), { resources, stats, random })).toBeNull();
    expect(createRetryState(policy({ per_try_timeout: '1s' }), request(), { resources, stats, random })).toBeNull();
  });

  it('merges x-envoy-retry-on / -retry-grpc-on, lets x-envoy-max-retries override num_retries, and removes them', () => {
    const { stats, resources } = setup();
    const req = request({ 'x-envoy-retry-on': 'connect-failure,bogus', 'x-envoy-retry-grpc-on': 'unavailable', 'x-envoy-max-retries': '3',
      'x-envoy-retriable-status-codes': '418, 429', 'x-envoy-retriable-header-names': 'x-a', 'x-keep': '1' });
    const state = createRetryState(policy({ retry_on: '5xx' }), req, { resources, stats, random })!;
    expect(state.retryOn).toBe(RetryOn.FiveXX | RetryOn.ConnectFailure | RetryOn.GrpcUnavailable);
    expect(req.headers).toEqual({ 'x-keep': '1' });
    for (let i = 0; i < 3; i++) expect(state.shouldRetry('backoff', true).kind).toBe('retry');
    expect(state.shouldRetry('backoff', true).kind).toBe('limit-exceeded');
    // The header status codes and names extend the policy's lists.
    expect(state.wouldRetryHeaders({ status: 418, headers: {} })).toBe('no'); // retriable-status-codes is not on
  });

  it('enables retries from the headers alone (internal requests) with num_retries 1', () => {
    const { stats, resources } = setup();
    const state = createRetryState(null, request({ 'x-envoy-retry-on': 'retriable-status-codes', 'x-envoy-retriable-status-codes': '418' }), { resources, stats, random })!;
    expect(state.wouldRetryHeaders({ status: 418, headers: {} })).toBe('backoff');
    expect(state.shouldRetry('backoff', true).kind).toBe('retry');
    expect(state.shouldRetry('backoff', true).kind).toBe('limit-exceeded');
  });

  it('ignores x-envoy-max-retries when nothing is retriable, but still removes it', () => {
    const { stats, resources } = setup();
    const req = request({ 'x-envoy-max-retries': '5' });
    expect(createRetryState(null, req, { resources, stats, random })).toBeNull();
    expect(req.headers).toEqual({});
  });

  it('turns retries off when no retriable_request_headers matcher matches the request', () => {
    const { stats, resources } = setup();
    const p = policy({ retry_on: '5xx', retriable_request_headers: [{ name: ':method', string_match: { exact: 'GET' } }] });
    expect(createRetryState(p, request(), { resources, stats, random })).not.toBeNull();
    expect(createRetryState(p, { ...request(), method: 'POST' }, { resources, stats, random })).toBeNull();
  });

  it('previous_hosts rejects hosts already attempted', () => {
    const { stats, resources } = setup();
    const p = policy({ retry_on: '5xx', retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }], host_selection_retry_max_attempts: 3 });
    const state = createRetryState(p, request(), { resources, stats, random })!;
    const [h1, h2] = [{} as Host, {} as Host];
    expect(state.hostSelectionMaxAttempts).toBe(3);
    state.onHostAttempted(h1);
    expect([state.shouldSelectAnotherHost(h1), state.shouldSelectAnotherHost(h2)]).toEqual([true, false]);
    const noPredicate = createRetryState(policy({ retry_on: '5xx' }), request(), { resources, stats, random })!;
    noPredicate.onHostAttempted(h1);
    expect(noPredicate.shouldSelectAnotherHost(h1)).toBe(false);
  });
});

describe('circuit-breaker arithmetic', () => {
  it('retry budget: max(trunc(budget% × (active + pending)), min_retry_concurrency)', () => {
    expect(retryBudgetMax(20, 3, 0)).toBe(3);
    expect(retryBudgetMax(20, 3, 14)).toBe(3); // 2.8 → 2 < 3
    expect(retryBudgetMax(20, 3, 20)).toBe(4);
    expect(retryBudgetMax(25, 0, 7)).toBe(1); // 1.75 → 1
    expect(retryBudgetMax(100, 1, 9)).toBe(9);
  });

  it('a configured retry_budget replaces max_retries and follows the active and pending requests', () => {
    const { resources } = setup({ maxRetries: 100, retryBudget: { budgetPercent: 50, minRetryConcurrency: 1 } });
    expect(resources.retries.max()).toBe(1);
    for (let i = 0; i < 4; i++) resources.requests.inc();
    resources.pendingRequests.inc();
    resources.pendingRequests.inc();
    expect(resources.retries.max()).toBe(3); // 50 % of 6
    resources.retries.inc();
    resources.retries.inc();
    resources.retries.inc();
    expect(resources.retries.canCreate()).toBe(false);
    resources.requests.dec();
    resources.requests.dec();
    expect(resources.retries.max()).toBe(2);
  });

  it('publishes *_open gauges on transitions and remaining_* with track_remaining', () => {
    const { resources, gauge } = setup({ maxRequests: 2, trackRemaining: true });
    expect([gauge('rq_open'), gauge('remaining_rq'), gauge('remaining_pending'), gauge('remaining_retries')]).toEqual([0, 2, 1024, 3]);
    resources.requests.inc();
    expect([resources.requests.canCreate(), gauge('rq_open'), gauge('remaining_rq')]).toEqual([true, 0, 1]);
    resources.requests.inc();
    expect([resources.requests.canCreate(), gauge('rq_open'), gauge('remaining_rq')]).toEqual([false, 1, 0]);
    resources.requests.dec();
    expect([gauge('rq_open'), gauge('remaining_rq')]).toEqual([0, 1]);
    const untracked = setup();
    expect(untracked.gauge('remaining_rq')).toBeUndefined();
  });

  it('counts connections from the cluster upstream_cx_active gauge', () => {
    const { stats, resources } = setup({ maxConnections: 2 });
    stats.upstream_cx_active.set(2);
    expect([resources.connections.count(), resources.connections.canCreate()]).toEqual([2, false]);
  });
});
