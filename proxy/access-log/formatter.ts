// Envoy's substitution formatter (access log `%COMMAND(args):N%` strings and json_format dictionaries),
// compiled once at config time into a list of literal pieces and field readers; format() only reads the
// stream. Missing values print '-' in text and null in JSON; numeric operators stay numbers in JSON.

import { hostname } from 'node:os';
import { firstValue, type HeaderMap, type RequestHeaders } from '../http/headers.ts';
import type { StreamInfo } from '../http/stream-info.ts';
import { formatResponseFlags, formatResponseFlagsLong } from '../common/response-flags.ts';
import { compileStartTime, isoStartTime } from './start-time.ts';

export interface FormatContext {
  request: RequestHeaders | null;
  response: { status: number; headers: HeaderMap } | null;
  info: StreamInfo;
}

export interface Formatter {
  format(ctx: FormatContext): string;
  /** True when the output never depends on the stream (no operators). */
  readonly isStatic: boolean;
}

/** Envoy's default access log format (used when a logger has no format). */
export const DEFAULT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% ' +
  '%RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% ' +
  '"%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n';

export interface FormatterOptions {
  /** SubstitutionFormatString.omit_empty_values: missing values print '' (text) or are left out (JSON). */
  readonly omitEmptyValues?: boolean;
  /** json_format_options.sort_properties: JSON keys sorted (nested objects too); else as written. */
  readonly sortProperties?: boolean;
}

/** A value an operator produced: null = not available. Objects come from DYNAMIC_METADATA. */
type Value = string | number | object | null;
type Reader = (ctx: FormatContext) => Value;

/** One compiled `%COMMAND%`: its reader and the `:N` truncation. */
interface Operator {
  readonly read: Reader;
  readonly maxLength: number | undefined;
}

type Piece = string | Operator;

/** Thrown by compile*() for a bad format; `problems` lists every issue found. */
export class FormatError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'FormatError';
    this.problems = problems;
  }
}

// ---- operators -------------------------------------------------------------------------------

const orNull = (s: string): string | null => (s === '' ? null : s);

/** Monotonic span in whole ms (Envoy truncates durations to milliseconds), null when an end is unknown. */
const span = (from: number | undefined, to: number | undefined): number | null =>
  from === undefined || to === undefined ? null : Math.trunc(to - from);

/** `ip:port` → `ip` (IPv6 `[::1]:80` → `::1`). */
function withoutPort(address: string): string | null {
  if (address === '') return null;
  if (address.startsWith('[')) {
    const end = address.indexOf(']');
    return end > 0 ? address.slice(1, end) : address;
  }
  const colon = address.lastIndexOf(':');
  return colon > 0 && address.indexOf(':') === colon ? address.slice(0, colon) : address;
}

/** Reads a request header; `:path`-style names come from the RequestHeaders fields. */
function requestHeader(req: RequestHeaders, name: string): string | undefined {
  switch (name) {
    case ':method': return req.method;
    case ':path': return req.path;
    case ':authority': return req.authority;
    case ':scheme': return req.scheme;
    default: return firstValue(req.headers, name);
  }
}

function responseHeader(resp: { status: number; headers: HeaderMap }, name: string): string | undefined {
  return name === ':status' ? String(resp.status) : firstValue(resp.headers, name);
}

/** Parses `X?Y` header arguments (lower-cased, at most one alternative). */
function headerNames(command: string, arg: string | undefined, problems: string[]): [string, string | undefined] {
  if (arg === undefined || arg === '') {
    problems.push(`%${command}%: needs a header name, e.g. %${command}(x-request-id)%`);
    return ['', undefined];
  }
  const parts = arg.toLowerCase().split('?');
  if (parts.length > 2) problems.push(`%${command}(${arg})%: more than one alternative header ('?')`);
  return [parts[0]!, parts[1]];
}

type OperatorFactory = (arg: string | undefined, problems: string[]) => Reader;

/** Operators without arguments, by name. */
const FIELDS: Record<string, Reader> = {
  PROTOCOL: ({ info }) => orNull(info.protocol),
  RESPONSE_CODE: ({ info }) => info.responseCode,
  RESPONSE_FLAGS: ({ info }) => formatResponseFlags(info.responseFlags),
  RESPONSE_FLAGS_LONG: ({ info }) => formatResponseFlagsLong(info.responseFlags),
  RESPONSE_CODE_DETAILS: ({ info }) => orNull(info.responseCodeDetails),
  BYTES_RECEIVED: ({ info }) => info.bytesReceived,
  BYTES_SENT: ({ info }) => info.bytesSent,
  DURATION: ({ info }) => span(info.startMonotonic, info.lastDownstreamTxByteSent ?? info.streamEnd),
  REQUEST_DURATION: ({ info }) => span(info.startMonotonic, info.lastDownstreamRxByteReceived),
  RESPONSE_DURATION: ({ info }) => span(info.startMonotonic, info.firstUpstreamRxByteReceived),
  RESPONSE_TX_DURATION: ({ info }) => span(info.firstUpstreamRxByteReceived, info.lastDownstreamTxByteSent),
  UPSTREAM_HOST: ({ info }) => orNull(info.upstreamHost),
  UPSTREAM_REMOTE_ADDRESS: ({ info }) => orNull(info.upstreamHost),
  UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: ({ info }) => withoutPort(info.upstreamHost),
  // Envoy prints the cluster's alt_stat_name when it has one; _RAW always the name (Istio's format uses _RAW).
  UPSTREAM_CLUSTER: ({ info }) => orNull(info.upstreamClusterObservabilityName || info.upstreamCluster),
  UPSTREAM_CLUSTER_RAW: ({ info }) => orNull(info.upstreamCluster),
  UPSTREAM_LOCAL_ADDRESS: ({ info }) => orNull(info.upstreamLocalAddress),
  UPSTREAM_TRANSPORT_FAILURE_REASON: ({ info }) => orNull(info.upstreamTransportFailureReason),
  DOWNSTREAM_REMOTE_ADDRESS: ({ info }) => orNull(info.downstreamRemoteAddress),
  DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: ({ info }) => withoutPort(info.downstreamRemoteAddress),
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS: ({ info }) => orNull(info.downstreamDirectRemoteAddress),
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT: ({ info }) => withoutPort(info.downstreamDirectRemoteAddress),
  DOWNSTREAM_LOCAL_ADDRESS: ({ info }) => orNull(info.downstreamLocalAddress),
  DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: ({ info }) => withoutPort(info.downstreamLocalAddress),
  REQUESTED_SERVER_NAME: ({ info }) => orNull(info.requestedServerName),
  ROUTE_NAME: ({ info }) => orNull(info.routeName),
  CONNECTION_TERMINATION_DETAILS: ({ info }) => orNull(info.connectionTerminationDetails),
};

/** Operators taking `(args)`, by name. */
const COMMANDS: Record<string, OperatorFactory> = {
  START_TIME(arg, problems) {
    if (arg === undefined || arg === '') return ({ info }) => isoStartTime(info.startTime);
    const render = compileStartTime(arg);
    if (typeof render === 'string') {
      problems.push(render);
      return () => null;
    }
    return ({ info }) => render(info.startTime);
  },
  REQ(arg, problems) {
    const [main, alt] = headerNames('REQ', arg, problems);
    return ({ request }) => (request ? requestHeader(request, main) ?? (alt ? requestHeader(request, alt) : undefined) ?? null : null);
  },
  RESP(arg, problems) {
    const [main, alt] = headerNames('RESP', arg, problems);
    return ({ response }) =>
      (response ? responseHeader(response, main) ?? (alt ? responseHeader(response, alt) : undefined) ?? null : null);
  },
  TRAILER(arg, problems) {
    headerNames('TRAILER', arg, problems);
    // Response trailers are not kept on the stream (nodevoy forwards them without recording).
    return () => null;
  },
  DYNAMIC_METADATA(arg, problems) {
    if (arg === undefined || arg === '') {
      problems.push('%DYNAMIC_METADATA%: needs a filter namespace, e.g. %DYNAMIC_METADATA(envoy.lb:key)%');
      return () => null;
    }
    const [ns, ...path] = arg.split(':');
    return ({ info }) => {
      let v: unknown = info.dynamicMetadata.get(ns!);
      for (const key of path) {
        v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[key] : undefined;
      }
      if (v === undefined || v === null) return null;
      return typeof v === 'string' || typeof v === 'number' || typeof v === 'object' ? v : String(v);
    };
  },
  HOSTNAME(arg, problems) {
    if (arg !== undefined) problems.push('%HOSTNAME% takes no arguments');
    const name = hostname();
    return () => name;
  },
};

const COMMAND_RE = /^%([A-Z0-9_]+)(?:\(([^)]*)\))?(?::(\d+))?%/;

function compileOperator(text: string, at: number, problems: string[]): { op: Operator; length: number } | null {
  const m = COMMAND_RE.exec(text.slice(at));
  if (!m) {
    problems.push(`no valid command at position ${at} of "${text}" (write %% for a literal '%')`);
    return null;
  }
  const [whole, name, arg, max] = m as unknown as [string, string, string | undefined, string | undefined];
  const maxLength = max === undefined ? undefined : Number(max);
  const field = FIELDS[name];
  const command = COMMANDS[name];
  let read: Reader;
  if (field) {
    if (arg !== undefined) problems.push(`%${name}% takes no arguments`);
    read = field;
  } else if (command) {
    read = command(arg, problems);
  } else {
    problems.push(`unknown command %${name}% at position ${at} of "${text}"`);
    read = () => null;
  }
  return { op: { read, maxLength }, length: whole.length };
}

/** Parses a format string into literal and operator pieces, collecting problems. */
function parse(format: string, problems: string[]): Piece[] {
  const pieces: Piece[] = [];
  let lit = '';
  let i = 0;
  while (i < format.length) {
    const ch = format[i]!;
    if (ch !== '%') { lit += ch; i++; continue; }
    if (format[i + 1] === '%') { lit += '%'; i += 2; continue; }
    const compiled = compileOperator(format, i, problems);
    if (!compiled) { i++; continue; }
    if (lit !== '') { pieces.push(lit); lit = ''; }
    pieces.push(compiled.op);
    i += compiled.length;
  }
  if (lit !== '') pieces.push(lit);
  return pieces;
}

/** The value as text, truncated to `:N` (Envoy truncates strings only). */
function toText(v: Value, op: Operator): string | null {
  if (v === null) return null;
  const s = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : JSON.stringify(v);
  return op.maxLength !== undefined && typeof v !== 'number' ? s.slice(0, op.maxLength) : s;
}

function renderText(pieces: readonly Piece[], ctx: FormatContext, empty: string): string {
  let out = '';
  for (const p of pieces) out += typeof p === 'string' ? p : toText(p.read(ctx), p) ?? empty;
  return out;
}

/** Every problem in a text format string (empty = valid). */
export function validateFormat(format: string): string[] {
  const problems: string[] = [];
  parse(format, problems);
  return problems;
}

/** Compiles a text format; throws FormatError listing every problem. */
export function compileFormatter(format: string, opts: FormatterOptions = {}): Formatter {
  const problems: string[] = [];
  const pieces = parse(format, problems);
  if (problems.length > 0) throw new FormatError(problems);
  const empty = opts.omitEmptyValues ? '' : '-';
  const isStatic = pieces.every((p) => typeof p === 'string');
  return { isStatic, format: (ctx) => renderText(pieces, ctx, empty) };
}

// ---- json_format -----------------------------------------------------------------------------

/** A compiled json_format node: a formatted string, a single typed operator, a constant, or a nested object. */
type JsonNode =
  | { kind: 'text'; pieces: readonly Piece[] }
  | { kind: 'typed'; op: Operator }
  | { kind: 'const'; value: number | boolean | null }
  | { kind: 'object'; entries: readonly [string, JsonNode][] };

function compileJsonNode(v: unknown, path: string, problems: string[], sort = false): JsonNode {
  if (typeof v === 'string') {
    const local: string[] = [];
    const pieces = parse(v, local);
    for (const p of local) problems.push(`${path}: ${p}`);
    // A value that is exactly one operator keeps the operator's type (numbers stay numbers).
    const only = pieces.length === 1 ? pieces[0] : undefined;
    return only !== undefined && typeof only !== 'string' ? { kind: 'typed', op: only } : { kind: 'text', pieces };
  }
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return { kind: 'const', value: v };
  if (typeof v === 'object' && !Array.isArray(v)) {
    const entries = Object.entries(v as Record<string, unknown>);
    if (sort) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return { kind: 'object', entries: entries.map(([k, x]): [string, JsonNode] => [k, compileJsonNode(x, `${path}.${k}`, problems, sort)]) };
  }
  problems.push(`${path}: json_format values must be strings, numbers, booleans or nested objects`);
  return { kind: 'const', value: null };
}

function renderJson(node: JsonNode, ctx: FormatContext, omitEmpty: boolean): unknown {
  switch (node.kind) {
    case 'const': return node.value;
    case 'typed': {
      const v = node.op.read(ctx);
      return typeof v === 'string' && node.op.maxLength !== undefined ? v.slice(0, node.op.maxLength) : v;
    }
    case 'text': {
      // Mixed text: missing operators print '-' like text formats (or '' with omit_empty_values).
      const s = renderText(node.pieces, ctx, omitEmpty ? '' : '-');
      return omitEmpty && s === '' ? null : s;
    }
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, child] of node.entries) {
        const v = renderJson(child, ctx, omitEmpty);
        if (omitEmpty && (v === null || v === '')) continue;
        out[k] = v;
      }
      return out;
    }
  }
}

function hasOperator(node: JsonNode): boolean {
  switch (node.kind) {
    case 'const': return false;
    case 'typed': return true;
    case 'text': return node.pieces.some((p) => typeof p !== 'string');
    case 'object': return node.entries.some(([, child]) => hasOperator(child));
  }
}

/** Every problem in a json_format dictionary (empty = valid). */
export function validateJsonFormat(format: Record<string, unknown>): string[] {
  const problems: string[] = [];
  compileJsonNode(format, 'json_format', problems);
  return problems;
}

/** Compiles a json_format dictionary: one JSON object per line. Throws FormatError listing every problem. */
export function compileJsonFormatter(format: Record<string, unknown>, opts: FormatterOptions = {}): Formatter {
  const problems: string[] = [];
  const root = compileJsonNode(format, 'json_format', problems, opts.sortProperties ?? false);
  if (problems.length > 0) throw new FormatError(problems);
  const omit = opts.omitEmptyValues ?? false;
  const isStatic = !hasOperator(root);
  return { isStatic, format: (ctx) => `${JSON.stringify(renderJson(root, ctx, omit))}\n` };
}
