// Admin /clusters: Envoy's `<cluster>::<fact>::<value>` text lines (circuit breaker thresholds, per-host
// stats in alphabetical order, health flags, weight, locality, canary, priority) and a Clusters-proto JSON.

import type { CircuitBreakerThresholds, Cluster, Host, HostStats } from '../upstream/types.ts';

/** Host stats in the order Envoy prints them (alphabetical); gauges are marked for the JSON form. */
const HOST_STATS: readonly { name: keyof HostStats; gauge: boolean }[] = [
  { name: 'cx_active', gauge: true },
  { name: 'cx_connect_fail', gauge: false },
  { name: 'cx_total', gauge: false },
  { name: 'rq_active', gauge: true },
  { name: 'rq_error', gauge: false },
  { name: 'rq_success', gauge: false },
  { name: 'rq_timeout', gauge: false },
  { name: 'rq_total', gauge: false },
];

function byName(a: Cluster, b: Cluster): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** `envoy.lb` metadata `canary: true` marks a canary host (Envoy's MetadataEnvoyLbKeys::CANARY). */
function isCanary(h: Host): boolean {
  return h.metadata['envoy.lb']?.['canary'] === true;
}

function thresholdLines(name: string, priority: string, t: CircuitBreakerThresholds): string {
  return `${name}::${priority}::max_connections::${t.maxConnections}\n` +
    `${name}::${priority}::max_pending_requests::${t.maxPendingRequests}\n` +
    `${name}::${priority}::max_requests::${t.maxRequests}\n` +
    `${name}::${priority}::max_retries::${t.maxRetries}\n`;
}

/** `GET /clusters` text. Outlier success rates print -1 (nodevoy does not compute success-rate ejection). */
export function renderClustersText(clusters: Iterable<Cluster>): string {
  let out = '';
  for (const c of [...clusters].sort(byName)) {
    const n = c.name;
    out += `${n}::observability_name::${c.statName}\n`;
    out += thresholdLines(n, 'default_priority', c.circuitBreakers.default);
    out += thresholdLines(n, 'high_priority', c.circuitBreakers.high);
    out += `${n}::added_via_api::${c.addedViaApi}\n`;
    for (const h of c.hosts()) {
      const p = `${n}::${h.addressString}::`;
      for (const s of HOST_STATS) out += `${p}${s.name}::${h.stats[s.name]}\n`;
      out += `${p}hostname::${h.hostname}\n`;
      out += `${p}health_flags::${h.healthFlags()}\n`;
      out += `${p}weight::${h.weight}\n`;
      out += `${p}region::${h.locality.region}\n`;
      out += `${p}zone::${h.locality.zone}\n`;
      out += `${p}sub_zone::${h.locality.subZone}\n`;
      out += `${p}canary::${isCanary(h)}\n`;
      out += `${p}priority::${h.priority}\n`;
      out += `${p}success_rate::-1\n`;
      out += `${p}local_origin_success_rate::-1\n`;
    }
  }
  return out;
}

function thresholdsJson(t: CircuitBreakerThresholds, priority?: 'HIGH'): Record<string, unknown> {
  return {
    ...(priority ? { priority } : {}),
    max_connections: t.maxConnections,
    max_pending_requests: t.maxPendingRequests,
    max_requests: t.maxRequests,
    max_retries: t.maxRetries,
  };
}

/** Envoy's HostHealthStatus from the /clusters health flags. */
function healthStatusJson(h: Host): Record<string, unknown> {
  const flags = h.healthFlags();
  return {
    ...(flags.includes('/failed_outlier_check') ? { failed_outlier_check: true } : {}),
    ...(flags.includes('/failed_active_hc') ? { failed_active_health_check: true } : {}),
    eds_health_status: flags.includes('/failed_eds_health') ? 'UNHEALTHY' : 'HEALTHY',
  };
}

/** `GET /clusters?format=json`: envoy.admin.v3.Clusters (uint64 stat values as strings, as proto JSON does). */
export function renderClustersJson(clusters: Iterable<Cluster>): string {
  const cluster_statuses = [...clusters].sort(byName).map((c) => ({
    name: c.name,
    observability_name: c.statName,
    added_via_api: c.addedViaApi,
    circuit_breakers: { thresholds: [thresholdsJson(c.circuitBreakers.default), thresholdsJson(c.circuitBreakers.high, 'HIGH')] },
    host_statuses: c.hosts().map((h) => ({
      address: { socket_address: { address: h.address, port_value: h.port } },
      stats: HOST_STATS.map((s) => ({ name: s.name, ...(s.gauge ? { type: 'GAUGE' } : {}), value: String(h.stats[s.name]) })),
      health_status: healthStatusJson(h),
      weight: h.weight,
      hostname: h.hostname,
      priority: h.priority,
      locality: { region: h.locality.region, zone: h.locality.zone, sub_zone: h.locality.subZone },
    })),
  }));
  return JSON.stringify({ cluster_statuses }, null, 1);
}
