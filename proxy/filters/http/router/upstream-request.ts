// One attempt of a request to one upstream host (Envoy's UpstreamRequest): takes the cluster's request
// and pending-request circuit breakers, dispatches through the host's undici pool, streams the request body
// up and the response down with backpressure, records cluster, host and outlier-detection results, and
// reports how the attempt ended so the router can decide what the client sees (or retry).

import { subscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import type { Clock } from '../../../common/clock.ts';
import { Failures, type Failure } from '../../../common/error-catalogue.ts';
import type { HeaderMap, ResponseHeaders } from '../../../http/headers.ts';
import type { Cluster, Host, ResourceManager } from '../../../upstream/types.ts';
import type { ResetReason } from './retry-state.ts';

/** nghttp2's REFUSED_STREAM error code, as undici reports it on a reset HTTP/2 stream. */
const NGHTTP2_REFUSED_STREAM = 7;

/** Request headers that belong to one hop and must not be forwarded (undici also rejects them). */
const HOP_BY_HOP_REQUEST = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'expect'] as const;

/** The router's side of an attempt: where response bytes go and how failures are reported. */
export interface UpstreamCallbacks {
  /** Response headers arrived; returns false if the downstream will not take the body. */
  onUpstreamHeaders(response: ResponseHeaders, endStream: boolean): void;
  /** A body chunk; return false to pause the upstream until resume() is called. */
  onUpstreamData(chunk: Buffer, endStream: boolean): boolean;
  onUpstreamTrailers(trailers: HeaderMap | null): void;
  /**
   * The attempt failed (not because we aborted it): `reason` is how retry_on sees it, `started` whether
   * the pool gave it a connection, `headersReceived` whether the response had started.
   */
  onUpstreamFailure(failure: Failure, reason: ResetReason, transportFailureReason: string, started: boolean, headersReceived: boolean): void;
}

/** Maps an undici/net error to the failure Envoy reports for it. */
export function classifyUpstreamError(err: Error & { code?: string }): Failure {
  switch (err.code) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return Failures.connectFailure;
    case 'ECONNRESET':
    case 'EPIPE':
      return Failures.remoteReset;
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return Failures.connectionTermination;
    default:
      // A TLS handshake or certificate check that failed (tls-connector.ts): Envoy's connection failure (UF).
      if (err.code?.startsWith('ERR_SSL_') || err.code?.startsWith('ERR_TLS_')) return Failures.connectFailure;
      if (err.code?.startsWith('HPE_') || err.code === 'UND_ERR_INFO' || err.code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH'
        || err.code === 'UND_ERR_INVALID_ARG') {
        return Failures.upstreamProtocolError;
      }
      return Failures.remoteReset;
  }
}

/**
 * The attempt undici is starting to write: it calls the handler's onRequestStart and then, synchronously on
 * the same connection, publishes `undici:client:sendHeaders` with that connection's socket. That is the only
 * place undici shows which connection a request went out on, so the socket's local address — Envoy's
 * %UPSTREAM_LOCAL_ADDRESS% — is taken from there. Cleared once used; an attempt aborted in between is
 * overwritten by the next one's onRequestStart.
 */
let starting: UpstreamRequest | null = null;
/** `ip:port` per connection, formatted once: a keep-alive connection serves many requests. */
const localAddresses = new WeakMap<Socket, string>();
subscribe('undici:client:sendHeaders', (message) => {
  const attempt = starting;
  if (attempt === null) return;
  starting = null;
  const socket = (message as { socket?: Socket }).socket;
  if (socket === undefined) return;
  let address = localAddresses.get(socket);
  if (address === undefined && socket.localAddress !== undefined) {
    address = `${socket.localAddress}:${socket.localPort ?? 0}`;
    localAddresses.set(socket, address);
  }
  if (address !== undefined) attempt.localAddress = address;
});

export class UpstreamRequest implements Dispatcher.DispatchHandler {
  private readonly cluster: Cluster;
  readonly host: Host;
  private readonly clock: Clock;
  private readonly callbacks: UpstreamCallbacks;
  private readonly dynamicStats: boolean;
  private readonly resources: ResourceManager;
  private controller: Dispatcher.DispatchController | null = null;
  private abortReason: Error | null = null;
  private finished = false;
  private headersReceived = false;
  /** Counted in the pending-requests circuit breaker until the pool hands it a connection. */
  private pending = false;
  /** The pool gave the attempt a connection (Envoy's "upstream request started", for reset-before-request). */
  started = false;
  readonly startMs: number;
  /** Monotonic ms when response headers arrived. */
  headersAtMs = 0;
  /** `ip:port` of this proxy's end of the upstream connection, once the request is written ('' before). */
  localAddress = '';

  constructor(cluster: Cluster, host: Host, resources: ResourceManager, clock: Clock, dynamicStats: boolean, callbacks: UpstreamCallbacks) {
    this.cluster = cluster;
    this.dynamicStats = dynamicStats;
    this.host = host;
    this.resources = resources;
    this.clock = clock;
    this.callbacks = callbacks;
    this.startMs = clock.monotonicMs();
  }

  /**
   * Sends the request; false = a circuit breaker overflowed and nothing was sent (the caller replies 503
   * UO). `headers` is modified in place (hop-by-hop removal, Host).
   *
   * max_requests and max_pending_requests are checked as Envoy's connection pool does. "Pending" is
   * approximated: undici does not say whether a request will wait, so a request dispatched to a host
   * with no idle connection (active requests >= open connections) is pending until undici starts
   * writing it (onRequestStart).
   */
  start(method: string, path: string, authority: string, headers: HeaderMap, body: AsyncIterable<Buffer> | Buffer | null): boolean {
    const stats = this.cluster.stats;
    const r = this.resources;
    const hostStats = this.host.stats;
    if (!r.requests.canCreate()) {
      stats.upstream_rq_pending_overflow.inc();
      return false;
    }
    if (hostStats.rq_active >= hostStats.cx_active) {
      if (!r.pendingRequests.canCreate()) {
        stats.upstream_rq_pending_overflow.inc();
        return false;
      }
      // A new connection is needed; max_connections makes the request wait instead.
      if (!r.connections.canCreate()) stats.upstream_cx_overflow.inc();
      r.pendingRequests.inc();
      this.pending = true;
    }
    r.requests.inc();
    for (const name of HOP_BY_HOP_REQUEST) if (headers[name] !== undefined) delete headers[name];
    headers.host = authority;
    stats.upstream_rq_total.inc();
    stats.upstream_rq_active.inc();
    this.host.stats.rq_total++;
    this.host.stats.rq_active++;
    this.host.dispatcher().dispatch({
      path, method: method as Dispatcher.HttpMethod, headers: headers as Record<string, string | string[]>,
      body: body as Dispatcher.DispatchOptions['body'], headersTimeout: 0, bodyTimeout: 0, blocking: false,
    }, this);
    return true;
  }

  /** Cancels the attempt (downstream went away, a retry, or a timeout fired). */
  abort(reason: Error): void {
    if (this.finished) return;
    this.abortReason = reason;
    if (this.controller) {
      this.controller.abort(reason);
    } else {
      // Still queued in the pool: release it now; onRequestStart aborts it if it is ever dispatched.
      this.cluster.stats.upstream_rq_tx_reset.inc();
      this.done();
    }
  }

  /** A per-try or route timeout ended the attempt: host rq_timeout and outlier LOCAL_ORIGIN_TIMEOUT. */
  timeout(): void {
    if (this.finished) return;
    this.host.stats.rq_timeout++;
    this.host.outlier?.putResult('LOCAL_ORIGIN_TIMEOUT');
    this.abort(new Error('upstream request timeout'));
  }

  /** Resumes reading the upstream body after onUpstreamData returned false. */
  resume(): void {
    this.controller?.resume();
  }

  // --- undici DispatchHandler ----------------------------------------------------------------

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason) {
      controller.abort(this.abortReason);
      return;
    }
    this.started = true;
    starting = this;
    this.leavePending();
    this.host.outlier?.putResult('LOCAL_ORIGIN_CONNECT_SUCCESS');
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (this.finished) return;
    if (statusCode < 200) return; // 1xx informational: Envoy does not forward them by default
    this.headersReceived = true;
    this.headersAtMs = this.clock.monotonicMs();
    this.host.outlier?.putHttpResponseCode(statusCode);
    if (statusCode >= 500) this.host.stats.rq_error++;
    else this.host.stats.rq_success++;
    this.controller = controller;
    this.callbacks.onUpstreamHeaders({ status: statusCode, headers }, false);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.finished) return;
    if (!this.callbacks.onUpstreamData(chunk, false)) controller.pause();
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: Record<string, string | string[] | undefined>): void {
    if (this.finished) return;
    this.done();
    this.callbacks.onUpstreamTrailers(trailers);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error & { code?: string; http2ErrorCode?: number }): void {
    if (this.finished) return;
    this.done();
    if (this.abortReason !== null) {
      this.cluster.stats.upstream_rq_tx_reset.inc();
      return; // we cancelled it; the router already knows why
    }
    const failure = classifyUpstreamError(err);
    if (!this.headersReceived) this.host.stats.rq_error++;
    // Envoy's router reports every upstream reset (connect failures included) as a local-origin connect failure.
    this.host.outlier?.putResult('LOCAL_ORIGIN_CONNECT_FAILED');
    this.cluster.stats.upstream_rq_rx_reset.inc();
    const reason: ResetReason = err.http2ErrorCode === NGHTTP2_REFUSED_STREAM ? 'refused_stream' : failure.resetReason ?? 'protocol_error';
    this.callbacks.onUpstreamFailure(failure, reason, err.message, this.started, this.headersReceived);
  }

  private leavePending(): void {
    if (!this.pending) return;
    this.pending = false;
    this.resources.pendingRequests.dec();
  }

  private done(): void {
    this.finished = true;
    this.leavePending();
    this.resources.requests.dec();
    const stats = this.cluster.stats;
    stats.upstream_rq_active.dec();
    stats.upstream_rq_completed.inc();
    if (this.dynamicStats) stats.upstream_rq_time.record(this.clock.monotonicMs() - this.startMs);
    this.host.stats.rq_active--;
  }
}
