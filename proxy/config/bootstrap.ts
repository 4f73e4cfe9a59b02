// Whole-bootstrap validation: runs the Bootstrap schema, then the cross-reference checks Envoy makes
// (unique listener and cluster names, one listener per address, routes that name existing clusters and
// configured filters, config sources backed by a static non-EDS cluster), collecting every error with
// its path, and yields the frozen BootstrapConfig.

import { fail, joinPath, ok, type ConfigError, type Result } from '../common/result.ts';
import { ListenerSchema, type ListenerWire } from '../listener/listener-schema.ts';
import { rdsSourcesOf, translateListener, type ListenerConfig } from '../listener/listener-config.ts';
import { DEFAULT_STATS_FLUSH_INTERVAL_MS } from '../stats/flush.ts';
import { ClusterSchema, type ClusterWire } from '../upstream/cluster-schema.ts';
import { BootstrapSchema, type BootstrapWire } from './bootstrap-schema.ts';
import { checkBackingCluster, translateConfigSource, type ConfigSourceConfig } from './config-source.ts';
import { jsonName, parseWith, toConfigErrors } from './schema-kit.ts';
import { SecretSchema } from '../secrets/secret-schema.ts';
import { DynamicSecrets } from '../secrets/dynamic-secrets.ts';
import { withSecrets } from '../secrets/secret-scope.ts';
import { StaticSecrets } from '../secrets/static-secrets.ts';

export type { ListenerConfig } from '../listener/listener-config.ts';

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

export interface BootstrapConfig {
  readonly node: NodeConfig;
  /** Admin server bind address; undefined = no admin server (Envoy: admin without address). */
  readonly admin: AdminConfig | undefined;
  readonly listeners: readonly ListenerConfig[];
  readonly clusters: readonly ClusterWire[];
  /** dynamic_resources: where LDS and CDS come from (null = not configured). */
  readonly dynamicResources: { readonly lds: ConfigSourceConfig | null; readonly cds: ConfigSourceConfig | null };
  readonly statsFlushIntervalMs: number;
  /** static_resources.secrets, loaded (the server starts their watched_directory rotation). */
  readonly secrets: StaticSecrets;
  /**
   * The SDS secrets (SdsSecretConfig with sds_config), those the bootstrap's TLS contexts name first; LDS and
   * CDS resources add theirs at run time. The server's init waits for the bootstrap's.
   */
  readonly dynamicSecrets: DynamicSecrets;
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
const SECRETS = 'static_resources.secrets';

/** Validates a parsed bootstrap document (YAML/JSON data) into the model the server runs. */
export function validateBootstrap(input: unknown, opts: BootstrapOptions = {}): Result<BootstrapConfig> {
  // Secrets first: TLS contexts name them (SdsSecretConfig) and resolve the names while they are parsed. An
  // sds_config must poll a static non-EDS cluster; the raw items name them (broken ones are reported anyway).
  const secrets = staticSecrets(input);
  const dynamicSecrets = new DynamicSecrets();
  const primaryClusters = new Set(rawItems(input, 'clusters').filter((c) => rawField(c, 'type') !== 'EDS').flatMap((c) => {
    const name = rawField(c, 'name');
    return typeof name === 'string' ? [name] : [];
  }));
  return withSecrets(dynamicSecrets.lookup(secrets.secrets, primaryClusters), () => validateWithSecrets(input, opts, secrets, dynamicSecrets));
}

interface LoadedSecrets {
  readonly secrets: StaticSecrets;
  readonly errors: readonly ConfigError[];
}

/** static_resources.secrets, parsed and loaded: the secrets that load, and every error at its path. */
function staticSecrets(input: unknown): LoadedSecrets {
  const raw = rawField(rawField(input, 'static_resources'), 'secrets');
  if (raw === undefined) return { secrets: StaticSecrets.empty, errors: [] };
  if (!Array.isArray(raw)) return { secrets: StaticSecrets.empty, errors: [{ path: SECRETS, kind: 'invalid', message: 'must be a list of Secret' }] };
  const errors: ConfigError[] = [];
  const wires = raw.flatMap((item, i) => {
    const r = parseWith(SecretSchema, item, `${SECRETS}[${i}]`);
    if (r.ok) return [r.value];
    errors.push(...r.errors);
    return [];
  });
  const built = StaticSecrets.build(wires, SECRETS);
  return { secrets: built.secrets, errors: [...errors, ...built.errors] };
}

function validateWithSecrets(input: unknown, opts: BootstrapOptions, secrets: LoadedSecrets, dynamicSecrets: DynamicSecrets): Result<BootstrapConfig> {
  const parsed = BootstrapSchema.safeParse(input);
  const errors: ConfigError[] = parsed.success ? [] : toConfigErrors(parsed.error.issues);
  errors.push(...secrets.errors);
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

  const listenerConfigs: Indexed<ListenerConfig>[] = [];
  for (const { index, value } of listeners) {
    const built = translateListener(value, { path: `${LISTENERS}[${index}]`, defaultName: `listener_${index}`, clusterExists });
    if (built.ok) listenerConfigs.push({ index, value: built.value });
    else errors.push(...built.errors);
  }
  const primaryClusters = new Set(clusters.filter((c) => (c.value.type ?? 'STATIC') !== 'EDS').map((c) => c.value.name));
  errors.push(...configSourceErrors(parsed.success ? parsed.data : undefined, listenerConfigs, clusters, primaryClusters));
  if (!parsed.success || errors.length > 0) return fail(errors);

  const wire = parsed.data;
  const dynamic = wire.dynamic_resources;
  return ok(Object.freeze({
    node: nodeConfig(wire, opts),
    admin: adminConfig(wire),
    listeners: Object.freeze(listenerConfigs.map((l) => l.value)),
    clusters: Object.freeze(clusters.map((c) => c.value)),
    dynamicResources: Object.freeze({
      lds: dynamic?.lds_config ? translateConfigSource(dynamic.lds_config) : null,
      cds: dynamic?.cds_config ? translateConfigSource(dynamic.cds_config) : null,
    }),
    statsFlushIntervalMs: wire.stats_flush_interval ?? DEFAULT_STATS_FLUSH_INTERVAL_MS,
    secrets: secrets.secrets,
    dynamicSecrets,
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

/**
 * Every ApiConfigSource in the bootstrap (dynamic_resources, static EDS clusters, static listeners' rds)
 * must poll a static non-EDS cluster.
 */
function configSourceErrors(wire: BootstrapWire | undefined, listeners: readonly Indexed<ListenerConfig>[],
  clusters: readonly Indexed<ClusterWire>[], primaryClusters: ReadonlySet<string>): ConfigError[] {
  const errors: ConfigError[] = [];
  const check = (source: ConfigSourceConfig, path: string): void => { errors.push(...checkBackingCluster(source, path, primaryClusters)); };
  const dynamic = wire?.dynamic_resources;
  if (dynamic?.lds_config) check(translateConfigSource(dynamic.lds_config), 'dynamic_resources.lds_config');
  if (dynamic?.cds_config) check(translateConfigSource(dynamic.cds_config), 'dynamic_resources.cds_config');
  for (const { index, value } of clusters) {
    const eds = value.eds_cluster_config;
    if (eds) check(translateConfigSource(eds.eds_config), `${CLUSTERS}[${index}].eds_cluster_config.eds_config`);
  }
  for (const { index, value } of listeners) {
    for (const rds of rdsSourcesOf(value, `${LISTENERS}[${index}]`)) check(rds.source, rds.path);
  }
  return errors;
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
