// One attempt of a request to one upstream host (Envoy's UpstreamRequest): dispatches through the host's
// undici pool, streams the request body up and the response down with backpressure, records cluster and
// host stats, and reports how the attempt ended so the router can decide what the client sees.

import type { Dispatcher } from 'undici';
import type { Clock } from '../../../common/clock.ts';
import { Failures, type Failure } from '../../../common/error-catalogue.ts';
import type { HeaderMap, ResponseHeaders } from '../../../http/headers.ts';
import type { Cluster, Host } from '../../../upstream/types.ts';

/** Request headers that belong to one hop and must not be forwarded (undici also rejects them). */
const HOP_BY_HOP_REQUEST = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'expect'] as const;

/** The router's side of an attempt: where response bytes go and how failures are reported. */
export interface UpstreamCallbacks {
  /** Response headers arrived; returns false if the downstream will not take the body. */
  onUpstreamHeaders(response: ResponseHeaders, endStream: boolean): void;
  /** A body chunk; return false to pause the upstream until resume() is called. */
  onUpstreamData(chunk: Buffer, endStream: boolean): boolean;
  onUpstreamTrailers(trailers: HeaderMap | null): void;
  /** The attempt failed; `headersReceived` says whether the response had started. */
  onUpstreamFailure(failure: Failure, transportFailureReason: string, headersReceived: boolean): void;
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
      if (err.code?.startsWith('HPE_') || err.code === 'UND_ERR_INFO' || err.code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
        return Failures.upstreamProtocolError;
      }
      return Failures.remoteReset;
  }
}

export class UpstreamRequest implements Dispatcher.DispatchHandler {
  private readonly cluster: Cluster;
  private readonly host: Host;
  private readonly clock: Clock;
  private readonly callbacks: UpstreamCallbacks;
  private readonly dynamicStats: boolean;
  private controller: Dispatcher.DispatchController | null = null;
  private abortReason: Error | null = null;
  private finished = false;
  private headersReceived = false;
  readonly startMs: number;
  /** Monotonic ms when response headers arrived. */
  headersAtMs = 0;

  constructor(cluster: Cluster, host: Host, clock: Clock, dynamicStats: boolean, callbacks: UpstreamCallbacks) {
    this.cluster = cluster;
    this.dynamicStats = dynamicStats;
    this.host = host;
    this.clock = clock;
    this.callbacks = callbacks;
    this.startMs = clock.monotonicMs();
  }

  /** Sends the request. `headers` is modified in place (hop-by-hop removal, Host). */
  start(method: string, path: string, authority: string, headers: HeaderMap, body: AsyncIterable<Buffer> | null): void {
    for (const name of HOP_BY_HOP_REQUEST) if (headers[name] !== undefined) delete headers[name];
    headers.host = authority;
    const stats = this.cluster.stats;
    stats.upstream_rq_total.inc();
    stats.upstream_rq_active.inc();
    this.host.stats.rq_total++;
    this.host.stats.rq_active++;
    this.host.dispatcher().dispatch({
      path, method: method as Dispatcher.HttpMethod, headers: headers as Record<string, string | string[]>,
      body: body as Dispatcher.DispatchOptions['body'], headersTimeout: 0, bodyTimeout: 0, blocking: false,
    }, this);
  }

  /** Cancels the attempt (downstream went away, or a timeout fired). */
  abort(reason: Error): void {
    if (this.finished) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }

  /** Resumes reading the upstream body after onUpstreamData returned false. */
  resume(): void {
    this.controller?.resume();
  }

  // --- undici DispatchHandler ----------------------------------------------------------------

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason) controller.abort(this.abortReason);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (this.finished) return;
    if (statusCode < 200) return; // 1xx informational: Envoy does not forward them by default
    this.headersReceived = true;
    this.headersAtMs = this.clock.monotonicMs();
    if (this.dynamicStats) this.cluster.stats.recordResponseCode(statusCode);
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

  onResponseError(_controller: Dispatcher.DispatchController, err: Error & { code?: string }): void {
    if (this.finished) return;
    this.done();
    if (this.abortReason !== null) {
      this.cluster.stats.upstream_rq_tx_reset.inc();
      return; // we cancelled it; the router already knows why
    }
    const failure = classifyUpstreamError(err);
    if (!this.headersReceived) this.host.stats.rq_error++;
    this.cluster.stats.upstream_rq_rx_reset.inc();
    this.callbacks.onUpstreamFailure(failure, err.message, this.headersReceived);
  }

  private done(): void {
    this.finished = true;
    const stats = this.cluster.stats;
    stats.upstream_rq_active.dec();
    stats.upstream_rq_completed.inc();
    if (this.dynamicStats) stats.upstream_rq_time.record(this.clock.monotonicMs() - this.startMs);
    this.host.stats.rq_active--;
  }
}
