// The trace sampling decision Envoy packs into x-request-id (UUID request id extension with
// pack_trace_reason) and ConnectionManagerUtility::mutateTracingRequestHeader, which makes it: keep a
// decision already in the id, else client / forced / random sampling, then the overall_sampling veto.
// Pure: the caller supplies the Random used for client_sampling.

import type { Random } from '../common/clock.ts';
import { evaluateFractionalPercent } from '../config/fractional-percent.ts';
import { firstValue, type HeaderMap } from '../http/headers.ts';

/** Envoy's Tracing::Reason (health checks are not traced by nodevoy's HCM, which has no health check filter). */
export type TraceReason = 'NotTraceable' | 'Sampling' | 'ServiceForced' | 'ClientForced';

/** UUID_LENGTH and TRACE_BYTE_POSITION of Envoy's UUID request id extension. */
const UUID_LENGTH = 36;
const TRACE_BYTE_POSITION = 14;

const NIBBLE_OF: Readonly<Record<TraceReason, string>> = { NotTraceable: '4', Sampling: '9', ServiceForced: 'a', ClientForced: 'b' };

/** The trace reason a request id carries: only a 36-character id has one (char 14: 9, a, b; anything else none). */
export function traceReasonOf(requestId: string | undefined): TraceReason {
  if (requestId === undefined || requestId.length !== UUID_LENGTH) return 'NotTraceable';
  switch (requestId[TRACE_BYTE_POSITION]) {
    case '9': return 'Sampling';
    case 'a': return 'ServiceForced';
    case 'b': return 'ClientForced';
    default: return 'NotTraceable';
  }
}

/** The request id with `reason` packed into char 14; ids that are not 36 characters long are left as they are. */
export function withTraceReason(requestId: string, reason: TraceReason): string {
  if (requestId.length !== UUID_LENGTH) return requestId;
  return requestId.slice(0, TRACE_BYTE_POSITION) + NIBBLE_OF[reason] + requestId.slice(TRACE_BYTE_POSITION + 1);
}

/**
 * UUIDRequestIDExtension::getInteger: the first 8 characters read as hex. Stable across hops (the trace
 * nibble is char 14), so every proxy on a path draws the same random_sampling decision.
 */
export function requestIdInteger(requestId: string | undefined): number | undefined {
  if (requestId === undefined || requestId.length < 8) return undefined;
  const head = requestId.slice(0, 8);
  return /^[0-9a-fA-F]{8}$/.test(head) ? parseInt(head, 16) : undefined;
}

/** HttpConnectionManager.Tracing sampling as Envoy builds it: client out of 100, random and overall out of 10,000. */
export interface TracingSampling {
  /** client_sampling: Percent truncated to an integer, out of 100 (a fresh random draw per request). */
  readonly clientNumerator: number;
  /** random_sampling: Percent × 100 rounded, out of 10,000 (drawn from the request id). */
  readonly randomNumerator: number;
  /** overall_sampling: Percent × 100 rounded, out of 10,000 (drawn from the request id). */
  readonly overallNumerator: number;
}

/**
 * mutateTracingRequestHeader: decides whether the request is traced and writes the decision back into
 * x-request-id. A request without a request id, or whose id does not start with 8 hex digits, is not traced.
 */
export function mutateTracingRequestHeader(headers: HeaderMap, sampling: TracingSampling, random: Random): TraceReason {
  const requestId = firstValue(headers, 'x-request-id');
  const integer = requestIdInteger(requestId);
  if (requestId === undefined || integer === undefined) return 'NotTraceable';
  const result = integer % 10_000;
  let reason = traceReasonOf(requestId);
  let next = reason;
  if (reason === 'NotTraceable') {
    // A decision already in the id is kept (Envoy: "do not apply tracing transformations if we are currently tracing").
    if (headers['x-client-trace-id'] !== undefined && evaluateFractionalPercent({ numerator: sampling.clientNumerator, denominator: 100 }, random)) {
      next = 'ClientForced';
    } else if (headers['x-envoy-force-trace'] !== undefined) {
      next = 'ServiceForced';
    } else if (result < sampling.randomNumerator) {
      next = 'Sampling';
    }
  }
  if (next !== 'NotTraceable' && result >= sampling.overallNumerator) next = 'NotTraceable';
  if (next !== reason) {
    reason = next;
    headers['x-request-id'] = withTraceReason(requestId, reason);
  }
  return reason;
}
