// The upstream contract consumed by the router: a ClusterManager of Clusters, each choosing a Host
// through its load balancer. Built from validated Cluster config; replaced whole on config change.

import type { Dispatcher } from 'undici';
import type { Counter, Gauge, Histogram } from '../stats/scope.ts';

export interface ClusterManager {
  get(name: string): Cluster | undefined;
  all(): Iterable<Cluster>;
  /**
   * Settles when every cluster finished its first discovery (STRICT_DNS/LOGICAL_DNS: first resolution
   * attempt). The server starts listening only then, as Envoy's init manager does.
   */
  initialized(): Promise<void>;
  /** Closes every connection pool and stops DNS refresh timers. */
  close(): Promise<void>;
}

export interface LoadBalancerContext {
  /** From the route's hash_policy (RING_HASH); undefined = no hash. */
  readonly hashKey?: bigint;
  /** Subset criteria from the route/weighted cluster metadata_match (key → value). */
  readonly metadataMatch?: Readonly<Record<string, unknown>>;
}

/** Envoy's per-cluster stats the router records (`cluster.<name>.*`). */
export interface ClusterStats {
  readonly upstream_rq_total: Counter;
  readonly upstream_rq_completed: Counter;
  readonly upstream_rq_active: Gauge;
  readonly upstream_rq_time: Histogram;
  readonly upstream_cx_total: Counter;
  readonly upstream_cx_active: Gauge;
  readonly upstream_cx_connect_fail: Counter;
  readonly upstream_cx_destroy: Counter;
  readonly upstream_rq_tx_reset: Counter;
  readonly upstream_rq_rx_reset: Counter;
  readonly upstream_rq_timeout: Counter;
  readonly upstream_cx_none_healthy: Counter;
  readonly upstream_rq_maintenance_mode: Counter;
  /** upstream_rq_<code> and upstream_rq_<class>xx (handles cached per code). */
  recordResponseCode(code: number): void;
}

export interface HostStats {
  rq_active: number;
  rq_total: number;
  rq_success: number;
  rq_error: number;
  rq_timeout: number;
  cx_active: number;
  cx_total: number;
  cx_connect_fail: number;
}

/**
 * What the router reports about each attempt to a host, for outlier detection (Envoy's
 * Outlier::Result). Local-origin results come from the proxy's side (connect, timeout); external-origin
 * ones from the upstream's answer.
 */
export type OutlierResult =
  | 'LOCAL_ORIGIN_CONNECT_FAILED'
  | 'LOCAL_ORIGIN_TIMEOUT'
  | 'LOCAL_ORIGIN_CONNECT_SUCCESS'
  | 'LOCAL_ORIGIN_CONNECT_SUCCESS_FINAL'
  | 'EXT_ORIGIN_REQUEST_FAILED'
  | 'EXT_ORIGIN_REQUEST_SUCCESS';

/** The per-host outlier detection monitor (Envoy's DetectorHostMonitor); null when not configured. */
export interface OutlierMonitor {
  /** An upstream response status (5xx / gateway errors count toward consecutive_* and success rate). */
  putHttpResponseCode(code: number): void;
  /** A local-origin or external-origin result without a response code. */
  putResult(result: OutlierResult): void;
}

export interface Host {
  /** IP (or name for LOGICAL_DNS before resolution). */
  readonly address: string;
  readonly port: number;
  /** `ip:port` (%UPSTREAM_HOST%, /clusters key). */
  readonly addressString: string;
  /** Endpoint.hostname, else the DNS name it came from ('' when none). */
  readonly hostname: string;
  readonly weight: number;
  readonly priority: number;
  readonly locality: { readonly region: string; readonly zone: string; readonly subZone: string };
  /** filter_metadata, e.g. metadata['envoy.lb'] = { version: 'v1' }. */
  readonly metadata: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** /clusters health_flags: 'healthy' or '/failed_eds_health' etc. */
  healthFlags(): string;
  healthy(): boolean;
  readonly stats: HostStats;
  /** Outlier detection for this host (null when the cluster has no outlier_detection). */
  readonly outlier: OutlierMonitor | null;
  /** The host's connection pool (undici), created lazily. */
  dispatcher(): Dispatcher;
}

export interface CircuitBreakerThresholds {
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
  readonly maxRetries: number;
}

export interface Cluster {
  readonly name: string;
  /** alt_stat_name or name with ':' → '_' (Envoy's stat name rules). */
  readonly statName: string;
  readonly connectTimeoutMs: number;
  readonly stats: ClusterStats;
  readonly addedViaApi: boolean;
  readonly circuitBreakers: { readonly default: CircuitBreakerThresholds; readonly high: CircuitBreakerThresholds };
  /** All hosts by priority (index = priority). */
  hosts(): readonly Host[];
  /** The load balancer's pick; null = no healthy upstream (503 UH). */
  chooseHost(ctx: LoadBalancerContext): Host | null;
  /** The wire config as applied (for /config_dump). */
  readonly config: unknown;
}
