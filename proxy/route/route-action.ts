// The forwarding action of a route (envoy.config.route.v3.RouteAction) at runtime: cluster selection
// (cluster / cluster_header / weighted_clusters), the request hash, path and host rewrites, timeouts.
// request_mirror_policies are compiled here too. Built from a validated RouteAction; per request it only
// reads headers and draws one random number.

import type { Random } from '../common/clock.ts';
import { firstValue, type RequestHeaders } from '../http/headers.ts';
import type { ClusterChoice, RequestMirrorPolicy, RetryPolicy, RouteAction, RoutingPriority } from './types.ts';
import type { ClusterWeightWire, RequestMirrorPolicyWire, RouteActionWire } from './route-config-schema.ts';
import { compileHashPolicies, type RequestHasher } from './hash-policy.ts';
import { compileRegex } from '../matchers/string-matcher.ts';
import { pathWithoutQuery } from './route-matcher.ts';
import { translateRetryPolicy } from './retry-policy-schema.ts';

/** Route timeout when `timeout` is absent (RouteAction.timeout). */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;

const NOT_FOUND_STATUS = { SERVICE_UNAVAILABLE: 503, NOT_FOUND: 404, INTERNAL_SERVER_ERROR: 500 } as const;

type Metadata = { filter_metadata?: Record<string, Record<string, unknown>> | undefined } | undefined;

/** Subset LB criteria: metadata_match.filter_metadata["envoy.lb"]. */
function lbCriteria(m: Metadata): Record<string, unknown> | undefined {
  return m?.filter_metadata?.['envoy.lb'];
}

/** Route criteria merged with the weighted cluster's, the weighted cluster winning per key. */
function mergeCriteria(route: Record<string, unknown> | undefined, cluster: Record<string, unknown> | undefined): Readonly<Record<string, unknown>> | undefined {
  if (route === undefined && cluster === undefined) return undefined;
  return Object.freeze({ ...route, ...cluster });
}

function choice(name: string, metadataMatch: Readonly<Record<string, unknown>> | undefined, weightedIndex?: number): ClusterChoice {
  return Object.freeze({
    name,
    ...(metadataMatch !== undefined ? { metadataMatch } : {}),
    ...(weightedIndex !== undefined ? { weightedIndex } : {}),
  });
}

/** Picks a ClusterChoice for a request; null = the cluster header is absent. */
type ClusterSelector = (request: RequestHeaders, random: Random) => ClusterChoice | null;

/** cluster_header (RouteAction or ClusterWeight): the header's first value names the cluster. */
function headerSelector(header: string, metadataMatch: Readonly<Record<string, unknown>> | undefined, weightedIndex?: number) {
  const name = header.toLowerCase();
  return (request: RequestHeaders): ClusterChoice | null => {
    const cluster = firstValue(request.headers, name);
    return cluster === undefined || cluster === '' ? null : choice(cluster, metadataMatch, weightedIndex);
  };
}

function weightedSelector(clusters: readonly ClusterWeightWire[], headerName: string | undefined,
  routeCriteria: Record<string, unknown> | undefined): ClusterSelector {
  const picks = clusters.map((c, i): ((r: RequestHeaders) => ClusterChoice | null) => {
    const criteria = mergeCriteria(routeCriteria, lbCriteria(c.metadata_match));
    if (c.cluster_header !== undefined) return headerSelector(c.cluster_header, criteria, i);
    const fixed = choice(c.name!, criteria, i);
    return () => fixed;
  });
  const weights = clusters.map((c) => c.weight ?? 0);
  const total = weights.reduce((a, b) => a + b, 0);
  const randomHeader = headerName?.toLowerCase();
  return (request, random) => {
    // WeightedCluster.header_name: a numeric header value replaces the random draw (consistent splits).
    let value = -1;
    if (randomHeader !== undefined) {
      const h = request.headers[randomHeader];
      if (typeof h === 'string' && /^\d+$/.test(h)) value = Number(BigInt(h) % BigInt(total));
    }
    if (value < 0) value = random.nextUint32() % total;
    // Random value modulo the total weight, then walk the cumulative weights.
    let end = 0;
    for (let i = 0; i < weights.length; i++) {
      end += weights[i]!;
      if (value < end) return picks[i]!(request);
    }
    return picks[picks.length - 1]!(request);
  };
}

/**
 * RE2 substitution syntax (`\1`, `\0` = whole match, `\\`) to String.prototype.replace syntax (`$1`, `$&`),
 * with literal `$` escaped.
 */
export function toJsSubstitution(re2: string): string {
  let out = '';
  for (let i = 0; i < re2.length; i++) {
    const c = re2[i]!;
    if (c === '$') { out += '$$'; continue; }
    if (c === '\\' && i + 1 < re2.length) {
      const next = re2[i + 1]!;
      if (next >= '0' && next <= '9') { out += next === '0' ? '$&' : `$${next}`; i++; continue; }
      if (next === '\\') { out += '\\'; i++; continue; }
    }
    out += c;
  }
  return out;
}

/** Rewrites :path (with its query) for prefix_rewrite or regex_rewrite; null when the action has neither. */
export type PathRewrite = (path: string) => string;

/**
 * prefix_rewrite replaces the first `rewriteLength` characters (the matched prefix), or the whole path
 * without query when rewriteLength is -1; regex_rewrite replaces every match in the path without query.
 * Both keep the query string.
 */
export function compilePathRewrite(prefixRewrite: string | undefined,
  regexRewrite: { pattern: { regex: string }; substitution: string } | undefined, rewriteLength: number): PathRewrite | null {
  if (prefixRewrite !== undefined) {
    if (rewriteLength >= 0) return (path) => prefixRewrite + path.slice(rewriteLength);
    return (path) => prefixRewrite + path.slice(pathWithoutQuery(path).length);
  }
  if (regexRewrite !== undefined) {
    const re = compileRegex(regexRewrite.pattern, { anchored: false, global: true });
    const substitution = toJsSubstitution(regexRewrite.substitution);
    return (path) => {
      const only = pathWithoutQuery(path);
      return only.replace(re, substitution) + path.slice(only.length);
    };
  }
  return null;
}

/** Sets :authority, keeping the original in x-envoy-original-host. */
export function rewriteAuthority(request: RequestHeaders, host: string): void {
  request.headers['x-envoy-original-host'] = request.authority;
  request.authority = host;
  request.headers.host = host;
}

/** RequestMirrorPolicy without runtime_fraction: every request is mirrored (Envoy's 100/HUNDRED default). */
const ALL_REQUESTS = Object.freeze({ numerator: 100, denominator: 100 });

const NO_MIRRORS: readonly RequestMirrorPolicy[] = Object.freeze([]);

/**
 * Compiles request_mirror_policies (of a route, virtual host or route configuration). runtime_key is not
 * read (no runtime layer): the default_value always applies, as in Envoy without a runtime override.
 */
export function compileMirrorPolicies(wire: readonly RequestMirrorPolicyWire[] | undefined): readonly RequestMirrorPolicy[] {
  if (wire === undefined || wire.length === 0) return NO_MIRRORS;
  return Object.freeze(wire.map((p): RequestMirrorPolicy => {
    const { numerator, denominator } = p.runtime_fraction ?? ALL_REQUESTS;
    const header = p.cluster_header?.toLowerCase();
    const cluster = p.cluster;
    return Object.freeze({
      clusterFor: header === undefined
        ? () => cluster
        // Envoy's getShadowCluster: an absent or empty header skips this policy for the request.
        : (request: RequestHeaders) => {
          const v = firstValue(request.headers, header);
          return v === '' ? undefined : v;
        },
      sampled: (stableRandom: number) => stableRandom % denominator < numerator,
      disableShadowHostSuffixAppend: p.disable_shadow_host_suffix_append ?? false,
      traceSampled: p.trace_sampled ?? true,
    });
  }));
}

export class ForwardAction implements RouteAction {
  readonly type = 'route' as const;
  readonly clusterNotFoundStatus: number;
  readonly timeoutMs: number;
  readonly idleTimeoutMs: number | undefined;
  readonly autoHostRewrite: boolean;
  readonly retryPolicy: RetryPolicy | null;
  readonly priority: RoutingPriority;
  readonly requestMirrorPolicies: readonly RequestMirrorPolicy[];
  private readonly select: ClusterSelector;
  private readonly hasher: RequestHasher | undefined;
  private readonly pathRewrite: PathRewrite | null;
  private readonly hostLiteral: string | undefined;
  private readonly hostHeader: string | undefined;

  /**
   * `rewriteLength` comes from the route's match (see RouteMatcher.rewriteLength); `vhostRetryPolicy` is
   * the virtual host's retry_policy, used when the route has none (the route's replaces it, no merge).
   * `outerMirrorPolicies` (the virtual host's, else the route configuration's) likewise apply when the
   * route has no request_mirror_policies of its own.
   */
  constructor(a: RouteActionWire, rewriteLength: number, vhostRetryPolicy: RetryPolicy | null = null,
    outerMirrorPolicies: readonly RequestMirrorPolicy[] = NO_MIRRORS) {
    const routeCriteria = lbCriteria(a.metadata_match);
    if (a.weighted_clusters !== undefined) {
      this.select = weightedSelector(a.weighted_clusters.clusters, a.weighted_clusters.header_name, routeCriteria);
    } else if (a.cluster_header !== undefined) {
      this.select = headerSelector(a.cluster_header, mergeCriteria(routeCriteria, undefined));
    } else {
      const fixed = choice(a.cluster!, mergeCriteria(routeCriteria, undefined));
      this.select = () => fixed;
    }
    this.clusterNotFoundStatus = NOT_FOUND_STATUS[a.cluster_not_found_response_code ?? 'SERVICE_UNAVAILABLE'];
    this.timeoutMs = a.timeout ?? DEFAULT_ROUTE_TIMEOUT_MS;
    this.idleTimeoutMs = a.idle_timeout;
    this.hasher = compileHashPolicies(a.hash_policy);
    this.pathRewrite = compilePathRewrite(a.prefix_rewrite, a.regex_rewrite, rewriteLength);
    this.hostLiteral = a.host_rewrite_literal;
    this.hostHeader = a.host_rewrite_header?.toLowerCase();
    this.autoHostRewrite = a.auto_host_rewrite === true;
    this.retryPolicy = a.retry_policy !== undefined ? translateRetryPolicy(a.retry_policy) : vhostRetryPolicy;
    this.priority = a.priority ?? 'DEFAULT';
    const own = compileMirrorPolicies(a.request_mirror_policies);
    this.requestMirrorPolicies = own.length > 0 ? own : outerMirrorPolicies;
  }

  selectCluster(request: RequestHeaders, random: Random): ClusterChoice | null {
    return this.select(request, random);
  }

  computeHash(request: RequestHeaders, downstreamAddress: string): bigint | undefined {
    return this.hasher?.(request, downstreamAddress);
  }

  rewriteRequest(request: RequestHeaders, upstreamHostname: string | undefined): void {
    if (this.pathRewrite !== null) {
      const original = request.path;
      request.path = this.pathRewrite(original);
      request.headers['x-envoy-original-path'] = original;
    }
    if (this.hostLiteral !== undefined) {
      rewriteAuthority(request, this.hostLiteral);
    } else if (this.hostHeader !== undefined) {
      const host = firstValue(request.headers, this.hostHeader);
      if (host !== undefined && host !== '') rewriteAuthority(request, host);
    } else if (this.autoHostRewrite && upstreamHostname !== undefined && upstreamHostname !== '') {
      rewriteAuthority(request, upstreamHostname);
    }
  }
}
