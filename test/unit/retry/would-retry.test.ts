// "Would retry": every retry_on token against responses and resets, as Envoy's wouldRetryFromHeaders /
// wouldRetryFromReset decide (table-driven).

import { describe, expect, it } from 'vitest';
import { compileHeaderMatcher } from '../../../proxy/matchers/header-matcher.ts';
import { GRPC_RETRY_ON, HTTP_RETRY_ON, RetryOn, parseRetryOn } from '../../../proxy/route/retry-policy-schema.ts';
import { wouldRetryFromHeaders, wouldRetryFromReset, type ResetReason } from '../../../proxy/filters/http/router/retry-state.ts';
import type { HeaderMap } from '../../../proxy/http/headers.ts';

const on = (tokens: string): number => parseRetryOn(tokens, HTTP_RETRY_ON, GRPC_RETRY_ON).bits;
const retriableHeaders = [compileHeaderMatcher({ name: 'x-retry-me' })];
const headers = (token: string, status: number, h: HeaderMap = {}) =>
  wouldRetryFromHeaders(on(token), [418, 425], retriableHeaders, { status, headers: h });

describe('parseRetryOn', () => {
  it('reads comma-separated tokens, trimming whitespace and skipping empty ones', () => {
    expect(parseRetryOn(' 5xx , reset,,connect-failure ', HTTP_RETRY_ON)).toEqual({ bits: RetryOn.FiveXX | RetryOn.Reset | RetryOn.ConnectFailure, unknown: [] });
    expect(parseRetryOn('5xx,unavailable,bogus', HTTP_RETRY_ON)).toEqual({ bits: RetryOn.FiveXX, unknown: ['unavailable', 'bogus'] });
    expect(parseRetryOn('unavailable', GRPC_RETRY_ON).bits).toBe(RetryOn.GrpcUnavailable);
  });
});

describe('wouldRetryFromHeaders', () => {
  it.each([
    // token, status, extra response headers, decision
    ['5xx', 500, {}, 'backoff'], ['5xx', 503, {}, 'backoff'], ['5xx', 599, {}, 'backoff'], ['5xx', 409, {}, 'no'], ['5xx', 200, {}, 'no'],
    ['gateway-error', 502, {}, 'backoff'], ['gateway-error', 503, {}, 'backoff'], ['gateway-error', 504, {}, 'backoff'],
    ['gateway-error', 500, {}, 'no'], ['gateway-error', 501, {}, 'no'],
    ['retriable-4xx', 409, {}, 'backoff'], ['retriable-4xx', 404, {}, 'no'], ['retriable-4xx', 429, {}, 'no'], ['retriable-4xx', 503, {}, 'no'],
    ['retriable-status-codes', 418, {}, 'backoff'], ['retriable-status-codes', 425, {}, 'immediately'], ['retriable-status-codes', 503, {}, 'no'],
    ['retriable-headers', 200, { 'x-retry-me': 'yes' }, 'backoff'], ['retriable-headers', 503, {}, 'no'],
    ['envoy-ratelimited', 429, { 'x-envoy-ratelimited': 'true' }, 'backoff'], ['envoy-ratelimited', 503, {}, 'no'],
    // x-envoy-ratelimited blocks every other condition.
    ['5xx', 503, { 'x-envoy-ratelimited': 'true' }, 'no'],
    ['cancelled', 200, { 'grpc-status': '1' }, 'backoff'], ['deadline-exceeded', 200, { 'grpc-status': '4' }, 'backoff'],
    ['resource-exhausted', 200, { 'grpc-status': '8' }, 'backoff'], ['internal', 200, { 'grpc-status': '13' }, 'backoff'],
    ['unavailable', 200, { 'grpc-status': '14' }, 'backoff'], ['unavailable', 200, { 'grpc-status': '13' }, 'no'], ['unavailable', 200, {}, 'no'],
    // Reset-only tokens never retry a response.
    ['reset', 503, {}, 'no'], ['connect-failure', 503, {}, 'no'], ['reset-before-request', 503, {}, 'no'],
    ['refused-stream', 503, {}, 'no'], ['http3-post-connect-failure', 503, {}, 'no'],
  ] as const)('%s with %i %o → %s', (token, status, extra, want) => {
    expect(headers(token, status, extra)).toBe(want);
  });
});

describe('wouldRetryFromReset', () => {
  const REASONS: readonly ResetReason[] = ['connection_failure', 'remote_reset', 'connection_termination', 'refused_stream', 'protocol_error', 'local_reset', 'overflow'];
  // For each token: the reasons it retries when the request had started / had not started.
  const table: readonly [string, readonly ResetReason[], readonly ResetReason[]][] = [
    ['5xx', ['connection_failure', 'remote_reset', 'connection_termination', 'refused_stream', 'protocol_error', 'local_reset'], ['connection_failure', 'remote_reset', 'connection_termination', 'refused_stream', 'protocol_error', 'local_reset']],
    ['gateway-error', ['connection_failure', 'remote_reset', 'connection_termination', 'refused_stream', 'protocol_error', 'local_reset'], ['connection_failure', 'remote_reset', 'connection_termination', 'refused_stream', 'protocol_error', 'local_reset']],
    ['reset', ['connection_failure', 'remote_reset', 'connection_termination', 'refused_stream', 'protocol_error', 'local_reset'], ['connection_failure', 'remote_reset', 'connection_termination', 'refused_stream', 'protocol_error', 'local_reset']],
    ['reset-before-request', [], ['connection_failure', 'remote_reset', 'connection_termination', 'refused_stream', 'protocol_error', 'local_reset']],
    ['connect-failure', ['connection_failure'], ['connection_failure']],
    ['refused-stream', ['refused_stream'], ['refused_stream']],
    ['retriable-4xx', [], []], ['retriable-status-codes', [], []], ['retriable-headers', [], []], ['envoy-ratelimited', [], []],
    ['http3-post-connect-failure', [], []], ['unavailable', [], []],
  ];
  it.each(table)('%s', (token, whenStarted, beforeStart) => {
    expect(REASONS.filter((r) => wouldRetryFromReset(on(token), r, true) === 'backoff')).toEqual(whenStarted);
    expect(REASONS.filter((r) => wouldRetryFromReset(on(token), r, false) === 'backoff')).toEqual(beforeStart);
  });

  it('never retries a circuit-breaker overflow, whatever retry_on says', () => {
    expect(wouldRetryFromReset(on('5xx,gateway-error,reset,reset-before-request,connect-failure,refused-stream'), 'overflow', false)).toBe('no');
  });
});
