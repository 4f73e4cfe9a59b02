// Wire schema of Envoy's v3 Cluster (`config.cluster.v3.Cluster`) for the implemented subset, including
// the cross-field rules Envoy enforces when it builds a cluster. Validation only: no defaults applied
// here (cluster-config.ts does that), so /config_dump shows the cluster as written.

import { isIP } from 'node:net';
import { z } from 'zod';
import { bool, duration, enumOf, message, positiveDuration, struct, uint32, uint64 } from '../config/schema-kit.ts';
import { ClusterLoadAssignmentSchema, MetadataSchema } from './load-assignment-schema.ts';
import { OutlierDetectionSchema } from './outlier/outlier-schema.ts';
import { ConfigSourceSchema } from '../config/config-source.ts';
import { PercentSchema } from '../config/fractional-percent.ts';
import { UpstreamTransportSocketSchema } from '../tls/tls-schema.ts';
import { Http2ProtocolOptionsSchema, TypedExtensionProtocolOptionsSchema, HTTP_PROTOCOL_OPTIONS_KEY } from './protocol-options-schema.ts';

export { ClusterLoadAssignmentSchema, type ClusterLoadAssignmentWire } from './load-assignment-schema.ts';

export const DISCOVERY_TYPES = ['STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'EDS'] as const;
export type DiscoveryType = (typeof DISCOVERY_TYPES)[number];

export const LB_POLICIES = ['ROUND_ROBIN', 'LEAST_REQUEST', 'RING_HASH', 'RANDOM'] as const;
export type LbPolicy = (typeof LB_POLICIES)[number];

export const DNS_LOOKUP_FAMILIES = ['AUTO', 'V4_ONLY', 'V6_ONLY', 'V4_PREFERRED', 'ALL'] as const;
export type DnsLookupFamily = (typeof DNS_LOOKUP_FAMILIES)[number];

export const SUBSET_FALLBACK_POLICIES = ['NO_FALLBACK', 'ANY_ENDPOINT', 'DEFAULT_SUBSET'] as const;
export type SubsetFallbackPolicy = (typeof SUBSET_FALLBACK_POLICIES)[number];

/** RingHashLbConfig.minimum_ring_size / maximum_ring_size are limited to 8M entries. */
export const MAX_RING_SIZE = 8_388_608;
export const DEFAULT_MIN_RING_SIZE = 1024;

const RetryBudget = message('envoy.config.cluster.v3.CircuitBreakers.Thresholds.RetryBudget', {
  budget_percent: PercentSchema.optional(),
  min_retry_concurrency: uint32.optional(),
});

const Thresholds = message('envoy.config.cluster.v3.CircuitBreakers.Thresholds', {
  priority: enumOf('envoy.config.core.v3.RoutingPriority', ['DEFAULT', 'HIGH']).optional(),
  max_connections: uint32.optional(),
  max_pending_requests: uint32.optional(),
  max_requests: uint32.optional(),
  max_retries: uint32.optional(),
  retry_budget: RetryBudget.optional(),
  track_remaining: bool.optional(),
}, { unimplemented: ['max_connection_pools'] });

const CircuitBreakers = message('envoy.config.cluster.v3.CircuitBreakers', {
  thresholds: z.array(Thresholds).optional(),
  // Envoy honours only max_connections here and ignores the other fields; so does nodevoy.
  per_host_thresholds: z.array(Thresholds).optional(),
});

const CommonLbConfig = message('envoy.config.cluster.v3.Cluster.CommonLbConfig', {
  healthy_panic_threshold: PercentSchema.optional(),
}, {
  unimplemented: ['zone_aware_lb_config', 'locality_weighted_lb_config', 'update_merge_window',
    'ignore_new_hosts_until_first_hc', 'close_connections_on_host_set_change', 'consistent_hashing_lb_config',
    'override_host_status'],
});

const RingHashLbConfig = message('envoy.config.cluster.v3.Cluster.RingHashLbConfig', {
  minimum_ring_size: uint64.refine((n) => n <= MAX_RING_SIZE, `minimum_ring_size must be at most ${MAX_RING_SIZE}`).optional(),
  maximum_ring_size: uint64.refine((n) => n <= MAX_RING_SIZE, `maximum_ring_size must be at most ${MAX_RING_SIZE}`).optional(),
  hash_function: enumOf('envoy.config.cluster.v3.Cluster.RingHashLbConfig.HashFunction', ['XX_HASH', 'MURMUR_HASH_2']).optional(),
});

const RuntimeDouble = message('envoy.config.core.v3.RuntimeDouble', {
  default_value: z.number(),
  // nodevoy has no runtime layer, so the key never overrides default_value (as in an Envoy without it).
  runtime_key: z.string().optional(),
});

const LeastRequestLbConfig = message('envoy.config.cluster.v3.Cluster.LeastRequestLbConfig', {
  choice_count: uint32.refine((n) => n >= 2, 'choice_count must be at least 2').optional(),
  active_request_bias: RuntimeDouble.refine((d) => d.default_value >= 0, 'active_request_bias must be >= 0').optional(),
}, { unimplemented: ['slow_start_config'] });

const RoundRobinLbConfig = message('envoy.config.cluster.v3.Cluster.RoundRobinLbConfig', {}, {
  unimplemented: ['slow_start_config'],
});

const LbSubsetSelector = message('envoy.config.cluster.v3.Cluster.LbSubsetConfig.LbSubsetSelector', {
  keys: z.array(z.string()).optional(),
  fallback_policy: enumOf('envoy.config.cluster.v3.Cluster.LbSubsetConfig.LbSubsetSelector.LbSubsetSelectorFallbackPolicy',
    ['NOT_DEFINED', 'NO_FALLBACK', 'ANY_ENDPOINT', 'DEFAULT_SUBSET'], ['KEYS_SUBSET']).optional(),
}, { unimplemented: ['fallback_keys_subset', 'single_host_per_subset'] });

const LbSubsetConfig = message('envoy.config.cluster.v3.Cluster.LbSubsetConfig', {
  fallback_policy: enumOf('envoy.config.cluster.v3.Cluster.LbSubsetConfig.LbSubsetFallbackPolicy', SUBSET_FALLBACK_POLICIES).optional(),
  default_subset: struct.optional(),
  subset_selectors: z.array(LbSubsetSelector).optional(),
}, {
  unimplemented: ['locality_weight_aware', 'scale_locality_weight', 'panic_mode_any', 'list_as_any',
    'metadata_fallback_policy'],
});

/** Cluster.EdsClusterConfig: where an EDS cluster's ClusterLoadAssignment comes from, and its name there. */
const EdsClusterConfig = message('envoy.config.cluster.v3.Cluster.EdsClusterConfig', {
  eds_config: ConfigSourceSchema,
  service_name: z.string().optional(),
});

const ClusterFields = message('envoy.config.cluster.v3.Cluster', {
  name: z.string().min(1, 'name must not be empty'),
  alt_stat_name: z.string().optional(),
  type: enumOf('envoy.config.cluster.v3.Cluster.DiscoveryType', DISCOVERY_TYPES, ['ORIGINAL_DST'],
    ['STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'EDS', 'ORIGINAL_DST']).optional(),
  eds_cluster_config: EdsClusterConfig.optional(),
  connect_timeout: positiveDuration.optional(),
  per_connection_buffer_limit_bytes: uint32.optional(),
  lb_policy: enumOf('envoy.config.cluster.v3.Cluster.LbPolicy', LB_POLICIES,
    ['MAGLEV', 'CLUSTER_PROVIDED', 'LOAD_BALANCING_POLICY_CONFIG'],
    ['ROUND_ROBIN', 'LEAST_REQUEST', 'RING_HASH', 'RANDOM', '(reserved)', 'MAGLEV', 'CLUSTER_PROVIDED', 'LOAD_BALANCING_POLICY_CONFIG']).optional(),
  load_assignment: ClusterLoadAssignmentSchema.optional(),
  circuit_breakers: CircuitBreakers.optional(),
  http2_protocol_options: Http2ProtocolOptionsSchema.optional(),
  typed_extension_protocol_options: TypedExtensionProtocolOptionsSchema.optional(),
  dns_refresh_rate: duration.refine((ms) => ms > 1, 'dns_refresh_rate must be greater than 1ms').optional(),
  dns_lookup_family: enumOf('envoy.config.cluster.v3.Cluster.DnsLookupFamily', DNS_LOOKUP_FAMILIES).optional(),
  lb_subset_config: LbSubsetConfig.optional(),
  ring_hash_lb_config: RingHashLbConfig.optional(),
  least_request_lb_config: LeastRequestLbConfig.optional(),
  round_robin_lb_config: RoundRobinLbConfig.optional(),
  common_lb_config: CommonLbConfig.optional(),
  outlier_detection: OutlierDetectionSchema.optional(),
  // UpstreamTlsContext (translated while parsing: files read, SecureContext built) or raw_buffer.
  transport_socket: UpstreamTransportSocketSchema.optional(),
  // Opaque data for filters and /config_dump; nothing in nodevoy reads it yet.
  metadata: MetadataSchema.optional(),
}, {
  unimplemented: ['transport_socket_matches', 'transport_socket_matcher', 'cluster_type',
    'per_connection_buffer_high_watermark_timeout', 'health_checks', 'max_requests_per_connection',
    'upstream_http_protocol_options', 'common_http_protocol_options', 'http_protocol_options', 'dns_jitter',
    'dns_failure_refresh_rate', 'respect_dns_ttl', 'dns_resolvers', 'use_tcp_for_dns_lookups', 'dns_resolution_config',
    'typed_dns_resolver_config', 'wait_for_warm_on_init', 'cleanup_interval',
    'upstream_bind_config', 'maglev_lb_config', 'original_dst_lb_config', 'protocol_selection',
    'upstream_connection_options', 'close_connections_on_host_health_failure', 'ignore_health_on_host_removal',
    'filters', 'load_balancing_policy', 'lrs_server', 'lrs_report_endpoint_metrics', 'track_timeout_budgets',
    'upstream_config', 'track_cluster_stats', 'preconnect_policy', 'connection_pool_per_downstream_connection'],
});

type ClusterFieldsWire = z.output<typeof ClusterFields>;

/** The per-policy lb config fields (Envoy's `lb_config` oneof) and the lb_policy each belongs to. */
const LB_CONFIG_POLICY = {
  ring_hash_lb_config: 'RING_HASH',
  least_request_lb_config: 'LEAST_REQUEST',
  round_robin_lb_config: 'ROUND_ROBIN',
} as const satisfies Partial<Record<keyof ClusterFieldsWire, LbPolicy>>;

/** Envoy's cluster-construction checks that span several fields; each issue carries the offending path. */
function crossFieldRules(c: ClusterFieldsWire, ctx: z.RefinementCtx): void {
  const type = c.type ?? 'STATIC';
  const policy = c.lb_policy ?? 'ROUND_ROBIN';
  const localities = c.load_assignment?.endpoints ?? [];

  localities.forEach((locality, i) => {
    (locality.lb_endpoints ?? []).forEach((lbEndpoint, j) => {
      const address = lbEndpoint.endpoint.address.socket_address.address;
      if (type === 'STATIC' && isIP(address) === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['load_assignment', 'endpoints', i, 'lb_endpoints', j, 'endpoint', 'address', 'socket_address', 'address'],
          message: `malformed IP address "${address}": a STATIC cluster needs IP addresses; use type STRICT_DNS or LOGICAL_DNS for hostnames`,
        });
      }
    });
  });

  // Envoy's EdsClusterFactory: "cannot create an EDS cluster without an EDS config".
  if (type === 'EDS' && c.eds_cluster_config === undefined) {
    ctx.addIssue({ code: 'custom', path: ['eds_cluster_config'], message: 'cannot create an EDS cluster without an EDS config (eds_cluster_config is required for type EDS)' });
  }
  if (type !== 'EDS' && c.eds_cluster_config !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['eds_cluster_config'], message: `eds_cluster_config is only used by type EDS clusters (type is ${type})` });
  }
  if (type === 'EDS' && c.load_assignment !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['load_assignment'], message: 'an EDS cluster takes its endpoints from EDS, not from load_assignment' });
  }

  if (type === 'LOGICAL_DNS') {
    const count = localities.length === 1 ? (localities[0]?.lb_endpoints?.length ?? 0) : localities.length;
    if (localities.length !== 1 || count !== 1) {
      ctx.addIssue({
        code: 'custom', path: ['load_assignment', 'endpoints'],
        message: 'LOGICAL_DNS clusters must have a single locality_lb_endpoint and a single lb_endpoint (the name to resolve)',
      });
    }
  }

  for (const [field, owner] of Object.entries(LB_CONFIG_POLICY)) {
    if (c[field as keyof typeof LB_CONFIG_POLICY] !== undefined && policy !== owner) {
      ctx.addIssue({ code: 'custom', path: [field], message: `${field} requires lb_policy ${owner} (lb_policy is ${policy})` });
    }
  }

  const ring = c.ring_hash_lb_config;
  if (ring) {
    const min = ring.minimum_ring_size ?? DEFAULT_MIN_RING_SIZE;
    const max = ring.maximum_ring_size ?? MAX_RING_SIZE;
    if (min > max) {
      ctx.addIssue({
        code: 'custom', path: ['ring_hash_lb_config', 'minimum_ring_size'],
        message: `minimum_ring_size (${min}) must not exceed maximum_ring_size (${max})`,
      });
    }
  }

  if (c.http2_protocol_options !== undefined && c.typed_extension_protocol_options?.[HTTP_PROTOCOL_OPTIONS_KEY] !== undefined) {
    ctx.addIssue({
      code: 'custom', path: ['http2_protocol_options'],
      message: `the legacy http2_protocol_options cannot be combined with typed_extension_protocol_options["${HTTP_PROTOCOL_OPTIONS_KEY}"]`,
    });
  }

}

export const ClusterSchema = ClusterFields.superRefine(crossFieldRules);
export type ClusterWire = z.output<typeof ClusterSchema>;

