// The control plane's debug pages, next to xDS on the same port (as istiod serves them):
// GET /debug/syncz, /debug/config_dump?proxy=ID, /debug/config_errors and /ready.

import type { ServerResponse } from 'node:http';
import { severityOf } from '../istio/load.ts';
import type { XdsKind } from '../xds/snapshot.ts';
import { XDS_TYPES } from '../xds/snapshot.ts';
import type { MeshSource } from './mesh-source.ts';
import { countSeverities, formatMeshError } from './mesh-source.ts';
import type { SnapshotCache } from './snapshot-cache.ts';
import type { ProxySync, SyncTracker } from './sync-status.ts';
import { xdsStatus } from './sync-status.ts';

const KINDS = Object.keys(XDS_TYPES) as XdsKind[];

export interface DebugContext {
  readonly source: MeshSource;
  readonly cache: SnapshotCache;
  readonly tracker: SyncTracker;
}

/** One type's sync state in /debug/syncz. */
export interface TypeSyncJson {
  readonly type_url: string;
  readonly status: string;
  readonly sent_version?: string;
  readonly sent_nonce?: string;
  readonly acked_version?: string;
  readonly nacked_version?: string;
  readonly nack_message?: string;
  readonly last_request?: string;
}

/** One proxy in /debug/syncz. */
export interface ProxySyncJson {
  readonly id: string;
  readonly cluster: string;
  readonly namespace: string;
  /** `node.user_agent_version`, when the proxy sends one. */
  readonly version: string;
  readonly last_seen: string;
  readonly types: Readonly<Record<XdsKind, TypeSyncJson>>;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function synczJson(proxies: readonly ProxySync[]): { proxies: ProxySyncJson[] } {
  return {
    proxies: proxies.map((p) => ({
      id: p.id,
      cluster: p.identity.cluster,
      namespace: p.identity.namespace,
      version: typeof p.node['user_agent_version'] === 'string' ? p.node['user_agent_version'] : '',
      last_seen: iso(p.lastSeenMs),
      types: Object.fromEntries(KINDS.map((kind) => {
        const t = p.types.get(kind);
        const json: TypeSyncJson = {
          type_url: XDS_TYPES[kind],
          status: xdsStatus(t),
          ...(t?.sent === undefined ? {} : { sent_version: t.sent.version, sent_nonce: t.sent.nonce }),
          ...(t === undefined ? {} : { acked_version: t.ackedVersion, last_request: iso(t.lastRequestMs) }),
          ...(t?.nack === undefined ? {} : { nacked_version: t.nack.version, nack_message: t.nack.message }),
        };
        return [kind, json];
      })) as Record<XdsKind, TypeSyncJson>,
    })),
  };
}

/** The proxy's current snapshot in the shape of Envoy's admin `/config_dump` (envoy.admin.v3.*ConfigDump). */
export function configDumpJson(ctx: DebugContext, proxy: ProxySync): unknown {
  const entry = ctx.cache.entry(proxy.node);
  if (!entry.ok) return { error: entry.errors.map(formatMeshError) };
  const all = (kind: XdsKind) => {
    const answer = ctx.cache.answer(entry.value, kind, []);
    return { version: answer.version, resources: JSON.parse(answer.resourcesJson) as Record<string, unknown>[] };
  };
  const [listeners, clusters, routes, endpoints] = [all('listeners'), all('clusters'), all('routes'), all('endpoints')];
  return {
    configs: [
      { '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump', version_info: clusters.version,
        dynamic_active_clusters: clusters.resources.map((cluster) => ({ version_info: clusters.version, cluster })) },
      { '@type': 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump',
        dynamic_endpoint_configs: endpoints.resources.map((endpoint_config) => ({ version_info: endpoints.version, endpoint_config })) },
      { '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump', version_info: listeners.version,
        dynamic_listeners: listeners.resources.map((listener) => ({ name: listener['name'], active_state: { version_info: listeners.version, listener } })) },
      { '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
        dynamic_route_configs: routes.resources.map((route_config) => ({ version_info: routes.version, route_config })) },
    ],
  };
}

/**
 * /debug/config_errors: every error and warning with its severity and one-line form; `count` is all of them,
 * `error_count` those that dropped a document or a claim, `warning_count` those whose resource is in force.
 */
export function configErrorsJson(source: MeshSource): unknown {
  const report = source.configErrors();
  const { errors, warnings } = countSeverities(report);
  return {
    generation: source.generation(), count: report.length, error_count: errors, warning_count: warnings,
    errors: report.map((e) => ({ ...e, severity: severityOf(e), text: formatMeshError(e) })),
  };
}

/** Answers a debug GET; false when the path is not a debug page. */
export function handleDebug(ctx: DebugContext, url: URL, res: ServerResponse): boolean {
  switch (url.pathname) {
    case '/ready':
      if (ctx.source.ready()) text(res, 200, 'LIVE\n');
      else text(res, 503, 'PRE_INITIALIZING: the configuration directory has not been loaded yet\n');
      return true;
    case '/debug/syncz':
      json(res, 200, synczJson(ctx.tracker.all()));
      return true;
    case '/debug/config_errors':
      json(res, 200, configErrorsJson(ctx.source));
      return true;
    case '/debug/config_dump': {
      // istiod names the parameter proxyID; both spellings work.
      const id = url.searchParams.get('proxy') ?? url.searchParams.get('proxyID');
      if (id === null) {
        text(res, 400, 'config_dump needs ?proxy=<node id> (see /debug/syncz for the proxies seen)\n');
        return true;
      }
      const proxy = ctx.tracker.proxy(id);
      if (proxy === undefined) text(res, 404, `no proxy "${id}" has connected (see /debug/syncz)\n`);
      else json(res, 200, configDumpJson(ctx, proxy));
      return true;
    }
    default:
      return false;
  }
}

function json(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  res.writeHead(status, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify(body, null, 2));
}

export function text(res: ServerResponse, status: number, body: string, headers: Readonly<Record<string, string>> = {}): void {
  res.writeHead(status, { ...headers, 'content-type': 'text/plain; charset=utf-8' }).end(body);
}
