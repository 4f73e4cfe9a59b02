// Translation of a validated ClusterWire into the frozen runtime model: Envoy's defaults applied once
// (connect_timeout 5s, dns_refresh_rate 5s, panic threshold 50%, overprovisioning 140, circuit breakers
// 1024/1024/1024/3, ring 1024..8M, choice_count 2, idle_timeout 1h). Pure; never fails after the schema.

import {
  DEFAULT_MIN_RING_SIZE, MAX_RING_SIZE,
  type ClusterWire, type DiscoveryType, type DnsLookupFamily, type LbPolicy, type SubsetFallbackPolicy,
} from './cluster-schema.ts';
import type { ClusterLoadAssignmentWire, HealthStatus } from './load-assignment-schema.ts';
import { translateConfigSource, type ConfigSourceConfig } from '../config/config-source.ts';
import { translateOutlierDetection, type OutlierDetectionConfig } from './outlier/outlier-config.ts';
import { HTTP_PROTOCOL_OPTIONS_KEY, type Http2ProtocolOptionsWire } from './protocol-options-schema.ts';
import type { CircuitBreakerThresholds } from './types.ts';
import type { UpstreamTlsConfig } from '../tls/tls-context.ts';

export interface LocalityConfig {
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
}

export type EndpointMetadata = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

export interface EndpointConfig {
  /** socket_address.address: an IP (STATIC) or a name to resolve (DNS clusters). */
  readonly address: string;
  readonly port: number;
  /** Endpoint.hostname ('' when absent). */
  readonly hostname: string;
  readonly healthStatus: HealthStatus;
  readonly weight: number;
  readonly metadata: EndpointMetadata;
}

export interface LocalityEndpointsConfig {
  readonly locality: LocalityConfig;
  readonly priority: number;
  readonly weight: number;
  readonly endpoints: readonly EndpointConfig[];
}

export interface SubsetSelectorConfig {
  /** Selector keys, sorted (criteria match a selector when their key set is equal). */
  readonly keys: readonly string[];
  /** null = NOT_DEFINED: the top-level fallback_policy applies. */
  readonly fallbackPolicy: SubsetFallbackPolicy | null;
}

export interface SubsetConfig {
  readonly fallbackPolicy: SubsetFallbackPolicy;
  readonly defaultSubset: Readonly<Record<string, unknown>>;
  readonly selectors: readonly SubsetSelectorConfig[];
}

export interface UpstreamPoolConfig {
  readonly connectTimeoutMs: number;
  /** 'http2' = prior knowledge (h2c over plaintext), as Envoy does with http2_protocol_options. */
  readonly protocol: 'http1' | 'http2';
  /** common_http_protocol_options.idle_timeout; 0 = disabled. */
  readonly idleTimeoutMs: number;
  /** 0 = unlimited. */
  readonly maxRequestsPerConnection: number;
  readonly http2: {
    readonly maxConcurrentStreams?: number;
    readonly initialStreamWindowSize?: number;
    readonly initialConnectionWindowSize?: number;
  };
  /** per_connection_buffer_limit_bytes when configured (socket high-water mark). */
  readonly bufferLimitBytes?: number;
  /** transport_socket's UpstreamTlsContext; null = plaintext. */
  readonly tls: UpstreamTlsConfig | null;
  /**
   * Connection cap of each host's pool, from circuit_breakers max_connections and per_host_thresholds.
   * Envoy's max_connections is per cluster; nodevoy can only cap each host's undici pool.
   */
  readonly maxConnections?: number;
}

export interface ClusterConfig {
  readonly name: string;
  readonly statName: string;
  readonly type: DiscoveryType;
  readonly lbPolicy: LbPolicy;
  readonly localities: readonly LocalityEndpointsConfig[];
  /** ClusterLoadAssignment.policy.overprovisioning_factor (percent; 140 = 1.4). */
  readonly overprovisioningFactor: number;
  /** common_lb_config.healthy_panic_threshold in percent; 0 disables panic mode. */
  readonly healthyPanicThreshold: number;
  readonly dnsRefreshRateMs: number;
  readonly dnsLookupFamily: DnsLookupFamily;
  readonly circuitBreakers: { readonly default: CircuitBreakerThresholds; readonly high: CircuitBreakerThresholds };
  readonly ringHash: { readonly minimumRingSize: number; readonly maximumRingSize: number; readonly hashFunction: 'XX_HASH' | 'MURMUR_HASH_2' };
  readonly leastRequest: { readonly choiceCount: number; readonly activeRequestBias: number };
  /** null when lb_subset_config is absent or has no (non-empty) selectors: Envoy then does not subset. */
  readonly subset: SubsetConfig | null;
  readonly pool: UpstreamPoolConfig;
  /** outlier_detection with Envoy's defaults; null when absent (no passive ejection). */
  readonly outlierDetection: OutlierDetectionConfig | null;
  /** type EDS: the EDS resource name (eds_cluster_config.service_name, else the cluster name) and its source. */
  readonly eds: { readonly serviceName: string; readonly configSource: ConfigSourceConfig } | null;
  /** The wire config as applied (for /config_dump). */
  readonly wire: ClusterWire;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_DNS_REFRESH_RATE_MS = 5_000;
const DEFAULT_OVERPROVISIONING_FACTOR = 140;
const DEFAULT_PANIC_THRESHOLD = 50;
const DEFAULT_IDLE_TIMEOUT_MS = 3_600_000;

/** Envoy's Cluster name rule for stats: alt_stat_name wins, and ':' becomes '_'. */
export function clusterStatName(wire: Pick<ClusterWire, 'name' | 'alt_stat_name'>): string {
  return (wire.alt_stat_name || wire.name).replaceAll(':', '_');
}

type ThresholdsWire = NonNullable<NonNullable<ClusterWire['circuit_breakers']>['thresholds']>[number];

function thresholds(list: readonly ThresholdsWire[], priority: 'DEFAULT' | 'HIGH'): CircuitBreakerThresholds {
  // Envoy uses the first entry for each RoutingPriority; absent fields keep the 1024/1024/1024/3 defaults.
  const t = list.find((x) => (x.priority ?? 'DEFAULT') === priority);
  const budget = t?.retry_budget;
  return Object.freeze({
    maxConnections: t?.max_connections ?? 1024,
    maxPendingRequests: t?.max_pending_requests ?? 1024,
    maxRequests: t?.max_requests ?? 1024,
    maxRetries: t?.max_retries ?? 3,
    // A present RetryBudget enables the budget; its unset fields default to 20 % and 3.
    retryBudget: budget ? { budgetPercent: budget.budget_percent?.value ?? 20, minRetryConcurrency: budget.min_retry_concurrency ?? 3 } : null,
    trackRemaining: t?.track_remaining ?? false,
  });
}

/**
 * Connections one host's pool may open: the DEFAULT max_connections, lowered by the first
 * per_host_thresholds entry's max_connections (the only per-host field Envoy honours).
 */
function poolMaxConnections(wire: ClusterWire): number {
  const cb = wire.circuit_breakers;
  const clusterMax = thresholds(cb?.thresholds ?? [], 'DEFAULT').maxConnections;
  const perHost = (cb?.per_host_thresholds ?? []).find((x) => (x.priority ?? 'DEFAULT') === 'DEFAULT')?.max_connections;
  return perHost !== undefined ? Math.min(perHost, clusterMax) : clusterMax;
}

function http2Settings(h2: Http2ProtocolOptionsWire): UpstreamPoolConfig['http2'] {
  return {
    ...(h2.max_concurrent_streams !== undefined ? { maxConcurrentStreams: h2.max_concurrent_streams } : {}),
    ...(h2.initial_stream_window_size !== undefined ? { initialStreamWindowSize: h2.initial_stream_window_size } : {}),
    ...(h2.initial_connection_window_size !== undefined ? { initialConnectionWindowSize: h2.initial_connection_window_size } : {}),
  };
}

function poolConfig(wire: ClusterWire): UpstreamPoolConfig {
  const options = wire.typed_extension_protocol_options?.[HTTP_PROTOCOL_OPTIONS_KEY];
  const h2 = options?.explicit_http_config?.http2_protocol_options ?? wire.http2_protocol_options;
  const common = options?.common_http_protocol_options;
  return {
    connectTimeoutMs: wire.connect_timeout ?? DEFAULT_CONNECT_TIMEOUT_MS,
    protocol: h2 ? 'http2' : 'http1',
    idleTimeoutMs: common?.idle_timeout ?? DEFAULT_IDLE_TIMEOUT_MS,
    maxRequestsPerConnection: common?.max_requests_per_connection ?? 0,
    http2: h2 ? http2Settings(h2) : {},
    ...(wire.per_connection_buffer_limit_bytes !== undefined ? { bufferLimitBytes: wire.per_connection_buffer_limit_bytes } : {}),
    maxConnections: poolMaxConnections(wire),
    tls: wire.transport_socket?.tls ?? null,
  };
}

/** The localities of a ClusterLoadAssignment (inline load_assignment or an EDS resource), with Envoy's defaults. */
export function translateLocalities(assignment: ClusterLoadAssignmentWire | undefined): LocalityEndpointsConfig[] {
  return (assignment?.endpoints ?? []).map((l) => ({
    locality: { region: l.locality?.region ?? '', zone: l.locality?.zone ?? '', subZone: l.locality?.sub_zone ?? '' },
    priority: l.priority ?? 0,
    weight: l.load_balancing_weight ?? 1,
    endpoints: (l.lb_endpoints ?? []).map((e) => ({
      address: e.endpoint.address.socket_address.address,
      port: e.endpoint.address.socket_address.port_value,
      hostname: e.endpoint.hostname ?? '',
      healthStatus: e.health_status ?? 'UNKNOWN',
      weight: e.load_balancing_weight ?? 1,
      metadata: e.metadata?.filter_metadata ?? {},
    })),
  }));
}

function subsetConfig(wire: ClusterWire): SubsetConfig | null {
  const s = wire.lb_subset_config;
  // Envoy skips selectors without keys and disables subsetting when none remain.
  const selectors = (s?.subset_selectors ?? [])
    .filter((sel) => (sel.keys ?? []).length > 0)
    .map((sel) => ({
      keys: [...new Set(sel.keys)].sort(),
      fallbackPolicy: sel.fallback_policy === undefined || sel.fallback_policy === 'NOT_DEFINED' ? null : sel.fallback_policy,
    }));
  if (!s || selectors.length === 0) return null;
  return { fallbackPolicy: s.fallback_policy ?? 'NO_FALLBACK', defaultSubset: s.default_subset ?? {}, selectors };
}

/** Builds the runtime model of one validated cluster. */
export function translateCluster(wire: ClusterWire): ClusterConfig {
  const thresholdList = wire.circuit_breakers?.thresholds ?? [];
  return Object.freeze({
    name: wire.name,
    statName: clusterStatName(wire),
    type: wire.type ?? 'STATIC',
    lbPolicy: wire.lb_policy ?? 'ROUND_ROBIN',
    localities: translateLocalities(wire.load_assignment),
    overprovisioningFactor: wire.load_assignment?.policy?.overprovisioning_factor ?? DEFAULT_OVERPROVISIONING_FACTOR,
    // "The specified percent will be truncated to the nearest 1%."
    healthyPanicThreshold: Math.trunc(wire.common_lb_config?.healthy_panic_threshold?.value ?? DEFAULT_PANIC_THRESHOLD),
    dnsRefreshRateMs: wire.dns_refresh_rate ?? DEFAULT_DNS_REFRESH_RATE_MS,
    dnsLookupFamily: wire.dns_lookup_family ?? 'AUTO',
    circuitBreakers: { default: thresholds(thresholdList, 'DEFAULT'), high: thresholds(thresholdList, 'HIGH') },
    ringHash: {
      minimumRingSize: wire.ring_hash_lb_config?.minimum_ring_size ?? DEFAULT_MIN_RING_SIZE,
      maximumRingSize: wire.ring_hash_lb_config?.maximum_ring_size ?? MAX_RING_SIZE,
      hashFunction: wire.ring_hash_lb_config?.hash_function ?? 'XX_HASH',
    },
    leastRequest: {
      choiceCount: wire.least_request_lb_config?.choice_count ?? 2,
      activeRequestBias: wire.least_request_lb_config?.active_request_bias?.default_value ?? 1.0,
    },
    subset: subsetConfig(wire),
    pool: poolConfig(wire),
    outlierDetection: wire.outlier_detection ? translateOutlierDetection(wire.outlier_detection) : null,
    eds: wire.eds_cluster_config
      ? { serviceName: wire.eds_cluster_config.service_name || wire.name, configSource: translateConfigSource(wire.eds_cluster_config.eds_config) }
      : null,
    wire,
  });
}
