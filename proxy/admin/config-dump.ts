// GET /config_dump in Envoy's shape: `{"configs": [...]}` with one *ConfigDump message per resource kind,
// in Envoy's order (Bootstrap, Clusters, Endpoints with ?include_eds, Listeners, Routes, Secrets). Static
// resources are reported as written in the bootstrap (inline route_configs of static listeners also under
// static_route_configs); dynamic ones with their version, state and the last rejected update (error_state).
// Sensitive fields (TLS private keys, key passwords) are redacted as Envoy redacts them.

const T = 'type.googleapis.com/envoy.admin.v3.';
const CLUSTER = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
const LISTENER = 'type.googleapis.com/envoy.config.listener.v3.Listener';
const ROUTE_CONFIGURATION = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
const CLUSTER_LOAD_ASSIGNMENT = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
const SECRET = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

type Json = Record<string, unknown>;

/** One xDS resource version (`config` as received, without "@type"). */
export interface DumpedResource {
  readonly name: string;
  readonly versionInfo: string;
  readonly config: unknown;
  readonly lastUpdatedMs: number;
}

/** Envoy's UpdateFailureState: the last rejected update of a resource. */
export interface DumpedFailure {
  readonly failedConfiguration?: unknown;
  readonly lastUpdateAttemptMs: number;
  readonly details: string;
  readonly versionInfo: string;
}

export interface DynamicSection {
  /** The last accepted version_info of the type ('' = none). */
  readonly versionInfo: string;
  readonly active: readonly DumpedResource[];
  readonly warming?: readonly DumpedResource[];
  readonly draining?: readonly DumpedResource[];
  /** Resources of the last rejected response, by name. */
  readonly failures: ReadonlyMap<string, DumpedFailure>;
}

/** What the xDS wiring contributes to /config_dump. */
export interface DynamicConfig {
  readonly clusters: DynamicSection;
  readonly listeners: DynamicSection;
  readonly routes: DynamicSection;
  readonly endpoints: DynamicSection;
}

/** A static secret as configured (SecretsConfigDump.StaticSecret); its private key is redacted in the dump. */
export interface DumpedSecret {
  readonly name: string;
  readonly secret: unknown;
  readonly lastUpdatedMs: number;
}

/**
 * An SDS secret in use (SecretsConfigDump.DynamicSecret): `secret` is the last accepted version (undefined while
 * warming: no version yet); its private key is redacted in the dump.
 */
export interface DumpedDynamicSecret {
  readonly name: string;
  readonly versionInfo: string;
  readonly lastUpdatedMs: number;
  readonly secret: unknown;
}

export interface ConfigDumpOptions {
  /** ?include_eds: add the EndpointsConfigDump. */
  readonly includeEds?: boolean;
  readonly dynamic?: DynamicConfig;
  /** static_resources.secrets. */
  readonly secrets?: readonly DumpedSecret[];
  /** The SDS secrets in use. */
  readonly dynamicSecrets?: readonly DumpedDynamicSecret[];
}

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function list(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isObject) : [];
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The HCM typed_config of each filter chain (snake_case or camelCase input). */
function inlineRouteConfigs(listener: Json): Json[] {
  const out: Json[] = [];
  for (const chain of list(listener.filter_chains ?? listener.filterChains)) {
    for (const filter of list(chain.filters)) {
      const tc = filter.typed_config ?? filter.typedConfig;
      if (!isObject(tc)) continue;
      const rc = tc.route_config ?? tc.routeConfig;
      if (isObject(rc)) out.push(rc);
    }
  }
  return out;
}

function errorState(f: DumpedFailure, typeUrl: string): Json {
  return {
    ...(f.failedConfiguration === undefined ? {} : { failed_configuration: { '@type': typeUrl, ...(f.failedConfiguration as Json) } }),
    last_update_attempt: iso(f.lastUpdateAttemptMs),
    details: f.details,
    version_info: f.versionInfo,
  };
}

/**
 * `{version_info, <field>: Any, last_updated, error_state?}` per resource (DynamicCluster,
 * DynamicRouteConfig, DynamicEndpointConfig), plus an error_state-only entry per rejected new resource.
 */
function dynamicEntries(resources: readonly DumpedResource[], failures: ReadonlyMap<string, DumpedFailure>, field: string, typeUrl: string,
  includeUnmatched: boolean): Json[] {
  const out: Json[] = resources.map((r) => {
    const failure = failures.get(r.name);
    return {
      version_info: r.versionInfo,
      [field]: { '@type': typeUrl, ...(r.config as Json) },
      last_updated: iso(r.lastUpdatedMs),
      ...(failure ? { error_state: errorState(failure, typeUrl) } : {}),
    };
  });
  if (includeUnmatched) {
    const known = new Set(resources.map((r) => r.name));
    for (const [name, f] of failures) if (!known.has(name)) out.push({ error_state: errorState(f, typeUrl) });
  }
  return out;
}

/** ListenersConfigDump.DynamicListener: one entry per name with each state it is in. */
function dynamicListeners(s: DynamicSection): Json[] {
  const byName = new Map<string, Json>();
  const entry = (name: string): Json => {
    let e = byName.get(name);
    if (!e) byName.set(name, (e = { name }));
    return e;
  };
  const state = (r: DumpedResource): Json => ({ version_info: r.versionInfo, listener: { '@type': LISTENER, ...(r.config as Json) }, last_updated: iso(r.lastUpdatedMs) });
  for (const r of s.active) entry(r.name).active_state = state(r);
  for (const r of s.warming ?? []) entry(r.name).warming_state = state(r);
  for (const r of s.draining ?? []) entry(r.name).draining_state = state(r);
  for (const [name, f] of s.failures) entry(name).error_state = errorState(f, LISTENER);
  return [...byName.values()];
}

/**
 * Fields Envoy marks `(udpa.annotations.sensitive)` that hold key material: TlsCertificate.private_key and
 * password, DownstreamTlsContext.session_ticket_keys (written snake_case or lowerCamelCase).
 */
const SENSITIVE_FIELDS: ReadonlySet<string> = new Set(['private_key', 'privateKey', 'password', 'session_ticket_keys', 'sessionTicketKeys']);
const REDACTED = '[redacted]';
/** bytes fields redact to the bytes of "[redacted]", base64 in JSON. */
const REDACTED_BYTES = Buffer.from(REDACTED).toString('base64');

/** Every string (and bytes) leaf of a sensitive field replaced, as Envoy's MessageUtil::redact does. */
function redactAll(v: unknown, key = ''): unknown {
  if (typeof v === 'string') return key === 'inline_bytes' || key === 'inlineBytes' ? REDACTED_BYTES : REDACTED;
  if (Array.isArray(v)) return v.map((x) => redactAll(x, key));
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactAll(x, k)]));
  return v;
}

/** A deep copy of `v` with every sensitive field redacted. */
export function redactSensitive(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redactSensitive);
  if (!isObject(v)) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, SENSITIVE_FIELDS.has(k) ? redactAll(x, k) : redactSensitive(x)]));
}

/**
 * dynamic_active_secrets (a version arrived) and dynamic_warming_secrets (none yet: the name only, as Envoy's
 * SecretManagerImpl dumps a provider without a secret).
 */
function dynamicSecrets(secrets: readonly DumpedDynamicSecret[] | undefined): Json {
  if (secrets === undefined) return {};
  const entry = (s: DumpedDynamicSecret): Json => ({
    name: s.name,
    version_info: s.versionInfo,
    ...(s.lastUpdatedMs > 0 ? { last_updated: iso(s.lastUpdatedMs) } : {}),
    secret: { '@type': SECRET, ...(s.secret === undefined ? { name: s.name } : s.secret as Json) },
  });
  return {
    dynamic_active_secrets: secrets.filter((s) => s.secret !== undefined).map(entry),
    dynamic_warming_secrets: secrets.filter((s) => s.secret === undefined).map(entry),
  };
}

/** `bootstrap` is the validated bootstrap document as written; `lastUpdated` an ISO-8601 time. */
export function buildConfigDump(bootstrap: unknown, lastUpdated: string, opts: ConfigDumpOptions = {}): Json {
  return redactSensitive(unredactedConfigDump(bootstrap, lastUpdated, opts)) as Json;
}

function unredactedConfigDump(bootstrap: unknown, lastUpdated: string, opts: ConfigDumpOptions): Json {
  const b = isObject(bootstrap) ? bootstrap : {};
  const stat = isObject(b.static_resources) ? b.static_resources : isObject(b.staticResources) ? b.staticResources : {};
  const listeners = list(stat.listeners);
  const d = opts.dynamic;
  const clusters: Json = {
    '@type': `${T}ClustersConfigDump`,
    ...(d ? { version_info: d.clusters.versionInfo } : {}),
    static_clusters: list(stat.clusters).map((c) => ({ cluster: { '@type': CLUSTER, ...c }, last_updated: lastUpdated })),
    ...(d ? {
      dynamic_active_clusters: dynamicEntries(d.clusters.active, d.clusters.failures, 'cluster', CLUSTER, true),
      dynamic_warming_clusters: dynamicEntries(d.clusters.warming ?? [], d.clusters.failures, 'cluster', CLUSTER, false),
    } : {}),
  };
  const endpoints: Json[] = opts.includeEds ? [{
    '@type': `${T}EndpointsConfigDump`,
    ...(d ? { dynamic_endpoint_configs: dynamicEntries(d.endpoints.active, d.endpoints.failures, 'endpoint_config', CLUSTER_LOAD_ASSIGNMENT, true) } : {}),
  }] : [];
  return {
    configs: [
      { '@type': `${T}BootstrapConfigDump`, bootstrap: b, last_updated: lastUpdated },
      clusters,
      ...endpoints,
      {
        '@type': `${T}ListenersConfigDump`,
        ...(d ? { version_info: d.listeners.versionInfo } : {}),
        static_listeners: listeners.map((l) => ({ listener: { '@type': LISTENER, ...l }, last_updated: lastUpdated })),
        ...(d ? { dynamic_listeners: dynamicListeners(d.listeners) } : {}),
      },
      {
        '@type': `${T}RoutesConfigDump`,
        static_route_configs: listeners.flatMap(inlineRouteConfigs).map((r) => ({
          route_config: { '@type': ROUTE_CONFIGURATION, ...r }, last_updated: lastUpdated,
        })),
        ...(d ? { dynamic_route_configs: dynamicEntries(d.routes.active, d.routes.failures, 'route_config', ROUTE_CONFIGURATION, true) } : {}),
      },
      {
        '@type': `${T}SecretsConfigDump`,
        static_secrets: (opts.secrets ?? []).map((s) => ({
          name: s.name, last_updated: s.lastUpdatedMs > 0 ? iso(s.lastUpdatedMs) : lastUpdated, secret: { '@type': SECRET, ...(s.secret as Json) },
        })),
        ...dynamicSecrets(opts.dynamicSecrets),
      },
    ],
  };
}
