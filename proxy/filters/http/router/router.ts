// The router filter (envoy.filters.http.router), the terminal HTTP filter: turns the matched route into
// a local reply (no route, direct response, redirect) or an upstream request — cluster selection, host
// choice through the cluster's load balancer, rewrites, header mutations, the route timeout — and
// forwards the upstream response through the encoder.

import type { Clock, Random, TimerHandle } from '../../../common/clock.ts';
import { Failures, type Failure } from '../../../common/error-catalogue.ts';
import { ResponseFlag } from '../../../common/response-flags.ts';
import type { FilterCallbacks, FilterStatus, HttpFilter } from '../../../http/filter.ts';
import type { HeaderMap, RequestHeaders, ResponseHeaders } from '../../../http/headers.ts';
import type { ClusterChoice, HeaderFormatContext, Route, RouteAction } from '../../../route/types.ts';
import type { Counter, StatsScope } from '../../../stats/scope.ts';
import type { ClusterManager } from '../../../upstream/types.ts';
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
}

export class Router implements HttpFilter, UpstreamCallbacks {
  private readonly deps: RouterDeps;
  private readonly cb: FilterCallbacks;
  private route: Route | null = null;
  private choice: ClusterChoice | undefined;
  private upstream: UpstreamRequest | null = null;
  private timeoutTimer: TimerHandle | null = null;

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
    this.timeoutTimer?.cancel();
    this.upstream?.abort(new Error('downstream disconnected'));
  }

  onStreamComplete(): void {
    this.timeoutTimer?.cancel();
  }

  private forward(request: RequestHeaders, action: RouteAction): void {
    const { clusterManager, random, clock, config } = this.deps;
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
    const hashKey = action.computeHash(request, cb.info.downstreamRemoteAddress);
    const host = cluster.chooseHost({
      ...(hashKey !== undefined ? { hashKey } : {}),
      ...(choice?.metadataMatch ? { metadataMatch: choice.metadataMatch } : {}),
    });
    if (!host) {
      cluster.stats.upstream_cx_none_healthy.inc();
      this.fail(Failures.noHealthyUpstream);
      return;
    }
    cb.info.upstreamHost = host.addressString;

    action.rewriteRequest(request, action.autoHostRewrite ? host.hostname : undefined);
    const formatCtx: HeaderFormatContext = { request, info: cb.info };
    this.route!.applyRequestHeaders(request, formatCtx, choice);
    if (action.timeoutMs > 0 && !config.suppressEnvoyHeaders) {
      request.headers['x-envoy-expected-rq-timeout-ms'] = String(action.timeoutMs);
    }

    const upstream = new UpstreamRequest(cluster, host, clock, config.dynamicStats, this);
    this.upstream = upstream;
    cb.info.firstUpstreamTxByteSent = clock.monotonicMs();
    upstream.start(request.method, request.path, request.authority, request.headers, cb.requestBody());
    if (action.timeoutMs > 0) {
      // Envoy starts the route timeout once the downstream request is complete.
      cb.onRequestComplete(() => {
        if (this.upstream === upstream) this.timeoutTimer = clock.setTimer(() => this.onRouteTimeout(cluster.stats.upstream_rq_timeout), action.timeoutMs);
      });
    }
  }

  private onRouteTimeout(timeoutCounter: Counter): void {
    this.timeoutTimer = null;
    timeoutCounter.inc();
    this.upstream?.abort(new Error('upstream request timeout'));
    this.upstream = null;
    if (this.cb.encoder.headersSent) {
      this.cb.info.responseFlags |= ResponseFlag.UpstreamRequestTimeout;
      this.deps.stats.rqResetAfterDownstreamResponseStarted.inc();
      this.cb.encoder.resetStream();
    } else {
      this.fail(Failures.upstreamTimeout);
    }
  }

  private fail(f: Failure): void {
    this.cb.sendLocalReply(f.status, f.body, {
      flags: f.flag, details: f.details, ...(f.headers ? { headers: f.headers } : {}),
      modifyHeaders: (h) => this.finalizeResponseHeaders(h),
    });
  }

  /** The route's response header mutations (and Envoy's router headers) on any response we send. */
  private finalizeResponseHeaders(headers: HeaderMap): void {
    this.route?.applyResponseHeaders(headers, { request: this.cb.request, info: this.cb.info }, this.choice);
  }

  // --- UpstreamCallbacks ----------------------------------------------------------------------

  onUpstreamHeaders(response: ResponseHeaders, endStream: boolean): void {
    const cb = this.cb;
    const upstream = this.upstream!;
    cb.info.firstUpstreamRxByteReceived = upstream.headersAtMs;
    if (!this.deps.config.suppressEnvoyHeaders) {
      response.headers['x-envoy-upstream-service-time'] = String(Math.round(upstream.headersAtMs - upstream.startMs));
    }
    cb.info.responseCode = response.status; // response formatters (%RESPONSE_CODE%) read it
    this.finalizeResponseHeaders(response.headers);
    const wrote = cb.encoder.encodeHeaders(response, endStream);
    if (wrote instanceof Promise) wrote.catch(() => this.cb.encoder.resetStream());
  }

  onUpstreamData(chunk: Buffer): boolean {
    const encoder = this.cb.encoder;
    if (encoder.encodeData(chunk, false)) return true;
    const upstream = this.upstream;
    encoder.onDrain(() => upstream?.resume());
    return false;
  }

  onUpstreamTrailers(trailers: HeaderMap | null): void {
    this.timeoutTimer?.cancel();
    this.upstream = null;
    this.cb.encoder.encodeTrailers(trailers);
  }

  onUpstreamFailure(failure: Failure, transportFailureReason: string, headersReceived: boolean): void {
    this.timeoutTimer?.cancel();
    this.upstream = null;
    const info = this.cb.info;
    info.upstreamTransportFailureReason = transportFailureReason;
    if (headersReceived || this.cb.encoder.headersSent) {
      info.responseFlags |= failure.flag;
      this.deps.stats.rqResetAfterDownstreamResponseStarted.inc();
      this.cb.encoder.resetStream();
      return;
    }
    this.fail(failure);
  }
}
