// The retry decision for one downstream request (Envoy's RetryStateImpl). "Would retry" — does an outcome
// match retry_on? — is a pure function of the policy and the outcome; "may retry" — retries left, the
// cluster's retry circuit breaker or budget, a replayable body — is decided by RetryState.shouldRetry,
// which returns a closed RetryStatus. Also the previous_hosts host predicate.

import type { Random } from '../../../common/clock.ts';
import { firstValue, type HeaderMap, type RequestHeaders, type ResponseHeaders } from '../../../http/headers.ts';
import { compileHeaderMatcher, type HeaderMatch } from '../../../matchers/header-matcher.ts';
import { GRPC_RETRY_ON, HTTP_RETRY_ON, RetryOn, parseRetryOn } from '../../../route/retry-policy-schema.ts';
import type { RetryPolicy } from '../../../route/types.ts';
import type { ClusterStats, Host, ResourceManager } from '../../../upstream/types.ts';
import { JitteredExponentialBackOff } from '../../../common/back-off.ts';

/** Why an attempt ended without a (usable) response, as retry_on sees it (Envoy's StreamResetReason). */
export type ResetReason =
  | 'connection_failure' // connect refused / connect timeout (a pool failure)
  | 'remote_reset'
  | 'connection_termination'
  | 'refused_stream' // HTTP/2 RST_STREAM REFUSED_STREAM
  | 'protocol_error'
  | 'local_reset' // we reset it: per-try timeout
  | 'overflow'; // circuit breaker: never retried

/** Would this outcome be retried? `backoff`/`immediately` say how (Envoy's RetryDecision). */
export type WouldRetry = 'no' | 'backoff' | 'immediately';

/** The answer of shouldRetry: retry after delayMs, or why not. */
export type RetryStatus =
  | { readonly kind: 'retry'; readonly delayMs: number }
  | { readonly kind: 'no'; readonly reason: 'not-retriable' | 'body-not-buffered' }
  /** num_retries (or x-envoy-max-retries) used up: upstream_rq_retry_limit_exceeded, flag URX. */
  | { readonly kind: 'limit-exceeded' }
  /** The retry circuit breaker (max_retries or retry_budget) is full: upstream_rq_retry_overflow, flag UO. */
  | { readonly kind: 'overflow' };

const NOT_RETRIABLE: RetryStatus = Object.freeze({ kind: 'no', reason: 'not-retriable' });
const BODY_NOT_BUFFERED: RetryStatus = Object.freeze({ kind: 'no', reason: 'body-not-buffered' });
const LIMIT_EXCEEDED: RetryStatus = Object.freeze({ kind: 'limit-exceeded' });
const OVERFLOW: RetryStatus = Object.freeze({ kind: 'overflow' });

const GRPC_ANY = RetryOn.GrpcCancelled | RetryOn.GrpcDeadlineExceeded | RetryOn.GrpcResourceExhausted
  | RetryOn.GrpcUnavailable | RetryOn.GrpcInternal;
/** grpc-status value → the retry_on bit that retries it. */
const GRPC_STATUS_BIT: Readonly<Record<string, number>> = {
  '1': RetryOn.GrpcCancelled, '4': RetryOn.GrpcDeadlineExceeded, '8': RetryOn.GrpcResourceExhausted,
  '13': RetryOn.GrpcInternal, '14': RetryOn.GrpcUnavailable,
};
const TOO_EARLY = 425;

/** wouldRetryFromHeaders of Envoy's retry_state_impl.cc, check for check. */
export function wouldRetryFromHeaders(retryOn: number, retriableStatusCodes: readonly number[],
  retriableHeaders: readonly HeaderMatch[], response: ResponseHeaders): WouldRetry {
  const headers = response.headers;
  // A response from an upstream Envoy's rate limiter is retried only with envoy-ratelimited.
  if (headers['x-envoy-ratelimited'] !== undefined) return retryOn & RetryOn.EnvoyRateLimited ? 'backoff' : 'no';
  const status = response.status;
  if (retryOn & RetryOn.FiveXX && status >= 500 && status < 600) return 'backoff';
  if (retryOn & RetryOn.GatewayError && status >= 502 && status <= 504) return 'backoff';
  if (retryOn & RetryOn.Retriable4xx && status === 409) return 'backoff';
  if (retryOn & RetryOn.RetriableStatusCodes && retriableStatusCodes.includes(status)) {
    // 425 Too Early is retried at once (nodevoy never receives early data downstream).
    return status === TOO_EARLY ? 'immediately' : 'backoff';
  }
  if (retryOn & RetryOn.RetriableHeaders) {
    for (const m of retriableHeaders) if (m.matchHeaders(headers)) return 'backoff';
  }
  if (retryOn & GRPC_ANY) {
    const grpc = firstValue(headers, 'grpc-status');
    const bit = grpc === undefined ? undefined : GRPC_STATUS_BIT[grpc.trim()];
    if (bit !== undefined && retryOn & bit) return 'backoff';
  }
  return 'no';
}

/** wouldRetryFromReset of Envoy's retry_state_impl.cc. `requestStarted`: the attempt got a connection. */
export function wouldRetryFromReset(retryOn: number, reason: ResetReason, requestStarted: boolean): WouldRetry {
  if (reason === 'overflow') return 'no';
  if (reason === 'connection_failure' && retryOn & RetryOn.ConnectFailure) return 'backoff';
  if (retryOn & RetryOn.ResetBeforeRequest && !requestStarted) return 'backoff';
  if (retryOn & RetryOn.Reset) return 'backoff';
  // An upstream reset counts as a 5xx (it becomes a 503).
  if (retryOn & (RetryOn.FiveXX | RetryOn.GatewayError)) return 'backoff';
  if (retryOn & RetryOn.RefusedStream && reason === 'refused_stream') return 'backoff';
  return 'no';
}

/** Request headers the retry state consumes (Envoy removes them before forwarding, honoured or not). */
const CONSUMED = ['x-envoy-retry-on', 'x-envoy-retry-grpc-on', 'x-envoy-max-retries', 'x-envoy-hedge-on-per-try-timeout',
  'x-envoy-retriable-header-names', 'x-envoy-retriable-status-codes'] as const;

function headerString(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

export interface RetryStateDeps {
  readonly resources: ResourceManager;
  readonly stats: ClusterStats;
  readonly random: Random;
}

export class RetryState {
  readonly retryOn: number;
  /** host_selection_retry_max_attempts: extra host picks when the predicate rejects a host. */
  readonly hostSelectionMaxAttempts: number;
  private retriesRemaining: number;
  private readonly retriableStatusCodes: readonly number[];
  private readonly retriableHeaders: readonly HeaderMatch[];
  private readonly backOff: JitteredExponentialBackOff;
  private readonly deps: RetryStateDeps;
  /** previous_hosts: hosts already attempted; null without the predicate. */
  private readonly attempted: Host[] | null;
  /** A retry was granted and its outcome is pending: it holds one `retries` resource. */
  private holding = false;

  constructor(retryOn: number, numRetries: number, policy: RetryPolicy | null, statusCodes: readonly number[],
    headerMatchers: readonly HeaderMatch[], deps: RetryStateDeps) {
    this.retryOn = retryOn;
    this.retriesRemaining = numRetries;
    this.retriableStatusCodes = statusCodes;
    this.retriableHeaders = headerMatchers;
    this.deps = deps;
    this.backOff = new JitteredExponentialBackOff(policy?.baseIntervalMs ?? 25, policy?.maxIntervalMs ?? 250, deps.random);
    this.attempted = policy?.previousHosts ? [] : null;
    this.hostSelectionMaxAttempts = policy?.hostSelectionRetryMaxAttempts ?? 1;
  }

  wouldRetryHeaders(response: ResponseHeaders): WouldRetry {
    return wouldRetryFromHeaders(this.retryOn, this.retriableStatusCodes, this.retriableHeaders, response);
  }

  wouldRetryReset(reason: ResetReason, requestStarted: boolean): WouldRetry {
    return wouldRetryFromReset(this.retryOn, reason, requestStarted);
  }

  /**
   * May the request be retried? Envoy's shouldRetry: a pending retry whose outcome is not retriable
   * counts as upstream_rq_retry_success; then retries left, then a token from the retry breaker/budget.
   */
  shouldRetry(would: WouldRetry, bodyReplayable: boolean): RetryStatus {
    const { stats, resources } = this.deps;
    if (this.holding && would === 'no') stats.upstream_rq_retry_success.inc();
    this.release();
    if (would === 'no') return NOT_RETRIABLE;
    if (!bodyReplayable) return BODY_NOT_BUFFERED;
    if (this.retriesRemaining === 0) {
      stats.upstream_rq_retry_limit_exceeded.inc();
      return LIMIT_EXCEEDED;
    }
    this.retriesRemaining--;
    if (!resources.retries.canCreate()) {
      stats.upstream_rq_retry_overflow.inc();
      return OVERFLOW;
    }
    resources.retries.inc();
    this.holding = true;
    stats.upstream_rq_retry.inc();
    return { kind: 'retry', delayMs: would === 'backoff' ? this.backOff.nextBackOffMs() : 0 };
  }

  onHostAttempted(host: Host): void {
    this.attempted?.push(host);
  }

  /** retry_host_predicate previous_hosts: reject a host already attempted. */
  shouldSelectAnotherHost(host: Host): boolean {
    return this.attempted !== null && this.attempted.includes(host);
  }

  /** Gives back the retry token of a pending retry (Envoy's resetRetry); also when the stream ends. */
  release(): void {
    if (!this.holding) return;
    this.holding = false;
    this.deps.resources.retries.dec();
  }
}

/**
 * The retry state for a request, or null when nothing can be retried. Merges the internal-only request
 * headers x-envoy-retry-on / -retry-grpc-on / -max-retries / -retriable-status-codes /
 * -retriable-header-names into the policy and always removes them (external requests never carry them:
 * the connection manager strips them).
 */
export function createRetryState(policy: RetryPolicy | null, request: RequestHeaders, deps: RetryStateDeps): RetryState | null {
  const headers = request.headers;
  const retryOnHeader = headerString(headers, 'x-envoy-retry-on');
  const grpcOnHeader = headerString(headers, 'x-envoy-retry-grpc-on');
  const policyOn = policy?.retryOn ?? 0;
  if (retryOnHeader === undefined && grpcOnHeader === undefined && policyOn === 0) {
    // The common case: no policy, no headers. Consume stray retry headers and allocate nothing.
    if (headers['x-envoy-max-retries'] !== undefined || headers['x-envoy-retriable-status-codes'] !== undefined
      || headers['x-envoy-retriable-header-names'] !== undefined || headers['x-envoy-hedge-on-per-try-timeout'] !== undefined) {
      for (const h of CONSUMED) delete headers[h];
    }
    return null;
  }
  let retryOn = policyOn;
  if (retryOnHeader !== undefined) retryOn |= parseRetryOn(retryOnHeader, HTTP_RETRY_ON).bits;
  if (grpcOnHeader !== undefined) retryOn |= parseRetryOn(grpcOnHeader, GRPC_RETRY_ON).bits;
  const requestMatchers = policy?.retriableRequestHeaders ?? [];
  if (requestMatchers.length > 0 && !requestMatchers.some((m) => m.matchRequest(request))) retryOn = 0;

  let numRetries = policy?.numRetries ?? 1;
  const maxRetries = headerString(headers, 'x-envoy-max-retries');
  // x-envoy-max-retries takes precedence when some retry_on is in effect.
  if (retryOn !== 0 && maxRetries !== undefined && /^\s*\+?\d+\s*$/.test(maxRetries)) numRetries = Number(maxRetries);

  let statusCodes = policy?.retriableStatusCodes ?? [];
  const codesHeader = headerString(headers, 'x-envoy-retriable-status-codes');
  if (codesHeader !== undefined) {
    const extra = codesHeader.split(',').map((c) => c.trim()).filter((c) => /^\d+$/.test(c)).map(Number);
    statusCodes = [...statusCodes, ...extra];
  }
  let headerMatchers = policy?.retriableHeaders ?? [];
  const namesHeader = headerString(headers, 'x-envoy-retriable-header-names');
  if (namesHeader !== undefined) {
    // Names only: a presence match for each (as Envoy).
    const extra = namesHeader.split(',').map((n) => n.trim()).filter((n) => n !== '').map((name) => compileHeaderMatcher({ name }));
    headerMatchers = [...headerMatchers, ...extra];
  }
  for (const h of CONSUMED) delete headers[h];
  if (retryOn === 0) return null;
  return new RetryState(retryOn, numRetries, policy, statusCodes, headerMatchers, deps);
}
