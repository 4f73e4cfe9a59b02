// GET /config_dump in Envoy's shape: `{"configs": [...]}` with one *ConfigDump message per resource kind,
// in Envoy's order (Bootstrap, Clusters, Listeners, Routes, Secrets). Static resources are reported as
// written in the bootstrap; inline route_config of a listener also appears under static_route_configs.

const T = 'type.googleapis.com/envoy.admin.v3.';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function list(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isObject) : [];
}

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

/** `bootstrap` is the validated bootstrap document as written; `lastUpdated` an ISO-8601 time. */
export function buildConfigDump(bootstrap: unknown, lastUpdated: string): Json {
  const b = isObject(bootstrap) ? bootstrap : {};
  const stat = isObject(b.static_resources) ? b.static_resources : isObject(b.staticResources) ? b.staticResources : {};
  const listeners = list(stat.listeners);
  return {
    configs: [
      { '@type': `${T}BootstrapConfigDump`, bootstrap: b, last_updated: lastUpdated },
      {
        '@type': `${T}ClustersConfigDump`,
        static_clusters: list(stat.clusters).map((c) => ({
          cluster: { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', ...c }, last_updated: lastUpdated,
        })),
      },
      {
        '@type': `${T}ListenersConfigDump`,
        static_listeners: listeners.map((l) => ({
          listener: { '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', ...l }, last_updated: lastUpdated,
        })),
      },
      {
        '@type': `${T}RoutesConfigDump`,
        static_route_configs: listeners.flatMap(inlineRouteConfigs).map((r) => ({
          route_config: { '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', ...r }, last_updated: lastUpdated,
        })),
      },
      { '@type': `${T}SecretsConfigDump` },
    ],
  };
}
