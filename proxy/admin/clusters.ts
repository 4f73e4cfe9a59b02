// Admin /clusters: Envoy's `<cluster>::<fact>::<value>` text lines (circuit breaker thresholds, per-host
// stats in alphabetical order, health flags, weight, locality, canary, priority) and a Clusters-proto JSON.

import type {
  CircuitBreakerThresholds, Cluster, Host, HostStats, OutlierDetectorInfo, ResourcePriority, SuccessRateOrigin,
} from '../upstream/types.ts';

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

function thresholdLines(c: Cluster, priority: ResourcePriority): string {
  const name = c.name;
  const t: CircuitBreakerThresholds = priority === 'HIGH' ? c.circuitBreakers.high : c.circuitBreakers.default;
  const p = priority === 'HIGH' ? 'high_priority' : 'default_priority';
  let out = `${name}::${p}::max_connections::${t.maxConnections}\n` +
    `${name}::${p}::max_pending_requests::${t.maxPendingRequests}\n` +
    `${name}::${p}::max_requests::${t.maxRequests}\n` +
    `${name}::${p}::max_retries::${t.maxRetries}\n`;
  if (t.trackRemaining) {
    // nodevoy addition (Envoy publishes these only as circuit_breakers.<priority>.remaining_* gauges).
    const r = c.resourceManager(priority);
    const left = (x: { count(): number; max(): number }): number => Math.max(0, x.max() - x.count());
    out += `${name}::${p}::remaining_cx::${left(r.connections)}\n` +
      `${name}::${p}::remaining_pending::${left(r.pendingRequests)}\n` +
      `${name}::${p}::remaining_rq::${left(r.requests)}\n` +
      `${name}::${p}::remaining_retries::${left(r.retries)}\n`;
  }
  return out;
}

/** printf's %g (fmt `{:g}`): 6 significant digits, trailing zeros dropped, exponent form outside 1e-4..1e6. */
export function formatG(x: number): string {
  if (x === 0 || !Number.isFinite(x)) return String(x);
  const exponent = Math.floor(Math.log10(Math.abs(Number(x.toPrecision(6)))));
  if (exponent < -4 || exponent >= 6) {
    const [mantissa = '', exp = '0'] = x.toExponential(5).split('e');
    const e = Number(exp);
    return `${mantissa.replace(/\.?0+$/, '')}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  return String(Number(x.toPrecision(6)));
}

/** Envoy's addOutlierInfo: the cluster's success-rate figures, only when outlier_detection is configured. */
function outlierLines(name: string, d: OutlierDetectorInfo): string {
  return `${name}::outlier::success_rate_average::${formatG(d.successRateAverage('ExternalOrigin'))}\n` +
    `${name}::outlier::success_rate_ejection_threshold::${formatG(d.successRateEjectionThreshold('ExternalOrigin'))}\n` +
    `${name}::outlier::local_origin_success_rate_average::${formatG(d.successRateAverage('LocalOrigin'))}\n` +
    `${name}::outlier::local_origin_success_rate_ejection_threshold::${formatG(d.successRateEjectionThreshold('LocalOrigin'))}\n`;
}

/** A host's success rate from the last outlier sweep; -1 when not computed or without outlier detection. */
function hostSuccessRate(c: Cluster, h: Host, origin: SuccessRateOrigin): number {
  return c.outlierDetector?.hostSuccessRate(h, origin) ?? -1;
}

/** `GET /clusters` text. */
export function renderClustersText(clusters: Iterable<Cluster>): string {
  let out = '';
  for (const c of [...clusters].sort(byName)) {
    const n = c.name;
    out += `${n}::observability_name::${c.statName}\n`;
    if (c.outlierDetector) out += outlierLines(n, c.outlierDetector);
    out += thresholdLines(c, 'DEFAULT');
    out += thresholdLines(c, 'HIGH');
    out += `${n}::added_via_api::${c.addedViaApi}\n`;
    if (c.edsServiceName !== undefined) out += `${n}::eds_service_name::${c.edsServiceName}\n`;
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
      out += `${p}success_rate::${hostSuccessRate(c, h, 'ExternalOrigin')}\n`;
      out += `${p}local_origin_success_rate::${hostSuccessRate(c, h, 'LocalOrigin')}\n`;
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

/** An envoy.type.v3.Percent field, present only when `value` passes `when` (Envoy leaves unset ones out). */
function percentField(field: string, value: number | undefined, when: (v: number) => boolean): Record<string, unknown> {
  return value !== undefined && when(value) ? { [field]: { value } } : {};
}

/** `GET /clusters?format=json`: envoy.admin.v3.Clusters (uint64 stat values as strings, as proto JSON does). */
export function renderClustersJson(clusters: Iterable<Cluster>): string {
  const cluster_statuses = [...clusters].sort(byName).map((c) => ({
    name: c.name,
    observability_name: c.statName,
    added_via_api: c.addedViaApi,
    ...(c.edsServiceName !== undefined ? { eds_service_name: c.edsServiceName } : {}),
    ...percentField('success_rate_ejection_threshold', c.outlierDetector?.successRateEjectionThreshold('ExternalOrigin'), (v) => v > 0),
    ...percentField('local_origin_success_rate_ejection_threshold', c.outlierDetector?.successRateEjectionThreshold('LocalOrigin'), (v) => v > 0),
    circuit_breakers: { thresholds: [thresholdsJson(c.circuitBreakers.default), thresholdsJson(c.circuitBreakers.high, 'HIGH')] },
    host_statuses: c.hosts().map((h) => ({
      address: { socket_address: { address: h.address, port_value: h.port } },
      stats: HOST_STATS.map((s) => ({ name: s.name, ...(s.gauge ? { type: 'GAUGE' } : {}), value: String(h.stats[s.name]) })),
      health_status: healthStatusJson(h),
      ...percentField('success_rate', hostSuccessRate(c, h, 'ExternalOrigin'), (v) => v >= 0),
      weight: h.weight,
      hostname: h.hostname,
      priority: h.priority,
      ...percentField('local_origin_success_rate', hostSuccessRate(c, h, 'LocalOrigin'), (v) => v >= 0),
      locality: { region: h.locality.region, zone: h.locality.zone, sub_zone: h.locality.subZone },
    })),
  }));
  return JSON.stringify({ cluster_statuses }, null, 1);
}
