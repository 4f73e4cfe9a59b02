// The router's timeouts for one request (Envoy's FilterUtility::finalTimeout / setTimeoutHeaders): the
// route timeout and the retry policy's per-try timeouts, overridden by the internal-only request headers
// x-envoy-upstream-rq-timeout-ms / -per-try-timeout-ms (then removed), and x-envoy-expected-rq-timeout-ms.

import type { HeaderMap } from '../../../http/headers.ts';
import type { RouteAction } from '../../../route/types.ts';

export interface TimeoutData {
  /** Route timeout (covers every attempt, from the end of the downstream request); 0 = none. */
  readonly globalMs: number;
  /** per_try_timeout; 0 = none. */
  readonly perTryMs: number;
  /** per_try_idle_timeout; 0 = none. */
  readonly perTryIdleMs: number;
}

/** absl::SimpleAtoi on a uint64: optional whitespace and '+', digits only. */
function headerMs(headers: HeaderMap, name: string): number | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  delete headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s !== undefined && /^\s*\+?\d+\s*$/.test(s) ? Number(s) : undefined;
}

export function finalTimeout(action: RouteAction, headers: HeaderMap): TimeoutData {
  const policy = action.retryPolicy;
  let globalMs = action.timeoutMs;
  let perTryMs = policy?.perTryTimeoutMs ?? 0;
  const perTryIdleMs = policy?.perTryIdleTimeoutMs ?? 0;
  // The connection manager strips both headers from external requests, so they are seen only when internal.
  if (headers['x-envoy-upstream-rq-timeout-ms'] !== undefined) globalMs = headerMs(headers, 'x-envoy-upstream-rq-timeout-ms') ?? globalMs;
  if (headers['x-envoy-upstream-rq-per-try-timeout-ms'] !== undefined) perTryMs = headerMs(headers, 'x-envoy-upstream-rq-per-try-timeout-ms') ?? perTryMs;
  // A per-try timeout that is not shorter than the route timeout is ignored.
  if (perTryMs >= globalMs && globalMs !== 0) perTryMs = 0;
  return { globalMs, perTryMs, perTryIdleMs };
}

/**
 * x-envoy-expected-rq-timeout-ms for an attempt: the per-try timeout, else the route timeout, never more
 * than what is left of the route timeout (at least 1 ms); 0 = no header (no timeout).
 */
export function expectedTimeoutMs(t: TimeoutData, elapsedMs: number): number {
  const expected = t.perTryMs !== 0 ? t.perTryMs : t.globalMs;
  if (expected === 0 || t.globalMs === 0) return expected;
  return elapsedMs >= t.globalMs ? 1 : Math.min(expected, t.globalMs - elapsedMs);
}
