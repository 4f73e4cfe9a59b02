// Translation of a schema-valid Listener (static_resources or LDS) into the frozen ListenerConfig the
// runtime builds from: its HTTP connection manager and, for an inline route_config, its route table
// (Envoy checks routes when the listener is loaded). Pure; every error carries its absolute path.

import { fail, ok, type Result } from '../common/result.ts';
import { toHcmConfig, type HcmConfig } from '../http/hcm-schema.ts';
import { NULL_ROUTE_CONFIG } from '../route/rds-route-config.ts';
import { buildRouteConfig } from '../route/route-config.ts';
import type { RouteConfig } from '../route/types.ts';
import { HCM_PATH_IN_LISTENER, hcmOf, type ListenerWire } from './listener-schema.ts';

export interface ListenerConfig {
  /** Listener.name; absent (static only) → `listener_<index>` (Envoy generates a UUID). */
  readonly name: string;
  readonly address: string;
  /** 0 = an ephemeral port chosen at bind time. */
  readonly port: number;
  /** socket_address.ipv4_compat: an IPv6 `::` bind also accepts IPv4 (Envoy default false = IPv6 only). */
  readonly ipv4Compat: boolean;
  /** Listener.stat_prefix; '' = derive `listener.<address>_<port>.`. */
  readonly statPrefix: string;
  readonly trafficDirection: 'UNSPECIFIED' | 'INBOUND' | 'OUTBOUND';
  /** enable_reuse_port (Envoy default true). */
  readonly enableReusePort: boolean;
  /** per_connection_buffer_limit_bytes (default 1 MiB). */
  readonly perConnectionBufferLimitBytes: number;
  readonly hcm: HcmConfig;
  /**
   * The inline route_config's table. With `hcm.rds` it is an empty table that routes nothing (Envoy's
   * NullConfigImpl: 404 NR) and the runtime serves the RDS provider's table instead.
   */
  readonly routeConfig: RouteConfig;
  /** The Listener as validated (for /config_dump and to tell an update from a resend). */
  readonly wire: ListenerWire;
}

export interface TranslateListenerOptions {
  /** Error path of the listener, e.g. `static_resources.listeners[0]` or `resources[2]`. */
  readonly path: string;
  /** Name used when the listener has none (static listeners only; LDS requires a name). */
  readonly defaultName: string;
  /** Whether a cluster exists, for an inline route_config's validate_clusters (default true there). */
  readonly clusterExists: (name: string) => boolean;
}

export function translateListener(wire: ListenerWire, opts: TranslateListenerOptions): Result<ListenerConfig> {
  const hcmPath = `${opts.path}.${HCM_PATH_IN_LISTENER}`;
  const hcmWire = hcmOf(wire);
  const routeWire = hcmWire.route_config;
  const hcm = toHcmConfig(hcmWire, routeWire);
  let routeConfig = NULL_ROUTE_CONFIG;
  if (routeWire !== undefined) {
    const filtersByName = new Map(hcm.httpFilters.map((f) => [f.name, f]));
    const route = buildRouteConfig(routeWire, {
      path: `${hcmPath}.route_config`,
      // RouteConfiguration.validate_clusters defaults to true for an inline route_config.
      ...(routeWire.validate_clusters !== false ? { clusterExists: opts.clusterExists } : {}),
      perFilterConfig: (filterName: string) => filtersByName.get(filterName)?.factory.perRouteSchema,
    });
    if (!route.ok) return fail(route.errors);
    routeConfig = route.value;
  }
  const socket = wire.address.socket_address;
  return ok(Object.freeze({
    name: wire.name !== undefined && wire.name !== '' ? wire.name : opts.defaultName,
    address: socket.address,
    port: socket.port_value,
    ipv4Compat: socket.ipv4_compat ?? false,
    statPrefix: wire.stat_prefix ?? '',
    trafficDirection: wire.traffic_direction ?? 'UNSPECIFIED',
    enableReusePort: wire.enable_reuse_port ?? true,
    perConnectionBufferLimitBytes: wire.per_connection_buffer_limit_bytes ?? 1024 * 1024,
    hcm,
    routeConfig,
    wire,
  }));
}

/**
 * Whether a listener update can keep the bound socket: same address, port (0 included), IPv6 mode and
 * enable_reuse_port. Everything else applies to the bound listener (Listener.update).
 */
export function sameSocket(a: ListenerConfig, b: ListenerConfig): boolean {
  return a.address === b.address && a.port === b.port && a.ipv4Compat === b.ipv4Compat && a.enableReusePort === b.enableReusePort;
}
