// The HTTP connection manager (envoy.filters.network.http_connection_manager) for one listener: turns
// each node:http request into an ActiveStream, applies HCM header processing, routes, runs the HTTP
// filter chain (decode in order, encode in reverse), writes responses and local replies, enforces the
// stream idle and request timeouts, records http.<stat_prefix>.* stats and writes access logs.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Clock, Random, TimerHandle } from '../common/clock.ts';
import { Failures, type Failure } from '../common/error-catalogue.ts';
import { ResponseFlag } from '../common/response-flags.ts';
import type { Counter, Gauge, Histogram, StatsScope } from '../stats/scope.ts';
import type { Route, RouteConfig } from '../route/types.ts';
import type { AccessLogger } from '../access-log/access-logger.ts';
import { mutateRequestHeaders, type RequestHeaderPolicy } from './conn-manager-utility.ts';
import type { FilterCallbacks, FilterStatus, HttpFilter, LocalReplyOptions, MaybeAsync, ResponseEncoder } from './filter.ts';
import type { HeaderMap, RequestHeaders, ResponseHeaders } from './headers.ts';
import { newStreamInfo, type StreamInfo } from './stream-info.ts';
import { downstreamTlsInfo } from '../tls/connection-info.ts';
import { StreamTrace, type HttpTracing } from '../tracing/http-tracer.ts';

export type ServerHeaderTransformation = 'OVERWRITE' | 'APPEND_IF_ABSENT' | 'PASS_THROUGH';

/** One configured HTTP filter, ready to make per-stream instances. */
export interface HttpFilterEntry {
  readonly name: string;
  readonly create: (callbacks: FilterCallbacks) => HttpFilter;
  /** `disabled: true`: runs only on routes whose typed_per_filter_config enables it. */
  readonly disabled: boolean;
}

/** What the connection manager needs, resolved at config time from HttpConnectionManager. */
export interface ConnectionManagerConfig {
  readonly statPrefix: string;
  readonly serverName: string;
  readonly serverHeaderTransformation: ServerHeaderTransformation;
  readonly headerPolicy: RequestHeaderPolicy;
  readonly alwaysSetRequestIdInResponse: boolean;
  /** stream_idle_timeout in ms; 0 disables. */
  readonly streamIdleTimeoutMs: number;
  /** request_timeout in ms; 0 disables. */
  readonly requestTimeoutMs: number;
  /** common_http_protocol_options.max_headers_count */
  readonly maxHeadersCount: number;
  /** common_http_protocol_options.headers_with_underscores_action */
  readonly headersWithUnderscoresAction: 'ALLOW' | 'REJECT_REQUEST' | 'DROP_HEADER';
  /** `via` header value; '' = none. */
  readonly via: string;
  /** strip_matching_host_port / strip_any_host_port */
  readonly stripHostPort: 'none' | 'matching' | 'any';
  readonly routeConfig: RouteConfig;
  readonly filters: readonly HttpFilterEntry[];
  readonly accessLoggers: readonly AccessLogger[];
  /** HttpConnectionManager.tracing; null/absent = no tracing work per request. */
  readonly tracing?: HttpTracing | null;
}

export interface ConnectionManagerDeps {
  readonly clock: Clock;
  readonly random: Random;
  readonly stats: StatsScope;
  /** Where errors thrown by filters after the reply (onDestroy, access loggers) are reported. */
  readonly onError?: (err: unknown) => void;
}

/** Envoy's HCM stats under http.<stat_prefix>. that the connection manager itself records. */
interface HcmStats {
  readonly rqTotal: Counter;
  readonly rqHttp1Total: Counter;
  readonly rqActive: Gauge;
  readonly rqCompleted: Counter;
  readonly rqXx: readonly Counter[];
  readonly rqTime: Histogram;
  readonly rqRxReset: Counter;
  readonly rqTxReset: Counter;
  readonly rqTimeout: Counter;
  readonly rqIdleTimeout: Counter;
  readonly rqHeaderOverflow: Counter;
  readonly rqRejectedUnderscores: Counter;
  readonly rqDroppedUnderscores: Counter;
}

function hcmStats(scope: StatsScope): HcmStats {
  return {
    rqTotal: scope.counter('downstream_rq_total'),
    rqHttp1Total: scope.counter('downstream_rq_http1_total'),
    rqActive: scope.gauge('downstream_rq_active'),
    rqCompleted: scope.counter('downstream_rq_completed'),
    rqXx: [1, 2, 3, 4, 5].map((c) => scope.counter(`downstream_rq_${c}xx`)),
    rqTime: scope.histogram('downstream_rq_time'),
    rqRxReset: scope.counter('downstream_rq_rx_reset'),
    rqTxReset: scope.counter('downstream_rq_tx_reset'),
    rqTimeout: scope.counter('downstream_rq_timeout'),
    rqIdleTimeout: scope.counter('downstream_rq_idle_timeout'),
    rqHeaderOverflow: scope.counter('downstream_rq_too_many_headers'),
    rqRejectedUnderscores: scope.counter('requests_rejected_with_underscores_in_headers'),
    rqDroppedUnderscores: scope.counter('dropped_headers_with_underscores'),
  };
}

/** Response headers that describe one hop's connection, never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP_RESPONSE = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'] as const;

export class ConnectionManager {
  readonly config: ConnectionManagerConfig;
  readonly deps: ConnectionManagerDeps;
  readonly stats: HcmStats;
  /** Set while the listener drains: responses carry `connection: close`. */
  draining = false;
  private readonly active = new Set<ActiveStream>();
  private idleWaiters: (() => void)[] = [];

  constructor(config: ConnectionManagerConfig, deps: ConnectionManagerDeps) {
    this.config = config;
    this.deps = deps;
    this.stats = hcmStats(deps.stats.scope(`http.${config.statPrefix}`));
  }

  /** The node:http 'request' handler. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const stream = new ActiveStream(this, req, res);
    this.active.add(stream);
    stream.start();
  }

  /** Streams in flight (for drain and tests). */
  activeStreams(): number {
    return this.active.size;
  }

  /** Resolves once no stream is in flight (a connection manager replaced by a listener update drains). */
  idle(): Promise<void> {
    if (this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** @internal called by ActiveStream when it completes. */
  release(stream: ActiveStream): void {
    this.active.delete(stream);
    if (this.active.size === 0 && this.idleWaiters.length > 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** @internal a filter or access logger threw outside a stream's reply path: log, keep serving. */
  onFilterError(err: unknown): void {
    this.deps.onError?.(err);
  }

  /**
   * Access-logs a request the HTTP/1 codec refused before it became a stream (malformed → 400, oversized head →
   * 431, head timeout → 408): Envoy's stream exists from the first byte, so its local reply is logged like any
   * other, with the failure's flag and details and no request headers (`"- - HTTP/1.1" 400 DPE http1.codec_error`).
   */
  logCodecError(socket: Socket, failure: Failure): void {
    const loggers = this.config.accessLoggers;
    if (loggers.length === 0) return;
    const clock = this.deps.clock;
    const info = newStreamInfo(clock.now(), clock.monotonicMs());
    info.responseCode = failure.status;
    info.responseFlags = failure.flag;
    info.responseCodeDetails = failure.details;
    info.downstreamDirectRemoteAddress = `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`;
    info.downstreamRemoteAddress = info.downstreamDirectRemoteAddress;
    info.downstreamLocalAddress = `${socket.localAddress ?? ''}:${socket.localPort ?? 0}`;
    const tls = downstreamTlsInfo(socket);
    if (tls) info.requestedServerName = tls.sni;
    info.streamEnd = info.startMonotonic;
    const ctx = { request: null, response: { status: failure.status, headers: {} }, info };
    for (const logger of loggers) {
      try {
        logger.log(ctx);
      } catch (err) {
        this.onFilterError(err);
      }
    }
  }
}

function hasRequestBody(req: IncomingMessage): boolean {
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) return true;
  const cl = req.headers['content-length'];
  return cl !== undefined && cl !== '0';
}

/** One request/response exchange on a downstream connection (Envoy's ActiveStream). */
class ActiveStream implements FilterCallbacks, ResponseEncoder {
  readonly info: StreamInfo;
  readonly request: RequestHeaders;
  private readonly hcm: ConnectionManager;
  private readonly req: IncomingMessage;
  private readonly res: ServerResponse;
  private filters: HttpFilter[] = [];
  private decodeIndex = 0;
  private routeCached = false;
  private routeValue: Route | null = null;
  private completed = false;
  private readonly hasBody: boolean;
  private requestComplete: boolean;
  private requestCompleteCallbacks: (() => void)[] | null = null;
  private idleTimer: TimerHandle | null = null;
  private requestTimer: TimerHandle | null = null;
  private lastActivity = 0;
  private responseHeaders: ResponseHeaders | null = null;
  /** The stream's tracing (Envoy's active span), when the HCM traces. */
  private trace: StreamTrace | null = null;
  /** Set while an async encodeHeaders is pending: the body waits for the head. */
  private pendingBody: ({ kind: 'data'; chunk: Buffer; endStream: boolean } | { kind: 'trailers'; trailers: HeaderMap | null })[] | null = null;
  headersSent = false;
  downstreamClosed = false;

  constructor(hcm: ConnectionManager, req: IncomingMessage, res: ServerResponse) {
    this.hcm = hcm;
    this.req = req;
    this.res = res;
    const clock = hcm.deps.clock;
    this.info = newStreamInfo(clock.now(), clock.monotonicMs());
    this.hasBody = hasRequestBody(req);
    this.requestComplete = !this.hasBody;
    const headers = req.headers as HeaderMap;
    this.request = { method: req.method ?? 'GET', path: req.url ?? '/', authority: req.headers.host ?? '', scheme: 'http', headers };
  }

  start(): void {
    const { config, stats } = this.hcm;
    stats.rqTotal.inc();
    stats.rqHttp1Total.inc();
    stats.rqActive.inc();
    const req = this.req;
    const socket = req.socket;
    const info = this.info;
    info.protocol = req.httpVersion === '1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
    const peerIp = socket.remoteAddress ?? '';
    info.downstreamDirectRemoteAddress = `${peerIp}:${socket.remotePort ?? 0}`;
    info.downstreamLocalAddress = `${socket.localAddress ?? ''}:${socket.localPort ?? 0}`;
    const downstreamTls = downstreamTlsInfo(socket);
    if (downstreamTls) {
      info.downstreamSsl = downstreamTls.ssl;
      info.downstreamLocalSsl = downstreamTls;
      info.requestedServerName = downstreamTls.sni;
    }
    if (this.requestComplete) info.lastDownstreamRxByteReceived = info.startMonotonic;
    this.res.on('close', () => this.onResponseClose());

    if (req.rawHeaders.length / 2 > config.maxHeadersCount) {
      stats.rqHeaderOverflow.inc();
      this.sendFailure(Failures.tooManyHeaders);
      return;
    }

    if (config.headersWithUnderscoresAction !== 'ALLOW' && !this.applyUnderscoreAction(config.headersWithUnderscoresAction)) return;

    const tls = (socket as { encrypted?: boolean }).encrypted === true;
    const outcome = mutateRequestHeaders(this.request.headers, peerIp, tls, config.headerPolicy, downstreamTls);
    info.downstreamRemoteAddress = outcome.clientIp === peerIp
      ? info.downstreamDirectRemoteAddress : `${outcome.clientIp}:0`;
    this.request.scheme = (this.request.headers['x-forwarded-proto'] as string | undefined) ?? (tls ? 'https' : 'http');
    if (config.via !== '') {
      const via = this.request.headers.via;
      this.request.headers.via = via === undefined ? config.via : `${String(via)}, ${config.via}`;
    }
    if (config.stripHostPort !== 'none') this.stripHostPort(socket.localPort);

    this.armTimers();
    const route = this.route;
    if (route) info.routeName = route.name;
    // Envoy: the sampling decision and the span follow routing and precede the decoder filters.
    if (config.tracing) this.trace = StreamTrace.start(config.tracing, this.request, info, route);

    const entries = config.filters;
    const filters = new Array<HttpFilter>(entries.length);
    let n = 0;
    for (const entry of entries) {
      if (entry.disabled && route?.perFilterConfig(entry.name) === undefined) continue;
      filters[n++] = entry.create(this);
    }
    filters.length = n;
    this.filters = filters;
    this.runDecode(0);
  }

  // --- FilterCallbacks -------------------------------------------------------------------------

  get route(): Route | null {
    if (!this.routeCached) {
      this.routeValue = this.hcm.config.routeConfig.route(this.request);
      this.routeCached = true;
    }
    return this.routeValue;
  }

  clearRouteCache(): void {
    this.routeCached = false;
  }

  perRouteConfig<T>(filterName: string): T | undefined {
    return this.route?.perFilterConfig(filterName) as T | undefined;
  }

  sendLocalReply(status: number, body: string, opts: LocalReplyOptions = {}): void {
    if (this.completed) return;
    const info = this.info;
    if (opts.flags) info.responseFlags |= opts.flags;
    if (opts.details) info.responseCodeDetails = opts.details;
    if (this.headersSent) {
      // Too late for a reply: Envoy resets the stream.
      this.resetStream();
      return;
    }
    const headers: HeaderMap = {};
    if (body !== '') {
      headers['content-type'] = 'text/plain';
      headers['content-length'] = String(Buffer.byteLength(body));
    } else {
      headers['content-length'] = '0';
    }
    if (opts.headers) Object.assign(headers, opts.headers);
    info.responseCode = status;
    opts.modifyHeaders?.(headers);
    const response = { status, headers };
    const finish = (wrote: boolean): void => {
      if (wrote && body !== '') this.encodeData(Buffer.from(body), true);
    };
    if (this.responseHeaders !== null) {
      // Envoy (FilterManager::sendLocalReply): once a response entered the encoder filters, a local
      // reply is written directly, so an encode filter that replies cannot recurse into itself.
      this.responseHeaders = response;
      this.pendingBody = null; // whatever a pending async encodeHeaders held is superseded by this reply
      this.writeHead(response, body === '');
      finish(true);
      return;
    }
    const head = this.encodeHeaders(response, body === '');
    if (head instanceof Promise) head.then(finish, (err: unknown) => this.internalError(err));
    else finish(head);
  }

  continueDecoding(): void {
    this.runDecode(this.decodeIndex + 1);
  }

  requestBody(): AsyncIterable<Buffer> | null {
    return this.hasBody ? this.bodyChunks() : null;
  }

  private async *bodyChunks(): AsyncGenerator<Buffer> {
    const info = this.info;
    for await (const chunk of this.req as AsyncIterable<Buffer>) {
      info.bytesReceived += chunk.length;
      this.touch();
      yield chunk;
    }
    this.markRequestComplete();
  }

  onRequestComplete(cb: () => void): void {
    if (this.requestComplete) {
      cb();
      return;
    }
    (this.requestCompleteCallbacks ??= []).push(cb);
  }

  get activeSpan(): StreamTrace | null {
    return this.trace;
  }

  get encoder(): ResponseEncoder {
    return this;
  }

  // --- ResponseEncoder ------------------------------------------------------------------------

  encodeHeaders(response: ResponseHeaders, endStream: boolean): MaybeAsync<boolean> {
    if (this.completed || this.headersSent || this.responseHeaders !== null) return false;
    this.responseHeaders = response;
    for (let i = this.filters.length - 1; i >= 0; i--) {
      const f = this.filters[i]!;
      if (!f.encodeHeaders) continue;
      let r: MaybeAsync<FilterStatus>;
      try {
        r = f.encodeHeaders(response, endStream);
      } catch (err) {
        this.internalError(err);
        return false;
      }
      if (r instanceof Promise) {
        this.pendingBody = [];
        const done = this.encodeHeadersAsync(r, i, response, endStream);
        done.then((wrote) => this.flushPendingBody(wrote), () => this.flushPendingBody(false));
        return done;
      }
      if (r === 'stop') return false;
    }
    this.writeHead(response, endStream);
    return true;
  }

  private async encodeHeadersAsync(pending: Promise<FilterStatus>, index: number, response: ResponseHeaders,
    endStream: boolean): Promise<boolean> {
    if ((await pending) === 'stop' || this.completed) return false;
    for (let i = index - 1; i >= 0; i--) {
      const f = this.filters[i]!;
      if (f.encodeHeaders && (await f.encodeHeaders(response, endStream)) === 'stop') return false;
      if (this.completed) return false;
    }
    // A local reply (e.g. a timeout) may have been written directly while this filter was pending.
    if (this.headersSent) return false;
    this.writeHead(response, endStream);
    return true;
  }

  /** Body chunks and trailers that arrived while an async encodeHeaders was pending go out after the head. */
  private flushPendingBody(wrote: boolean): void {
    const pending = this.pendingBody;
    this.pendingBody = null;
    if (!wrote || pending === null) return;
    for (const item of pending) {
      if (item.kind === 'data') this.encodeData(item.chunk, item.endStream);
      else this.encodeTrailers(item.trailers);
    }
  }

  private writeHead(response: ResponseHeaders, endStream: boolean): void {
    const { config } = this.hcm;
    const h = response.headers;
    for (const name of HOP_BY_HOP_RESPONSE) if (h[name] !== undefined) delete h[name];
    if (config.serverHeaderTransformation === 'OVERWRITE' ||
      (config.serverHeaderTransformation === 'APPEND_IF_ABSENT' && h.server === undefined)) {
      h.server = config.serverName;
    }
    if (this.trace !== null) this.trace.encodeHeaders(h);
    // mutateResponseHeaders: the request id is echoed when configured, or when the (internal) request forced a trace.
    if (config.alwaysSetRequestIdInResponse || this.request.headers['x-envoy-force-trace'] !== undefined) {
      const id = this.request.headers['x-request-id'];
      if (id !== undefined) h['x-request-id'] = id;
    }
    if (config.via !== '') h.via = h.via === undefined ? config.via : `${String(h.via)}, ${config.via}`;
    if (this.hcm.draining) h.connection = 'close';
    const info = this.info;
    info.responseCode = response.status;
    info.firstDownstreamTxByteSent = this.hcm.deps.clock.monotonicMs();
    this.headersSent = true;
    this.touch();
    this.res.writeHead(response.status, h as Record<string, string | string[]>);
    if (endStream) {
      this.res.end();
      this.endResponse();
    }
  }

  encodeData(chunk: Buffer, endStream: boolean): boolean {
    if (this.completed) return true;
    if (this.pendingBody !== null) {
      this.pendingBody.push({ kind: 'data', chunk, endStream });
      return true;
    }
    this.info.bytesSent += chunk.length;
    this.touch();
    if (endStream) {
      this.res.end(chunk);
      this.endResponse();
      return true;
    }
    return this.res.write(chunk);
  }

  onDrain(cb: () => void): void {
    this.res.once('drain', cb);
  }

  encodeTrailers(trailers: HeaderMap | null): void {
    if (this.completed) return;
    if (this.pendingBody !== null) {
      this.pendingBody.push({ kind: 'trailers', trailers });
      return;
    }
    if (trailers && Object.keys(trailers).length > 0) this.res.addTrailers(trailers as Record<string, string>);
    this.res.end();
    this.endResponse();
  }

  resetStream(): void {
    if (this.completed) return;
    this.hcm.stats.rqTxReset.inc();
    this.info.responseFlags |= this.info.responseFlags === 0 ? ResponseFlag.LocalReset : 0;
    this.req.socket.destroy();
    this.complete();
  }

  // --- internals --------------------------------------------------------------------------------

  private runDecode(from: number): void {
    const filters = this.filters;
    const endStream = this.requestComplete;
    for (let i = from; i < filters.length; i++) {
      if (this.completed) return;
      const f = filters[i]!;
      if (!f.decodeHeaders) continue;
      let r: MaybeAsync<FilterStatus>;
      try {
        r = f.decodeHeaders(this.request, endStream);
      } catch (err) {
        this.internalError(err);
        return;
      }
      if (r === 'continue') continue;
      this.decodeIndex = i;
      if (r === 'stop') return;
      r.then((status) => {
        if (!this.completed && status === 'continue') this.runDecode(i + 1);
      }, (err: unknown) => this.internalError(err));
      return;
    }
  }

  private sendFailure(f: Failure): void {
    this.sendLocalReply(f.status, f.body, { flags: f.flag, details: f.details, ...(f.headers ? { headers: f.headers } : {}) });
  }

  private internalError(err: unknown): void {
    this.info.responseCodeDetails = 'filter_error';
    if (this.headersSent) this.resetStream();
    else this.sendLocalReply(500, 'internal error', { details: `filter_error{${err instanceof Error ? err.message.replaceAll(' ', '_') : 'unknown'}}` });
  }

  private markRequestComplete(): void {
    if (this.requestComplete) return;
    this.requestComplete = true;
    this.info.lastDownstreamRxByteReceived = this.hcm.deps.clock.monotonicMs();
    this.requestTimer?.cancel();
    this.requestTimer = null;
    const cbs = this.requestCompleteCallbacks;
    this.requestCompleteCallbacks = null;
    if (cbs) for (const cb of cbs) cb();
  }

  /**
   * headers_with_underscores_action: REJECT_REQUEST answers 400 (details `unexpected_underscore`),
   * DROP_HEADER removes the header. Returns false when the request was rejected.
   */
  private applyUnderscoreAction(action: 'REJECT_REQUEST' | 'DROP_HEADER'): boolean {
    const headers = this.request.headers;
    for (const name of Object.keys(headers)) {
      if (!name.includes('_')) continue;
      if (action === 'REJECT_REQUEST') {
        this.hcm.stats.rqRejectedUnderscores.inc();
        this.sendLocalReply(400, '', { flags: ResponseFlag.DownstreamProtocolError, details: 'http1.unexpected_underscore' });
        return false;
      }
      delete headers[name];
      this.hcm.stats.rqDroppedUnderscores.inc();
    }
    return true;
  }

  private stripHostPort(listenerPort: number | undefined): void {
    const authority = this.request.authority;
    const colon = authority.lastIndexOf(':');
    if (colon < 0 || authority.endsWith(']')) return;
    if (this.hcm.config.stripHostPort === 'matching' && authority.slice(colon + 1) !== String(listenerPort)) return;
    this.request.authority = authority.slice(0, colon);
    this.request.headers.host = this.request.authority;
  }

  private armTimers(): void {
    const { config, deps } = this.hcm;
    this.lastActivity = deps.clock.monotonicMs();
    const idleMs = this.route?.action.type === 'route' && this.route.action.idleTimeoutMs !== undefined
      ? this.route.action.idleTimeoutMs : config.streamIdleTimeoutMs;
    if (idleMs > 0) this.scheduleIdle(idleMs, idleMs);
    if (config.requestTimeoutMs > 0 && !this.requestComplete) {
      this.requestTimer = deps.clock.setTimer(() => {
        this.requestTimer = null;
        this.hcm.stats.rqTimeout.inc();
        this.sendFailure(Failures.requestTimeout);
      }, config.requestTimeoutMs);
    }
  }

  /**
   * stream_idle_timeout: Envoy resets the timer on every headers/data event. Re-arming a timer per chunk is
   * costly, so activity only records a timestamp and the timer re-schedules itself for the remainder.
   */
  private scheduleIdle(idleMs: number, delay: number): void {
    const clock = this.hcm.deps.clock;
    this.idleTimer = clock.setTimer(() => {
      this.idleTimer = null;
      if (this.completed) return;
      const idleFor = clock.monotonicMs() - this.lastActivity;
      if (idleFor < idleMs) {
        this.scheduleIdle(idleMs, idleMs - idleFor);
        return;
      }
      this.hcm.stats.rqIdleTimeout.inc();
      if (this.headersSent) {
        this.info.responseFlags |= ResponseFlag.StreamIdleTimeout;
        this.resetStream();
      } else {
        this.sendFailure(Failures.streamIdleTimeout);
      }
    }, delay);
  }

  private touch(): void {
    this.lastActivity = this.hcm.deps.clock.monotonicMs();
  }

  private endResponse(): void {
    this.info.lastDownstreamTxByteSent = this.hcm.deps.clock.monotonicMs();
    this.complete();
  }

  private onResponseClose(): void {
    if (this.completed) return;
    // The downstream went away before the response completed (Envoy: downstream remote reset).
    this.downstreamClosed = true;
    this.hcm.stats.rqRxReset.inc();
    this.info.responseFlags |= ResponseFlag.DownstreamConnectionTermination;
    this.complete();
  }

  private complete(): void {
    if (this.completed) return;
    this.completed = true;
    this.idleTimer?.cancel();
    this.requestTimer?.cancel();
    const { stats, deps, config } = this.hcm;
    const info = this.info;
    stats.rqActive.dec();
    stats.rqCompleted.inc();
    const cls = (info.responseCode / 100) | 0;
    if (cls >= 1 && cls <= 5) stats.rqXx[cls - 1]!.inc();
    info.streamEnd = deps.clock.monotonicMs();
    stats.rqTime.record(info.streamEnd - info.startMonotonic);
    // Envoy destroys every filter when the stream ends, however it ends: filters release upstream work,
    // timers and counters in onDestroy. A filter that throws here must not take the process down.
    for (const f of this.filters) {
      try {
        f.onStreamComplete?.();
        f.onDestroy?.();
      } catch (err) {
        this.hcm.onFilterError(err);
      }
    }
    if (this.trace !== null) {
      try {
        this.trace.finish(this.request, info);
      } catch (err) {
        this.hcm.onFilterError(err);
      }
    }
    if (config.accessLoggers.length > 0) {
      const ctx = { request: this.request, response: this.responseHeaders, info };
      for (const logger of config.accessLoggers) {
        try {
          logger.log(ctx);
        } catch (err) {
          this.hcm.onFilterError(err);
        }
      }
    }
    this.hcm.release(this);
  }
}
