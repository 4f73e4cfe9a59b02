// Tracing and access logs from the control plane: the mesh config (the `istio` ConfigMap's MeshConfig, Istio's
// defaults without one) and the Telemetry resources, resolved once per mesh — extension providers by name,
// each Zipkin provider's collector cluster in the registry — and, per proxy and side, turned into the
// `tracing` and `access_log` of its sidecar HCMs (Istio's configureTracing and setHTTPAccessLog). Everything
// the mesh config or a Telemetry asks for that will not happen is a warning at its path.

import type { ConfigErrorKind } from '../../proxy/common/result.ts';
import {
  BOOTSTRAP_TRACERS, MESH_FIELDS_NOT_APPLIED, MeshConfigSchema, PROXY_FIELDS_NOT_APPLIED, type ExtensionProvider, type MeshConfigSpec,
} from '../istio/mesh-config.ts';
import type { IstioResource, MeshConfigMap, Telemetry } from '../istio/resources.ts';
import type { ProxyIdentity } from '../xds/snapshot.ts';
import { BUILTIN_ACCESS_LOG_PROVIDER, DEV_STDOUT, meshConfigAccessLog, providerAccessLog } from './access-log.ts';
import type { MeshService } from './mesh.ts';
import { outboundClusterName } from './names.ts';
import { Telemetries, mergeLogs, mergeTracing, type TelemetrySide } from './telemetry-policy.ts';
import { DEFAULT_TRACE_SAMPLING, hcmTracing, type ProxyTracingDefaults, type ZipkinCollector } from './tracing.ts';

type Json = Record<string, unknown>;

/** An extension provider as translation uses it. */
type ResolvedProvider =
  /** collector undefined: its service is not in the registry (warned), so it traces nothing. */
  | { readonly kind: 'zipkin'; readonly name: string; readonly collector: ZipkinCollector | undefined }
  | { readonly kind: 'access-log'; readonly name: string; readonly accessLog: Json }
  | { readonly kind: 'other'; readonly name: string; readonly type: string };

export interface Observability {
  readonly telemetries: Telemetries;
  readonly meshConfig: MeshConfigSpec;
  /** By lower-cased name: Istio looks providers up case-insensitively. */
  readonly providers: ReadonlyMap<string, ResolvedProvider>;
  readonly defaultTracing: readonly string[];
  readonly defaultLogging: readonly string[];
  readonly tracingDefaults: ProxyTracingDefaults;
}

export type Warn = (r: IstioResource, path: string, kind: ConfigErrorKind, message: string) => void;

/** MeshConfig's extensionProviders before the ConfigMap's are merged in (Istio's DefaultMeshConfig). */
const DEFAULT_PROVIDERS: readonly ExtensionProvider[] = [
  { name: 'prometheus', kind: 'prometheus' },
  { name: 'stackdriver', kind: 'unsupported', type: 'stackdriver' },
  { name: BUILTIN_ACCESS_LOG_PROVIDER, kind: 'envoyFileAccessLog', envoyFileAccessLog: { path: DEV_STDOUT } },
];

const MESH = 'data.mesh';

function typeOf(p: ExtensionProvider): string {
  return p.kind === 'unsupported' ? p.type : p.kind;
}

/**
 * Istio's LookupCluster: `<namespace>/<host>` or `<host>` of a registry service, reached through its outbound
 * cluster for `port`. Why not, when it cannot be used.
 */
function lookupCollector(provider: ExtensionProvider & { kind: 'zipkin' }, services: ReadonlyMap<string, MeshService>): ZipkinCollector | string {
  const { service, port } = provider.zipkin;
  const slash = service.indexOf('/');
  const host = slash < 0 ? service : service.slice(slash + 1);
  const found = services.get(host);
  if (found === undefined || (slash >= 0 && found.namespace !== service.slice(0, slash))) {
    return `no ServiceEntry declares the collector service "${service}" (IST0101 ReferencedResourceNotFound): proxies get no tracing to provider "${provider.name}" until it is in the registry`;
  }
  if (!found.httpPorts.some((p) => p.number === port)) {
    return `host "${host}" has no HTTP port ${port} (IST0101 ReferencedResourceNotFound): proxies get no tracing to provider "${provider.name}" until it has one`;
  }
  return { provider: provider.zipkin, cluster: outboundClusterName(port, '', host), hostname: found.host };
}

/** Istio's ApplyMeshConfig: a provider of the ConfigMap replaces the default of the same name, others are added. */
function mergedProviders(mc: MeshConfigSpec): { provider: ExtensionProvider; index: number | undefined }[] {
  const merged = DEFAULT_PROVIDERS.map((provider) => ({ provider, index: undefined as number | undefined }));
  mc.extensionProviders.forEach((provider, index) => {
    const at = merged.findIndex((m) => m.provider.name === provider.name);
    if (at < 0) merged.push({ provider, index });
    else merged[at] = { provider, index };
  });
  return merged;
}

export function buildObservability(
  telemetryList: readonly Telemetry[], configMap: MeshConfigMap | undefined, services: ReadonlyMap<string, MeshService>, trustDomain: string, warn: Warn,
): Observability {
  const mc = configMap?.spec ?? MeshConfigSchema.parse({});
  const warnMesh = (path: string, message: string, kind: ConfigErrorKind = 'not-implemented') => {
    if (configMap !== undefined) warn(configMap, path, kind, message);
  };
  const providers = new Map<string, ResolvedProvider>();
  for (const { provider: p, index } of mergedProviders(mc)) {
    const at = `${MESH}.extensionProviders[${index}]`;
    let resolved: ResolvedProvider;
    if (p.kind === 'zipkin') {
      const collector = lookupCollector(p, services);
      if (typeof collector === 'string') warnMesh(`${at}.zipkin.service`, collector, 'invalid');
      resolved = { kind: 'zipkin', name: p.name, collector: typeof collector === 'string' ? undefined : collector };
    } else if (p.kind === 'envoyFileAccessLog') {
      resolved = { kind: 'access-log', name: p.name, accessLog: providerAccessLog(p.name, p.envoyFileAccessLog, mc) };
    } else {
      if (p.kind === 'unsupported' && index !== undefined) {
        warnMesh(`${at}.${p.type}`, `extension provider "${p.name}": ${p.type} providers are not implemented (nodevoy traces to Zipkin and logs to files): a Telemetry or defaultProviders naming it configures nothing`);
      }
      resolved = { kind: 'other', name: p.name, type: typeOf(p) };
    }
    providers.set(p.name.toLowerCase(), resolved);
  }
  const defaults = mc.defaultProviders ?? {};
  const defaultTracing = defaults.tracing ?? [];
  const defaultLogging = defaults.accessLogging ?? [];
  const check = (use: 'tracing' | 'accessLogging', name: string, report: (message: string) => void) => {
    const p = providers.get(name.toLowerCase());
    if (p === undefined) report(`no extension provider named "${name}" in the mesh config (${[...providers.values()].map((x) => x.name).join(', ')}): it configures nothing`);
    else if (use === 'tracing' && p.kind !== 'zipkin') report(`provider "${name}" (${p.kind === 'other' ? p.type : 'envoyFileAccessLog'}) ${p.kind === 'other' && p.type !== 'prometheus' ? 'is not implemented' : 'does not trace'}: the workloads get no tracing from it`);
    else if (use === 'accessLogging' && p.kind !== 'access-log') report(`provider "${name}" (${p.kind === 'other' ? p.type : 'zipkin'}) ${p.kind === 'other' && p.type !== 'prometheus' ? 'is not implemented' : 'writes no access logs'}: the workloads get no access log from it`);
  };
  if (defaultTracing.length > 1) warnMesh(`${MESH}.defaultProviders.tracing[1]`, 'Istio uses the first default tracing provider only: the others are not applied');
  defaultTracing.slice(0, 1).forEach((n) => check('tracing', n, (m) => warnMesh(`${MESH}.defaultProviders.tracing[0]`, m, 'invalid')));
  defaultLogging.forEach((n, i) => check('accessLogging', n, (m) => warnMesh(`${MESH}.defaultProviders.accessLogging[${i}]`, m, 'invalid')));
  if (defaults.metrics !== undefined && defaults.metrics.some((m) => m.toLowerCase() !== 'prometheus')) {
    warnMesh(`${MESH}.defaultProviders.metrics`, 'not applied: nodevoy\'s sidecars report Istio\'s standard metrics for Prometheus (istio.stats), whatever the metrics providers say');
  }
  if (configMap !== undefined) meshConfigWarnings(configMap, trustDomain, warnMesh);

  for (const t of telemetryList) {
    t.spec.tracing.forEach((e, i) => {
      if (e.providers.length > 1) warn(t, `spec.tracing[${i}].providers[1]`, 'not-implemented', 'Istio uses the first tracing provider only: the others are not applied');
      e.providers.slice(0, 1).forEach((p) => check('tracing', p.name, (m) => warn(t, `spec.tracing[${i}].providers[0].name`, 'invalid', m)));
    });
    t.spec.accessLogging.forEach((e, i) => e.providers.forEach((p, j) => check('accessLogging', p.name, (m) => warn(t, `spec.accessLogging[${i}].providers[${j}].name`, 'invalid', m))));
  }
  const proxyTracing = mc.defaultConfig?.tracing;
  return {
    telemetries: new Telemetries(telemetryList, (t, path, message) => warn(t, path, 'invalid', message)),
    meshConfig: mc, providers, defaultTracing, defaultLogging,
    tracingDefaults: {
      // Istio's proxyConfigSamplingValue: 0 (unset) means PILOT_TRACE_SAMPLING's default.
      sampling: proxyTracing?.sampling || DEFAULT_TRACE_SAMPLING,
      maxPathTagLength: proxyTracing?.maxPathTagLength || undefined,
      customTags: proxyTracing?.customTags ?? {},
    },
  };
}

/** Mesh config fields present that nodevoy does not apply. */
function meshConfigWarnings(cm: MeshConfigMap, trustDomain: string, warnMesh: (path: string, message: string) => void): void {
  const mc = cm.spec as MeshConfigSpec & Record<string, unknown>;
  for (const f of MESH_FIELDS_NOT_APPLIED) {
    if (mc[f] !== undefined) warnMesh(`${MESH}.${f}`, `accepted but not applied: nodevoy's control plane does not implement MeshConfig.${f}`);
  }
  if (mc.trustDomain !== undefined && mc.trustDomain !== trustDomain) {
    warnMesh(`${MESH}.trustDomain`, `not applied: the mesh's trust domain is ${trustDomain} (the control plane's, from its CA), not ${mc.trustDomain}`);
  }
  const proxy = (mc.defaultConfig ?? {}) as Record<string, unknown>;
  for (const f of PROXY_FIELDS_NOT_APPLIED) {
    if (proxy[f] !== undefined) warnMesh(`${MESH}.defaultConfig.${f}`, `accepted but not applied: ProxyConfig.${f} configures Istio's agent or the proxy bootstrap, which nodevoy's control plane does not write`);
  }
  const tracing = (mc.defaultConfig?.tracing ?? {}) as Record<string, unknown>;
  for (const f of BOOTSTRAP_TRACERS) {
    if (tracing[f] !== undefined) warnMesh(`${MESH}.defaultConfig.tracing.${f}`, 'not applied: this configures the tracer of the proxies\' bootstrap (Istio\'s legacy tracing), which nodevoy does not write; trace with a Telemetry resource (or defaultProviders.tracing) naming a zipkin extension provider');
  }
  if (mc.enableTracing === true && (mc.defaultProviders?.tracing ?? []).length === 0) {
    warnMesh(`${MESH}.enableTracing`, 'not applied: without a Telemetry resource or defaultProviders.tracing, Istio traces through the tracer of the proxies\' bootstrap, which nodevoy does not write; trace with a Telemetry resource (or defaultProviders.tracing) naming a zipkin extension provider');
  }
  if (cm.meshNetworks !== undefined && !/^\s*(networks:\s*\{\s*\}\s*)?$/.test(cm.meshNetworks)) {
    warnMesh('data.meshNetworks', 'accepted but not applied: nodevoy has no multi-network support');
  }
}

/** The HCM tracing of one side, when a Telemetry (or the default provider) gives it a usable Zipkin provider. */
function tracingFor(o: Observability, levels: readonly Telemetry[], proxy: ProxyIdentity, side: TelemetrySide): Json | undefined {
  // No Telemetry tracing and no default provider: Istio's legacy tracing, through a bootstrap tracer nodevoy lacks.
  const spec = mergeTracing(levels, o.defaultTracing, side);
  if (spec === undefined || spec.disabled) return undefined;
  const provider = o.providers.get(spec.provider!.toLowerCase());
  if (provider?.kind !== 'zipkin' || provider.collector === undefined) return undefined;
  return hcmTracing({
    collector: provider.collector, randomSamplingPercentage: spec.randomSamplingPercentage, customTags: spec.customTags, enableIstioTags: spec.enableIstioTags,
  }, o.tracingDefaults, proxy);
}

/** The HCM access logs of one side: the Telemetry/default providers in effect, else the legacy accessLogFile. */
function accessLogsFor(o: Observability, levels: readonly Telemetry[], side: TelemetrySide): Json[] {
  const names = mergeLogs(levels, o.defaultLogging, side);
  if (names === undefined) {
    const file = o.meshConfig.accessLogFile;
    return file === undefined || file === '' ? [] : [meshConfigAccessLog(file, o.meshConfig)];
  }
  const logs = new Map<string, Json>();
  for (const name of [...names].sort()) {
    const p = o.providers.get(name.toLowerCase());
    if (p?.kind === 'access-log' && !logs.has(p.name)) logs.set(p.name, p.accessLog);
  }
  return [...logs.values()];
}

/** `tracing` and `access_log` for a sidecar HCM of `proxy` (outbound: CLIENT, inbound: SERVER); {} when neither applies. */
export function hcmObservability(o: Observability, proxy: ProxyIdentity, side: TelemetrySide): Json {
  const levels = o.telemetries.applicable(proxy.namespace, proxy.labels);
  const tracing = tracingFor(o, levels, proxy, side);
  const accessLog = accessLogsFor(o, levels, side);
  return { ...(tracing === undefined ? {} : { tracing }), ...(accessLog.length === 0 ? {} : { access_log: accessLog }) };
}
