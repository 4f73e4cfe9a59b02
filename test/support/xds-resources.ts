// Builders of Envoy v3 xDS resources and of a dynamic bootstrap for proxy tests (the shapes nodevoy's
// control plane emits: REST config source on a static `xds_cluster`, EDS clusters, RDS listeners).

import { createLogger } from '../../proxy/common/logger.ts';
import { formatConfigError } from '../../proxy/common/result.ts';
import { validateBootstrap } from '../../proxy/config/bootstrap.ts';
import { Server, type ServerOptions } from '../../proxy/server/server.ts';

type Json = Record<string, unknown>;

export const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };

/**
 * The REST ConfigSource every resource points at. request_timeout is long so that a test advancing the
 * fake clock by refresh_delay never times out a request whose answer is still on its way.
 */
export function restSource(initialFetchTimeout?: string): Json {
  return {
    resource_api_version: 'V3',
    api_config_source: { api_type: 'REST', transport_api_version: 'V3', cluster_names: ['xds_cluster'], refresh_delay: '1s', request_timeout: '30s' },
    ...(initialFetchTimeout === undefined ? {} : { initial_fetch_timeout: initialFetchTimeout }),
  };
}

export function staticClusterJson(name: string, ports: readonly number[]): Json {
  return {
    name, type: 'STATIC', connect_timeout: '1s',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: ports.map((p) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } } })) }] },
  };
}

/** A bootstrap with `xds_cluster` → the management server and LDS/CDS from it. */
export function dynamicBootstrap(xdsPort: number, opts: { initialFetchTimeout?: string; staticListeners?: Json[]; staticClusters?: Json[] } = {}): Json {
  return {
    node: { id: 'sidecar~127.0.0.1~web-1.default~default.svc.cluster.local', cluster: 'web' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    dynamic_resources: { lds_config: restSource(opts.initialFetchTimeout), cds_config: restSource(opts.initialFetchTimeout) },
    static_resources: {
      clusters: [staticClusterJson('xds_cluster', [xdsPort]), ...(opts.staticClusters ?? [])],
      ...(opts.staticListeners ? { listeners: opts.staticListeners } : {}),
    },
  };
}

export function edsCluster(name: string, extra: Json = {}): Json {
  return { name, type: 'EDS', connect_timeout: '1s', eds_cluster_config: { eds_config: restSource(), service_name: name }, ...extra };
}

export function assignment(clusterName: string, ports: readonly number[]): Json {
  return {
    cluster_name: clusterName,
    endpoints: [{ lb_endpoints: ports.map((p) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } } })) }],
  };
}

function hcm(statPrefix: string, routes: Json, extra: Json = {}): Json {
  return { name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': HCM_TYPE, stat_prefix: statPrefix, ...routes, http_filters: [ROUTER], ...extra } };
}

/** A listener on 127.0.0.1:`port` (0 = ephemeral) whose HCM takes route table `routeConfigName` from RDS. */
export function rdsListener(name: string, routeConfigName: string, port = 0): Json {
  return {
    name, address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{ filters: [hcm(name, { rds: { config_source: restSource(), route_config_name: routeConfigName } })] }],
  };
}

/** A listener with an inline route_config sending everything to `cluster`; `hcmExtra` adds or overrides HCM fields. */
export function inlineListener(name: string, cluster: string, port = 0, hcmExtra: Json = {}): Json {
  return {
    name, address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{ filters: [hcm(name, { route_config: { ...routeConfiguration('inline', cluster), validate_clusters: false } }, hcmExtra)] }],
  };
}

/** A RouteConfiguration sending every request to `cluster`. */
export function routeConfiguration(name: string, cluster: string): Json {
  return { name, virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] }] };
}

/** Validates and builds a Server (not started), so a test can watch its init. */
export function createServer(bootstrap: Json, opts: Omit<ServerOptions, 'bootstrap'> = {}): Server {
  const validated = validateBootstrap(bootstrap);
  if (!validated.ok) throw new Error(validated.errors.map(formatConfigError).join('\n'));
  return Server.create({ logger: createLogger('off'), ...opts, bootstrap: validated.value });
}
