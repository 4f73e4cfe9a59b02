// Translation of a schema-valid Listener (static_resources or LDS) into the frozen ListenerConfig the
// runtime builds from: its filter chains (each an HTTP connection manager, its inline route table, and its
// TLS context), how a connection picks one (FilterChainMatch, tls_inspector) and the socket settings.
// Pure; every error carries its absolute path.

import { fail, ok, type ConfigError, type Result } from '../common/result.ts';
import type { ConfigSourceConfig } from '../config/config-source.ts';
import { toHcmConfig, type HcmConfig } from '../http/hcm-schema.ts';
import { NULL_ROUTE_CONFIG } from '../route/rds-route-config.ts';
import { buildRouteConfig } from '../route/route-config.ts';
import type { RouteConfig } from '../route/types.ts';
import type { DownstreamTlsConfig } from '../tls/tls-context.ts';
import { hcmOfChain, TLS_INSPECTOR, type FilterChainMatchWire, type FilterChainWire, type ListenerWire } from './listener-schema.ts';

export interface FilterChainConfig {
  /** FilterChain.name, else `filter_chains[<i>]` / `default_filter_chain`. */
  readonly name: string;
  /** Path of the chain's HTTP connection manager, relative to the listener. */
  readonly hcmPath: string;
  readonly match: FilterChainMatchWire | undefined;
  /** The DownstreamTlsContext of transport_socket; null = plaintext (raw_buffer). */
  readonly tls: DownstreamTlsConfig | null;
  readonly hcm: HcmConfig;
  /**
   * The inline route_config's table. With `hcm.rds` it is an empty table that routes nothing (Envoy's
   * NullConfigImpl: 404 NR) and the runtime serves the RDS provider's table instead.
   */
  readonly routeConfig: RouteConfig;
  /**
   * The chain's match and transport socket as configured: an LDS update that keeps a chain with the same
   * identity keeps its open connections (only the connection manager is swapped).
   */
  readonly identity: string;
}

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
  /** filter_chains in order; the listener picks one per connection. */
  readonly filterChains: readonly FilterChainConfig[];
  /** default_filter_chain: used when no chain matches (absent → the connection is closed). */
  readonly defaultFilterChain: FilterChainConfig | null;
  /** listener_filters has envoy.filters.listener.tls_inspector: SNI, ALPN and `tls` are detected. */
  readonly tlsInspector: boolean;
  /** listener_filters_timeout (default 15 s; 0 = none). */
  readonly listenerFiltersTimeoutMs: number;
  /** continue_on_listener_filters_timeout: on timeout, pick a chain with what is known instead of closing. */
  readonly continueOnListenerFiltersTimeout: boolean;
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

const DEFAULT_LISTENER_FILTERS_TIMEOUT_MS = 15_000;

function translateChain(chain: FilterChainWire, at: string, fallbackName: string, opts: TranslateListenerOptions): Result<FilterChainConfig> {
  const hcmPath = `${at}.filters[0].typed_config`;
  const hcmWire = hcmOfChain(chain);
  const routeWire = hcmWire.route_config;
  const hcm = toHcmConfig(hcmWire, routeWire);
  const errors: ConfigError[] = [];
  // Envoy's Zipkin driver checks its collector cluster when it is created (Config::Utility::checkCluster).
  const collector = hcm.tracing?.zipkin?.collectorCluster;
  if (collector !== undefined && !opts.clusterExists(collector)) {
    errors.push({ path: `${opts.path}.${hcmPath}.tracing.provider.typed_config.collector_cluster`, kind: 'invalid', message: `envoy.tracers.zipkin: unknown cluster '${collector}'` });
  }
  let routeConfig = NULL_ROUTE_CONFIG;
  if (routeWire !== undefined) {
    const filtersByName = new Map(hcm.httpFilters.map((f) => [f.name, f]));
    const route = buildRouteConfig(routeWire, {
      path: `${opts.path}.${hcmPath}.route_config`,
      // RouteConfiguration.validate_clusters defaults to true for an inline route_config.
      ...(routeWire.validate_clusters !== false ? { clusterExists: opts.clusterExists } : {}),
      perFilterConfig: (filterName: string) => filtersByName.get(filterName)?.factory.perRouteSchema,
    });
    if (route.ok) routeConfig = route.value;
    else errors.push(...route.errors);
  }
  if (errors.length > 0) return fail(errors);
  return ok({
    name: chain.name !== undefined && chain.name !== '' ? chain.name : fallbackName,
    hcmPath,
    match: chain.filter_chain_match,
    tls: chain.transport_socket?.tls ?? null,
    hcm,
    routeConfig,
    identity: JSON.stringify([chain.filter_chain_match ?? null, chain.transport_socket?.typedConfig ?? null]),
  });
}

export function translateListener(wire: ListenerWire, opts: TranslateListenerOptions): Result<ListenerConfig> {
  const errors: ConfigError[] = [];
  const chains: FilterChainConfig[] = [];
  wire.filter_chains.forEach((chain, i) => {
    const at = `filter_chains[${i}]`;
    const built = translateChain(chain, at, at, opts);
    if (built.ok) chains.push(built.value);
    else errors.push(...built.errors);
  });
  let defaultChain: FilterChainConfig | null = null;
  if (wire.default_filter_chain) {
    const built = translateChain(wire.default_filter_chain, 'default_filter_chain', 'default_filter_chain', opts);
    if (built.ok) defaultChain = built.value;
    else errors.push(...built.errors);
  }
  const listenerFilters = wire.listener_filters ?? [];
  listenerFilters.forEach((f, i) => {
    if (f.name !== TLS_INSPECTOR && f.name !== 'tls_inspector') {
      errors.push({ path: `${opts.path}.listener_filters[${i}].name`, kind: 'invalid', message: `listener filter "${f.name}" does not match its typed_config (${f.typed_config.typeUrl})` });
    }
  });
  if (errors.length > 0) return fail(errors);
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
    filterChains: chains,
    defaultFilterChain: defaultChain,
    tlsInspector: listenerFilters.length > 0,
    listenerFiltersTimeoutMs: wire.listener_filters_timeout ?? DEFAULT_LISTENER_FILTERS_TIMEOUT_MS,
    continueOnListenerFiltersTimeout: wire.continue_on_listener_filters_timeout ?? false,
    wire,
  }));
}

/** Every filter chain of a listener, default_filter_chain last. */
export function allChains(l: ListenerConfig): readonly FilterChainConfig[] {
  return l.defaultFilterChain ? [...l.filterChains, l.defaultFilterChain] : l.filterChains;
}

/** The RDS config sources a listener's chains use, with the absolute path of each (cross-checks of the backing cluster). */
export function rdsSourcesOf(l: ListenerConfig, listenerPath: string): { readonly source: ConfigSourceConfig; readonly path: string }[] {
  return allChains(l).flatMap((c) => (c.hcm.rds ? [{ source: c.hcm.rds.configSource, path: `${listenerPath}.${c.hcmPath}.rds.config_source` }] : []));
}

/**
 * Whether a listener update can keep the bound socket: same address, port (0 included), IPv6 mode and
 * enable_reuse_port. Everything else applies to the bound listener (Listener.update).
 */
export function sameSocket(a: ListenerConfig, b: ListenerConfig): boolean {
  return a.address === b.address && a.port === b.port && a.ipv4Compat === b.ipv4Compat && a.enableReusePort === b.enableReusePort;
}
