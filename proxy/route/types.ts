// The runtime route table contract consumed by the connection manager and the router filter.
// Built once from a validated RouteConfiguration (route/route-config.ts); immutable afterwards.

import type { HeaderMap, RequestHeaders } from '../http/headers.ts';
import type { StreamInfo } from '../http/stream-info.ts';
import type { Random } from '../common/clock.ts';
import type { HeaderMatch } from '../matchers/header-matcher.ts';

export interface RouteConfig {
  readonly name: string;
  /** Virtual-host selection then first matching route, exactly as Envoy. null = no route (404 NR). */
  route(request: RequestHeaders): Route | null;
}

export interface VirtualHostInfo {
  readonly name: string;
  /** include_request_attempt_count: send x-envoy-attempt-count upstream (absent = false). */
  readonly includeRequestAttemptCount?: boolean;
  /** include_attempt_count_in_response: send x-envoy-attempt-count downstream (absent = false). */
  readonly includeAttemptCountInResponse?: boolean;
}

/** envoy.config.route.v3.RetryPolicy, translated (route/retry-policy-schema.ts). */
export interface RetryPolicy {
  /** retry_on as RetryOn bits (0 = only the timeouts below apply). */
  readonly retryOn: number;
  /** num_retries (default 1). */
  readonly numRetries: number;
  /** per_try_timeout in ms; 0 = none (each try bounded only by the route timeout). */
  readonly perTryTimeoutMs: number;
  /** per_try_idle_timeout in ms; 0 = none. */
  readonly perTryIdleTimeoutMs: number;
  /** retry_back_off (base 25 ms, max 10 × base by default). */
  readonly baseIntervalMs: number;
  readonly maxIntervalMs: number;
  readonly retriableStatusCodes: readonly number[];
  /** retriable_headers: response headers that make a response retriable. */
  readonly retriableHeaders: readonly HeaderMatch[];
  /** retriable_request_headers: when non-empty, one must match the request or retries are off. */
  readonly retriableRequestHeaders: readonly HeaderMatch[];
  /** retry_host_predicate previous_hosts: re-select hosts already attempted. */
  readonly previousHosts: boolean;
  /** host_selection_retry_max_attempts (default 1). */
  readonly hostSelectionRetryMaxAttempts: number;
}

/**
 * envoy.config.route.v3.RouteAction.RequestMirrorPolicy, translated (route/route-action.ts): which cluster
 * gets a fire-and-forget shadow copy of the request, and for which share of requests.
 */
export interface RequestMirrorPolicy {
  /** `cluster`, or the first value of `cluster_header`; undefined = this request is not mirrored. */
  clusterFor(request: RequestHeaders): string | undefined;
  /**
   * runtime_fraction.default_value (100 % when absent), decided with the request's one stable random draw
   * as Envoy's featureEnabled(runtime_key, default_value, stream id): `draw % denominator < numerator`.
   */
  sampled(stableRandom: number): boolean;
  /** disable_shadow_host_suffix_append: keep the authority as is instead of appending `-shadow`. */
  readonly disableShadowHostSuffixAppend: boolean;
  /** trace_sampled (default true): accepted; no effect until nodevoy has tracing. */
  readonly traceSampled: boolean;
}

/** envoy.config.core.v3.RoutingPriority: which circuit-breaker thresholds a request uses. */
export type RoutingPriority = 'DEFAULT' | 'HIGH';

/** Mutation context for header values that use %...% formatters. */
export interface HeaderFormatContext {
  readonly request: RequestHeaders;
  readonly info: StreamInfo;
}

export interface Route {
  /** Route.name (%ROUTE_NAME%), '' when unnamed. */
  readonly name: string;
  readonly virtualHost: VirtualHostInfo;
  readonly action: RouteAction | RedirectAction | DirectResponseAction;
  /**
   * Request header add/remove in Envoy's order (weighted cluster, route, vhost, route config);
   * `cluster` is the weighted-cluster choice, when there is one.
   */
  applyRequestHeaders(request: RequestHeaders, ctx: HeaderFormatContext, cluster?: ClusterChoice): void;
  applyResponseHeaders(headers: HeaderMap, ctx: HeaderFormatContext, cluster?: ClusterChoice): void;
  /** typed_per_filter_config for a filter name (most specific of route, vhost, route configuration). */
  perFilterConfig(filterName: string): unknown;
  /** Route.decorator: the span's operation name (and whether to propagate it); absent = none. */
  readonly decorator?: RouteDecorator | null;
}

/** envoy.config.route.v3.Decorator. */
export interface RouteDecorator {
  readonly operation: string;
  /** propagate (default true): x-envoy-decorator-operation goes upstream (egress) / downstream (ingress). */
  readonly propagate: boolean;
}

export interface ClusterChoice {
  readonly name: string;
  /** Subset LB criteria (`metadata_match.filter_metadata["envoy.lb"]`, merged with the weighted cluster's). */
  readonly metadataMatch?: Readonly<Record<string, unknown>>;
  /** Opaque handle the route uses for per-weighted-cluster header mutations and host rewrite. */
  readonly weightedIndex?: number;
}

export interface RouteAction {
  readonly type: 'route';
  /** Picks the cluster (cluster / cluster_header / weighted_clusters). null = cluster_header absent. */
  selectCluster(request: RequestHeaders, random: Random): ClusterChoice | null;
  /** cluster_not_found_response_code as a status (503 default, 404, 500). */
  readonly clusterNotFoundStatus: number;
  /** Route timeout in ms (15000 default; 0 = disabled). Enforced by the router. */
  readonly timeoutMs: number;
  /** Route idle_timeout in ms, when set (0 disables the HCM stream idle timeout for this route). */
  readonly idleTimeoutMs: number | undefined;
  /** hash_policy result for RING_HASH; undefined when no policy produced a hash. */
  computeHash(request: RequestHeaders, downstreamAddress: string): bigint | undefined;
  /**
   * Applies prefix_rewrite / regex_rewrite and host rewrites to the request in place, recording
   * x-envoy-original-path / x-envoy-original-host. `upstreamHostname` feeds auto_host_rewrite.
   */
  rewriteRequest(request: RequestHeaders, upstreamHostname: string | undefined): void;
  /** true when auto_host_rewrite is on (the router must pass the chosen host's hostname). */
  readonly autoHostRewrite: boolean;
  /** The route's retry_policy, else the virtual host's (the route's replaces it); null/absent = none. */
  readonly retryPolicy?: RetryPolicy | null;
  /** RouteAction.priority (absent = DEFAULT): selects the cluster's circuit-breaker thresholds. */
  readonly priority?: RoutingPriority;
  /**
   * request_mirror_policies: the route's, else the virtual host's, else the route configuration's (a
   * non-empty list at a level replaces the outer ones); absent/empty = no mirroring.
   */
  readonly requestMirrorPolicies?: readonly RequestMirrorPolicy[];
}

export interface RedirectAction {
  readonly type: 'redirect';
  /** The status (301 default) and the Location for this request. */
  redirect(request: RequestHeaders): { status: number; location: string };
}

export interface DirectResponseAction {
  readonly type: 'direct_response';
  readonly status: number;
  readonly body: string;
}
