// Schema of Istio's MeshConfig (istio.mesh.v1alpha1.MeshConfig) as the `mesh` key of the `istio` ConfigMap in
// istio-system holds it, for what nodevoy's translation reads: the telemetry extension providers (zipkin,
// envoyFileAccessLog, prometheus), the default providers, the legacy access log settings and the proxies'
// default tracing settings. MeshConfig's other fields are accepted and reported as not applied (translation
// warns); fields MeshConfig does not have are errors. Access log formats are checked with the proxy's own
// formatter, so a format the sidecars would refuse is an error here, at its path.

import { z } from 'zod';
import { validateFormat, validateJsonFormat } from '../../proxy/access-log/formatter.ts';
import { istioEnum, istioMessage, istioUint32, portNumber } from './istio-kit.ts';
import { customTagSchema } from './telemetry.ts';

const NS = 'istio.mesh.v1alpha1';
const MESH = `${NS}.MeshConfig`;
const PROVIDER = `${MESH}.ExtensionProvider`;

/** The ConfigMap Istio keeps its mesh config in: `istio` in the root namespace, MeshConfig YAML under `data.mesh`. */
export const MESH_CONFIG_MAP = { name: 'istio', namespace: 'istio-system', key: 'mesh' } as const;

/** Accepted, never applied: translation reports each one present as a warning. */
function accepted<const F extends readonly string[]>(fields: F): { [K in F[number]]: z.ZodOptional<z.ZodUnknown> } {
  return Object.fromEntries(fields.map((f) => [f, z.unknown().optional()])) as { [K in F[number]]: z.ZodOptional<z.ZodUnknown> };
}

/** MeshConfig fields nodevoy reads nothing from (istiod, the agent, ingress, discovery, …). */
export const MESH_FIELDS_NOT_APPLIED = [
  'proxyListenPort', 'proxyInboundListenPort', 'proxyHttpPort', 'connectTimeout', 'protocolDetectionTimeout', 'tcpKeepalive',
  'ingressClass', 'ingressService', 'ingressControllerMode', 'ingressSelector', 'enableEnvoyAccessLogService', 'disableEnvoyListenerLog',
  'outboundTrafficPolicy', 'inboundTrafficPolicy', 'configSources', 'enableAutoMtls', 'trustDomainAliases', 'caCertificates',
  'defaultServiceExportTo', 'defaultVirtualServiceExportTo', 'defaultDestinationRuleExportTo', 'localityLbSetting', 'dnsRefreshRate',
  'h2UpgradePolicy', 'inboundClusterStatName', 'outboundClusterStatName', 'certificates', 'thriftConfig', 'serviceSettings',
  'enablePrometheusMerge', 'verifyCertificateAtClient', 'ca', 'discoverySelectors', 'pathNormalization', 'defaultHttpRetryPolicy',
  'meshMTLS', 'tlsDefaults', 'serviceScopeConfigs',
] as const;

/** ProxyConfig fields (defaultConfig) other than tracing: the agent's and the bootstrap's, which nodevoy does not write. */
export const PROXY_FIELDS_NOT_APPLIED = [
  'configPath', 'binaryPath', 'serviceCluster', 'drainDuration', 'parentShutdownDuration', 'discoveryAddress', 'discoveryRefreshDelay',
  'zipkinAddress', 'statsdUdpAddress', 'envoyMetricsServiceAddress', 'proxyAdminPort', 'availabilityZone', 'controlPlaneAuthPolicy',
  'customConfigFile', 'statNameLength', 'concurrency', 'proxyBootstrapTemplatePath', 'interceptionMode', 'sds', 'envoyAccessLogService',
  'envoyMetricsService', 'proxyMetadata', 'runtimeValues', 'statusPort', 'extraStatTags', 'gatewayTopology', 'terminationDrainDuration',
  'meshId', 'readinessProbe', 'proxyStatsMatcher', 'holdApplicationUntilProxyStarts', 'caCertificatesPem', 'image', 'privateKeyProvider',
  'proxyHeaders', 'fileFlushInterval', 'fileFlushMinSizeKb', 'tracingServiceName',
] as const;

/** Tracers of the proxies' bootstrap (Istio's legacy tracing): nodevoy writes no bootstrap. */
export const BOOTSTRAP_TRACERS = ['zipkin', 'lightstep', 'datadog', 'stackdriver', 'openCensusAgent', 'tlsSettings'] as const;

const ProxyTracingSchema = istioMessage(`${NS}.Tracing`, {
  /** Percent of requests sampled when no Telemetry sets randomSamplingPercentage; 0 = Istio's default (1 %). */
  sampling: z.number().min(0, 'sampling must be in [0.0, 100.0]').max(100, 'sampling must be in [0.0, 100.0]').optional(),
  maxPathTagLength: istioUint32.optional(),
  customTags: z.record(z.string(), customTagSchema(`${NS}.Tracing`)).optional(),
  enableIstioTags: z.boolean().optional(),
  ...accepted(BOOTSTRAP_TRACERS),
});

const ProxyConfigSchema = istioMessage(`${NS}.ProxyConfig`, {
  tracing: ProxyTracingSchema.optional(),
  ...accepted(PROXY_FIELDS_NOT_APPLIED),
});

/** A text format as Istio writes it into the FileAccessLog: with a final newline (Istio adds one when missing). */
export const withNewline = (format: string): string => (format.endsWith('\n') ? format : `${format}\n`);

const textFormat = z.string().superRefine((text, ctx) => {
  for (const problem of validateFormat(text)) ctx.addIssue({ code: 'custom', message: problem });
});

/** A JSON log format (`labels`, or accessLogFormat with JSON encoding) the proxy's formatter accepts. */
function checkJsonFormat(labels: Record<string, unknown>, ctx: z.RefinementCtx, path: PropertyKey[]): void {
  for (const problem of validateJsonFormat(labels)) ctx.addIssue({ code: 'custom', path, message: problem });
}

const labelsFormat = z.record(z.string(), z.unknown()).superRefine((labels, ctx) => checkJsonFormat(labels, ctx, []));

const ZipkinSchema = istioMessage(`${PROVIDER}.ZipkinTracingProvider`, {
  /** `<host>` or `<namespace>/<host>` of a registry service. */
  service: z.string().min(1, 'service is required (a registry host, optionally <namespace>/<host>)'),
  port: portNumber,
  maxTagLength: istioUint32.optional(),
  enable64bitTraceId: z.boolean().optional(),
  /** Default /api/v2/spans. */
  path: z.string().optional(),
  traceContextOption: istioEnum(`${PROVIDER}.ZipkinTracingProvider.TraceContextOption`, ['USE_B3', 'USE_B3_WITH_W3C_PROPAGATION']).optional(),
}, { unimplemented: ['timeout', 'headers'] });

export type ZipkinProvider = z.output<typeof ZipkinSchema>;

const FileAccessLogSchema = istioMessage(`${PROVIDER}.EnvoyFileAccessLogProvider`, {
  /** Default /dev/stdout. */
  path: z.string().optional(),
  logFormat: istioMessage(`${PROVIDER}.EnvoyFileAccessLogProvider.LogFormat`, {
    text: textFormat.optional(),
    labels: labelsFormat.optional(),
  }).superRefine((f, ctx) => {
    if (f.text !== undefined && f.labels !== undefined) ctx.addIssue({ code: 'custom', message: 'a logFormat is either text or labels, not both' });
  }).optional(),
  omitEmptyValues: z.boolean().optional(),
});

export type FileAccessLogProvider = z.output<typeof FileAccessLogSchema>;

/** Provider kinds Istio has and nodevoy does not implement: a provider of one is kept, and naming it configures nothing. */
export const UNSUPPORTED_PROVIDERS = [
  'stackdriver', 'opentelemetry', 'datadog', 'lightstep', 'skywalking', 'opencensus', 'envoyExtAuthzHttp', 'envoyExtAuthzGrpc',
  'envoyHttpAls', 'envoyTcpAls', 'envoyOtelAls', 'sds',
] as const;

export type ExtensionProvider =
  | { readonly name: string; readonly kind: 'zipkin'; readonly zipkin: ZipkinProvider }
  | { readonly name: string; readonly kind: 'envoyFileAccessLog'; readonly envoyFileAccessLog: FileAccessLogProvider }
  | { readonly name: string; readonly kind: 'prometheus' }
  | { readonly name: string; readonly kind: 'unsupported'; readonly type: (typeof UNSUPPORTED_PROVIDERS)[number] };

const KINDS = ['zipkin', 'envoyFileAccessLog', 'prometheus', ...UNSUPPORTED_PROVIDERS] as const;

const ExtensionProviderSchema = istioMessage(PROVIDER, {
  name: z.string().min(1, 'an extension provider needs a name'),
  zipkin: ZipkinSchema.optional(),
  envoyFileAccessLog: FileAccessLogSchema.optional(),
  prometheus: istioMessage(`${PROVIDER}.PrometheusMetricsProvider`, {}).optional(),
  ...accepted(UNSUPPORTED_PROVIDERS),
}).transform((p, ctx): ExtensionProvider => {
  const set = KINDS.filter((k) => (p as Record<string, unknown>)[k] !== undefined);
  if (set.length !== 1) {
    ctx.addIssue({ code: 'custom', message: `an extension provider is exactly one of ${KINDS.join(', ')} (found ${set.length === 0 ? 'none' : set.join(', ')})` });
    return z.NEVER;
  }
  if (p.zipkin !== undefined) return { name: p.name, kind: 'zipkin', zipkin: p.zipkin };
  if (p.envoyFileAccessLog !== undefined) return { name: p.name, kind: 'envoyFileAccessLog', envoyFileAccessLog: p.envoyFileAccessLog };
  if (p.prometheus !== undefined) return { name: p.name, kind: 'prometheus' };
  return { name: p.name, kind: 'unsupported', type: set[0] as (typeof UNSUPPORTED_PROVIDERS)[number] };
});

const providerNames = z.array(z.string().min(1, 'a provider name must not be empty'));

export const ACCESS_LOG_ENCODINGS = ['TEXT', 'JSON'] as const;

export const MeshConfigSchema = istioMessage(MESH, {
  /** Legacy access logging (no Telemetry, no default access log provider): the file every sidecar HCM logs to. */
  accessLogFile: z.string().optional(),
  accessLogEncoding: istioEnum(`${MESH}.AccessLogEncoding`, ACCESS_LOG_ENCODINGS).default('TEXT'),
  /** Replaces Istio's default format: a text format, or a JSON object of labels with JSON encoding. */
  accessLogFormat: z.string().optional(),
  /** Legacy tracing through the bootstrap's tracer (default true in Istio); see docs/observability.md. */
  enableTracing: z.boolean().optional(),
  defaultConfig: ProxyConfigSchema.optional(),
  defaultProviders: istioMessage(`${MESH}.DefaultProviders`, {
    tracing: providerNames.optional(),
    accessLogging: providerNames.optional(),
    metrics: providerNames.optional(),
  }).optional(),
  extensionProviders: z.array(ExtensionProviderSchema).default([]),
  /** nodevoy's comes from the control plane (its CA's): translation warns when this one differs. */
  trustDomain: z.string().optional(),
  /** nodevoy's root namespace is fixed (names.ts ROOT_NAMESPACE). */
  rootNamespace: z.string().superRefine((ns, ctx) => {
    if (ns !== MESH_CONFIG_MAP.namespace) {
      ctx.addIssue({ code: 'custom', params: { kind: 'not-implemented' }, message: `nodevoy's root namespace is ${MESH_CONFIG_MAP.namespace}; another one (${ns}) is not implemented` });
    }
  }).optional(),
  ...accepted(MESH_FIELDS_NOT_APPLIED),
  // Cross-field checks run even when a field has an error of its own, so every error is listed: the value
  // may then be partly unparsed, hence read defensively.
}).superRefine((mc, ctx) => crossFieldChecks(mc as unknown, ctx), { when: () => true });

function crossFieldChecks(value: unknown, ctx: z.RefinementCtx): void {
  if (value === null || typeof value !== 'object') return;
  const mc = value as Record<string, unknown>;
  const seen = new Set<string>();
  (Array.isArray(mc['extensionProviders']) ? mc['extensionProviders'] as unknown[] : []).forEach((p, i) => {
    const name = (p as { name?: unknown } | null)?.name;
    if (typeof name !== 'string') return;
    if (seen.has(name)) ctx.addIssue({ code: 'custom', path: ['extensionProviders', i, 'name'], message: `duplicate extension provider name "${name}"` });
    seen.add(name);
  });
  const format = mc['accessLogFormat'];
  if (typeof format !== 'string') return;
  if (mc['accessLogEncoding'] !== 'JSON') {
    for (const problem of validateFormat(format)) ctx.addIssue({ code: 'custom', path: ['accessLogFormat'], message: problem });
    return;
  }
  const labels = jsonObject(format);
  if (labels === undefined) ctx.addIssue({ code: 'custom', path: ['accessLogFormat'], message: 'with accessLogEncoding JSON, accessLogFormat must be a JSON object of labels (e.g. {"code": "%RESPONSE_CODE%"})' });
  else checkJsonFormat(labels, ctx, ['accessLogFormat']);
}

export type MeshConfigSpec = z.output<typeof MeshConfigSchema>;

/** The JSON object `text` holds, else undefined. */
export function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}
