// A proxy's listeners (nodevoy has no iptables, so they are addressed explicitly): `virtualOutbound` on
// <instanceIp>:<OUTBOUND_PORT> with RDS `outbound_http`, and one `inbound|<port>` per port of a service
// whose workloadSelector selects this proxy, forwarding to the local app through STATIC `inbound|<port>||`.
// Inbound filter chains follow the port's PeerAuthentication mode (STRICT: mTLS only; PERMISSIVE: mTLS and
// plaintext told apart by tls_inspector; DISABLE: plaintext); their HTTP filters are Istio's peer metadata
// exchange, the AuthorizationPolicy RBAC filters, Istio's stats, the selected EnvoyFilter local rate limits, then
// the router (telemetry.ts; MeshOptions.telemetry false leaves Istio's two out). Every HCM gets the tracing
// and access logs the mesh config and Telemetry resources give its side (observability.ts).

import type { EnvoyResource, ProxyIdentity } from '../xds/snapshot.ts';
import { authorizationFilters } from './authz.ts';
import { FAULT_FILTER } from './http-route.ts';
import type { Mesh, MeshService } from './mesh.ts';
import { hcmObservability } from './observability.ts';
import { CONFIG_SOURCE, OUTBOUND_LISTENER_NAME, OUTBOUND_ROUTE_NAME, ROOT_NAMESPACE, inboundClusterName, istioClusterMetadata, labelsMatch } from './names.ts';
import { DEFAULT_MTLS_MODE, type EffectiveMtlsMode } from './peer-authentication.ts';
import { telemetryFilters } from './telemetry.ts';
import { inboundMtlsSocket } from './tls-context.ts';
import { policyClusterFields } from './traffic-policy.ts';

type Json = Record<string, unknown>;

const HCM_FILTER = 'envoy.filters.network.http_connection_manager';
const HCM_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };
/** The fault filter with no faults of its own: routes turn it on through typed_per_filter_config. */
const FAULT = { name: FAULT_FILTER, typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' } };

const TLS_INSPECTOR = {
  name: 'envoy.filters.listener.tls_inspector',
  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' },
};

function listener(name: string, address: string, port: number, direction: 'INBOUND' | 'OUTBOUND', chains: { listenerFilters?: Json[]; filterChains: Json[] }): Json {
  return {
    name,
    address: { socket_address: { address, port_value: port } },
    traffic_direction: direction,
    ...(chains.listenerFilters === undefined ? {} : { listener_filters: chains.listenerFilters }),
    filter_chains: chains.filterChains,
  };
}

const hcmFilters = (hcm: Json) => [{ name: HCM_FILTER, typed_config: { '@type': HCM_TYPE_URL, ...hcm } }];

/**
 * The filter chains of an inbound port in its mTLS mode (Istio's inbound chains, one port per listener here):
 * mTLS chains match `transport_protocol: tls` and terminate with the workload certificate, plaintext chains
 * match `raw_buffer`; with tls_inspector, a STRICT port closes plaintext connections (no chain matches).
 */
function inboundChains(mode: EffectiveMtlsMode, hcm: Json): { listenerFilters?: Json[]; filterChains: Json[] } {
  const filters = hcmFilters(hcm);
  if (mode === 'DISABLE') return { filterChains: [{ filters }] };
  const mtls = { filter_chain_match: { transport_protocol: 'tls' }, filters, transport_socket: inboundMtlsSocket() };
  if (mode === 'STRICT') return { listenerFilters: [TLS_INSPECTOR], filterChains: [mtls] };
  return { listenerFilters: [TLS_INSPECTOR], filterChains: [mtls, { filter_chain_match: { transport_protocol: 'raw_buffer' }, filters }] };
}

export function outboundListener(mesh: Mesh, proxy: ProxyIdentity): EnvoyResource {
  const telemetry = telemetryFilters(mesh.telemetry, 'OUTBOUND');
  return listener(OUTBOUND_LISTENER_NAME, proxy.instanceIp, proxy.outboundPort, 'OUTBOUND', {
    filterChains: [{
      filters: hcmFilters({
        stat_prefix: OUTBOUND_ROUTE_NAME,
        rds: { route_config_name: OUTBOUND_ROUTE_NAME, config_source: CONFIG_SOURCE },
        ...hcmObservability(mesh.observability, proxy, 'CLIENT'),
        http_filters: [...telemetry.first, FAULT, ...telemetry.beforeRouter, ROUTER],
      }),
    }],
  });
}

/** A service port served by this proxy's workload, the port the workload listens on for it, and its services. */
interface InboundPort {
  readonly port: number;
  readonly endpointPort: number;
  /** Every service (host) of the port that selects the workload, in registry order. */
  readonly services: MeshService[];
}

/**
 * The ports of services whose workloadSelector selects the proxy (same namespace, labels). The endpoint
 * port is the one of the WorkloadEntry at the proxy's address, else targetPort, else the service port
 * (the first service declaring the port decides).
 */
function inboundPorts(mesh: Mesh, proxy: ProxyIdentity): InboundPort[] {
  const byPort = new Map<number, InboundPort>();
  for (const service of mesh.services.values()) {
    const selector = service.entry.spec.workloadSelector?.labels;
    if (selector === undefined || service.namespace !== proxy.namespace || !labelsMatch(selector, proxy.labels)) continue;
    const self = service.endpoints.find((e) => e.address === proxy.instanceIp);
    for (const p of service.httpPorts) {
      const claimed = byPort.get(p.number);
      if (claimed !== undefined) {
        claimed.services.push(service);
        continue;
      }
      const endpointPort = (p.name === undefined ? undefined : self?.ports[p.name]) ?? p.targetPort ?? p.number;
      byPort.set(p.number, { port: p.number, endpointPort, services: [service] });
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
  // Istio's HCM order: the peer metadata exchange, then authorization, so nothing else runs for a refused
  // request; the stats filter, then the EnvoyFilter patches inserted before the router.
  const telemetry = telemetryFilters(mesh.telemetry, 'INBOUND');
  const filters = [...telemetry.first, ...authorizationFilters(mesh.authorizationPolicies, proxy), ...telemetry.beforeRouter,
    ...rateLimitFilters(mesh, proxy), ROUTER];
  const observability = hcmObservability(mesh.observability, proxy, 'SERVER');
  const listeners: EnvoyResource[] = [];
  const clusters: EnvoyResource[] = [];
  for (const { port, endpointPort, services } of inboundPorts(mesh, proxy)) {
    const cluster = inboundClusterName(port);
    // Istio's default PERMISSIVE needs the workload certificate for its mTLS chain: plaintext only without it.
    const mode = mesh.peerAuthentications.explicitModeFor(proxy.namespace, proxy.labels, endpointPort) ?? (mesh.implicitMtls ? DEFAULT_MTLS_MODE : 'DISABLE');
    listeners.push(listener(`inbound|${port}`, proxy.instanceIp, endpointPort, 'INBOUND', inboundChains(mode, {
      stat_prefix: `inbound_0.0.0.0_${endpointPort}`,
      // Istio's sidecar inbound: the application learns who called it (x-forwarded-client-cert).
      forward_client_cert_details: 'APPEND_FORWARD',
      set_current_client_cert_details: { subject: true, dns: true, uri: true },
      route_config: {
        name: cluster,
        virtual_hosts: [{
          name: `inbound|http|${port}`,
          domains: ['*'],
          // BuildDefaultHTTPInboundRoute: no timeout on the inbound hop.
          routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster, timeout: '0s' } }],
        }],
      },
      ...observability,
      http_filters: filters,
    })));
    clusters.push({
      name: cluster,
      type: 'STATIC',
      ...policyClusterFields({}),
      metadata: istioClusterMetadata(services),
      load_assignment: {
        cluster_name: cluster,
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: proxy.appPorts[String(port)] ?? endpointPort } } } }] }],
      },
    });
  }
  return { listeners, clusters };
}
