// Translates a parsed RouteConfiguration into the runtime route table (RouteConfig in types.ts): checks
// what the schema cannot (unique domains, known clusters, per-filter configs, direct response bodies),
// collecting every error with its path, and pre-compiles every matcher, mutation and action.

import { readFileSync } from 'node:fs';
import { fail, joinPath, ok, type ConfigError, type Result } from '../common/result.ts';
import type { HeaderMap, RequestHeaders } from '../http/headers.ts';
import type { ClusterChoice, DirectResponseAction, HeaderFormatContext, RequestMirrorPolicy, RetryPolicy, Route, RouteConfig, RouteDecorator, VirtualHostInfo } from './types.ts';
import type { DirectResponseActionWire, RequestMirrorPolicyWire, RouteConfigurationWire, RouteWire, VirtualHostWire } from './route-config-schema.ts';
import { compileHeaderMutations, type HeaderMutations } from './header-mutation.ts';
import { parsePerFilterConfigs, type PerFilterConfigLookup } from './per-filter-config.ts';
import { compileRouteMatch, pathWithoutQuery, type RouteMatcher } from './route-matcher.ts';
import { ForwardAction, compileMirrorPolicies, rewriteAuthority } from './route-action.ts';
import { translateRetryPolicy } from './retry-policy-schema.ts';
import { Redirect, httpsRedirect } from './redirect-action.ts';
import { VirtualHostSelector } from './virtual-host-selector.ts';

export interface BuildRouteConfigOptions {
  /** Error path root, e.g. `static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config`. */
  readonly path: string;
  /** Whether a cluster exists; used when validate_clusters is on. Without it clusters are not checked. */
  readonly clusterExists?: (name: string) => boolean;
  /**
   * validate_clusters when the field is absent: true for an inline route_config (the default here),
   * false for RDS resources.
   */
  readonly validateClustersByDefault?: boolean;
  /** Schema of typed_per_filter_config for a filter name; undefined = no such filter → error. */
  readonly perFilterConfig?: PerFilterConfigLookup;
}

/** The virtual host a route belongs to, with the VirtualHost flags the router reads. */
export interface VirtualHostDetails extends VirtualHostInfo {
  /** include_request_attempt_count: send x-envoy-attempt-count upstream. */
  readonly includeRequestAttemptCount: boolean;
  /** include_attempt_count_in_response: send x-envoy-attempt-count downstream. */
  readonly includeAttemptCountInResponse: boolean;
}

/** RouteConfiguration.max_direct_response_body_size_bytes default. */
const DEFAULT_MAX_DIRECT_RESPONSE_BODY = 4096;

const NO_MUTATIONS: readonly HeaderMutations[] = [];
const NO_FILTER_CONFIG: ReadonlyMap<string, unknown> = new Map();

/** One level's compiled header mutations (route config, vhost, route, weighted cluster). */
interface MutationLevel {
  readonly request: HeaderMutations | null;
  readonly response: HeaderMutations | null;
}

/** A level that also has typed_per_filter_config (route config, vhost, route). */
interface Level extends MutationLevel {
  readonly perFilter: ReadonlyMap<string, unknown>;
}

/** Mutations innermost-first; applied in that order unless most_specific_header_mutations_wins. */
function chain(levels: readonly MutationLevel[], pick: (l: MutationLevel) => HeaderMutations | null, mostSpecificWins: boolean): readonly HeaderMutations[] {
  const list = levels.map(pick).filter((m): m is HeaderMutations => m !== null);
  if (list.length === 0) return NO_MUTATIONS;
  // Envoy applies most → least specific so the outer level wins conflicts; with
  // most_specific_header_mutations_wins it applies least → most specific instead.
  return mostSpecificWins ? list.reverse() : list;
}

/** typed_per_filter_config: the most specific level wins. */
function mergePerFilter(levels: readonly Level[]): ReadonlyMap<string, unknown> {
  const merged = new Map<string, unknown>();
  for (let i = levels.length - 1; i >= 0; i--) for (const [k, v] of levels[i]!.perFilter) merged.set(k, v);
  return merged.size === 0 ? NO_FILTER_CONFIG : merged;
}

/** What a route keeps per weighted cluster (ClusterChoice.weightedIndex indexes these). */
interface WeightedExtras {
  readonly request: readonly HeaderMutations[];
  readonly response: readonly HeaderMutations[];
  readonly hostRewrite: string | undefined;
}

class BuiltRoute implements Route {
  readonly name: string;
  readonly virtualHost: VirtualHostDetails;
  readonly action: Route['action'];
  readonly matcher: RouteMatcher | null;
  readonly decorator: RouteDecorator | null;
  private readonly request: readonly HeaderMutations[];
  private readonly response: readonly HeaderMutations[];
  private readonly perFilter: ReadonlyMap<string, unknown>;
  private readonly weighted: readonly WeightedExtras[];

  constructor(init: {
    name: string; virtualHost: VirtualHostDetails; action: Route['action']; matcher: RouteMatcher | null;
    request: readonly HeaderMutations[]; response: readonly HeaderMutations[];
    perFilter: ReadonlyMap<string, unknown>; weighted: readonly WeightedExtras[]; decorator?: RouteDecorator | null;
  }) {
    this.name = init.name;
    this.virtualHost = init.virtualHost;
    this.action = init.action;
    this.matcher = init.matcher;
    this.request = init.request;
    this.response = init.response;
    this.perFilter = init.perFilter;
    this.weighted = init.weighted;
    this.decorator = init.decorator ?? null;
  }

  applyRequestHeaders(request: RequestHeaders, ctx: HeaderFormatContext, cluster?: ClusterChoice): void {
    const w = cluster?.weightedIndex !== undefined ? this.weighted[cluster.weightedIndex] : undefined;
    for (const m of w?.request ?? this.request) m.apply(request.headers, ctx);
    // ClusterWeight.host_rewrite_literal overrides the route's host rewrite for that cluster.
    if (w?.hostRewrite !== undefined) {
      const original = request.headers['x-envoy-original-host'];
      rewriteAuthority(request, w.hostRewrite);
      if (original !== undefined) request.headers['x-envoy-original-host'] = original;
    }
  }

  applyResponseHeaders(headers: HeaderMap, ctx: HeaderFormatContext, cluster?: ClusterChoice): void {
    const w = cluster?.weightedIndex !== undefined ? this.weighted[cluster.weightedIndex] : undefined;
    for (const m of w?.response ?? this.response) m.apply(headers, ctx, ctx.info.responseCode);
  }

  perFilterConfig(filterName: string): unknown {
    return this.perFilter.get(filterName);
  }
}

/** A virtual host's routes in order, plus its require_tls redirect. */
class VirtualHostRoutes {
  private readonly routes: readonly BuiltRoute[];
  /** VirtualHost.require_tls: null = NONE. */
  private readonly tlsRedirect: BuiltRoute | null;
  private readonly tlsForInternal: boolean;

  constructor(routes: readonly BuiltRoute[], tlsRedirect: BuiltRoute | null, tlsForInternal: boolean) {
    this.routes = routes;
    this.tlsRedirect = tlsRedirect;
    this.tlsForInternal = tlsForInternal;
  }

  route(request: RequestHeaders): Route | null {
    // require_tls redirects when x-forwarded-proto (our request.scheme) is not https; EXTERNAL_ONLY
    // exempts requests Envoy marked internal (x-envoy-internal: true).
    if (this.tlsRedirect !== null && request.scheme !== 'https'
      && (this.tlsForInternal || request.headers['x-envoy-internal'] !== 'true')) {
      return this.tlsRedirect;
    }
    const pathOnly = pathWithoutQuery(request.path);
    for (const r of this.routes) if (r.matcher!.matches(request, pathOnly)) return r;
    return null;
  }
}

class RouteTable implements RouteConfig {
  readonly name: string;
  private readonly selector: VirtualHostSelector<VirtualHostRoutes>;

  constructor(name: string, selector: VirtualHostSelector<VirtualHostRoutes>) {
    this.name = name;
    this.selector = selector;
  }

  route(request: RequestHeaders): Route | null {
    const vhost = this.selector.select(request.authority);
    return vhost === null ? null : vhost.route(request);
  }
}

/** Collects every error of one translation; `at` paths are absolute. */
class Builder {
  readonly errors: ConfigError[] = [];
  private readonly opts: BuildRouteConfigOptions;
  private readonly checkClusters: boolean;
  private readonly maxBody: number;
  private readonly mostSpecificWins: boolean;

  constructor(wire: RouteConfigurationWire, opts: BuildRouteConfigOptions) {
    this.opts = opts;
    this.checkClusters = (wire.validate_clusters ?? opts.validateClustersByDefault ?? true) && opts.clusterExists !== undefined;
    this.maxBody = wire.max_direct_response_body_size_bytes ?? DEFAULT_MAX_DIRECT_RESPONSE_BODY;
    this.mostSpecificWins = wire.most_specific_header_mutations_wins ?? false;
  }

  level(wire: Parameters<typeof compileHeaderMutations>[0] & { typed_per_filter_config?: Record<string, unknown> | undefined }, path: string): Level {
    return {
      ...compileHeaderMutations(wire),
      perFilter: parsePerFilterConfigs(wire.typed_per_filter_config, this.opts.perFilterConfig, path, this.errors),
    };
  }

  cluster(name: string, path: string): void {
    if (this.checkClusters && !this.opts.clusterExists!(name)) {
      this.errors.push({ path, kind: 'invalid', message: `unknown cluster "${name}" (validate_clusters is on)` });
    }
  }

  /** request_mirror_policies of one level, compiled; their `cluster`s are checked as the route's are. */
  mirrorPolicies(wire: readonly RequestMirrorPolicyWire[] | undefined, path: string): readonly RequestMirrorPolicy[] {
    this.checkMirrorClusters(wire, path);
    return compileMirrorPolicies(wire);
  }

  /** validate_clusters covers mirror clusters too (Envoy: "route: unknown shadow cluster"). */
  private checkMirrorClusters(wire: readonly RequestMirrorPolicyWire[] | undefined, path: string): void {
    const at = joinPath(path, 'request_mirror_policies');
    (wire ?? []).forEach((p, i) => { if (p.cluster !== undefined) this.cluster(p.cluster, joinPath(joinPath(at, i), 'cluster')); });
  }

  virtualHosts(wire: RouteConfigurationWire, root: Level, rootMirrors: readonly RequestMirrorPolicy[]): VirtualHostSelector<VirtualHostRoutes> {
    const owner = new Map<string, number>();
    const entries: { domain: string; value: VirtualHostRoutes }[] = [];
    (wire.virtual_hosts ?? []).forEach((vh, i) => {
      const at = joinPath(joinPath(this.opts.path, 'virtual_hosts'), i);
      vh.domains.forEach((d, j) => {
        const domain = d.toLowerCase();
        const first = owner.get(domain);
        if (first !== undefined) {
          this.errors.push({
            path: joinPath(joinPath(at, 'domains'), j), kind: 'invalid',
            message: domain === '*'
              ? `only one virtual host may use the "*" domain (virtual_hosts[${first}] already does)`
              : `duplicate domain "${d}": virtual_hosts[${first}] already has it (domains must be unique)`,
          });
        } else {
          owner.set(domain, i);
        }
      });
      const routes = this.virtualHost(vh, at, root, rootMirrors);
      for (const domain of vh.domains) entries.push({ domain, value: routes });
    });
    return new VirtualHostSelector(entries, wire.ignore_port_in_host_matching ?? false);
  }

  private virtualHost(vh: VirtualHostWire, at: string, root: Level, rootMirrors: readonly RequestMirrorPolicy[]): VirtualHostRoutes {
    const info: VirtualHostDetails = Object.freeze({
      name: vh.name,
      includeRequestAttemptCount: vh.include_request_attempt_count ?? false,
      includeAttemptCountInResponse: vh.include_attempt_count_in_response ?? false,
    });
    const vhLevel = this.level(vh, at);
    const retryPolicy = vh.retry_policy !== undefined ? translateRetryPolicy(vh.retry_policy) : null;
    // A virtual host's non-empty request_mirror_policies replace the route configuration's.
    const own = this.mirrorPolicies(vh.request_mirror_policies, at);
    const mirrors = own.length > 0 ? own : rootMirrors;
    const routes = (vh.routes ?? []).map((r, j) => this.route(r, joinPath(joinPath(at, 'routes'), j), info, [vhLevel, root], retryPolicy, mirrors));
    const requireTls = vh.require_tls ?? 'NONE';
    const tlsRedirect = requireTls === 'NONE' ? null : new BuiltRoute({
      name: '', virtualHost: info, action: httpsRedirect(), matcher: null,
      request: NO_MUTATIONS, response: NO_MUTATIONS, perFilter: NO_FILTER_CONFIG, weighted: [],
    });
    return new VirtualHostRoutes(routes, tlsRedirect, requireTls === 'ALL');
  }

  /** `outer`: the vhost and route-config levels, innermost first. */
  private route(r: RouteWire, at: string, vhost: VirtualHostDetails, outer: readonly Level[], vhostRetryPolicy: RetryPolicy | null,
    outerMirrors: readonly RequestMirrorPolicy[]): BuiltRoute {
    const matcher = compileRouteMatch(r.match);
    const levels = [this.level(r, at), ...outer];
    let action: Route['action'];
    let weighted: WeightedExtras[] = [];
    if (r.route !== undefined) {
      const a = r.route;
      const actionAt = joinPath(at, 'route');
      if (a.cluster !== undefined) this.cluster(a.cluster, joinPath(actionAt, 'cluster'));
      weighted = (a.weighted_clusters?.clusters ?? []).map((c, k) => {
        const cAt = joinPath(joinPath(joinPath(actionAt, 'weighted_clusters'), 'clusters'), k);
        if (c.name !== undefined) this.cluster(c.name, joinPath(cAt, 'name'));
        const all = [compileHeaderMutations(c), ...levels];
        return {
          request: chain(all, (l) => l.request, this.mostSpecificWins),
          response: chain(all, (l) => l.response, this.mostSpecificWins),
          hostRewrite: c.host_rewrite_literal,
        };
      });
      this.checkMirrorClusters(a.request_mirror_policies, actionAt);
      action = new ForwardAction(a, matcher.rewriteLength, vhostRetryPolicy, outerMirrors);
    } else if (r.redirect !== undefined) {
      action = new Redirect(r.redirect, matcher.rewriteLength);
    } else {
      action = this.directResponse(r.direct_response!, joinPath(at, 'direct_response'));
    }
    return new BuiltRoute({
      name: r.name ?? '', virtualHost: vhost, action, matcher,
      request: chain(levels, (l) => l.request, this.mostSpecificWins),
      response: chain(levels, (l) => l.response, this.mostSpecificWins),
      perFilter: mergePerFilter(levels),
      weighted,
      decorator: r.decorator ? { operation: r.decorator.operation, propagate: r.decorator.propagate ?? true } : null,
    });
  }

  private directResponse(d: DirectResponseActionWire, at: string): DirectResponseAction {
    let body = '';
    const bodyAt = joinPath(at, 'body');
    if (d.body?.inline_string !== undefined) body = d.body.inline_string;
    else if (d.body?.inline_bytes !== undefined) body = Buffer.from(d.body.inline_bytes, 'base64').toString('utf8');
    else if (d.body?.filename !== undefined) {
      try {
        body = readFileSync(d.body.filename, 'utf8');
      } catch (e) {
        this.errors.push({ path: joinPath(bodyAt, 'filename'), kind: 'invalid', message: `cannot read ${d.body.filename}: ${(e as Error).message}` });
      }
    }
    const size = Buffer.byteLength(body);
    if (size > this.maxBody) {
      this.errors.push({ path: bodyAt, kind: 'invalid', message: `the body is ${size} bytes, more than max_direct_response_body_size_bytes (${this.maxBody})` });
    }
    return Object.freeze({ type: 'direct_response', status: d.status, body });
  }
}

/** Builds the runtime route table, or every error found (never throws for a schema-valid input). */
export function buildRouteConfig(wire: RouteConfigurationWire, opts: BuildRouteConfigOptions): Result<RouteConfig> {
  const b = new Builder(wire, opts);
  const root = b.level(wire, opts.path);
  const selector = b.virtualHosts(wire, root, b.mirrorPolicies(wire.request_mirror_policies, opts.path));
  if (b.errors.length > 0) return fail(b.errors);
  return ok(new RouteTable(wire.name ?? '', selector));
}
