// Wire schema of envoy.config.route.v3.RouteConfiguration (inline route_config and RDS resources): the
// messages nodevoy implements, each declaring Envoy's other fields as not implemented. Oneof rules and
// regex validity are checked here so errors carry paths; cross-references are checked in route-config.ts.

import { z } from 'zod';
import { message, bool, duration, enumOf, struct, uint32 } from '../config/schema-kit.ts';
import { HeaderMatcherSchema } from '../matchers/header-matcher.ts';
import { QueryParameterMatcherSchema } from '../matchers/query-parameter-matcher.ts';
import { RegexMatcherSchema } from '../matchers/string-matcher.ts';
import { headerMutationFields } from './header-mutation.ts';
import { HashPolicySchema } from './hash-policy.ts';
import { typedPerFilterConfigField } from './per-filter-config.ts';
import { RetryPolicySchema } from './retry-policy-schema.ts';
import { RuntimeFractionalPercentSchema } from '../config/fractional-percent.ts';

/** Adds an issue when not exactly one (or, with `optional`, more than one) of `fields` is set. */
export function oneOf<T extends Record<string, unknown>>(name: string, fields: readonly (keyof T & string)[], opts: { optional?: boolean } = {}) {
  return (value: T, ctx: z.RefinementCtx): void => {
    const set = fields.filter((f) => value[f] !== undefined);
    if (set.length > 1) ctx.addIssue({ code: 'custom', message: `${name}: only one of ${fields.join(', ')} may be set (got ${set.join(', ')})` });
    else if (set.length === 0 && !opts.optional) ctx.addIssue({ code: 'custom', message: `${name}: one of ${fields.join(', ')} is required` });
  };
}

export const headerNameValue = z.string().min(1).regex(/^[!#$%&'*+\-.^_`|~0-9a-zA-Z]+$/, 'must be a valid HTTP header name');

/** envoy.config.core.v3.Metadata: kept as given (only `envoy.lb` under metadata_match has behaviour). */
export const MetadataSchema = message('envoy.config.core.v3.Metadata', {
  filter_metadata: z.record(z.string(), struct).optional(),
}, { unimplemented: ['typed_filter_metadata'] });

/** envoy.config.core.v3.DataSource; `filename` is read when the route table is built. */
export const DataSourceSchema = message('envoy.config.core.v3.DataSource', {
  filename: z.string().min(1).optional(),
  inline_bytes: z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'inline_bytes must be base64').optional(),
  inline_string: z.string().optional(),
}, { unimplemented: ['environment_variable', 'watched_directory'] })
  .superRefine(oneOf('DataSource', ['filename', 'inline_bytes', 'inline_string']));

/** envoy.type.matcher.v3.RegexMatchAndSubstitute (regex_rewrite). */
export const RegexMatchAndSubstituteSchema = message('envoy.type.matcher.v3.RegexMatchAndSubstitute', {
  pattern: RegexMatcherSchema,
  substitution: z.string(),
});

const GrpcRouteMatchOptionsSchema = message('envoy.config.route.v3.RouteMatch.GrpcRouteMatchOptions', {});

export const RouteMatchSchema = message('envoy.config.route.v3.RouteMatch', {
  prefix: z.string().optional(),
  path: z.string().optional(),
  safe_regex: RegexMatcherSchema.optional(),
  path_separated_prefix: z.string()
    .regex(/^[^?#]+[^?#/]$/, 'path_separated_prefix must not contain "?" or "#" nor end with "/"').optional(),
  case_sensitive: bool.optional(),
  headers: z.array(HeaderMatcherSchema).optional(),
  query_parameters: z.array(QueryParameterMatcherSchema).optional(),
  grpc: GrpcRouteMatchOptionsSchema.optional(),
}, {
  unimplemented: ['connect_matcher', 'path_match_policy', 'runtime_fraction', 'cookies', 'tls_context',
    'dynamic_metadata', 'filter_state'],
}).superRefine(oneOf('RouteMatch', ['prefix', 'path', 'safe_regex', 'path_separated_prefix']));

export type RouteMatchWire = z.output<typeof RouteMatchSchema>;

export const ClusterWeightSchema = message('envoy.config.route.v3.WeightedCluster.ClusterWeight', {
  name: z.string().min(1).optional(),
  cluster_header: headerNameValue.optional(),
  weight: uint32.optional(),
  metadata_match: MetadataSchema.optional(),
  ...headerMutationFields,
  host_rewrite_literal: z.string().min(1).optional(),
}, {
  // Envoy picks the weighted cluster while matching the route; nodevoy's router picks it after the
  // decoder filters have read their per-route config, so a weighted cluster's entry could not apply.
  unimplemented: ['typed_per_filter_config'],
}).superRefine(oneOf('ClusterWeight', ['name', 'cluster_header']));

export type ClusterWeightWire = z.output<typeof ClusterWeightSchema>;

export const WeightedClusterSchema = message('envoy.config.route.v3.WeightedCluster', {
  clusters: z.array(ClusterWeightSchema).min(1, 'weighted_clusters needs at least one cluster'),
  // Deprecated; current Envoy ignores it and uses the sum of the weights.
  total_weight: uint32.optional(),
  header_name: headerNameValue.optional(),
}, { unimplemented: ['runtime_key_prefix', 'use_hash_policy'] }).superRefine((w, ctx) => {
  const total = w.clusters.reduce((sum, c) => sum + (c.weight ?? 0), 0);
  if (total === 0) ctx.addIssue({ code: 'custom', path: ['clusters'], message: 'the sum of the cluster weights must be greater than 0' });
  if (total > 0xffff_ffff) ctx.addIssue({ code: 'custom', path: ['clusters'], message: `the sum of the cluster weights (${total}) must not exceed 4294967295` });
});

export type WeightedClusterWire = z.output<typeof WeightedClusterSchema>;

/**
 * envoy.config.route.v3.RouteAction.RequestMirrorPolicy (request_mirror_policies on a route, virtual host or
 * route configuration). trace_sampled is accepted and has no effect until nodevoy traces.
 */
export const RequestMirrorPolicySchema = message('envoy.config.route.v3.RouteAction.RequestMirrorPolicy', {
  cluster: z.string().min(1).optional(),
  cluster_header: headerNameValue.optional(),
  runtime_fraction: RuntimeFractionalPercentSchema.optional(),
  trace_sampled: bool.optional(),
  disable_shadow_host_suffix_append: bool.optional(),
}, { unimplemented: ['host_rewrite_literal', 'request_headers_mutations'] })
  .superRefine(oneOf('RequestMirrorPolicy', ['cluster', 'cluster_header']));

export type RequestMirrorPolicyWire = z.output<typeof RequestMirrorPolicySchema>;

const requestMirrorPolicies = z.array(RequestMirrorPolicySchema).optional();

const CLUSTER_NOT_FOUND = ['SERVICE_UNAVAILABLE', 'NOT_FOUND', 'INTERNAL_SERVER_ERROR'] as const;

export const RouteActionSchema = message('envoy.config.route.v3.RouteAction', {
  cluster: z.string().min(1).optional(),
  cluster_header: headerNameValue.optional(),
  weighted_clusters: WeightedClusterSchema.optional(),
  cluster_not_found_response_code: enumOf('envoy.config.route.v3.RouteAction.ClusterNotFoundResponseCode', CLUSTER_NOT_FOUND).optional(),
  metadata_match: MetadataSchema.optional(),
  prefix_rewrite: z.string().optional(),
  regex_rewrite: RegexMatchAndSubstituteSchema.optional(),
  host_rewrite_literal: z.string().min(1).optional(),
  auto_host_rewrite: bool.optional(),
  host_rewrite_header: headerNameValue.optional(),
  timeout: duration.optional(),
  idle_timeout: duration.optional(),
  hash_policy: z.array(HashPolicySchema).optional(),
  retry_policy: RetryPolicySchema.optional(),
  priority: enumOf('envoy.config.core.v3.RoutingPriority', ['DEFAULT', 'HIGH']).optional(),
  request_mirror_policies: requestMirrorPolicies,
}, {
  unimplemented: ['cluster_specifier_plugin', 'inline_cluster_specifier_plugin', 'path_rewrite_policy',
    'path_rewrite', 'host_rewrite_path_regex', 'append_x_forwarded_host', 'flush_timeout', 'early_data_policy',
    'retry_policy_typed_config', 'rate_limits',
    'include_vh_rate_limits', 'cors', 'max_grpc_timeout', 'grpc_timeout_offset', 'upgrade_configs',
    'internal_redirect_policy', 'internal_redirect_action', 'max_internal_redirects', 'hedge_policy',
    'max_stream_duration'],
}).superRefine((a, ctx) => {
  oneOf<typeof a>('RouteAction', ['cluster', 'cluster_header', 'weighted_clusters'])(a, ctx);
  oneOf<typeof a>('RouteAction', ['prefix_rewrite', 'regex_rewrite'], { optional: true })(a, ctx);
  oneOf<typeof a>('RouteAction', ['host_rewrite_literal', 'auto_host_rewrite', 'host_rewrite_header'], { optional: true })(a, ctx);
});

export type RouteActionWire = z.output<typeof RouteActionSchema>;

const REDIRECT_CODES = ['MOVED_PERMANENTLY', 'FOUND', 'SEE_OTHER', 'TEMPORARY_REDIRECT', 'PERMANENT_REDIRECT'] as const;

export const RedirectActionSchema = message('envoy.config.route.v3.RedirectAction', {
  https_redirect: bool.optional(),
  scheme_redirect: z.string().min(1).optional(),
  host_redirect: z.string().min(1).optional(),
  port_redirect: uint32.pipe(z.number().max(65535)).optional(),
  path_redirect: z.string().min(1).optional(),
  prefix_rewrite: z.string().optional(),
  regex_rewrite: RegexMatchAndSubstituteSchema.optional(),
  response_code: enumOf('envoy.config.route.v3.RedirectAction.RedirectResponseCode', REDIRECT_CODES).optional(),
  strip_query: bool.optional(),
}).superRefine((r, ctx) => {
  oneOf<typeof r>('RedirectAction', ['https_redirect', 'scheme_redirect'], { optional: true })(r, ctx);
  oneOf<typeof r>('RedirectAction', ['path_redirect', 'prefix_rewrite', 'regex_rewrite'], { optional: true })(r, ctx);
});

export type RedirectActionWire = z.output<typeof RedirectActionSchema>;

export const DirectResponseActionSchema = message('envoy.config.route.v3.DirectResponseAction', {
  status: uint32.pipe(z.number().min(200, 'status must be in [200, 600)').max(599, 'status must be in [200, 600)')),
  body: DataSourceSchema.optional(),
}, { unimplemented: ['body_format'] });

export type DirectResponseActionWire = z.output<typeof DirectResponseActionSchema>;

/** envoy.config.route.v3.Decorator: the tracing span's operation name for requests on the route. */
const DecoratorSchema = message('envoy.config.route.v3.Decorator', {
  operation: z.string().min(1, 'operation must not be empty'),
  propagate: bool.optional(),
});

export const RouteSchema = message('envoy.config.route.v3.Route', {
  name: z.string().optional(),
  match: RouteMatchSchema,
  route: RouteActionSchema.optional(),
  redirect: RedirectActionSchema.optional(),
  direct_response: DirectResponseActionSchema.optional(),
  metadata: MetadataSchema.optional(),
  ...headerMutationFields,
  typed_per_filter_config: typedPerFilterConfigField,
  decorator: DecoratorSchema.optional(),
}, {
  unimplemented: ['filter_action', 'non_forwarding_action', 'tracing',
    'per_request_buffer_limit_bytes', 'request_body_buffer_limit', 'stat_prefix'],
}).superRefine(oneOf('Route', ['route', 'redirect', 'direct_response']));

export type RouteWire = z.output<typeof RouteSchema>;

export const VirtualHostSchema = message('envoy.config.route.v3.VirtualHost', {
  name: z.string().min(1, 'virtual host name must not be empty'),
  domains: z.array(z.string().min(1, 'a domain must not be empty')).min(1, 'a virtual host needs at least one domain'),
  routes: z.array(RouteSchema).optional(),
  require_tls: enumOf('envoy.config.route.v3.VirtualHost.TlsRequirementType', ['NONE', 'EXTERNAL_ONLY', 'ALL']).optional(),
  ...headerMutationFields,
  typed_per_filter_config: typedPerFilterConfigField,
  // Parsed and exposed on the built VirtualHost; the router writes x-envoy-attempt-count from them.
  include_request_attempt_count: bool.optional(),
  include_attempt_count_in_response: bool.optional(),
  // Used by routes that have no retry_policy of their own.
  retry_policy: RetryPolicySchema.optional(),
  metadata: MetadataSchema.optional(),
  // Used by routes that have none of their own (the route's list replaces it, no merge).
  request_mirror_policies: requestMirrorPolicies,
}, {
  unimplemented: ['matcher', 'virtual_clusters', 'rate_limits', 'cors', 'retry_policy_typed_config',
    'hedge_policy', 'include_is_timeout_retry_header', 'per_request_buffer_limit_bytes', 'request_body_buffer_limit'],
});

export type VirtualHostWire = z.output<typeof VirtualHostSchema>;

export const RouteConfigurationSchema = message('envoy.config.route.v3.RouteConfiguration', {
  name: z.string().optional(),
  virtual_hosts: z.array(VirtualHostSchema).optional(),
  internal_only_headers: z.array(headerNameValue).optional(),
  ...headerMutationFields,
  most_specific_header_mutations_wins: bool.optional(),
  validate_clusters: bool.optional(),
  max_direct_response_body_size_bytes: uint32.optional(),
  ignore_port_in_host_matching: bool.optional(),
  typed_per_filter_config: typedPerFilterConfigField,
  metadata: MetadataSchema.optional(),
  // Used by virtual hosts that have none of their own.
  request_mirror_policies: requestMirrorPolicies,
}, {
  unimplemented: ['vhds', 'cluster_specifier_plugins',
    'ignore_path_parameters_in_path_matching', 'vhost_header'],
});

export type RouteConfigurationWire = z.output<typeof RouteConfigurationSchema>;
