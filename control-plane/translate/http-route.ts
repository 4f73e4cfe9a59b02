// One VirtualService HTTPRoute (with one of its matches) → an Envoy Route, following Istio's translateRoute:
// destinations → cluster / weighted_clusters, timeout (absent = none), retries, rewrite, redirect, header
// operations, fault → typed_per_filter_config, mirror → request_mirror_policies, consistent-hash policies.

import type { DestinationRule } from '../istio/resources.ts';
import type { Destination, Headers, HTTPMatchRequest, HTTPRoute, HTTPRouteDestination } from '../istio/virtual-service.ts';
import type { Mesh } from './mesh.ts';
import { durationJson, integerPercent, outboundClusterName, percentToFractional, resolveHost } from './names.ts';
import { retryPolicy } from './retry.ts';
import { routeMatch } from './route-match.ts';
import { consistentHashOf } from './traffic-policy.ts';

type Json = Record<string, unknown>;

export const FAULT_FILTER = 'envoy.filters.http.fault';
const FAULT_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';

/** Where a route is built: the VirtualService's namespace (short hosts resolve there) and the virtual host's port. */
export interface RouteContext {
  readonly mesh: Mesh;
  readonly namespace: string;
  readonly listenerPort: number;
}

/** A destination's cluster and the DestinationRule consistent hash for it (GetDestinationCluster). */
function destinationCluster(ctx: RouteContext, d: Destination): { cluster: string; hashPolicy: Json | undefined } {
  const host = resolveHost(d.host, ctx.namespace);
  const service = ctx.mesh.services.get(host);
  // No port: the service's only port, else the port the request arrived on.
  const port = d.port?.number ?? (service?.ports.length === 1 ? service.ports[0]!.number : ctx.listenerPort);
  const subset = d.subset ?? '';
  return { cluster: outboundClusterName(port, subset, host), hashPolicy: hashPolicy(ctx.mesh.destinationRules.get(host), subset, port) };
}

/** consistentHashToHashPolicy. */
export function hashPolicy(dr: DestinationRule | undefined, subset: string, port: number): Json | undefined {
  const hash = consistentHashOf(dr, subset, port);
  if (hash?.httpHeaderName !== undefined) return { header: { header_name: hash.httpHeaderName } };
  if (hash?.useSourceIp !== undefined) return { connection_properties: { source_ip: hash.useSourceIp } };
  return undefined;
}

/** TranslateHeadersOperations: `set` overwrites, `add` appends (each sorted by name); Host/:authority become a host rewrite. */
function headerOperations(h: Headers | undefined): { fields: Json; authority: string | undefined } {
  if (h === undefined) return { fields: {}, authority: undefined };
  let authority: string | undefined;
  const options = (ops: Readonly<Record<string, string>> | undefined, append: boolean, request: boolean): Json[] =>
    Object.entries(ops ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).flatMap(([key, value]) => {
      if (isAuthority(key)) {
        if (request && (!append || authority === undefined)) authority = value;
        return [];
      }
      if (key.startsWith(':')) return [];
      return [{ header: { key, value }, append_action: append ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD' }];
    });
  // `set` is read last for the authority so that it wins over `add`, as in Istio.
  const requestAdd = options(h.request?.add, true, true);
  const requestSet = options(h.request?.set, false, true);
  const fields: Json = {
    request_headers_to_add: [...requestSet, ...requestAdd],
    request_headers_to_remove: (h.request?.remove ?? []).filter((k) => !isInternal(k)),
    response_headers_to_add: [...options(h.response?.set, false, false), ...options(h.response?.add, true, false)],
    response_headers_to_remove: (h.response?.remove ?? []).filter((k) => !isInternal(k)),
  };
  for (const [k, v] of Object.entries(fields)) if ((v as unknown[]).length === 0) delete fields[k];
  return { fields, authority };
}

const isAuthority = (k: string) => k.toLowerCase() === ':authority' || k.toLowerCase() === 'host';
const isInternal = (k: string) => k.startsWith(':') || k.toLowerCase() === 'host';

/** Concatenates two header-operation field sets (route level, then a lone destination's). */
function mergeHeaderFields(a: Json, b: Json): Json {
  const out: Json = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = [...((out[k] as unknown[] | undefined) ?? []), ...(v as unknown[])];
  return out;
}

/** Route for `http` under `match` (undefined: the route has no match conditions). */
export function translateRoute(ctx: RouteContext, http: HTTPRoute, match: HTTPMatchRequest | undefined): Json {
  const name = match?.name ? `${http.name ?? ''}.${match.name}` : http.name;
  const route: Json = { ...(name ? { name } : {}), match: routeMatch(match) };
  const headers = headerOperations(http.headers);
  if (http.redirect !== undefined) {
    Object.assign(route, { redirect: redirectAction(http.redirect) }, headers.fields);
  } else {
    const { action, destinationHeaders } = routeAction(ctx, http, headers.authority);
    Object.assign(route, { route: action }, mergeHeaderFields(headers.fields, destinationHeaders));
  }
  if (http.fault !== undefined) route['typed_per_filter_config'] = { [FAULT_FILTER]: fault(http.fault) };
  return route;
}

function routeAction(ctx: RouteContext, http: HTTPRoute, headerAuthority: string | undefined): { action: Json; destinationHeaders: Json } {
  const hashPolicies: Json[] = [];
  let destinationHeaders: Json = {};
  let authority = http.rewrite?.authority || headerAuthority;
  let specifier: Json;
  let consistentHash = false;
  // Zero weights are dropped when there are other destinations; one destination left is a plain `cluster`
  // (Istio's route builder does the same, moving its header operations onto the route).
  const destinations = http.route.length === 1 ? http.route : http.route.filter((d) => (d.weight ?? 0) > 0);
  if (destinations.length === 1) {
    const d = destinations[0]!;
    const { cluster, hashPolicy: hash } = destinationCluster(ctx, d.destination);
    const ops = headerOperations(d.headers);
    destinationHeaders = ops.fields;
    // A destination's Host header applies only when the route itself sets none (Istio's processDestination).
    authority ??= ops.authority;
    if (hash !== undefined) hashPolicies.push(hash);
    consistentHash = hash !== undefined;
    specifier = { cluster };
  } else {
    const clusters = destinations.map((d) => weightedCluster(ctx, d, hashPolicies));
    specifier = { weighted_clusters: { clusters } };
  }
  const retry = retryPolicy(http.retries, consistentHash);
  const mirror = mirrorPolicy(ctx, http);
  const action: Json = {
    ...specifier,
    timeout: durationJson(http.timeout ?? 0),
    ...(http.rewrite?.uri ? { prefix_rewrite: http.rewrite.uri } : {}),
    ...(authority ? { host_rewrite_literal: authority } : {}),
    ...(hashPolicies.length > 0 ? { hash_policy: hashPolicies } : {}),
    ...(retry === undefined ? {} : { retry_policy: retry }),
    ...(mirror === undefined ? {} : { request_mirror_policies: [mirror] }),
  };
  return { action, destinationHeaders };
}

function weightedCluster(ctx: RouteContext, d: HTTPRouteDestination, hashPolicies: Json[]): Json {
  const { cluster, hashPolicy: hash } = destinationCluster(ctx, d.destination);
  if (hash !== undefined) hashPolicies.push(hash);
  const ops = headerOperations(d.headers);
  return { name: cluster, weight: d.weight ?? 0, ...ops.fields, ...(ops.authority ? { host_rewrite_literal: ops.authority } : {}) };
}

/** MirrorPercent: mirrorPercentage (0 = off), else 100 %. */
function mirrorPolicy(ctx: RouteContext, http: HTTPRoute): Json | undefined {
  if (http.mirror === undefined) return undefined;
  const pct = http.mirrorPercentage;
  if (pct !== undefined && pct.value <= 0) return undefined;
  const fraction = pct === undefined ? integerPercent(100) : percentToFractional(pct.value);
  return { cluster: destinationCluster(ctx, http.mirror).cluster, runtime_fraction: { default_value: fraction } };
}

const REDIRECT_CODES: Readonly<Record<number, string>> = {
  301: 'MOVED_PERMANENTLY', 302: 'FOUND', 303: 'SEE_OTHER', 307: 'TEMPORARY_REDIRECT', 308: 'PERMANENT_REDIRECT',
};

/** ApplyRedirect: the default code is 301; an explicit port equal to the scheme's default is left out. */
function redirectAction(r: NonNullable<HTTPRoute['redirect']>): Json {
  const scheme = r.scheme || 'http';
  const port = r.port !== undefined && !((r.port === 80 && scheme === 'http') || (r.port === 443 && scheme === 'https')) ? r.port : undefined;
  return {
    ...(r.authority ? { host_redirect: r.authority } : {}),
    ...(r.uri ? { path_redirect: r.uri } : {}),
    ...(r.scheme ? { scheme_redirect: r.scheme } : {}),
    ...(port === undefined ? {} : { port_redirect: port }),
    response_code: REDIRECT_CODES[r.redirectCode ?? 301],
  };
}

/** TranslateFault: percentages as millionths; a delay without one uses the deprecated integer percent (0). */
function fault(f: NonNullable<HTTPRoute['fault']>): Json {
  return {
    '@type': FAULT_TYPE_URL,
    ...(f.delay === undefined ? {} : {
      delay: {
        fixed_delay: durationJson(f.delay.fixedDelay),
        percentage: f.delay.percentage === undefined ? integerPercent(0) : percentToFractional(f.delay.percentage.value),
      },
    }),
    ...(f.abort === undefined ? {} : {
      abort: {
        http_status: f.abort.httpStatus,
        ...(f.abort.percentage === undefined ? {} : { percentage: percentToFractional(f.abort.percentage.value) }),
      },
    }),
  };
}
