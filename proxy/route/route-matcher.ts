// A compiled RouteMatch (envoy.config.route.v3.RouteMatch): the path specifier, then gRPC, headers and
// query parameters, all ANDed. `prefix` sees the raw :path with its query string; `path`, `safe_regex`
// and `path_separated_prefix` see the path with query and fragment removed (checklist item 7).

import type { RequestHeaders } from '../http/headers.ts';
import { compileHeaderMatcher, matchAllHeaders, type HeaderMatch } from '../matchers/header-matcher.ts';
import { compileQueryParameterMatcher, type QueryParameterMatch } from '../matchers/query-parameter-matcher.ts';
import { compileRegex, startsWithIgnoreCase } from '../matchers/string-matcher.ts';
import type { RouteMatchWire } from './route-config-schema.ts';

/** Matches the path part; `pathOnly` is :path without query and fragment. */
type PathMatch = (path: string, pathOnly: string) => boolean;

export interface RouteMatcher {
  matches(request: RequestHeaders, pathOnly: string): boolean;
  /**
   * How many leading characters of :path prefix_rewrite replaces: the configured prefix, or the whole
   * path without query (-1) for path / safe_regex matches (currentUrlPathAfterRewriteWithMatchedPath).
   */
  readonly rewriteLength: number;
}

/** :path up to the first '?' or '#' (Http::PathUtil::removeQueryAndFragment). */
export function pathWithoutQuery(path: string): string {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) return path.slice(0, i);
  }
  return path;
}

function compilePathMatch(m: RouteMatchWire): { match: PathMatch; rewriteLength: number } {
  // case_sensitive (default true) applies to prefix, path and path_separated_prefix, not to regexes.
  const ignoreCase = m.case_sensitive === false;
  if (m.prefix !== undefined) {
    const prefix = ignoreCase ? m.prefix.toLowerCase() : m.prefix;
    return {
      match: ignoreCase ? (path) => startsWithIgnoreCase(path, prefix, 0) : (path) => path.startsWith(prefix),
      rewriteLength: prefix.length,
    };
  }
  if (m.path !== undefined) {
    const want = ignoreCase ? m.path.toLowerCase() : m.path;
    return {
      match: ignoreCase
        ? (_p, pathOnly) => pathOnly.length === want.length && startsWithIgnoreCase(pathOnly, want, 0)
        : (_p, pathOnly) => pathOnly === want,
      rewriteLength: -1,
    };
  }
  if (m.path_separated_prefix !== undefined) {
    const prefix = ignoreCase ? m.path_separated_prefix.toLowerCase() : m.path_separated_prefix;
    const n = prefix.length;
    return {
      match: (_p, pathOnly) => (pathOnly.length === n || (pathOnly.length > n && pathOnly.charCodeAt(n) === 47 /* / */))
        && (ignoreCase ? startsWithIgnoreCase(pathOnly, prefix, 0) : pathOnly.startsWith(prefix)),
      rewriteLength: n,
    };
  }
  const re = compileRegex(m.safe_regex!);
  return { match: (_p, pathOnly) => re.test(pathOnly), rewriteLength: -1 };
}

/** Grpc::Common::isGrpcRequestHeaders: content-type application/grpc, optionally with +suffix or ;params. */
function isGrpc(request: RequestHeaders): boolean {
  const ct = request.headers['content-type'];
  if (typeof ct !== 'string' || !ct.startsWith('application/grpc')) return false;
  const next = ct.charCodeAt(16);
  return ct.length === 16 || next === 43 /* + */ || next === 59 /* ; */;
}

class CompiledRouteMatch implements RouteMatcher {
  readonly rewriteLength: number;
  private readonly path: PathMatch;
  private readonly grpc: boolean;
  private readonly headers: readonly HeaderMatch[];
  private readonly query: readonly QueryParameterMatch[];

  constructor(m: RouteMatchWire) {
    const { match, rewriteLength } = compilePathMatch(m);
    this.path = match;
    this.rewriteLength = rewriteLength;
    this.grpc = m.grpc !== undefined;
    this.headers = (m.headers ?? []).map(compileHeaderMatcher);
    this.query = (m.query_parameters ?? []).map(compileQueryParameterMatcher);
  }

  matches(request: RequestHeaders, pathOnly: string): boolean {
    const path = request.path;
    if (!this.path(path, pathOnly)) return false;
    if (this.grpc && !isGrpc(request)) return false;
    if (this.headers.length > 0 && !matchAllHeaders(this.headers, request)) return false;
    if (this.query.length > 0) {
      const q = path.indexOf('?');
      const query = q < 0 ? '' : path.slice(q + 1);
      for (const m of this.query) if (!m(query)) return false;
    }
    return true;
  }
}

export function compileRouteMatch(m: RouteMatchWire): RouteMatcher {
  return new CompiledRouteMatch(m);
}
