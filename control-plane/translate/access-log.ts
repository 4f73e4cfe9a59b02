// Istio's file access logs as istiod writes them into sidecar HCMs (pilot/pkg/model/telemetry_logging.go):
// Istio's default text format (EnvoyTextLogFormat) or JSON labels (EnvoyJSONLogFormatIstio), chosen by the mesh
// config's accessLogEncoding and replaced by its accessLogFormat, for the legacy accessLogFile and for the
// built-in `envoy` provider; an envoyFileAccessLog provider's own logFormat otherwise.

import type { FileAccessLogProvider, MeshConfigSpec } from '../istio/mesh-config.ts';
import { jsonObject, withNewline } from '../istio/mesh-config.ts';

type Json = Record<string, unknown>;

const FILE_ACCESS_LOG = 'envoy.access_loggers.file';
const FILE_ACCESS_LOG_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';

/** Where Istio's sidecars log by default. */
export const DEV_STDOUT = '/dev/stdout';

/** The extension provider MeshConfig always has (unless replaced): a file access log to /dev/stdout. */
export const BUILTIN_ACCESS_LOG_PROVIDER = 'envoy';

/**
 * Istio's EnvoyTextLogFormat (1.9 onwards; %UPSTREAM_CLUSTER_RAW% since Envoy's %UPSTREAM_CLUSTER% prints a
 * cluster's alt_stat_name): Envoy's default format plus the response code details, the connection termination
 * details, the upstream transport failure reason, the upstream cluster, both local addresses, the downstream
 * remote address, the SNI and the route name.
 */
export const ISTIO_TEXT_FORMAT = '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% '
  + '%PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% '
  + '%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% '
  + '"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% '
  + '%DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" '
  + '"%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" '
  + '%UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% '
  + '%DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n';

/** Istio's EnvoyJSONLogFormatIstio, in the order of Istio's source. */
export const ISTIO_JSON_LABELS: Readonly<Record<string, string>> = Object.freeze({
  start_time: '%START_TIME%',
  route_name: '%ROUTE_NAME%',
  method: '%REQ(:METHOD)%',
  path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
  protocol: '%PROTOCOL%',
  response_code: '%RESPONSE_CODE%',
  response_flags: '%RESPONSE_FLAGS%',
  response_code_details: '%RESPONSE_CODE_DETAILS%',
  connection_termination_details: '%CONNECTION_TERMINATION_DETAILS%',
  bytes_received: '%BYTES_RECEIVED%',
  bytes_sent: '%BYTES_SENT%',
  duration: '%DURATION%',
  upstream_service_time: '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%',
  x_forwarded_for: '%REQ(X-FORWARDED-FOR)%',
  user_agent: '%REQ(USER-AGENT)%',
  request_id: '%REQ(X-REQUEST-ID)%',
  authority: '%REQ(:AUTHORITY)%',
  upstream_host: '%UPSTREAM_HOST%',
  upstream_cluster: '%UPSTREAM_CLUSTER_RAW%',
  upstream_local_address: '%UPSTREAM_LOCAL_ADDRESS%',
  downstream_local_address: '%DOWNSTREAM_LOCAL_ADDRESS%',
  downstream_remote_address: '%DOWNSTREAM_REMOTE_ADDRESS%',
  requested_server_name: '%REQUESTED_SERVER_NAME%',
  upstream_transport_failure_reason: '%UPSTREAM_TRANSPORT_FAILURE_REASON%',
});

const text = (format: string): Json => ({ text_format_source: { inline_string: format } });
/** Istio keeps the labels' order (sort_properties false). */
const json = (labels: Readonly<Record<string, unknown>>): Json => ({ json_format: labels, json_format_options: { sort_properties: false } });

/** `logFormat` undefined: no log_format, Envoy's own default format. */
function fileAccessLog(path: string, logFormat: Json | undefined, omitEmptyValues = false): Json {
  const format = logFormat === undefined ? {} : { log_format: omitEmptyValues ? { ...logFormat, omit_empty_values: true } : logFormat };
  return { name: FILE_ACCESS_LOG, typed_config: { '@type': FILE_ACCESS_LOG_TYPE, path, ...format } };
}

/**
 * FileAccessLogFromMeshConfig: TEXT encoding logs accessLogFormat (a newline added when missing) or Istio's text
 * format; JSON logs accessLogFormat's labels or Istio's (the schema refuses an accessLogFormat that is no JSON object).
 */
export function meshConfigAccessLog(path: string, mesh: MeshConfigSpec): Json {
  const format = mesh.accessLogFormat;
  if (mesh.accessLogEncoding === 'JSON') return fileAccessLog(path, json((format === undefined ? undefined : jsonObject(format)) ?? ISTIO_JSON_LABELS));
  return fileAccessLog(path, text(format === undefined || format === '' ? ISTIO_TEXT_FORMAT : withNewline(format)));
}

/**
 * An envoyFileAccessLog provider's access log (Istio's telemetryAccessLog): the built-in `envoy` provider without
 * a logFormat of its own follows the mesh config's format; otherwise the provider's text (a newline added), its
 * labels (Istio's when empty), or Istio's text format. The path defaults to /dev/stdout.
 */
export function providerAccessLog(name: string, provider: FileAccessLogProvider, mesh: MeshConfigSpec): Json {
  const path = provider.path === undefined || provider.path === '' ? DEV_STDOUT : provider.path;
  const omit = provider.omitEmptyValues ?? false;
  const format = provider.logFormat;
  if (name === BUILTIN_ACCESS_LOG_PROVIDER && format === undefined && !omit) return meshConfigAccessLog(path, mesh);
  if (format?.labels !== undefined) return fileAccessLog(path, json(Object.keys(format.labels).length === 0 ? ISTIO_JSON_LABELS : format.labels), omit);
  // A logFormat with neither text nor labels sets no format at all: Envoy's default format.
  if (format !== undefined && format.text === undefined) return fileAccessLog(path, undefined, omit);
  return fileAccessLog(path, text(format?.text === undefined || format.text === '' ? ISTIO_TEXT_FORMAT : withNewline(format.text)), omit);
}
