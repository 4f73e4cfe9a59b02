// The fault injection filter (envoy.filters.http.fault) for one stream, following Envoy's FaultFilter:
// pick the filter-level or per-route HTTPFault, check upstream_cluster / downstream_nodes / headers,
// then delay (a timer; the stream resumes with continueDecoding) and/or abort with a local reply.

import type { Clock, Random, TimerHandle } from '../../../common/clock.ts';
import { ResponseFlag } from '../../../common/response-flags.ts';
import { evaluateFractionalPercent, type FractionalPercent } from '../../../config/fractional-percent.ts';
import type { FilterCallbacks, FilterStatus, HttpFilter } from '../../../http/filter.ts';
import { firstValue, type RequestHeaders } from '../../../http/headers.ts';
import { matchAllHeaders } from '../../../matchers/header-matcher.ts';
import type { Route } from '../../../route/types.ts';
import type { Counter, Gauge, StatsScope } from '../../../stats/scope.ts';
import type { FaultSettings } from './fault-settings.ts';

/** Envoy's abort reply body and %RESPONSE_CODE_DETAILS%. */
export const FAULT_ABORT_BODY = 'fault filter abort';
export const FAULT_ABORT_DETAILS = 'fault_filter_abort';

interface InjectionCounters {
  readonly delaysInjected: Counter;
  readonly abortsInjected: Counter;
}

/** http.<stat_prefix>.fault.* (the gauge is shared by every fault filter with that prefix, as in Envoy). */
export interface FaultStats extends InjectionCounters {
  readonly faultsOverflow: Counter;
  readonly activeFaults: Gauge;
  /** fault.<downstream cluster>.{delays,aborts}_injected, for x-envoy-downstream-service-cluster. */
  downstreamCluster(cluster: string): InjectionCounters;
}

/** `scope` is the connection manager's `http.<stat_prefix>.` scope. */
export function faultStats(scope: StatsScope): FaultStats {
  const fault = scope.scope('fault');
  // Envoy declares response_rl_injected with the others; response_rate_limit is not implemented, so it stays 0.
  fault.counter('response_rl_injected');
  const perCluster = new Map<string, InjectionCounters>();
  return {
    delaysInjected: fault.counter('delays_injected'),
    abortsInjected: fault.counter('aborts_injected'),
    faultsOverflow: fault.counter('faults_overflow'),
    activeFaults: fault.gauge('active_faults'),
    downstreamCluster(cluster) {
      let c = perCluster.get(cluster);
      if (!c) {
        const s = fault.scope(cluster);
        c = { delaysInjected: s.counter('delays_injected'), abortsInjected: s.counter('aborts_injected') };
        perCluster.set(cluster, c);
      }
      return c;
    },
  };
}

/** What every stream of one configured fault filter shares. */
export interface FaultFilterShared {
  /** The filter-level HTTPFault; a typed_per_filter_config entry replaces it for its routes. */
  readonly settings: FaultSettings;
  /** The configured filter name, the key of typed_per_filter_config. */
  readonly filterName: string;
  readonly stats: FaultStats;
  readonly clock: Clock;
  readonly random: Random;
}

/** A Random that only notes whether it was asked (a weighted_clusters pick the router makes later). */
class DrawDetector implements Random {
  drawn = false;
  next(): number { this.drawn = true; return 0; }
  nextUint32(): number { this.drawn = true; return 0; }
}

/**
 * The route's cluster, as Envoy's routeEntry()->clusterName() for upstream_cluster. null when the route
 * forwards nowhere, or when the cluster is a random weighted_clusters pick: the router draws that one
 * later, so no name can be promised here.
 */
function routeClusterName(route: Route | null, request: RequestHeaders): string | null {
  if (route?.action.type !== 'route') return null;
  const probe = new DrawDetector();
  const choice = route.action.selectCluster(request, probe);
  return choice === null || probe.drawn ? null : choice.name;
}

export class FaultFilter implements HttpFilter {
  private readonly shared: FaultFilterShared;
  private readonly cb: FilterCallbacks;
  private settings: FaultSettings;
  private downstreamCluster = '';
  private delayTimer: TimerHandle | null = null;
  /** This stream counts in active_faults (once, however many faults it gets). */
  private faultActive = false;

  constructor(shared: FaultFilterShared, callbacks: FilterCallbacks) {
    this.shared = shared;
    this.cb = callbacks;
    this.settings = shared.settings;
  }

  decodeHeaders(request: RequestHeaders): FilterStatus {
    // Route-level configuration replaces the filter-level one (most specific typed_per_filter_config).
    const s = this.cb.perRouteConfig<FaultSettings>(this.shared.filterName) ?? this.shared.settings;
    this.settings = s;
    if (s.upstreamCluster !== '' && routeClusterName(this.cb.route, request) !== s.upstreamCluster) return 'continue';
    if (s.downstreamNodes !== null) {
      const node = firstValue(request.headers, 'x-envoy-downstream-service-node');
      if (node === undefined || !s.downstreamNodes.has(node)) return 'continue';
    }
    if (!matchAllHeaders(s.headers, request)) return 'continue';
    this.downstreamCluster = firstValue(request.headers, 'x-envoy-downstream-service-cluster') ?? '';
    if (this.maybeSetupDelay(request)) return 'stop';
    const status = this.abortStatus(request);
    if (status !== null && this.tryIncActiveFaults()) {
      this.abortWithStatus(request, status);
      return 'stop';
    }
    return 'continue';
  }

  onDestroy(): void {
    this.release();
  }

  onStreamComplete(): void {
    this.release();
  }

  private maybeSetupDelay(request: RequestHeaders): boolean {
    const delay = this.settings.delay;
    if (delay === null || !this.enabled(delay.percentage(request))) return false;
    const ms = delay.durationMs(request);
    // Envoy delays only for a duration > 0 ms.
    if (ms === undefined || ms <= 0 || !this.tryIncActiveFaults()) return false;
    this.delayTimer = this.shared.clock.setTimer(() => this.postDelayInjection(request), ms);
    this.record('delaysInjected');
    this.cb.info.responseFlags |= ResponseFlag.DelayInjected;
    return true;
  }

  /** Delays can be followed by aborts: the abort decision is drawn when the delay ends. */
  private postDelayInjection(request: RequestHeaders): void {
    this.delayTimer = null;
    const status = this.abortStatus(request);
    if (status !== null) {
      this.abortWithStatus(request, status);
      return;
    }
    // The delay is over and nothing else is injected: this stream no longer counts as an active fault.
    this.decActiveFaults();
    this.cb.continueDecoding();
  }

  /**
   * The abort to inject, if the percentage draw says so: an HTTP status wins; a gRPC status alone
   * answers HTTP 200 with that grpc-status (Envoy's FaultFilter::abortStatus).
   */
  private abortStatus(request: RequestHeaders): { http: number; grpc?: number } | null {
    const abort = this.settings.abort;
    if (abort === null || !this.enabled(abort.percentage(request))) return null;
    const http = abort.httpStatus(request);
    if (http !== undefined) return { http };
    const grpc = abort.grpcStatus(request);
    return grpc !== undefined ? { http: 200, grpc } : null;
  }

  private abortWithStatus(request: RequestHeaders, status: { http: number; grpc?: number }): void {
    this.record('abortsInjected');
    const opts = { flags: ResponseFlag.FaultInjected, details: FAULT_ABORT_DETAILS };
    if (status.grpc !== undefined && isGrpcRequest(request)) {
      // Envoy's local reply to a gRPC request: trailers-only, the message in grpc-message.
      this.cb.sendLocalReply(200, '', {
        ...opts,
        headers: { 'content-type': 'application/grpc', 'grpc-status': String(status.grpc), 'grpc-message': FAULT_ABORT_BODY },
      });
      return;
    }
    this.cb.sendLocalReply(status.http, FAULT_ABORT_BODY, opts);
  }

  /** runtime featureEnabled with no runtime layer: random % denominator < numerator. */
  private enabled(percent: FractionalPercent): boolean {
    return evaluateFractionalPercent(percent, this.shared.random);
  }

  /**
   * Charges this stream to active_faults, unless max_active_faults is reached (faults_overflow). The
   * limit is checked only when a fault is about to be injected, and is fuzzy as Envoy's.
   */
  private tryIncActiveFaults(): boolean {
    if (this.faultActive) return true;
    const { stats } = this.shared;
    if (stats.activeFaults.value() >= this.settings.maxActiveFaults) {
      stats.faultsOverflow.inc();
      return false;
    }
    stats.activeFaults.inc();
    this.faultActive = true;
    return true;
  }

  private decActiveFaults(): void {
    if (!this.faultActive) return;
    this.faultActive = false;
    this.shared.stats.activeFaults.dec();
  }

  private record(which: keyof InjectionCounters): void {
    const { stats } = this.shared;
    if (this.downstreamCluster !== '' && !this.settings.disableDownstreamClusterStats) {
      stats.downstreamCluster(this.downstreamCluster)[which].inc();
    }
    stats[which].inc();
  }

  /** The stream ended or the downstream went away: no timer may fire, and the fault is no longer active. */
  private release(): void {
    this.delayTimer?.cancel();
    this.delayTimer = null;
    this.decActiveFaults();
  }
}

/** Grpc::Common::isGrpcRequestHeaders: POST with content-type application/grpc or application/grpc+<x>. */
function isGrpcRequest(request: RequestHeaders): boolean {
  if (request.method !== 'POST') return false;
  const ct = firstValue(request.headers, 'content-type');
  return ct !== undefined && (ct === 'application/grpc' || ct.startsWith('application/grpc+'));
}
