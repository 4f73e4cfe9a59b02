// Wire schema of upstream HTTP protocol options: the typed extension
// `envoy.extensions.upstreams.http.v3.HttpProtocolOptions` (explicit HTTP/1.1 or HTTP/2, idle timeout,
// requests per connection) and the core Http1/Http2/HttpProtocolOptions messages it embeds.

import { z } from 'zod';
import { duration, message, typedConfig, uint32 } from '../config/schema-kit.ts';

/** Key of Cluster.typed_extension_protocol_options for HTTP upstream options. */
export const HTTP_PROTOCOL_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
export const HTTP_PROTOCOL_OPTIONS_TYPE_URL = `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS_KEY}`;

export const Http1ProtocolOptionsSchema = message('envoy.config.core.v3.Http1ProtocolOptions', {}, {
  unimplemented: ['allow_absolute_url', 'accept_http_10', 'default_host_for_http_10', 'header_key_format',
    'enable_trailers', 'allow_chunked_length', 'override_stream_error_on_invalid_http_message',
    'send_fully_qualified_url', 'use_balsa_parser', 'allow_custom_methods', 'ignore_http_11_upgrade'],
});

export const Http2ProtocolOptionsSchema = message('envoy.config.core.v3.Http2ProtocolOptions', {
  // Envoy's bounds: max_concurrent_streams 1..2^31-1; windows 65535..2^31-1.
  max_concurrent_streams: uint32.refine((n) => n >= 1 && n <= 2147483647, 'max_concurrent_streams must be in [1, 2147483647]').optional(),
  initial_stream_window_size: uint32.refine((n) => n >= 65535 && n <= 2147483647, 'initial_stream_window_size must be in [65535, 2147483647]').optional(),
  initial_connection_window_size: uint32.refine((n) => n >= 65535 && n <= 2147483647, 'initial_connection_window_size must be in [65535, 2147483647]').optional(),
}, {
  unimplemented: ['hpack_table_size', 'allow_connect', 'allow_metadata', 'max_outbound_frames',
    'max_outbound_control_frames', 'max_consecutive_inbound_frames_with_empty_payload',
    'max_inbound_priority_frames_per_stream', 'max_inbound_window_update_frames_per_data_frame_sent',
    'stream_error_on_invalid_http_messaging', 'override_stream_error_on_invalid_http_message',
    'custom_settings_parameters', 'connection_keepalive', 'use_oghttp2_codec', 'max_metadata_size'],
});

const CommonHttpProtocolOptionsSchema = message('envoy.config.core.v3.HttpProtocolOptions', {
  idle_timeout: duration.optional(),
  max_requests_per_connection: uint32.optional(),
}, {
  unimplemented: ['max_connection_duration', 'max_headers_count', 'max_response_headers_kb', 'max_stream_duration',
    'headers_with_underscores_action'],
});

const ExplicitHttpConfigSchema = message('envoy.extensions.upstreams.http.v3.HttpProtocolOptions.ExplicitHttpConfig', {
  http_protocol_options: Http1ProtocolOptionsSchema.optional(),
  http2_protocol_options: Http2ProtocolOptionsSchema.optional(),
}, { unimplemented: ['http3_protocol_options'] }).superRefine((v, ctx) => {
  const set = (v.http_protocol_options ? 1 : 0) + (v.http2_protocol_options ? 1 : 0);
  if (set !== 1) {
    ctx.addIssue({ code: 'custom', message: 'explicit_http_config needs exactly one of http_protocol_options or http2_protocol_options' });
  }
});

export const HttpProtocolOptionsSchema = message(HTTP_PROTOCOL_OPTIONS_KEY, {
  common_http_protocol_options: CommonHttpProtocolOptionsSchema.optional(),
  explicit_http_config: ExplicitHttpConfigSchema.optional(),
}, {
  unimplemented: ['upstream_http_protocol_options', 'use_downstream_protocol_config', 'auto_config', 'http_filters',
    'header_validation_config', 'outlier_detection'],
});

export type HttpProtocolOptionsWire = z.output<typeof HttpProtocolOptionsSchema>;
export type Http2ProtocolOptionsWire = z.output<typeof Http2ProtocolOptionsSchema>;

const httpProtocolOptionsAny = typedConfig(HTTP_PROTOCOL_OPTIONS_KEY,
  (url) => (url === HTTP_PROTOCOL_OPTIONS_TYPE_URL ? HttpProtocolOptionsSchema : undefined));

/**
 * Cluster.typed_extension_protocol_options: a map keyed by extension name (kept as written, so no
 * snake_case conversion). Only the HTTP upstream options are implemented; other keys name extensions
 * (thrift, dubbo, tcp...) nodevoy does not have.
 */
export const TypedExtensionProtocolOptionsSchema = z.object({
  [HTTP_PROTOCOL_OPTIONS_KEY]: httpProtocolOptionsAny
    .transform((any) => any.config as HttpProtocolOptionsWire) // typedConfig validated it with HttpProtocolOptionsSchema
    .optional(),
}).catchall(z.unknown().superRefine((_v, ctx) => {
  ctx.addIssue({
    code: 'custom', params: { kind: 'not-implemented' },
    message: `nodevoy implements only the "${HTTP_PROTOCOL_OPTIONS_KEY}" protocol options`,
  });
}));
