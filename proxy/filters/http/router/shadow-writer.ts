// Sends shadow (mirrored) requests, Envoy's ShadowWriterImpl plus the async client it uses: fire and forget
// to the mirror cluster with the authority suffixed `-shadow`, one attempt (no retries), bounded by the
// route timeout, response discarded. Counts in the mirror cluster's stats; never touches the main request.

import type { Clock, TimerHandle } from '../../../common/clock.ts';
import type { Failure } from '../../../common/error-catalogue.ts';
import type { HeaderMap, ResponseHeaders } from '../../../http/headers.ts';
import type { Cluster, ClusterManager, LoadBalancerContext } from '../../../upstream/types.ts';
import type { ShadowBodyBranch } from './shadow-body.ts';
import { UpstreamRequest, type UpstreamCallbacks } from './upstream-request.ts';

/** What a shadow sends: a copy of the main request's headers after the route's rewrites and mutations. */
export interface ShadowRequestInit {
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly headers: HeaderMap;
  /** The body as this shadow streams it; null = header-only request. */
  readonly body: ShadowBodyBranch | null;
}

export interface ShadowOptions {
  /** The main request's route timeout (ms, 0 = none), started once the shadow's request is complete. */
  readonly timeoutMs: number;
  /** RequestMirrorPolicy.disable_shadow_host_suffix_append. */
  readonly disableShadowHostSuffixAppend: boolean;
}

const NO_LB_CONTEXT: LoadBalancerContext = Object.freeze({});

/**
 * Envoy's shadowAppendedHost: `-shadow` goes after the host name, before any port
 * (`api:8080` → `api-shadow:8080`; `[::1]:80` → `[::1]-shadow:80`).
 */
export function shadowAppendedHost(host: string): string {
  const colon = host.lastIndexOf(':');
  const portStart = colon > host.lastIndexOf(']') ? colon : -1;
  return portStart < 0 ? `${host}-shadow` : `${host.slice(0, portStart)}-shadow${host.slice(portStart)}`;
}

/** One in-flight shadow request: its single attempt, its timeout, and what it charges to its cluster. */
export class ShadowStream implements UpstreamCallbacks {
  private readonly cluster: Cluster;
  private readonly clock: Clock;
  private readonly dynamicStats: boolean;
  private readonly timeoutMs: number;
  private readonly body: ShadowBodyBranch | null;
  private upstream: UpstreamRequest | null = null;
  private timer: TimerHandle | null = null;
  private headersReceived = false;
  private finished = false;
  /** true once the whole request (headers and body) went to the shadow's attempt. */
  requestComplete = false;

  constructor(cluster: Cluster, clock: Clock, dynamicStats: boolean, timeoutMs: number, body: ShadowBodyBranch | null) {
    this.cluster = cluster;
    this.clock = clock;
    this.dynamicStats = dynamicStats;
    this.timeoutMs = timeoutMs;
    this.body = body;
  }

  start(request: ShadowRequestInit, authority: string): void {
    const cluster = this.cluster;
    const host = cluster.chooseHost(NO_LB_CONTEXT);
    if (host === null) {
      cluster.stats.upstream_cx_none_healthy.inc();
      this.chargeAbort(503);
      this.finish();
      return;
    }
    const upstream = new UpstreamRequest(cluster, host, cluster.resourceManager('DEFAULT'), this.clock, this.dynamicStats, this);
    this.upstream = upstream;
    if (this.body === null) this.onRequestComplete();
    else this.body.onEnd(() => this.onRequestComplete());
    if (!upstream.start(request.method, request.path, authority, request.headers, this.body)) {
      // A circuit breaker overflowed: Envoy's async client answers 503 (charged as the router would).
      this.chargeAbort(503);
      this.finish();
    }
  }

  /** The downstream went away before the whole body reached the shadow: reset it (Envoy's cancel()). */
  cancel(): void {
    if (this.finished) return;
    const upstream = this.upstream;
    this.finish();
    upstream?.abort(new Error('shadow cancelled'));
  }

  private onRequestComplete(): void {
    this.requestComplete = true;
    if (this.finished || this.timeoutMs <= 0) return;
    this.timer = this.clock.setTimer(() => this.onTimeout(), this.timeoutMs);
  }

  private onTimeout(): void {
    this.timer = null;
    if (this.finished) return;
    this.cluster.stats.upstream_rq_timeout.inc();
    if (!this.headersReceived) this.chargeAbort(504);
    const upstream = this.upstream;
    this.finish();
    upstream?.timeout();
  }

  /** Envoy's chargeUpstreamCode for a shadow that got no response: upstream_rq_<code>. */
  private chargeAbort(code: number): void {
    if (this.dynamicStats) this.cluster.stats.recordResponseCode(code);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.timer?.cancel();
    this.timer = null;
    this.upstream = null;
    this.body?.close();
  }

  // --- UpstreamCallbacks: the response is read and discarded -----------------------------------

  onUpstreamHeaders(response: ResponseHeaders): void {
    this.headersReceived = true;
    if (this.dynamicStats) this.cluster.stats.recordResponseCode(response.status);
  }

  onUpstreamData(): boolean {
    return true;
  }

  onUpstreamTrailers(): void {
    this.finish();
  }

  onUpstreamFailure(failure: Failure, _reason: unknown, _transportFailureReason: string, _started: boolean, headersReceived: boolean): void {
    if (!headersReceived) this.chargeAbort(failure.status);
    this.finish();
  }
}

/** Envoy's ShadowWriter: resolves the mirror cluster per request and starts the shadow. */
export class ShadowWriter {
  private readonly clusterManager: ClusterManager;
  private readonly clock: Clock;
  private readonly dynamicStats: boolean;

  constructor(clusterManager: ClusterManager, clock: Clock, dynamicStats: boolean) {
    this.clusterManager = clusterManager;
    this.clock = clock;
    this.dynamicStats = dynamicStats;
  }

  /**
   * Starts a shadow to `clusterName`; null when that cluster does not exist (any more: a CDS update may
   * have removed it), which Envoy skips silently too.
   */
  shadow(clusterName: string, request: ShadowRequestInit, options: ShadowOptions): ShadowStream | null {
    const cluster = this.clusterManager.get(clusterName);
    if (cluster === undefined) return null;
    const authority = options.disableShadowHostSuffixAppend ? request.authority : shadowAppendedHost(request.authority);
    const stream = new ShadowStream(cluster, this.clock, this.dynamicStats, options.timeoutMs, request.body);
    stream.start(request, authority);
    return stream;
  }
}
