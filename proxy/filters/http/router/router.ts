// The router filter (envoy.filters.http.router), the terminal HTTP filter: turns the matched route into
// a local reply (no route, direct response, redirect) or upstream attempts — cluster selection, host
// choice through the cluster's load balancer, rewrites, header mutations, the route and per-try timeouts,
// retries with back-off (RetryState), circuit-breaker overflow — and forwards the chosen response.
// Sampled request_mirror_policies get a shadow copy of the request (ShadowWriter), streamed alongside.

import type { Clock, Random, TimerHandle } from '../../../common/clock.ts';
import { Failures, type Failure } from '../../../common/error-catalogue.ts';
import { ResponseFlag } from '../../../common/response-flags.ts';
import type { FilterCallbacks, FilterStatus, HttpFilter } from '../../../http/filter.ts';
import type { HeaderMap, RequestHeaders, ResponseHeaders } from '../../../http/headers.ts';
import type { ClusterChoice, HeaderFormatContext, RequestMirrorPolicy, Route, RouteAction } from '../../../route/types.ts';
import type { Counter, StatsScope } from '../../../stats/scope.ts';
import type { Cluster, ClusterManager, Host, LoadBalancerContext, ResourceManager } from '../../../upstream/types.ts';
import { RequestBuffer } from './request-buffer.ts';
import { createRetryState, type ResetReason, type RetryState, type RetryStatus, type WouldRetry } from './retry-state.ts';
import { ShadowBodyTee } from './shadow-body.ts';
import type { ShadowStream, ShadowWriter } from './shadow-writer.ts';
import { expectedTimeoutMs, finalTimeout, type TimeoutData } from './timeouts.ts';
import { UpstreamRequest, type UpstreamCallbacks } from './upstream-request.ts';

/** envoy.extensions.filters.http.router.v3.Router, as nodevoy uses it. */
export interface RouterConfig {
  /** suppress_envoy_headers: no x-envoy-upstream-service-time / x-envoy-expected-rq-timeout-ms. */
  readonly suppressEnvoyHeaders: boolean;
  /** dynamic_stats: per-response-code and request-time cluster stats (Envoy's benchmarking FAQ turns it off). */
  readonly dynamicStats: boolean;
}

/** Router stats under http.<stat_prefix>. (Envoy's router stats). */
export interface RouterStats {
  readonly noRoute: Counter;
  readonly noCluster: Counter;
  readonly rqRedirect: Counter;
  readonly rqDirectResponse: Counter;
  readonly rqTotal: Counter;
  readonly rqResetAfterDownstreamResponseStarted: Counter;
}

export function routerStats(scope: StatsScope): RouterStats {
  return {
    noRoute: scope.counter('no_route'),
    noCluster: scope.counter('no_cluster'),
    rqRedirect: scope.counter('rq_redirect'),
    rqDirectResponse: scope.counter('rq_direct_response'),
    rqTotal: scope.counter('rq_total'),
    rqResetAfterDownstreamResponseStarted: scope.counter('rq_reset_after_downstream_response_started'),
  };
}

export interface RouterDeps {
  readonly config: RouterConfig;
  readonly stats: RouterStats;
  readonly clusterManager: ClusterManager;
  readonly clock: Clock;
  readonly random: Random;
  /**
   * How much of a retryable request body is kept for replay: Envoy's retry_shadow_buffer_limit_, the
   * listener's per_connection_buffer_limit_bytes. A longer body is not retried (retry_or_shadow_abandoned).
   */
  readonly retryBufferLimitBytes: number;
  /** Sends the shadows of request_mirror_policies. */
  readonly shadowWriter: ShadowWriter;
}

const NO_LB_CONTEXT: LoadBalancerContext = Object.freeze({});

/** %RESPONSE_CODE_DETAILS% of a response the upstream sent (Envoy's ResponseCodeDetails::ViaUpstream). */
const VIA_UPSTREAM = 'via_upstream';

/** Envoy's reset body once a retry happened: "... before headers. retried and the latest reset reason: ...". */
function retriedBody(body: string): string {
  return body.replace('before headers. reset reason: ', 'before headers. retried and the latest reset reason: ');
}

export class Router implements HttpFilter, UpstreamCallbacks {
  private readonly deps: RouterDeps;
  private readonly cb: FilterCallbacks;
  private route: Route | null = null;
  private choice: ClusterChoice | undefined;
  private cluster: Cluster | null = null;
  private resources: ResourceManager | null = null;
  private lbContext: LoadBalancerContext = NO_LB_CONTEXT;
  private request: RequestHeaders | null = null;
  private upstream: UpstreamRequest | null = null;
  private retry: RetryState | null = null;
  /** The replayable body when the request may be retried; else the downstream body, sent once. */
  private bodyBuffer: RequestBuffer | null = null;
  private rawBody: AsyncIterable<Buffer> | null = null;
  private timeouts: TimeoutData | null = null;
  private timeoutTimer: TimerHandle | null = null;
  private perTryTimer: TimerHandle | null = null;
  private perTryIdleTimer: TimerHandle | null = null;
  private retryTimer: TimerHandle | null = null;
  /** Monotonic ms of the last upstream activity (per_try_idle_timeout). */
  private lastUpstreamActivity = 0;
  /** Monotonic ms when the downstream request completed; -1 until then. */
  private requestCompleteAt = -1;
  /** Envoy's attempt_count_: 1 for the first attempt, +1 per retry. */
  private attemptCount = 0;
  /** Shadows still receiving the request body (Envoy's shadow_streams_): cancelled if the stream ends first. */
  private shadowStreams: ShadowStream[] | null = null;

  constructor(deps: RouterDeps, callbacks: FilterCallbacks) {
    this.deps = deps;
    this.cb = callbacks;
  }

  decodeHeaders(request: RequestHeaders): FilterStatus {
    const { stats } = this.deps;
    const cb = this.cb;
    const route = cb.route;
    this.route = route;
    if (!route) {
      stats.noRoute.inc();
      this.fail(Failures.noRoute);
      return 'stop';
    }
    const action = route.action;
    if (action.type === 'direct_response') {
      stats.rqDirectResponse.inc();
      cb.sendLocalReply(action.status, action.body, { details: 'direct_response', modifyHeaders: (h) => this.finalizeResponseHeaders(h) });
      return 'stop';
    }
    if (action.type === 'redirect') {
      stats.rqRedirect.inc();
      const { status, location } = action.redirect(request);
      cb.sendLocalReply(status, '', { details: 'direct_response', headers: { location }, modifyHeaders: (h) => this.finalizeResponseHeaders(h) });
      return 'stop';
    }
    stats.rqTotal.inc();
    this.forward(request, action);
    return 'stop';
  }

  onDestroy(): void {
    this.cancelStreamingShadows();
    this.cleanup();
    this.upstream?.abort(new Error('downstream disconnected'));
    this.upstream = null;
  }

  onStreamComplete(): void {
    this.cancelStreamingShadows();
    this.cleanup();
    // The connection manager may end the stream itself (idle timeout): stop the attempt in flight.
    this.upstream?.abort(new Error('stream complete'));
    this.upstream = null;
  }

  private forward(request: RequestHeaders, action: RouteAction): void {
    const { clusterManager, random, clock } = this.deps;
    const cb = this.cb;
    const choice = action.selectCluster(request, random) ?? undefined;
    this.choice = choice;
    const cluster = choice ? clusterManager.get(choice.name) : undefined;
    if (!cluster) {
      this.deps.stats.noCluster.inc();
      const f = Failures.noCluster;
      cb.info.responseFlags |= f.flag;
      cb.sendLocalReply(action.clusterNotFoundStatus, f.body, { details: f.details, modifyHeaders: (h) => this.finalizeResponseHeaders(h) });
      return;
    }
    cb.info.upstreamCluster = cluster.name;
    cb.info.upstreamClusterObservabilityName = cluster.observabilityName ?? cluster.name;
    this.cluster = cluster;
    this.request = request;
    this.attemptCount = 1;
    const resources = cluster.resourceManager(action.priority ?? 'DEFAULT');
    this.resources = resources;
    const hashKey = action.computeHash(request, cb.info.downstreamRemoteAddress);
    if (hashKey !== undefined || choice?.metadataMatch) {
      this.lbContext = {
        ...(hashKey !== undefined ? { hashKey } : {}),
        ...(choice?.metadataMatch ? { metadataMatch: choice.metadataMatch } : {}),
      };
    }
    this.timeouts = finalTimeout(action, request.headers);
    const retry = createRetryState(action.retryPolicy ?? null, request, { resources, stats: cluster.stats, random });
    this.retry = retry;
    // Envoy samples every mirror policy with the stream's one stable random value; CONNECT is never mirrored.
    const mirrors = action.requestMirrorPolicies;
    let shadows: readonly RequestMirrorPolicy[] = [];
    if (mirrors !== undefined && mirrors.length > 0 && request.method !== 'CONNECT') {
      const draw = random.nextUint32();
      shadows = mirrors.filter((p) => p.sampled(draw));
    }
    let body = cb.requestBody();
    const tee = body !== null && shadows.length > 0 ? new ShadowBodyTee(body, this.deps.retryBufferLimitBytes) : null;
    if (tee !== null) body = tee.main;
    if (body !== null && retry !== null) {
      this.bodyBuffer = new RequestBuffer(body, this.deps.retryBufferLimitBytes, () => cluster.stats.retry_or_shadow_abandoned.inc());
    } else {
      this.rawBody = body;
    }

    const host = this.chooseHost(cluster);
    if (!host) {
      cluster.stats.upstream_cx_none_healthy.inc();
      this.fail(Failures.noHealthyUpstream);
      return;
    }
    action.rewriteRequest(request, action.autoHostRewrite ? host.hostname : undefined);
    const formatCtx: HeaderFormatContext = { request, info: cb.info };
    this.route!.applyRequestHeaders(request, formatCtx, choice);
    // Envoy injects the active span's context (x-b3-*, traceparent) into the upstream request; shadows copy it.
    cb.activeSpan?.injectContext(request.headers);
    if (shadows.length > 0) this.startShadows(shadows, request, tee);
    cb.info.firstUpstreamTxByteSent = clock.monotonicMs();
    this.startAttempt(host);
    // Envoy starts the route timeout (and the first per-try timeout) once the downstream request is complete.
    cb.onRequestComplete(() => this.onRequestComplete());
  }

  /**
   * Starts one shadow per sampled policy with a copy of the request as the upstream will see it (Envoy
   * copies the headers after finalizeRequestHeaders; its async client then writes its own expected timeout).
   */
  private startShadows(policies: readonly RequestMirrorPolicy[], request: RequestHeaders, tee: ShadowBodyTee | null): void {
    const cluster = this.cluster!;
    const timeoutMs = this.timeouts!.globalMs;
    for (const policy of policies) {
      const name = policy.clusterFor(request);
      if (name === undefined) continue;
      const headers = { ...request.headers };
      if (!this.deps.config.suppressEnvoyHeaders && timeoutMs > 0) headers['x-envoy-expected-rq-timeout-ms'] = String(timeoutMs);
      if (this.route!.virtualHost.includeRequestAttemptCount === true) headers['x-envoy-attempt-count'] = '1';
      let shadow: ShadowStream | null = null;
      const body = tee?.branch(() => {
        cluster.stats.retry_or_shadow_abandoned.inc();
        shadow?.cancel();
      }) ?? null;
      shadow = this.deps.shadowWriter.shadow(name, { method: request.method, path: request.path, authority: request.authority, headers, body }, {
        timeoutMs, disableShadowHostSuffixAppend: policy.disableShadowHostSuffixAppend,
      });
      if (shadow === null) body?.close();
      else if (body !== null) (this.shadowStreams ??= []).push(shadow);
    }
  }

  private cancelStreamingShadows(): void {
    const streams = this.shadowStreams;
    if (streams === null) return;
    this.shadowStreams = null;
    for (const s of streams) if (!s.requestComplete) s.cancel();
  }

  /** Host selection with the previous_hosts predicate: up to host_selection_retry_max_attempts re-picks. */
  private chooseHost(cluster: Cluster): Host | null {
    const retry = this.retry;
    let host = cluster.chooseHost(this.lbContext);
    if (retry === null) return host;
    for (let i = 0; i < retry.hostSelectionMaxAttempts && host !== null && retry.shouldSelectAnotherHost(host); i++) {
      host = cluster.chooseHost(this.lbContext);
    }
    return host;
  }

  private startAttempt(host: Host): void {
    const { clock, config } = this.deps;
    const cluster = this.cluster!;
    const request = this.request!;
    const headers = request.headers;
    this.cb.info.upstreamHost = host.addressString;
    this.cb.info.upstreamHostDescription = host;
    this.retry?.onHostAttempted(host);
    if (!config.suppressEnvoyHeaders) {
      const elapsed = this.requestCompleteAt < 0 ? 0 : clock.monotonicMs() - this.requestCompleteAt;
      const expected = expectedTimeoutMs(this.timeouts!, elapsed);
      if (expected > 0) headers['x-envoy-expected-rq-timeout-ms'] = String(expected);
    }
    if (this.route!.virtualHost.includeRequestAttemptCount === true) headers['x-envoy-attempt-count'] = String(this.attemptCount);
    const upstream = new UpstreamRequest(cluster, host, this.resources!, clock, config.dynamicStats, this);
    const body = this.bodyBuffer !== null ? this.bodyBuffer.replay() : this.rawBody;
    this.rawBody = null;
    // undici may fail the dispatch synchronously (invalid path or header value): onUpstreamFailure then
    // runs inside start(). Track the attempt first and check it is still current afterwards.
    this.upstream = upstream;
    if (!upstream.start(request.method, request.path, request.authority, headers, body)) {
      this.upstream = null;
      // A granted retry that overflows is not a retry success: give its token back first.
      this.retry?.release();
      this.onAttemptReset(Failures.overflow, 'overflow', false);
      return;
    }
    if (this.upstream !== upstream) return;
    if (this.requestCompleteAt >= 0) this.armPerTryTimers(upstream);
  }

  private onRequestComplete(): void {
    this.requestCompleteAt = this.deps.clock.monotonicMs();
    if (this.upstream === null && this.retryTimer === null) return; // already answered
    const globalMs = this.timeouts!.globalMs;
    if (globalMs > 0) this.timeoutTimer = this.deps.clock.setTimer(() => this.onRouteTimeout(), globalMs);
    if (this.upstream !== null) this.armPerTryTimers(this.upstream);
  }

  private armPerTryTimers(upstream: UpstreamRequest): void {
    const { perTryMs, perTryIdleMs } = this.timeouts!;
    const clock = this.deps.clock;
    if (perTryMs > 0) this.perTryTimer = clock.setTimer(() => this.onPerTryTimeout(upstream, false), perTryMs);
    if (perTryIdleMs > 0) {
      this.lastUpstreamActivity = clock.monotonicMs();
      this.schedulePerTryIdle(upstream, perTryIdleMs);
    }
  }

  /** Activity only records a time; the timer re-arms itself for the remainder (as the HCM idle timer). */
  private schedulePerTryIdle(upstream: UpstreamRequest, delay: number): void {
    const clock = this.deps.clock;
    this.perTryIdleTimer = clock.setTimer(() => {
      this.perTryIdleTimer = null;
      const idleMs = this.timeouts!.perTryIdleMs;
      const idleFor = clock.monotonicMs() - this.lastUpstreamActivity;
      if (idleFor < idleMs) this.schedulePerTryIdle(upstream, idleMs - idleFor);
      else this.onPerTryTimeout(upstream, true);
    }, delay);
  }

  private cancelPerTryTimers(): void {
    this.perTryTimer?.cancel();
    this.perTryTimer = null;
    this.perTryIdleTimer?.cancel();
    this.perTryIdleTimer = null;
  }

  private cleanup(): void {
    this.timeoutTimer?.cancel();
    this.timeoutTimer = null;
    this.retryTimer?.cancel();
    this.retryTimer = null;
    this.cancelPerTryTimers();
    this.retry?.release();
    this.retry = null;
  }

  /** per_try_timeout (not once the response started downstream) or per_try_idle_timeout fired. */
  private onPerTryTimeout(upstream: UpstreamRequest, idle: boolean): void {
    if (this.upstream !== upstream) return;
    if (!idle && this.cb.encoder.headersSent) return;
    const stats = this.cluster!.stats;
    (idle ? stats.upstream_rq_per_try_idle_timeout : stats.upstream_rq_per_try_timeout).inc();
    this.cancelPerTryTimers();
    upstream.timeout();
    this.upstream = null;
    if (this.cb.encoder.headersSent) {
      this.resetAfterResponseStarted(ResponseFlag.UpstreamRequestTimeout);
      return;
    }
    // Envoy treats a per-try timeout as a local reset: retried by 5xx, gateway-error and reset.
    if (this.maybeRetry(this.retry?.wouldRetryReset('local_reset', upstream.started))) return;
    this.chargeAbort(504);
    this.fail(idle ? Failures.perTryIdleTimeout : Failures.perTryTimeout);
  }

  private onRouteTimeout(): void {
    this.timeoutTimer = null;
    const stats = this.cluster!.stats;
    stats.upstream_rq_timeout.inc();
    const upstream = this.upstream;
    this.upstream = null;
    this.cleanup();
    upstream?.timeout();
    if (this.cb.encoder.headersSent) {
      this.resetAfterResponseStarted(ResponseFlag.UpstreamRequestTimeout);
      return;
    }
    if (upstream) this.chargeAbort(504);
    this.fail(Failures.upstreamTimeout);
  }

  /**
   * An attempt ended without a usable response: retry if the policy would and may, otherwise the
   * reset's local reply. Overflow is never retried (wouldRetryFromReset says no).
   */
  private onAttemptReset(failure: Failure, reason: ResetReason, started: boolean): void {
    this.cancelPerTryTimers();
    this.upstream = null;
    if (this.maybeRetry(this.retry?.wouldRetryReset(reason, started))) return;
    this.chargeAbort(failure.status);
    this.fail(failure);
  }

  /** Asks the retry state; on yes schedules the retry and returns true. Notes URX / UO on refusal. */
  private maybeRetry(would: WouldRetry | undefined): boolean {
    const retry = this.retry;
    if (retry === null || would === undefined) return false;
    const status = retry.shouldRetry(would, this.bodyBuffer === null || !this.bodyBuffer.overflowed);
    if (status.kind === 'retry') {
      this.scheduleRetry(status.delayMs);
      return true;
    }
    this.noteRetryRefusal(status);
    return false;
  }

  private noteRetryRefusal(status: RetryStatus): void {
    if (status.kind === 'overflow') this.cb.info.responseFlags |= ResponseFlag.UpstreamOverflow;
    else if (status.kind === 'limit-exceeded') this.cb.info.responseFlags |= ResponseFlag.UpstreamRetryLimitExceeded;
  }

  private scheduleRetry(delayMs: number): void {
    this.retryTimer = this.deps.clock.setTimer(() => {
      this.retryTimer = null;
      this.doRetry();
    }, delayMs);
  }

  private doRetry(): void {
    if (this.cb.downstreamClosed) return;
    this.attemptCount++;
    const cluster = this.cluster!;
    const host = this.chooseHost(cluster);
    if (!host) {
      cluster.stats.upstream_cx_none_healthy.inc();
      this.cleanup();
      this.fail(Failures.noHealthyUpstream);
      return;
    }
    this.startAttempt(host);
  }

  /** Envoy charges the local reply's code to upstream_rq_<code> when no response has started. */
  private chargeAbort(code: number): void {
    if (this.deps.config.dynamicStats && !this.cb.encoder.headersSent) this.cluster!.stats.recordResponseCode(code);
  }

  private resetAfterResponseStarted(flag: number): void {
    this.cleanup();
    this.cb.info.responseFlags |= flag;
    this.deps.stats.rqResetAfterDownstreamResponseStarted.inc();
    this.cb.encoder.resetStream();
  }

  private fail(f: Failure): void {
    this.cleanup();
    const suppress = this.deps.config.suppressEnvoyHeaders;
    // x-envoy-overloaded (the only header a failure carries) is one of the router's x-envoy-* headers.
    const headers = f.headers !== undefined && !suppress ? f.headers : undefined;
    const body = this.attemptCount > 1 && f.resetReason !== undefined ? retriedBody(f.body) : f.body;
    this.cb.sendLocalReply(f.status, body, {
      flags: f.flag, details: f.details, ...(headers ? { headers } : {}),
      modifyHeaders: (h) => this.finalizeResponseHeaders(h),
    });
  }

  /** The route's response header mutations (and Envoy's router headers) on any response we send. */
  private finalizeResponseHeaders(headers: HeaderMap): void {
    const route = this.route;
    if (route === null) return;
    route.applyResponseHeaders(headers, { request: this.cb.request, info: this.cb.info }, this.choice);
    if (this.attemptCount > 0 && route.virtualHost.includeAttemptCountInResponse === true) {
      headers['x-envoy-attempt-count'] = String(this.attemptCount);
    }
  }

  // --- UpstreamCallbacks ----------------------------------------------------------------------

  onUpstreamHeaders(response: ResponseHeaders, endStream: boolean): void {
    const cb = this.cb;
    const upstream = this.upstream!;
    const cluster = this.cluster!;
    this.lastUpstreamActivity = upstream.headersAtMs;
    const retry = this.retry;
    if (retry !== null) {
      const status = retry.shouldRetry(retry.wouldRetryHeaders(response), this.bodyBuffer === null || !this.bodyBuffer.overflowed);
      if (status.kind === 'retry') {
        cluster.stats.recordRetryResponseCode(response.status);
        this.cancelPerTryTimers();
        this.upstream = null;
        upstream.abort(new Error('retrying'));
        this.scheduleRetry(status.delayMs);
        return;
      }
      this.noteRetryRefusal(status);
      // The response goes downstream: no more retries (Envoy drops its retry state here).
      this.retry = null;
    }
    // Once the response starts downstream the per-try timeout no longer applies (the idle one does).
    this.perTryTimer?.cancel();
    this.perTryTimer = null;
    if (this.deps.config.dynamicStats) cluster.stats.recordResponseCode(response.status);
    cb.info.firstUpstreamRxByteReceived = upstream.headersAtMs;
    cb.info.upstreamLocalAddress = upstream.localAddress;
    if (!this.deps.config.suppressEnvoyHeaders) {
      response.headers['x-envoy-upstream-service-time'] = String(Math.round(upstream.headersAtMs - upstream.startMs));
    }
    cb.info.responseCode = response.status; // response formatters (%RESPONSE_CODE%) read it
    cb.info.responseCodeDetails = VIA_UPSTREAM;
    this.finalizeResponseHeaders(response.headers);
    const wrote = cb.encoder.encodeHeaders(response, endStream);
    if (wrote instanceof Promise) wrote.catch(() => this.cb.encoder.resetStream());
  }

  onUpstreamData(chunk: Buffer): boolean {
    if (this.perTryIdleTimer !== null) this.lastUpstreamActivity = this.deps.clock.monotonicMs();
    const encoder = this.cb.encoder;
    if (encoder.encodeData(chunk, false)) return true;
    const upstream = this.upstream;
    encoder.onDrain(() => upstream?.resume());
    return false;
  }

  onUpstreamTrailers(trailers: HeaderMap | null): void {
    this.cleanup();
    this.upstream = null;
    this.cb.encoder.encodeTrailers(trailers);
  }

  onUpstreamFailure(failure: Failure, reason: ResetReason, transportFailureReason: string, started: boolean, headersReceived: boolean): void {
    this.cb.info.upstreamTransportFailureReason = transportFailureReason;
    if (this.upstream !== null && this.upstream.localAddress !== '') this.cb.info.upstreamLocalAddress = this.upstream.localAddress;
    if (headersReceived || this.cb.encoder.headersSent) {
      this.upstream = null;
      this.resetAfterResponseStarted(failure.flag);
      return;
    }
    this.onAttemptReset(failure, reason, started);
  }
}
