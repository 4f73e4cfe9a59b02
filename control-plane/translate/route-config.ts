// The outbound RouteConfiguration of one proxy (`outbound_http`): a virtual host per (service host, HTTP port)
// with Istio's domain forms, routed by the host's VirtualService when one yields routes for this proxy and
// port (BuildHTTPRoutesForVirtualService), else by Istio's default route with its default retry policy.

import type { ServicePort } from '../istio/service-entry.ts';
import type { VirtualService } from '../istio/resources.ts';
import type { EnvoyResource, ProxyIdentity } from '../xds/snapshot.ts';
import { hashPolicy, translateRoute } from './http-route.ts';
import type { Mesh, MeshService } from './mesh.ts';
import { DOMAIN_SUFFIX, OUTBOUND_ROUTE_NAME, labelsMatch, outboundClusterName } from './names.ts';
import { retryPolicy } from './retry.ts';
import { isCatchAll } from './route-match.ts';

type Json = Record<string, unknown>;

/**
 * What of a proxy its outbound routes depend on: its namespace (short-name domains) and the labels that some
 * VirtualService match's `sourceLabels` names. Proxies with the same key get the same route table.
 */
function routeTableKey(mesh: Mesh, proxy: ProxyIdentity): string {
  let keys = sourceLabelKeys.get(mesh);
  if (keys === undefined) {
    const names = new Set<string>();
    for (const vs of mesh.virtualServices.values()) {
      for (const http of vs.spec.http) for (const m of http.match) for (const k of Object.keys(m.sourceLabels ?? {})) names.add(k);
    }
    keys = [...names].sort();
    sourceLabelKeys.set(mesh, keys);
  }
  return JSON.stringify([proxy.namespace, ...keys.map((k) => proxy.labels[k] ?? null)]);
}

const sourceLabelKeys = new WeakMap<Mesh, readonly string[]>();
const routeTables = new WeakMap<Mesh, Map<string, EnvoyResource>>();

/**
 * The proxy's `outbound_http`, translated once per mesh generation for all proxies that share a route table
 * key: one object, which the xDS server then serialises and hashes once for all of them. Callers must not
 * mutate it.
 */
export function outboundRouteConfiguration(mesh: Mesh, proxy: ProxyIdentity): EnvoyResource {
  let tables = routeTables.get(mesh);
  if (tables === undefined) {
    tables = new Map();
    routeTables.set(mesh, tables);
  }
  const key = routeTableKey(mesh, proxy);
  let table = tables.get(key);
  if (table === undefined) {
    table = buildOutboundRouteConfiguration(mesh, proxy);
    tables.set(key, table);
  }
  return table;
}

function buildOutboundRouteConfiguration(mesh: Mesh, proxy: ProxyIdentity): EnvoyResource {
  const taken = new Set<string>();
  const virtualHosts: Json[] = [];
  for (const service of mesh.services.values()) {
    for (const port of service.httpPorts) {
      // Envoy rejects a domain that two virtual hosts share: the first service keeps it.
      const domains = domainsOf(service, port.number, proxy.namespace).filter((d) => !taken.has(d));
      if (domains.length === 0) continue;
      for (const d of domains) taken.add(d);
      const vs = mesh.virtualServices.get(service.host);
      const routes = vs === undefined ? [] : virtualServiceRoutes(mesh, vs, port.number, proxy);
      virtualHosts.push({
        name: `${service.host}:${port.number}`,
        domains,
        routes: routes.length > 0 ? routes : [defaultRoute(mesh, service, port)],
      });
    }
  }
  return { name: OUTBOUND_ROUTE_NAME, virtual_hosts: virtualHosts };
}

/**
 * `<host>:<port>`, `<host>` and, for `<name>.<ns>.svc.cluster.local`, `<name>.<ns>.svc`, `<name>.<ns>` and
 * (from the same namespace only) `<name>`, each with and without the port. A port-less form names one
 * port only: the service's single HTTP port, or port 80.
 */
export function domainsOf(service: MeshService, port: number, proxyNamespace: string): string[] {
  const hosts = [service.host];
  const k8s = new RegExp(`^([^.]+)\\.([^.]+)\\.svc\\.${DOMAIN_SUFFIX.replaceAll('.', '\\.')}$`).exec(service.host);
  if (k8s !== null) {
    const [, name, ns] = k8s;
    hosts.push(`${name}.${ns}.svc`, `${name}.${ns}`);
    if (ns === proxyNamespace) hosts.push(name!);
  }
  const portless = port === 80 || service.httpPorts.length === 1;
  return hosts.flatMap((h) => (portless ? [`${h}:${port}`, h] : [`${h}:${port}`]));
}

/** The routes a VirtualService gives this proxy on this port; [] when every match is filtered out. */
function virtualServiceRoutes(mesh: Mesh, vs: VirtualService, port: number, proxy: ProxyIdentity): Json[] {
  const ctx = { mesh, namespace: vs.metadata.namespace, listenerPort: port };
  const out: Json[] = [];
  for (const http of vs.spec.http) {
    if (http.match.length === 0) {
      out.push(translateRoute(ctx, http, undefined));
      return out; // a route without conditions catches everything: later ones are unreachable
    }
    for (const match of http.match) {
      // Istio's translateRoute: a match bound to another port or to other source workloads does not apply here.
      if (match.port !== undefined && match.port !== port) continue;
      if (match.sourceLabels !== undefined && !labelsMatch(match.sourceLabels, proxy.labels)) continue;
      const route = translateRoute(ctx, http, match);
      out.push(route);
      if (isCatchAll(route['match'] as Json)) return out;
    }
  }
  return out;
}

/** BuildDefaultHTTPOutboundRoute: no timeout, the mesh default retry policy, the DestinationRule's hash policy. */
function defaultRoute(mesh: Mesh, service: MeshService, port: ServicePort): Json {
  const hash = hashPolicy(mesh.destinationRules.get(service.host), '', port.number);
  return {
    name: 'default',
    match: { prefix: '/' },
    route: {
      cluster: outboundClusterName(port.number, '', service.host),
      timeout: '0s',
      retry_policy: retryPolicy(undefined, false),
      ...(hash === undefined ? {} : { hash_policy: [hash] }),
    },
  };
}
