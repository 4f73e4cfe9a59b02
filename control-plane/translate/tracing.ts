// The HCM `tracing` istiod writes for a Telemetry tracing spec (pilot/pkg/networking/core/tracing.go):
// client and overall sampling at 100 %, the random sampling percentage, Istio's service tags and the custom tags
// sorted by name, and a Zipkin provider reporting through the collector service's outbound cluster, with
// 128-bit trace ids and no shared span context (Istio's zipkinConfig, the form for proxies before 1.29, which
// write collector_cluster rather than collector_service).

import type { ZipkinProvider } from '../istio/mesh-config.ts';
import type { TelemetryCustomTag } from '../istio/telemetry.ts';
import type { ProxyIdentity } from '../xds/snapshot.ts';

type Json = Record<string, unknown>;

const ZIPKIN_TRACER = 'envoy.tracers.zipkin';
const ZIPKIN_TYPE = 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfig';
/** Istio's default collector path (Envoy deprecated Zipkin v1). */
export const DEFAULT_ZIPKIN_PATH = '/api/v2/spans';
/** PILOT_TRACE_SAMPLING's default: the sampling percentage when neither a Telemetry nor defaultConfig sets one. */
export const DEFAULT_TRACE_SAMPLING = 1.0;

/** A Zipkin provider whose collector service is in the registry: what its ZipkinConfig needs. */
export interface ZipkinCollector {
  readonly provider: ZipkinProvider;
  /** outbound|<port>||<host>. */
  readonly cluster: string;
  /** The service's host: the reports' Host header (collector_hostname). */
  readonly hostname: string;
}

/** The mesh config's defaultConfig.tracing, as the legacy settings Telemetry falls back to. */
export interface ProxyTracingDefaults {
  readonly sampling: number;
  readonly maxPathTagLength: number | undefined;
  readonly customTags: Readonly<Record<string, TelemetryCustomTag>>;
}

/** What one HCM's tracing is made of, resolved. */
export interface HcmTracingInput {
  readonly collector: ZipkinCollector;
  readonly randomSamplingPercentage: number | undefined;
  /** The Telemetry's tags (replacing defaultConfig's), or undefined. */
  readonly customTags: Readonly<Record<string, TelemetryCustomTag>> | undefined;
  readonly enableIstioTags: boolean;
}

function zipkinConfig({ provider, cluster, hostname }: ZipkinCollector): Json {
  return {
    '@type': ZIPKIN_TYPE,
    collector_cluster: cluster,
    collector_endpoint: provider.path === undefined || provider.path === '' ? DEFAULT_ZIPKIN_PATH : provider.path,
    collector_endpoint_version: 'HTTP_JSON',
    collector_hostname: hostname,
    trace_id_128bit: provider.enable64bitTraceId !== true,
    shared_span_context: false,
    ...(provider.traceContextOption === 'USE_B3_WITH_W3C_PROPAGATION' ? { trace_context_option: provider.traceContextOption } : {}),
  };
}

const literal = (tag: string, value: string): Json => ({ tag, literal: { value } });

/**
 * Istio's buildServiceTags: the workload's canonical revision and service (from its labels, `latest` and
 * `unknown` when absent), mesh id, namespace and cluster id. Istio also adds four `metadata` tags reading the
 * RBAC filter's dry-run results; nodevoy's tracer has no metadata tags, so they are left out.
 */
function istioTags(proxy: ProxyIdentity): Json[] {
  return [
    literal('istio.canonical_revision', proxy.labels['service.istio.io/canonical-revision'] || 'latest'),
    literal('istio.canonical_service', proxy.labels['service.istio.io/canonical-name'] || 'unknown'),
    literal('istio.mesh_id', proxy.meshId || 'unknown'),
    literal('istio.namespace', proxy.namespace || 'default'),
    literal('istio.cluster_id', proxy.clusterId || 'unknown'),
  ];
}

const defaulted = (v: { name: string; defaultValue?: string | undefined }): Json => ({ name: v.name, ...(v.defaultValue ? { default_value: v.defaultValue } : {}) });

function customTag(tag: string, t: TelemetryCustomTag): Json {
  if (t.literal !== undefined) return literal(tag, t.literal.value);
  if (t.environment !== undefined) return { tag, environment: defaulted(t.environment) };
  return { tag, request_header: defaulted(t.header!) };
}

/** Go's string order (Istio sorts the tags with `<`). */
const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** HttpConnectionManager.tracing for one HCM of `proxy`. */
export function hcmTracing(input: HcmTracingInput, defaults: ProxyTracingDefaults, proxy: ProxyIdentity): Json {
  const tagSource = input.customTags !== undefined && Object.keys(input.customTags).length > 0 ? input.customTags : defaults.customTags;
  const tags = [...(input.enableIstioTags ? istioTags(proxy) : []), ...Object.entries(tagSource).map(([tag, t]) => customTag(tag, t))]
    .sort((a, b) => byteOrder(a['tag'] as string, b['tag'] as string));
  const maxTagLength = input.collector.provider.maxTagLength || defaults.maxPathTagLength;
  return {
    client_sampling: { value: 100 },
    random_sampling: { value: input.randomSamplingPercentage ?? defaults.sampling },
    overall_sampling: { value: 100 },
    ...(tags.length === 0 ? {} : { custom_tags: tags }),
    ...(maxTagLength ? { max_path_tag_length: maxTagLength } : {}),
    provider: { name: ZIPKIN_TRACER, typed_config: zipkinConfig(input.collector) },
  };
}
