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
  /** Retries (router): scheduled, succeeded, refused by the breaker/budget, refused by num_retries. */
  readonly upstream_rq_retry: Counter;
  readonly upstream_rq_retry_success: Counter;
  readonly upstream_rq_retry_overflow: Counter;
  readonly upstream_rq_retry_limit_exceeded: Counter;
  /** A retriable request whose body outgrew the retry buffer. */
  readonly retry_or_shadow_abandoned: Counter;
  readonly upstream_rq_per_try_timeout: Counter;
  readonly upstream_rq_per_try_idle_timeout: Counter;
  /** Circuit-breaker overflows: max_pending_requests / max_requests, and max_connections (queued). */
  readonly upstream_rq_pending_overflow: Counter;
  readonly upstream_cx_overflow: Counter;
  /** upstream_rq_<code> and upstream_rq_<class>xx (handles cached per code). */
  recordResponseCode(code: number): void;
  /** retry.upstream_rq_<code> and retry.upstream_rq_<class>xx: responses that were retried. */
  recordRetryResponseCode(code: number): void;
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

/** Envoy's SuccessRateMonitorType: all results when not split, or only external-origin / local-origin ones. */
export type SuccessRateOrigin = 'ExternalOrigin' | 'LocalOrigin';

/** A cluster's outlier detector as /clusters reads it (Envoy's Outlier::Detector); -1 = not computed. */
export interface OutlierDetectorInfo {
  /** Mean success rate of the hosts that took part in the last sweep's success-rate detection. */
  successRateAverage(origin: SuccessRateOrigin): number;
  /** The last sweep's threshold: mean − success_rate_stdev_factor × stdev. */
  successRateEjectionThreshold(origin: SuccessRateOrigin): number;
  /** The host's success rate over the last interval (when it had enough requests). */
  hostSuccessRate(host: Host, origin: SuccessRateOrigin): number;
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
  /**
   * The first URI SAN of the certificate the host presented on its latest verified TLS connection ('' = none yet,
   * or plaintext): what Envoy's upstream sslConnection()->uriSanPeerCertificate() gives per connection, per host.
   */
  readonly peerUriSan?: string;
  /** The first URI SAN of the certificate this proxy presented to the host on that connection ('' = none). */
  readonly localUriSan?: string;
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
  /** retry_budget: present = the budget replaces max_retries (defaults 20 % and 3). */
  readonly retryBudget?: { readonly budgetPercent: number; readonly minRetryConcurrency: number } | null;
  /** track_remaining: publish remaining_* gauges (and /clusters lines). */
  readonly trackRemaining?: boolean;
}

/** envoy.config.core.v3.RoutingPriority: which thresholds (and resource counts) a request uses. */
export type ResourcePriority = 'DEFAULT' | 'HIGH';

/** A circuit-breaker limit and its current count, read-only (connections are counted by the pools). */
export interface ResourceCount {
  /** count() < max(). */
  canCreate(): boolean;
  count(): number;
  max(): number;
}

/** A circuit-breaker limit the router acquires and releases (Envoy's ResourceLimit). */
export interface ResourceLimit extends ResourceCount {
  inc(): void;
  dec(): void;
}

/** The circuit breakers of one cluster and priority (Envoy's ResourceManager). */
export interface ResourceManager {
  /** Active requests (max_requests). */
  readonly requests: ResourceLimit;
  /** Requests waiting for a connection (max_pending_requests). */
  readonly pendingRequests: ResourceLimit;
  /** Outstanding retries (max_retries, or the retry_budget when configured). */
  readonly retries: ResourceLimit;
  /** Open connections (max_connections); counted from the cluster's upstream_cx_active. */
  readonly connections: ResourceCount;
}

export interface Cluster {
  readonly name: string;
  /** alt_stat_name or name with ':' → '_' (Envoy's stat name rules). */
  readonly statName: string;
  /** Envoy's observabilityName(): alt_stat_name, else the name, unsanitized (the upstream_cluster.name span tag). */
  readonly observabilityName?: string;
  readonly connectTimeoutMs: number;
  readonly stats: ClusterStats;
  readonly addedViaApi: boolean;
  /** EDS clusters: the ClusterLoadAssignment name (eds_cluster_config.service_name, else the cluster name). */
  readonly edsServiceName?: string;
  readonly circuitBreakers: { readonly default: CircuitBreakerThresholds; readonly high: CircuitBreakerThresholds };
  /** All hosts by priority (index = priority). */
  hosts(): readonly Host[];
  /** Present when the cluster configures outlier_detection. */
  readonly outlierDetector?: OutlierDetectorInfo | null;
  /** The load balancer's pick; null = no healthy upstream (503 UH). */
  chooseHost(ctx: LoadBalancerContext): Host | null;
  /** The circuit breakers for a routing priority (Envoy's ClusterInfo::resourceManager). */
  resourceManager(priority: ResourcePriority): ResourceManager;
  /** The wire config as applied (for /config_dump). */
  readonly config: unknown;
}
