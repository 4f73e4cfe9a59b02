// Wire schema of the HTTP connection manager network filter (HttpConnectionManager v3) and its
// translation into HcmConfig, the plain defaulted values the connection manager runtime consumes.
// Envoy's defaults live in HCM_DEFAULTS only. HTTP filters resolve through the filter registry.

import { z } from 'zod';
import type { CidrRange } from './cidr.ts';
import type { HttpFilterFactory } from './filter.ts';
import { CLIENT_CERT_DETAIL_ORDER, type ClientCertDetail, type ForwardClientCertDetails } from './xfcc.ts';
import { CidrRangeSchema } from '../config/core-schema.ts';
import { ConfigSourceSchema, translateConfigSource, type ConfigSourceConfig } from '../config/config-source.ts';
import { anyPayload, bool, duration, enumOf, forwardIssues, jsonName, message, onlyValues, typedConfig, uint32 } from '../config/schema-kit.ts';
import { httpFilterByTypeUrl } from '../filters/http/registry.ts';
// Registers the built-in HTTP filters, so that any code validating an HCM can resolve them.
import '../filters/http/index.ts';
import { RouteConfigurationSchema, type RouteConfigurationWire } from '../route/route-config-schema.ts';
import { AccessLogSchema, type AccessLogWire } from '../access-log/access-log-schema.ts';
import { toTracingConfig, TracingSchema, type TracingConfig } from '../tracing/tracing-schema.ts';
// core.v3.Http1ProtocolOptions: accepted as a message (e.g. `{}`); none of its knobs is implemented yet.
import { Http1ProtocolOptionsSchema } from '../upstream/protocol-options-schema.ts';

export const HCM_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/** Envoy's values for absent HttpConnectionManager fields (durations in ms; 0 = disabled). */
export const HCM_DEFAULTS = {
  generateRequestId: true,
  useRemoteAddress: false,
  xffNumTrustedHops: 0,
  serverName: 'envoy',
  serverHeaderTransformation: 'OVERWRITE',
  streamIdleTimeoutMs: 5 * 60_000,
  requestTimeoutMs: 0,
  requestHeadersTimeoutMs: 0,
  maxRequestHeadersKb: 60,
  // common_http_protocol_options (core.v3.HttpProtocolOptions) as the HCM applies them.
  idleTimeoutMs: 60 * 60_000,
  maxHeadersCount: 100,
  headersWithUnderscoresAction: 'ALLOW',
  forwardClientCertDetails: 'SANITIZE',
} as const;

/** HTTP header values Envoy accepts for server_name / via (no CR, LF or NUL). */
const headerValue = z.string().regex(/^[^\0\r\n]*$/, 'must be a valid HTTP header value (no CR, LF or NUL)');

const InternalAddressConfigSchema = message(`${HCM}.InternalAddressConfig`, {
  // nodevoy listens on IP sockets only (pipe addresses are not implemented), so unix_sockets changes nothing.
  unix_sockets: bool.optional(),
  cidr_ranges: z.array(CidrRangeSchema).optional(),
});

const HttpProtocolOptionsSchema = message('envoy.config.core.v3.HttpProtocolOptions', {
  idle_timeout: duration.optional(),
  max_headers_count: uint32.pipe(z.number().min(1)).optional(),
  headers_with_underscores_action: enumOf('envoy.config.core.v3.HttpProtocolOptions.HeadersWithUnderscoresAction',
    ['ALLOW', 'REJECT_REQUEST', 'DROP_HEADER']).optional(),
}, { unimplemented: ['max_requests_per_connection', 'max_response_headers_kb', 'max_connection_duration', 'max_stream_duration'] });

/** Which keys this proxy adds to XFCC; `subject` is a BoolValue, the others plain bools (all default false). */
const SetCurrentClientCertDetailsSchema = message(`${HCM}.SetCurrentClientCertDetails`, {
  subject: bool.optional(),
  cert: bool.optional(),
  chain: bool.optional(),
  dns: bool.optional(),
  uri: bool.optional(),
});

/** One configured HTTP filter, resolved to its registered type. */
export interface HttpFilterConfig {
  /** http_filters[].name: the key of typed_per_filter_config. */
  readonly name: string;
  readonly factory: HttpFilterFactory;
  /** The parsed typed_config. */
  readonly config: unknown;
  /** `disabled: true`: runs only on routes that enable it through typed_per_filter_config. */
  readonly disabled: boolean;
}

const httpFilterTypedConfig = typedConfig('HTTP filter typed_config', (url) => httpFilterByTypeUrl(url)?.configSchema);
/** The typed_config's type (a TypedStruct's type_url), for is_optional. */
const httpFilterAny = anyPayload('HTTP filter typed_config');

/** HttpFilter: Envoy picks the filter by its typed_config `@type` (config_discovery is not implemented). */
const HttpFilterSchema = message('envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter', {
  name: z.string().min(1),
  typed_config: z.unknown().optional(),
  is_optional: bool.optional(),
  disabled: bool.optional(),
}, { unimplemented: ['config_discovery'] }).transform((f, ctx): HttpFilterConfig | null => {
  if (f.typed_config === undefined) {
    ctx.addIssue({ code: 'custom', path: ['typed_config'], message: 'required field is missing (Envoy selects an HTTP filter by its typed_config "@type")' });
    return z.NEVER;
  }
  // HttpFilter.is_optional: a filter type this proxy does not know is skipped instead of rejected.
  const any = httpFilterAny.safeParse(f.typed_config);
  if (f.is_optional === true && any.success && !httpFilterByTypeUrl(any.data.typeUrl)) return null;
  const parsed = httpFilterTypedConfig.safeParse(f.typed_config);
  if (!parsed.success) {
    forwardIssues(ctx, parsed.error.issues, ['typed_config']);
    return z.NEVER;
  }
  // The lookup above found a schema for this type URL, so the factory exists.
  const factory = httpFilterByTypeUrl(parsed.data.typeUrl) as HttpFilterFactory;
  return { name: f.name, factory, config: parsed.data.config, disabled: f.disabled ?? false };
});

/**
 * http_filters: decode order. Envoy's rules: the last filter is terminal (the router), no other filter
 * is, and the terminal filter cannot be disabled; names are unique (they key typed_per_filter_config).
 * Absent = empty, which is rejected as having no terminal filter.
 */
const HttpFiltersSchema = z.preprocess((v) => v ?? [], z.array(HttpFilterSchema).superRefine((filters, ctx) => {
  // zod still runs this check when an entry failed (its error is reported already): judge the
  // names of the entries that resolved, and the chain's shape only when all of them did.
  const present = filters.flatMap((f, index) => (isResolved(f) ? [{ f, index }] : []));
  const complete = filters.every((f) => f === null || isResolved(f));
  const firstIndexOf = new Map<string, number>();
  for (const { f, index } of present) {
    const first = firstIndexOf.get(f.name);
    if (first !== undefined) ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `duplicate HTTP filter name "${f.name}" (also http_filters[${first}])` });
    else firstIndexOf.set(f.name, index);
  }
  if (!complete) return;
  const last = present.at(-1);
  if (!last) {
    ctx.addIssue({ code: 'custom', message: 'http_filters must end with a terminal filter (envoy.filters.http.router)' });
    return;
  }
  for (const { f, index } of present.slice(0, -1)) {
    if (f.factory.terminal) ctx.addIssue({ code: 'custom', path: [index], message: `terminal filter named ${f.name} of type ${f.factory.typeUrl} must be the last filter in a http filter chain` });
  }
  if (!last.f.factory.terminal) {
    ctx.addIssue({ code: 'custom', path: [last.index], message: `non-terminal filter named ${last.f.name} of type ${last.f.factory.typeUrl} is the last filter in a http filter chain` });
  } else if (last.f.disabled) {
    ctx.addIssue({ code: 'custom', path: [last.index, 'disabled'], message: `the last (terminal) filter ${last.f.name} in the chain cannot be disabled by default` });
  }
}).transform((filters) => filters.filter((f): f is HttpFilterConfig => f !== null)));

function isResolved(f: HttpFilterConfig | null): f is HttpFilterConfig {
  return f !== null && typeof f === 'object' && 'factory' in f;
}

/** Whether a parsed message had `field` written (as an unimplemented field it stays under the written key). */
function written(parsed: object, field: string): boolean {
  return field in parsed || jsonName(field) in parsed;
}

/** HttpConnectionManager.Rds: the route table comes from RDS under this name. */
const RdsSchema = message('envoy.extensions.filters.network.http_connection_manager.v3.Rds', {
  config_source: ConfigSourceSchema,
  route_config_name: z.string().min(1, 'route_config_name must not be empty'),
});

export const HttpConnectionManagerSchema = message(HCM, {
  stat_prefix: z.string().min(1),
  // AUTO sniffs HTTP/2 prior knowledge; until HTTP/2 lands nodevoy's AUTO speaks HTTP/1 only.
  codec_type: enumOf(`${HCM}.CodecType`, ['AUTO', 'HTTP1'], ['HTTP2', 'HTTP3']).optional(),
  route_config: RouteConfigurationSchema.optional(),
  rds: RdsSchema.optional(),
  http_filters: HttpFiltersSchema,
  generate_request_id: bool.optional(),
  preserve_external_request_id: bool.optional(),
  always_set_request_id_in_response: bool.optional(),
  use_remote_address: bool.optional(),
  xff_num_trusted_hops: uint32.optional(),
  skip_xff_append: bool.optional(),
  internal_address_config: InternalAddressConfigSchema.optional(),
  server_name: headerValue.optional(),
  server_header_transformation: enumOf(`${HCM}.ServerHeaderTransformation`, ['OVERWRITE', 'APPEND_IF_ABSENT', 'PASS_THROUGH']).optional(),
  stream_idle_timeout: duration.optional(),
  request_timeout: duration.optional(),
  request_headers_timeout: duration.optional(),
  // drain_timeout is the HTTP/2 GOAWAY grace period; with HTTP/1 downstreams it has nothing to time.
  drain_timeout: duration.optional(),
  max_request_headers_kb: uint32.pipe(z.number().min(1).max(8192)).optional(),
  common_http_protocol_options: HttpProtocolOptionsSchema.optional(),
  http_protocol_options: Http1ProtocolOptionsSchema.optional(),
  access_log: z.array(AccessLogSchema).optional(),
  via: headerValue.optional(),
  forward_client_cert_details: enumOf(`${HCM}.ForwardClientCertDetails`,
    ['SANITIZE', 'FORWARD_ONLY', 'APPEND_FORWARD', 'SANITIZE_SET', 'ALWAYS_FORWARD_ONLY']).optional(),
  set_current_client_cert_details: SetCurrentClientCertDetailsSchema.optional(),
  // Path normalisation (RFC 3986 dot segments, merged slashes) is not implemented yet: only Envoy's
  // default `false` is accepted, so a config that asks for it is rejected rather than served unnormalised.
  normalize_path: onlyValues(bool, [false], 'normalize_path').optional(),
  merge_slashes: onlyValues(bool, [false], 'merge_slashes').optional(),
  strip_matching_host_port: bool.optional(),
  strip_any_host_port: bool.optional(),
  // false (Envoy's default): the proxy answers `Expect: 100-continue` itself, which node:http does.
  proxy_100_continue: onlyValues(bool, [false], 'proxy_100_continue').optional(),
  // Presence enables tracing: sampling decisions, and spans when it names a provider (Zipkin).
  tracing: TracingSchema.optional(),
}, {
  unimplemented: ['delayed_close_timeout', 'add_user_agent', 'scoped_routes', 'http2_protocol_options', 'http3_protocol_options',
    'scheme_header_transformation', 'access_log_flush_interval', 'flush_access_log_on_new_request',
    'access_log_options', 'original_ip_detection_extensions', 'early_header_mutation_extensions',
    'forward_client_cert_matcher', 'represent_ipv4_remote_address_as_ipv4_mapped_ipv6',
    'upgrade_configs', 'path_with_escaped_slashes_action', 'request_id_extension', 'local_reply_config',
    'stream_error_on_invalid_http_message', 'path_normalization_options', 'strip_trailing_host_dot',
    'proxy_status_config', 'typed_header_validation_config', 'append_x_forwarded_port', 'append_local_overload',
    'add_proxy_protocol_connection_state'],
}).superRefine((hcm, ctx) => {
  // route_specifier is a required oneof; scoped_routes is reported as not implemented already.
  if (hcm.route_config === undefined && hcm.rds === undefined && !written(hcm, 'scoped_routes')) ctx.addIssue({ code: 'custom', path: ['route_config'], message: 'required field is missing (one of route_config, rds, scoped_routes)' });
  if (hcm.route_config !== undefined && hcm.rds !== undefined) ctx.addIssue({ code: 'custom', path: ['rds'], message: 'route_config and rds are one of route_specifier: set only one' });
  if (hcm.strip_matching_host_port === true && hcm.strip_any_host_port === true) {
    ctx.addIssue({ code: 'custom', path: ['strip_any_host_port'], message: 'only one of strip_matching_host_port or strip_any_host_port can be set' });
  }
});

export type HttpConnectionManagerWire = z.output<typeof HttpConnectionManagerSchema>;

/** The HTTP connection manager as the runtime consumes it: every field defaulted, durations in ms (0 = disabled). */
export interface HcmConfig {
  readonly statPrefix: string;
  /** Decode order; filters with an unknown type and is_optional are already dropped. */
  readonly httpFilters: readonly HttpFilterConfig[];
  /** The inline route_config; undefined with `rds`. */
  readonly routeConfig: RouteConfigurationWire | undefined;
  /** `rds`: the route table arrives through RDS (null with an inline route_config). */
  readonly rds: { readonly configSource: ConfigSourceConfig; readonly routeConfigName: string } | null;
  readonly generateRequestId: boolean;
  readonly preserveExternalRequestId: boolean;
  readonly alwaysSetRequestIdInResponse: boolean;
  readonly useRemoteAddress: boolean;
  readonly xffNumTrustedHops: number;
  readonly skipXffAppend: boolean;
  /** internal_address_config.cidr_ranges (since Envoy 1.33 nothing is internal by default). */
  readonly internalCidrs: readonly CidrRange[];
  /** route_config.internal_only_headers: stripped from external requests (with rds: from the current RDS table). */
  readonly internalOnlyHeaders: readonly string[];
  readonly serverName: string;
  readonly serverHeaderTransformation: 'OVERWRITE' | 'APPEND_IF_ABSENT' | 'PASS_THROUGH';
  readonly streamIdleTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly requestHeadersTimeoutMs: number;
  readonly maxRequestHeadersKb: number;
  /** common_http_protocol_options.idle_timeout: connection idle timeout. */
  readonly idleTimeoutMs: number;
  readonly maxHeadersCount: number;
  readonly headersWithUnderscoresAction: 'ALLOW' | 'REJECT_REQUEST' | 'DROP_HEADER';
  readonly accessLog: readonly AccessLogWire[];
  /** `via` header value; '' = none. */
  readonly via: string;
  /** strip_matching_host_port / strip_any_host_port (mutually exclusive). */
  readonly stripHostPort: 'none' | 'matching' | 'any';
  /** forward_client_cert_details: what happens to x-forwarded-client-cert (see xfcc.ts). */
  readonly forwardClientCertDetails: ForwardClientCertDetails;
  /** set_current_client_cert_details as the keys it asks for, in Envoy's emission order. */
  readonly setCurrentClientCertDetails: readonly ClientCertDetail[];
  /** `tracing`; null = absent (no tracing work at all). */
  readonly tracing: TracingConfig | null;
}

/** Applies HCM_DEFAULTS to a parsed HttpConnectionManager (with its inline route_config, or undefined with rds). */
export function toHcmConfig(wire: HttpConnectionManagerWire, routeConfig: RouteConfigurationWire | undefined): HcmConfig {
  const d = HCM_DEFAULTS;
  const common = wire.common_http_protocol_options;
  return Object.freeze({
    statPrefix: wire.stat_prefix,
    httpFilters: Object.freeze([...wire.http_filters]),
    routeConfig,
    rds: wire.rds ? { configSource: translateConfigSource(wire.rds.config_source), routeConfigName: wire.rds.route_config_name } : null,
    generateRequestId: wire.generate_request_id ?? d.generateRequestId,
    preserveExternalRequestId: wire.preserve_external_request_id ?? false,
    alwaysSetRequestIdInResponse: wire.always_set_request_id_in_response ?? false,
    useRemoteAddress: wire.use_remote_address ?? d.useRemoteAddress,
    xffNumTrustedHops: wire.xff_num_trusted_hops ?? d.xffNumTrustedHops,
    skipXffAppend: wire.skip_xff_append ?? false,
    internalCidrs: (wire.internal_address_config?.cidr_ranges ?? []).map((r) => ({ addressPrefix: r.address_prefix, prefixLen: r.prefix_len ?? 0 })),
    internalOnlyHeaders: internalOnlyHeaders(routeConfig),
    serverName: wire.server_name ?? d.serverName,
    serverHeaderTransformation: wire.server_header_transformation ?? d.serverHeaderTransformation,
    streamIdleTimeoutMs: wire.stream_idle_timeout ?? d.streamIdleTimeoutMs,
    requestTimeoutMs: wire.request_timeout ?? d.requestTimeoutMs,
    requestHeadersTimeoutMs: wire.request_headers_timeout ?? d.requestHeadersTimeoutMs,
    maxRequestHeadersKb: wire.max_request_headers_kb ?? d.maxRequestHeadersKb,
    idleTimeoutMs: common?.idle_timeout ?? d.idleTimeoutMs,
    maxHeadersCount: common?.max_headers_count ?? d.maxHeadersCount,
    headersWithUnderscoresAction: common?.headers_with_underscores_action ?? d.headersWithUnderscoresAction,
    accessLog: wire.access_log ?? [],
    via: wire.via ?? '',
    stripHostPort: wire.strip_any_host_port ? 'any' : wire.strip_matching_host_port ? 'matching' : 'none',
    forwardClientCertDetails: wire.forward_client_cert_details ?? d.forwardClientCertDetails,
    setCurrentClientCertDetails: clientCertDetails(wire.set_current_client_cert_details),
    tracing: wire.tracing ? toTracingConfig(wire.tracing) : null,
  });
}

/**
 * SetCurrentClientCertDetails as a list in Envoy's order (Cert, Chain, Subject, URI, DNS: its
 * forward_client_cert_details.cc builds the list so, whatever order the config writes the fields in).
 */
function clientCertDetails(wire: HttpConnectionManagerWire['set_current_client_cert_details']): readonly ClientCertDetail[] {
  if (!wire) return [];
  const requested: Record<ClientCertDetail, boolean | undefined> = { Cert: wire.cert, Chain: wire.chain, Subject: wire.subject, URI: wire.uri, DNS: wire.dns };
  return Object.freeze(CLIENT_CERT_DETAIL_ORDER.filter((d) => requested[d] === true));
}

/** RouteConfiguration.internal_only_headers, lower-cased as the header map keys them. */
export function internalOnlyHeaders(routeConfig: RouteConfigurationWire | undefined): readonly string[] {
  return (routeConfig?.internal_only_headers ?? []).map((h) => h.toLowerCase());
}
