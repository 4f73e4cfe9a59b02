// Wire schema of envoy.config.accesslog.v3.AccessLog (HCM `access_log[]`) and the logger types nodevoy
// implements (file, stdout, stderr). Each typed_config parses to an AccessLogSpec: where lines go and the
// format, already checked with the formatter so a bad `%COMMAND%` is a config error with its path.

import { z } from 'zod';
import { bool, message, struct, typedConfig, type TypedConfig } from '../config/schema-kit.ts';
import { DEFAULT_FORMAT, validateFormat, validateJsonFormat } from './formatter.ts';

/** What an access logger does, independent of the proto it came from. */
export interface AccessLogSpec {
  readonly sink: { readonly kind: 'file'; readonly path: string } | { readonly kind: 'stdout' } | { readonly kind: 'stderr' };
  readonly format: { readonly kind: 'text'; readonly text: string } | { readonly kind: 'json'; readonly json: Record<string, unknown> };
  readonly omitEmptyValues: boolean;
  /** json_format_options.sort_properties (JSON formats only). */
  readonly sortProperties: boolean;
}

export const FILE_ACCESS_LOG_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
export const STDOUT_ACCESS_LOG_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';
export const STDERR_ACCESS_LOG_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog';

/** envoy.config.core.v3.DataSource, inline forms only (a format is config, not a file read at runtime). */
const DataSourceSchema = message('envoy.config.core.v3.DataSource', {
  inline_string: z.string().optional(),
  inline_bytes: z.string().optional(),
}, { unimplemented: ['filename', 'environment_variable', 'watched_directory'] })
  .superRefine((d, ctx) => {
    if ((d.inline_string === undefined) === (d.inline_bytes === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'exactly one of inline_string, inline_bytes must be set' });
    }
  })
  .transform((d) => d.inline_string ?? Buffer.from(d.inline_bytes ?? '', 'base64').toString('utf8'));

type Format = AccessLogSpec['format'];

function checkText(text: string, ctx: z.RefinementCtx, path: string[]): void {
  for (const problem of validateFormat(text)) ctx.addIssue({ code: 'custom', path, message: problem });
}

function checkJson(json: Record<string, unknown>, ctx: z.RefinementCtx, path: string[]): void {
  for (const problem of validateJsonFormat(json)) ctx.addIssue({ code: 'custom', path, message: problem });
}

/** envoy.config.core.v3.JsonFormatOptions. */
const JsonFormatOptionsSchema = message('envoy.config.core.v3.JsonFormatOptions', { sort_properties: bool.optional() });

/** envoy.config.core.v3.SubstitutionFormatString. */
const SubstitutionFormatStringSchema = message('envoy.config.core.v3.SubstitutionFormatString', {
  text_format: z.string().optional(),
  text_format_source: DataSourceSchema.optional(),
  json_format: struct.optional(),
  omit_empty_values: bool.optional(),
  // Only meaningful for local replies (HTTP Content-Type); an access log line has none.
  content_type: z.string().optional(),
  json_format_options: JsonFormatOptionsSchema.optional(),
}, { unimplemented: ['formatters'] })
  .superRefine((f, ctx) => {
    const set = ['text_format', 'text_format_source', 'json_format'].filter((k) => f[k as keyof typeof f] !== undefined);
    if (set.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `exactly one of text_format, text_format_source, json_format must be set (got ${set.length === 0 ? 'none' : set.join(', ')})` });
    }
    if (f.text_format !== undefined) checkText(f.text_format, ctx, ['text_format']);
    if (f.text_format_source !== undefined) checkText(f.text_format_source, ctx, ['text_format_source']);
    if (f.json_format !== undefined) checkJson(f.json_format, ctx, ['json_format']);
  })
  .transform((f): { format: Format; omitEmptyValues: boolean; sortProperties: boolean } => ({
    format: f.json_format !== undefined
      ? { kind: 'json', json: f.json_format }
      : { kind: 'text', text: f.text_format ?? f.text_format_source ?? DEFAULT_FORMAT },
    omitEmptyValues: f.omit_empty_values ?? false,
    sortProperties: f.json_format_options?.sort_properties ?? false,
  }));

const DEFAULT_LOG_FORMAT = { format: { kind: 'text', text: DEFAULT_FORMAT } as Format, omitEmptyValues: false, sortProperties: false };

/** envoy.extensions.access_loggers.file.v3.FileAccessLog. */
const FileAccessLogSchema = message('envoy.extensions.access_loggers.file.v3.FileAccessLog', {
  path: z.string().min(1),
  /** Deprecated `format` (a text format string). */
  format: z.string().optional(),
  /** Deprecated `json_format` (a json_format dictionary). */
  json_format: struct.optional(),
  log_format: SubstitutionFormatStringSchema.optional(),
}, { unimplemented: ['typed_json_format'] })
  .superRefine((f, ctx) => {
    const set = ['format', 'json_format', 'log_format'].filter((k) => f[k as keyof typeof f] !== undefined);
    if (set.length > 1) ctx.addIssue({ code: 'custom', message: `at most one of format, json_format, log_format may be set (got ${set.join(', ')})` });
    if (f.format !== undefined) checkText(f.format, ctx, ['format']);
    if (f.json_format !== undefined) checkJson(f.json_format, ctx, ['json_format']);
  })
  .transform((f): AccessLogSpec => {
    const sink = { kind: 'file', path: f.path } as const;
    if (f.format !== undefined) return { sink, format: { kind: 'text', text: f.format }, omitEmptyValues: false, sortProperties: false };
    if (f.json_format !== undefined) return { sink, format: { kind: 'json', json: f.json_format }, omitEmptyValues: false, sortProperties: false };
    return { sink, ...(f.log_format ?? DEFAULT_LOG_FORMAT) };
  });

/** envoy.extensions.access_loggers.stream.v3.StdoutAccessLog / StderrAccessLog. */
function streamAccessLogSchema(typeName: string, kind: 'stdout' | 'stderr') {
  return message(typeName, { log_format: SubstitutionFormatStringSchema.optional() })
    .transform((s): AccessLogSpec => ({ sink: { kind }, ...(s.log_format ?? DEFAULT_LOG_FORMAT) }));
}

const ACCESS_LOGGER_TYPES: ReadonlyMap<string, z.ZodType<AccessLogSpec, unknown>> = new Map([
  [FILE_ACCESS_LOG_TYPE, FileAccessLogSchema],
  [STDOUT_ACCESS_LOG_TYPE, streamAccessLogSchema('envoy.extensions.access_loggers.stream.v3.StdoutAccessLog', 'stdout')],
  [STDERR_ACCESS_LOG_TYPE, streamAccessLogSchema('envoy.extensions.access_loggers.stream.v3.StderrAccessLog', 'stderr')],
]);

/** envoy.config.accesslog.v3.AccessLog; `filter` (access log filters) is not implemented. */
export const AccessLogSchema = message('envoy.config.accesslog.v3.AccessLog', {
  name: z.string().optional(),
  typed_config: typedConfig('access_log typed_config', (url) => ACCESS_LOGGER_TYPES.get(url)),
}, { unimplemented: ['filter'] });

/** A parsed HCM `access_log[]` entry; `typed_config.config` is an AccessLogSpec. */
export interface AccessLogWire {
  readonly name?: string | undefined;
  readonly typed_config: TypedConfig;
}

/** The spec inside a parsed entry (every registered type parses to an AccessLogSpec). */
export function accessLogSpec(wire: AccessLogWire): AccessLogSpec {
  return wire.typed_config.config as AccessLogSpec;
}
