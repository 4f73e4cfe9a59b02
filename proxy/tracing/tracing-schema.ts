// Wire schema of HttpConnectionManager.Tracing (sampling, tags, the provider) and of the Zipkin provider
// (envoy.config.trace.v3.ZipkinConfig), and their translation into TracingConfig: plain defaulted values.
// Pure; the collector_cluster cross-check happens where listeners are translated (listener-config.ts).

import { z } from 'zod';
import { PercentSchema } from '../config/fractional-percent.ts';
import { bool, enumOf, message, onlyValues, typedConfig, uint32 } from '../config/schema-kit.ts';
import { headerNameValue, oneOf } from '../route/route-config-schema.ts';
import type { TracingSampling } from './request-id.ts';

const HCM_TRACING = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.Tracing';
const ZIPKIN = 'envoy.config.trace.v3.ZipkinConfig';
export const ZIPKIN_TYPE_URL = `type.googleapis.com/${ZIPKIN}`;

/** Envoy's Tracing::DefaultMaxPathTagLength. */
export const DEFAULT_MAX_PATH_TAG_LENGTH = 256;

const ENDPOINT_VERSIONS = ['DEPRECATED_AND_UNAVAILABLE_DO_NOT_USE', 'HTTP_JSON', 'HTTP_PROTO', 'GRPC'] as const;

export const ZipkinConfigSchema = message(ZIPKIN, {
  collector_cluster: z.string().min(1, 'collector_cluster must not be empty'),
  collector_endpoint: z.string().min(1, 'collector_endpoint must not be empty'),
  trace_id_128bit: bool.optional(),
  shared_span_context: bool.optional(),
  // The 0 value is refused below, as Envoy's span buffer does; HTTP_PROTO (protobuf) and GRPC are not implemented.
  collector_endpoint_version: enumOf(`${ZIPKIN}.CollectorEndpointVersion`, ['HTTP_JSON', 'DEPRECATED_AND_UNAVAILABLE_DO_NOT_USE'],
    ['HTTP_PROTO', 'GRPC'], ENDPOINT_VERSIONS).optional(),
  collector_hostname: z.string().optional(),
  trace_context_option: enumOf(`${ZIPKIN}.TraceContextOption`, ['USE_B3', 'USE_B3_WITH_W3C_PROPAGATION']).optional(),
}, { unimplemented: ['split_spans_for_request', 'collector_service'] }).superRefine((zc, ctx) => {
  if (zc.collector_endpoint_version === undefined || zc.collector_endpoint_version === 'DEPRECATED_AND_UNAVAILABLE_DO_NOT_USE') {
    ctx.addIssue({
      code: 'custom', path: ['collector_endpoint_version'],
      message: 'the default value DEPRECATED_AND_UNAVAILABLE_DO_NOT_USE (Zipkin v1) is refused by Envoy: set collector_endpoint_version: HTTP_JSON',
    });
  }
});

/** The Zipkin provider as the runtime consumes it. */
export interface ZipkinProviderConfig {
  readonly collectorCluster: string;
  readonly collectorEndpoint: string;
  /** The Host header of span reports: collector_hostname, else collector_cluster. */
  readonly collectorHostname: string;
  readonly traceId128bit: boolean;
  /** shared_span_context (default true): an ingress span reuses the caller's span id. */
  readonly sharedSpanContext: boolean;
  /** trace_context_option USE_B3_WITH_W3C_PROPAGATION: traceparent is read when B3 is absent and written too. */
  readonly w3cPropagation: boolean;
}

const providerTypedConfig = typedConfig('tracer typed_config', (url) => (url === ZIPKIN_TYPE_URL ? ZipkinConfigSchema : undefined));

/** config.trace.v3.Tracing.Http: the tracer is chosen by its typed_config `@type` (the name is informational). */
const TracingHttpSchema = message('envoy.config.trace.v3.Tracing.Http', {
  name: z.string().min(1),
  typed_config: providerTypedConfig,
});

const LiteralSchema = message('envoy.type.tracing.v3.CustomTag.Literal', { value: z.string().min(1) });
const EnvironmentSchema = message('envoy.type.tracing.v3.CustomTag.Environment', {
  name: z.string().min(1),
  default_value: z.string().optional(),
});
const HeaderSchema = message('envoy.type.tracing.v3.CustomTag.Header', {
  name: headerNameValue,
  default_value: z.string().optional(),
});

const CustomTagSchema = message('envoy.type.tracing.v3.CustomTag', {
  tag: z.string().min(1),
  literal: LiteralSchema.optional(),
  environment: EnvironmentSchema.optional(),
  request_header: HeaderSchema.optional(),
}, { unimplemented: ['metadata', 'value'] }).superRefine((t, ctx) => {
  // A metadata tag is reported as not implemented already.
  if (!('metadata' in t)) oneOf<typeof t>('CustomTag', ['literal', 'environment', 'request_header'])(t, ctx);
});

export const TracingSchema = message(HCM_TRACING, {
  client_sampling: PercentSchema.optional(),
  random_sampling: PercentSchema.optional(),
  overall_sampling: PercentSchema.optional(),
  verbose: bool.optional(),
  max_path_tag_length: uint32.optional(),
  custom_tags: z.array(CustomTagSchema).optional(),
  provider: TracingHttpSchema.optional(),
  // true creates an upstream (router) span per attempt: not implemented.
  spawn_upstream_span: onlyValues(bool, [false], 'spawn_upstream_span').optional(),
}, { unimplemented: ['operation', 'upstream_operation'] });

export type TracingWire = z.output<typeof TracingSchema>;
type ZipkinWire = z.output<typeof ZipkinConfigSchema>;

/** One custom tag: a constant (literal, or an environment variable read once), or a request header. */
export type CustomTagConfig =
  | { readonly kind: 'literal'; readonly tag: string; readonly value: string }
  | { readonly kind: 'request_header'; readonly tag: string; readonly header: string; readonly defaultValue: string };

/** HttpConnectionManager.Tracing with Envoy's defaults applied. */
export interface TracingConfig {
  readonly sampling: TracingSampling;
  readonly verbose: boolean;
  readonly maxPathTagLength: number;
  readonly customTags: readonly CustomTagConfig[];
  /** null: no provider, so requests are sampled (x-request-id rewritten, stats charged) but no span is made. */
  readonly zipkin: ZipkinProviderConfig | null;
}

/** PROTOBUF_PERCENT_TO_ROUNDED_INTEGER_OR_DEFAULT(…, 10000, 10000): a Percent in 1/10,000ths, 100 % when absent. */
function tenThousandths(p: { value: number } | undefined): number {
  return p === undefined ? 10_000 : Math.round((p.value * 10_000) / 100);
}

export function toTracingConfig(wire: TracingWire, env: NodeJS.ProcessEnv = process.env): TracingConfig {
  // Envoy's tags are a map keyed by tag name: the first definition of a name wins.
  const seen = new Set<string>();
  const customTags: CustomTagConfig[] = [];
  for (const t of wire.custom_tags ?? []) {
    if (seen.has(t.tag)) continue;
    seen.add(t.tag);
    if (t.literal) customTags.push({ kind: 'literal', tag: t.tag, value: t.literal.value });
    else if (t.environment) customTags.push({ kind: 'literal', tag: t.tag, value: env[t.environment.name] ?? t.environment.default_value ?? '' });
    else if (t.request_header) customTags.push({ kind: 'request_header', tag: t.tag, header: t.request_header.name.toLowerCase(), defaultValue: t.request_header.default_value ?? '' });
  }
  const provider = wire.provider?.typed_config;
  return Object.freeze({
    sampling: Object.freeze({
      // client_sampling is set as a FractionalPercent numerator out of 100: the Percent's integer part.
      clientNumerator: wire.client_sampling === undefined ? 100 : Math.trunc(wire.client_sampling.value),
      randomNumerator: tenThousandths(wire.random_sampling),
      overallNumerator: tenThousandths(wire.overall_sampling),
    }),
    verbose: wire.verbose ?? false,
    maxPathTagLength: wire.max_path_tag_length ?? DEFAULT_MAX_PATH_TAG_LENGTH,
    customTags: Object.freeze(customTags),
    zipkin: provider?.typeUrl === ZIPKIN_TYPE_URL ? zipkinProvider(provider.config as ZipkinWire) : null,
  });
}

function zipkinProvider(w: ZipkinWire): ZipkinProviderConfig {
  return Object.freeze({
    collectorCluster: w.collector_cluster,
    collectorEndpoint: w.collector_endpoint,
    collectorHostname: w.collector_hostname !== undefined && w.collector_hostname !== '' ? w.collector_hostname : w.collector_cluster,
    traceId128bit: w.trace_id_128bit ?? false,
    sharedSpanContext: w.shared_span_context ?? true,
    w3cPropagation: w.trace_context_option === 'USE_B3_WITH_W3C_PROPAGATION',
  });
}
