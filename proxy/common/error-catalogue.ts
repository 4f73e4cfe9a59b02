// The failure catalogue (DESIGN principle 6): every way a stream can fail locally, with a stable code,
// its source, whether a retry policy may retry it, Envoy's response flag, and the local reply
// (status, body, response code details) that Envoy sends for it. Router and HCM look failures up here.

import { ResponseFlag } from './response-flags.ts';

export type FailureSource = 'downstream' | 'upstream' | 'internal';

/** How an upstream failure reads to a retry policy (retry_on): a reset of some kind, or none. */
export type UpstreamResetReason =
  | 'connection_failure' // connect refused / connect timeout: connect-failure, reset, 5xx, gateway-error
  | 'remote_reset' // peer reset the stream/connection after connecting
  | 'connection_termination' // peer closed the connection before a response
  | 'overflow' // circuit breaker: never retried
  | 'local_reset';

export interface Failure {
  readonly code: string;
  readonly source: FailureSource;
  /** The reset reason a retry policy sees, when the failure is an upstream reset. */
  readonly resetReason?: UpstreamResetReason;
  readonly flag: number;
  readonly status: number;
  readonly body: string;
  /** %RESPONSE_CODE_DETAILS% */
  readonly details: string;
  readonly headers?: Readonly<Record<string, string>>;
}

const RESET_PREFIX = 'upstream connect error or disconnect/reset before headers. reset reason: ';

function upstreamReset(code: string, reason: UpstreamResetReason, text: string, flag: number,
  headers?: Record<string, string>): Failure {
  return {
    code, source: 'upstream', resetReason: reason, flag, status: 503, body: RESET_PREFIX + text,
    details: `upstream_reset_before_response_started{${reason}}`, ...(headers ? { headers } : {}),
  };
}

function upstreamTimeout(code: string, details: string): Failure {
  return { code, source: 'upstream', flag: ResponseFlag.UpstreamRequestTimeout, status: 504, body: 'upstream request timeout', details };
}

export const Failures = {
  noRoute: { code: 'no_route', source: 'downstream', flag: ResponseFlag.NoRouteFound, status: 404, body: '', details: 'route_not_found' },
  noCluster: { code: 'no_cluster', source: 'internal', flag: ResponseFlag.NoClusterFound, status: 503, body: '', details: 'cluster_not_found' },
  noHealthyUpstream: { code: 'no_healthy_upstream', source: 'upstream', flag: ResponseFlag.NoHealthyUpstream, status: 503, body: 'no healthy upstream', details: 'no_healthy_upstream' },
  connectFailure: upstreamReset('upstream_connect_failure', 'connection_failure', 'connection failure', ResponseFlag.UpstreamConnectionFailure),
  remoteReset: upstreamReset('upstream_remote_reset', 'remote_reset', 'remote reset', ResponseFlag.UpstreamRemoteReset),
  connectionTermination: upstreamReset('upstream_connection_termination', 'connection_termination', 'connection termination', ResponseFlag.UpstreamConnectionTermination),
  overflow: upstreamReset('upstream_overflow', 'overflow', 'overflow', ResponseFlag.UpstreamOverflow, { 'x-envoy-overloaded': 'true' }),
  // The route timeout, and a last try's per_try_timeout / per_try_idle_timeout (Envoy's onUpstreamTimeoutAbort details).
  upstreamTimeout: upstreamTimeout('upstream_timeout', 'response_timeout'),
  perTryTimeout: upstreamTimeout('upstream_per_try_timeout', 'upstream_per_try_timeout'),
  perTryIdleTimeout: upstreamTimeout('upstream_per_try_idle_timeout', 'upstream_per_try_idle_timeout'),
  upstreamProtocolError: { code: 'upstream_protocol_error', source: 'upstream', flag: ResponseFlag.UpstreamProtocolError, status: 503, body: 'upstream connect error or disconnect/reset before headers. reset reason: protocol error', details: 'upstream_reset_before_response_started{protocol_error}' },
  streamIdleTimeout: { code: 'stream_idle_timeout', source: 'downstream', flag: ResponseFlag.StreamIdleTimeout, status: 408, body: 'stream timeout', details: 'stream_idle_timeout' },
  requestTimeout: { code: 'request_timeout', source: 'downstream', flag: 0, status: 408, body: 'request timeout', details: 'request_overall_timeout' },
  malformedRequest: { code: 'malformed_request', source: 'downstream', flag: ResponseFlag.DownstreamProtocolError, status: 400, body: 'Bad Request', details: 'http1.codec_error' },
  headersTooLarge: { code: 'headers_too_large', source: 'downstream', flag: ResponseFlag.DownstreamProtocolError, status: 431, body: 'Request Header Fields Too Large', details: 'http1.headers_too_large' },
  tooManyHeaders: { code: 'too_many_headers', source: 'downstream', flag: ResponseFlag.DownstreamProtocolError, status: 431, body: 'Request Header Fields Too Large', details: 'http1.too_many_headers' },
  requestHeadersTimeout: { code: 'request_headers_timeout', source: 'downstream', flag: 0, status: 408, body: '', details: 'request_header_timeout' },
} as const satisfies Record<string, Failure>;
