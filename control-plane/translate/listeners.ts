// A proxy's listeners (nodevoy has no iptables, so they are addressed explicitly): `virtualOutbound` on
// <instanceIp>:<OUTBOUND_PORT> with RDS `outbound_http`, and one `inbound|<port>` per port of a service
// whose workloadSelector selects this proxy, forwarding to the local app through STATIC `inbound|<port>||`
// with the selected EnvoyFilter local rate limits before the router.

import type { EnvoyResource, ProxyIdentity } from '../xds/snapshot.ts';
import { FAULT_FILTER } from './http-route.ts';
import { ROOT_NAMESPACE, type Mesh, type MeshService } from './mesh.ts';
import { CONFIG_SOURCE, OUTBOUND_LISTENER_NAME, OUTBOUND_ROUTE_NAME, inboundClusterName, labelsMatch } from './names.ts';
import { policyClusterFields } from './traffic-policy.ts';

type Json = Record<string, unknown>;

const HCM_FILTER = 'envoy.filters.network.http_connection_manager';
const HCM_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };
/** The fault filter with no faults of its own: routes turn it on through typed_per_filter_config. */
const FAULT = { name: FAULT_FILTER, typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' } };

function listener(name: string, address: string, port: number, direction: 'INBOUND' | 'OUTBOUND', hcm: Json): Json {
  return {
    name,
    address: { socket_address: { address, port_value: port } },
    traffic_direction: direction,
    filter_chains: [{ filters: [{ name: HCM_FILTER, typed_config: { '@type': HCM_TYPE_URL, ...hcm } }] }],
  };
}

export function outboundListener(proxy: ProxyIdentity): EnvoyResource {
  return listener(OUTBOUND_LISTENER_NAME, proxy.instanceIp, proxy.outboundPort, 'OUTBOUND', {
    stat_prefix: OUTBOUND_ROUTE_NAME,
    rds: { route_config_name: OUTBOUND_ROUTE_NAME, config_source: CONFIG_SOURCE },
    http_filters: [FAULT, ROUTER],
  });
}

/** A service port served by this proxy's workload, and the port the workload listens on for it. */
interface InboundPort {
  readonly port: number;
  readonly endpointPort: number;
}

/**
 * The ports of services whose workloadSelector selects the proxy (same namespace, labels). The endpoint
 * port is the one of the WorkloadEntry at the proxy's address, else targetPort, else the service port.
 */
function inboundPorts(mesh: Mesh, proxy: ProxyIdentity): InboundPort[] {
  const byPort = new Map<number, InboundPort>();
  const seen = new Set<MeshService['entry']>();
  for (const service of mesh.services.values()) {
    const selector = service.entry.spec.workloadSelector?.labels;
    if (seen.has(service.entry) || selector === undefined || service.namespace !== proxy.namespace || !labelsMatch(selector, proxy.labels)) continue;
    seen.add(service.entry); // a ServiceEntry with several hosts serves its ports once
    const self = service.endpoints.find((e) => e.address === proxy.instanceIp);
    for (const p of service.httpPorts) {
      if (byPort.has(p.number)) continue;
      const endpointPort = (p.name === undefined ? undefined : self?.ports[p.name]) ?? p.targetPort ?? p.number;
      byPort.set(p.number, { port: p.number, endpointPort });
    }
  }
  return [...byPort.values()].sort((a, b) => a.port - b.port);
}

/** The selected EnvoyFilter rate limits (namespace-local, or mesh-wide from the root namespace); first of a name wins. */
function rateLimitFilters(mesh: Mesh, proxy: ProxyIdentity): Json[] {
  const byName = new Map<unknown, Json>();
  for (const r of mesh.rateLimits) {
    const selected = (r.namespace === proxy.namespace || r.namespace === ROOT_NAMESPACE) && (r.selector === undefined || labelsMatch(r.selector, proxy.labels));
    if (selected && !byName.has(r.filter['name'])) byName.set(r.filter['name'], r.filter);
  }
  return [...byName.values()];
}

export function inboundResources(mesh: Mesh, proxy: ProxyIdentity): { listeners: EnvoyResource[]; clusters: EnvoyResource[] } {
  const filters = [...rateLimitFilters(mesh, proxy), ROUTER];
  const listeners: EnvoyResource[] = [];
  const clusters: EnvoyResource[] = [];
  for (const { port, endpointPort } of inboundPorts(mesh, proxy)) {
    const cluster = inboundClusterName(port);
    listeners.push(listener(`inbound|${port}`, proxy.instanceIp, endpointPort, 'INBOUND', {
      stat_prefix: `inbound_0.0.0.0_${endpointPort}`,
      route_config: {
        name: cluster,
        virtual_hosts: [{
          name: `inbound|http|${port}`,
          domains: ['*'],
          // BuildDefaultHTTPInboundRoute: no timeout on the inbound hop.
          routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster, timeout: '0s' } }],
        }],
      },
      http_filters: filters,
    }));
    clusters.push({
      name: cluster,
      type: 'STATIC',
      ...policyClusterFields({}),
      load_assignment: {
        cluster_name: cluster,
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: proxy.appPorts[String(port)] ?? endpointPort } } } }] }],
      },
    });
  }
  return { listeners, clusters };
}
