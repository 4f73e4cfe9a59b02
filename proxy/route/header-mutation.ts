// Request/response header add/remove lists of routes, virtual hosts, route configurations and weighted
// clusters (envoy.config.core.v3.HeaderValueOption, Envoy's HeaderParser): schema and compiled form.
// Values with `%…%` use the access-log formatter, compiled once; plain values stay plain strings.

import { z } from 'zod';
import { message, bool, enumOf } from '../config/schema-kit.ts';
import { compileFormatter, validateFormat, type FormatContext, type Formatter } from '../access-log/formatter.ts';
import type { HeaderMap, RequestHeaders } from '../http/headers.ts';
import type { StreamInfo } from '../http/stream-info.ts';

/** Envoy refuses to mutate pseudo-headers and Host through these lists. */
function mutationProblem(name: string): string | undefined {
  const lower = name.toLowerCase();
  if (lower.startsWith(':')) return `pseudo-header "${name}" cannot be added or removed by header mutation`;
  if (lower === 'host') return '"host" cannot be added or removed by header mutation';
  if (!/^[!#$%&'*+\-.^_`|~0-9a-zA-Z]+$/.test(name)) return `"${name}" is not a valid HTTP header name`;
  return undefined;
}

const headerName = z.string().min(1, 'header name must not be empty').superRefine((name, ctx) => {
  const problem = mutationProblem(name);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

const HeaderValueSchema = message('envoy.config.core.v3.HeaderValue', {
  key: headerName,
  value: z.string().max(16384).superRefine((v, ctx) => {
    if (!v.includes('%')) return;
    for (const problem of validateFormat(v)) ctx.addIssue({ code: 'custom', message: `invalid header value format: ${problem}` });
  }).optional(),
}, { unimplemented: ['raw_value'] });

const APPEND_ACTIONS = ['APPEND_IF_EXISTS_OR_ADD', 'ADD_IF_ABSENT', 'OVERWRITE_IF_EXISTS_OR_ADD', 'OVERWRITE_IF_EXISTS'] as const;
type AppendAction = (typeof APPEND_ACTIONS)[number];

export const HeaderValueOptionSchema = message('envoy.config.core.v3.HeaderValueOption', {
  header: HeaderValueSchema,
  /** Deprecated BoolValue: true = APPEND_IF_EXISTS_OR_ADD, false = OVERWRITE_IF_EXISTS_OR_ADD. */
  append: bool.optional(),
  append_action: enumOf('envoy.config.core.v3.HeaderValueOption.HeaderAppendAction', APPEND_ACTIONS).optional(),
  keep_empty_value: bool.optional(),
}).superRefine((o, ctx) => {
  if (o.append !== undefined && o.append_action !== undefined) {
    ctx.addIssue({ code: 'custom', message: 'append and append_action cannot both be set (append is deprecated)' });
  }
});

export type HeaderValueOptionWire = z.output<typeof HeaderValueOptionSchema>;

/** `*_headers_to_add` / `*_headers_to_remove` fields shared by every level that mutates headers. */
export const headerMutationFields = {
  request_headers_to_add: z.array(HeaderValueOptionSchema).max(1000).optional(),
  request_headers_to_remove: z.array(headerName).optional(),
  response_headers_to_add: z.array(HeaderValueOptionSchema).max(1000).optional(),
  response_headers_to_remove: z.array(headerName).optional(),
};

interface HeaderToAdd {
  readonly key: string;
  /** The value when it has no formatter operators. */
  readonly plain: string | null;
  readonly formatter: Formatter | null;
  readonly action: AppendAction;
  readonly keepEmpty: boolean;
}

/** Where header values are formatted from; `response` is null for request mutations. */
export interface MutationContext {
  readonly request: RequestHeaders;
  readonly info: StreamInfo;
}

/** One level's compiled add/remove list (Envoy's HeaderParser). */
export class HeaderMutations {
  private readonly remove: readonly string[];
  private readonly add: readonly HeaderToAdd[];
  private readonly dynamic: boolean;

  constructor(add: readonly HeaderValueOptionWire[], remove: readonly string[]) {
    this.remove = remove.map((n) => n.toLowerCase());
    this.add = add.map((o): HeaderToAdd => {
      const value = o.header.value ?? '';
      // `%%` alone also needs the formatter (it is a literal '%').
      const formatter = value.includes('%') ? compileFormatter(value, { omitEmptyValues: true }) : null;
      return {
        key: o.header.key.toLowerCase(),
        plain: formatter === null ? value : formatter.isStatic ? formatter.format(STATIC_CONTEXT) : null,
        formatter: formatter !== null && !formatter.isStatic ? formatter : null,
        action: o.append_action ?? (o.append === false ? 'OVERWRITE_IF_EXISTS_OR_ADD' : 'APPEND_IF_EXISTS_OR_ADD'),
        keepEmpty: o.keep_empty_value ?? false,
      };
    });
    this.dynamic = this.add.some((a) => a.formatter !== null);
  }

  get empty(): boolean {
    return this.add.length === 0 && this.remove.length === 0;
  }

  /** Removes first, then adds (HeaderParser::evaluateHeaders). `status` is given for responses. */
  apply(headers: HeaderMap, ctx: MutationContext, status?: number): void {
    for (const name of this.remove) delete headers[name];
    if (this.add.length === 0) return;
    const formatCtx: FormatContext | null = this.dynamic
      ? { request: ctx.request, response: status === undefined ? null : { status, headers }, info: ctx.info }
      : null;
    for (const a of this.add) {
      const value = a.plain ?? a.formatter!.format(formatCtx!);
      if (value === '' && !a.keepEmpty) continue;
      const existing = headers[a.key];
      switch (a.action) {
        case 'APPEND_IF_EXISTS_OR_ADD':
          if (existing === undefined) headers[a.key] = value;
          else if (Array.isArray(existing)) existing.push(value);
          else headers[a.key] = [existing, value];
          break;
        case 'ADD_IF_ABSENT':
          if (existing === undefined) headers[a.key] = value;
          break;
        case 'OVERWRITE_IF_EXISTS':
          if (existing !== undefined) headers[a.key] = value;
          break;
        case 'OVERWRITE_IF_EXISTS_OR_ADD':
          headers[a.key] = value;
          break;
      }
    }
  }
}

/** A static format reads nothing from the stream; this context only satisfies the type. */
const STATIC_CONTEXT = { request: null, response: null, info: null } as unknown as FormatContext;

/** Compiles one level's four lists; null parts when a list is empty keep the hot path short. */
export function compileHeaderMutations(wire: {
  request_headers_to_add?: readonly HeaderValueOptionWire[] | undefined;
  request_headers_to_remove?: readonly string[] | undefined;
  response_headers_to_add?: readonly HeaderValueOptionWire[] | undefined;
  response_headers_to_remove?: readonly string[] | undefined;
}): { request: HeaderMutations | null; response: HeaderMutations | null } {
  const request = new HeaderMutations(wire.request_headers_to_add ?? [], wire.request_headers_to_remove ?? []);
  const response = new HeaderMutations(wire.response_headers_to_add ?? [], wire.response_headers_to_remove ?? []);
  return { request: request.empty ? null : request, response: response.empty ? null : response };
}
