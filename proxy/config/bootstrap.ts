// Whole-bootstrap validation: runs the Bootstrap schema, then the cross-reference checks Envoy makes
// (unique listener and cluster names, one listener per address, routes that name existing clusters and
// configured filters), collecting every error with its path, and yields the frozen BootstrapConfig.

import { fail, joinPath, ok, type ConfigError, type Result } from '../common/result.ts';
import { HCM_PATH_IN_LISTENER, hcmOf, ListenerSchema, type ListenerWire } from '../listener/listener-schema.ts';
import { toHcmConfig, type HcmConfig } from '../http/hcm-schema.ts';
import { buildRouteConfig } from '../route/route-config.ts';
import type { RouteConfig } from '../route/types.ts';
import { DEFAULT_STATS_FLUSH_INTERVAL_MS } from '../stats/flush.ts';
import { ClusterSchema, type ClusterWire } from '../upstream/cluster-schema.ts';
import { BootstrapSchema, type BootstrapWire } from './bootstrap-schema.ts';
import { jsonName, parseWith, toConfigErrors } from './schema-kit.ts';

export interface NodeConfig {
  readonly id: string;
  readonly cluster: string;
  /** node.metadata, verbatim (opaque to the proxy; Istio keeps pod metadata here). */
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly locality: { readonly region: string; readonly zone: string; readonly subZone: string };
}

export interface AdminConfig {
  readonly address: string;
  readonly port: number;
}

export interface ListenerConfig {
  /** Listener.name; absent → `listener_<index>` (Envoy generates a UUID). */
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
  readonly routeConfig: RouteConfig;
}

export interface BootstrapConfig {
  readonly node: NodeConfig;
  /** Admin server bind address; undefined = no admin server (Envoy: admin without address). */
  readonly admin: AdminConfig | undefined;
  readonly listeners: readonly ListenerConfig[];
  readonly clusters: readonly ClusterWire[];
  readonly statsFlushIntervalMs: number;
  /** The bootstrap exactly as given (deep-frozen copy), for /config_dump. */
  readonly configDump: unknown;
}

export interface BootstrapOptions {
  /** --service-node: overrides node.id. */
  readonly serviceNode?: string;
  /** --service-cluster: overrides node.cluster. */
  readonly serviceCluster?: string;
}

const LISTENERS = 'static_resources.listeners';
const CLUSTERS = 'static_resources.clusters';

/** Validates a parsed bootstrap document (YAML/JSON data) into the model the server runs. */
export function validateBootstrap(input: unknown, opts: BootstrapOptions = {}): Result<BootstrapConfig> {
  const parsed = BootstrapSchema.safeParse(input);
  const errors: ConfigError[] = parsed.success ? [] : toConfigErrors(parsed.error.issues);
  // When the schema fails somewhere, the listeners and clusters that are valid on their own are still
  // cross-checked, so one run reports every problem.
  const listeners = parsed.success ? indexed(parsed.data.static_resources?.listeners) : salvage(input, 'listeners', (v) => parseWith(ListenerSchema, v));
  const clusters = parsed.success ? indexed(parsed.data.static_resources?.clusters) : salvage(input, 'clusters', (v) => parseWith(ClusterSchema, v));
  // Names come from the raw items, so that a broken cluster is not also called unknown, and a broken
  // listener still counts for duplicate names.
  const clusterNames = rawNames(input, 'clusters');
  errors.push(...duplicateNames(CLUSTERS, clusterNames));
  errors.push(...duplicateNames(LISTENERS, rawNames(input, 'listeners')));
  errors.push(...duplicateAddresses(listeners));
  const clusterExists = (name: string): boolean => clusterNames.some((c) => c.name === name);

  const listenerConfigs: ListenerConfig[] = [];
  for (const { index, value } of listeners) {
    const built = buildListener(value, index, clusterExists);
    if (built.ok) listenerConfigs.push(built.value);
    else errors.push(...built.errors);
  }
  if (!parsed.success || errors.length > 0) return fail(errors);

  const wire = parsed.data;
  return ok(Object.freeze({
    node: nodeConfig(wire, opts),
    admin: adminConfig(wire),
    listeners: Object.freeze(listenerConfigs),
    clusters: Object.freeze(clusters.map((c) => c.value)),
    statsFlushIntervalMs: wire.stats_flush_interval ?? DEFAULT_STATS_FLUSH_INTERVAL_MS,
    configDump: deepFreeze(structuredClone(input)),
  }));
}

interface Indexed<T> {
  readonly index: number;
  readonly value: T;
}

function indexed<T>(items: readonly T[] | undefined): Indexed<T>[] {
  return (items ?? []).map((value, index) => ({ index, value }));
}

/** The items of static_resources.<key> that parse on their own (errors are already reported). */
function salvage<T>(input: unknown, key: 'listeners' | 'clusters', parse: (v: unknown) => Result<T>): Indexed<T>[] {
  return rawItems(input, key).flatMap((raw, index) => {
    const r = parse(raw);
    return r.ok ? [{ index, value: r.value }] : [];
  });
}

function rawItems(input: unknown, key: 'listeners' | 'clusters'): unknown[] {
  const items = rawField(rawField(input, 'static_resources'), key);
  return Array.isArray(items) ? items : [];
}

/** The string `name` of each item of static_resources.<key>, with its index. */
function rawNames(input: unknown, key: 'listeners' | 'clusters'): { index: number; name: string }[] {
  return rawItems(input, key).flatMap((item, index) => {
    const name = rawField(item, 'name');
    return typeof name === 'string' && name !== '' ? [{ index, name }] : [];
  });
}

/** A field of unvalidated data, written in snake_case or lowerCamelCase. */
function rawField(obj: unknown, field: string): unknown {
  if (obj === null || typeof obj !== 'object') return undefined;
  const o = obj as Record<string, unknown>;
  return o[field] ?? o[jsonName(field)];
}

function duplicateNames(listPath: string, items: readonly { index: number; name: string }[]): ConfigError[] {
  const errors: ConfigError[] = [];
  const first = new Map<string, number>();
  for (const { index, name } of items) {
    const seen = first.get(name);
    if (seen === undefined) first.set(name, index);
    else errors.push({ path: joinPath(joinPath(listPath, index), 'name'), kind: 'invalid', message: `duplicate name "${name}" (also ${listPath}[${seen}])` });
  }
  return errors;
}

/** Envoy refuses two listeners bound to the same address:port (port 0 = ephemeral, never clashes). */
function duplicateAddresses(listeners: readonly Indexed<ListenerWire>[]): ConfigError[] {
  const errors: ConfigError[] = [];
  const first = new Map<string, number>();
  for (const { index, value } of listeners) {
    const { address, port_value: port } = value.address.socket_address;
    if (port === 0) continue;
    const key = `${address}:${port}`;
    const seen = first.get(key);
    if (seen === undefined) first.set(key, index);
    else errors.push({ path: `${LISTENERS}[${index}].address`, kind: 'invalid', message: `address ${key} is already used by ${LISTENERS}[${seen}]` });
  }
  return errors;
}

/** Builds one listener's model, including its route table (Envoy checks routes at listener load). */
function buildListener(wire: ListenerWire, index: number, clusterExists: (name: string) => boolean): Result<ListenerConfig> {
  const hcmPath = `${LISTENERS}[${index}].${HCM_PATH_IN_LISTENER}`;
  const hcmWire = hcmOf(wire);
  const routeWire = hcmWire.route_config;
  if (routeWire === undefined) return fail([{ path: `${hcmPath}.route_config`, kind: 'invalid', message: 'required field is missing' }]);
  const hcm = toHcmConfig(hcmWire, routeWire);
  const filtersByName = new Map(hcm.httpFilters.map((f) => [f.name, f]));
  const route = buildRouteConfig(routeWire, {
    path: `${hcmPath}.route_config`,
    // RouteConfiguration.validate_clusters defaults to true for an inline route_config.
    ...(routeWire.validate_clusters !== false ? { clusterExists } : {}),
    perFilterConfig: (filterName: string) => filtersByName.get(filterName)?.factory.perRouteSchema,
  });
  if (!route.ok) return route;
  const socket = wire.address.socket_address;
  return ok(Object.freeze({
    name: wire.name !== undefined && wire.name !== '' ? wire.name : `listener_${index}`,
    address: socket.address,
    port: socket.port_value,
    ipv4Compat: socket.ipv4_compat ?? false,
    statPrefix: wire.stat_prefix ?? '',
    trafficDirection: wire.traffic_direction ?? 'UNSPECIFIED',
    enableReusePort: wire.enable_reuse_port ?? true,
    perConnectionBufferLimitBytes: wire.per_connection_buffer_limit_bytes ?? 1024 * 1024,
    hcm,
    routeConfig: route.value,
  }));
}

function nodeConfig(wire: BootstrapWire, opts: BootstrapOptions): NodeConfig {
  const node = wire.node;
  return Object.freeze({
    id: opts.serviceNode ?? node?.id ?? '',
    cluster: opts.serviceCluster ?? node?.cluster ?? '',
    metadata: deepFreeze(structuredClone(node?.metadata ?? {})),
    locality: Object.freeze({ region: node?.locality?.region ?? '', zone: node?.locality?.zone ?? '', subZone: node?.locality?.sub_zone ?? '' }),
  });
}

function adminConfig(wire: BootstrapWire): AdminConfig | undefined {
  const socket = wire.admin?.address?.socket_address;
  return socket ? Object.freeze({ address: socket.address, port: socket.port_value }) : undefined;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
