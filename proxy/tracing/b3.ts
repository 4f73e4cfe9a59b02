// B3 and W3C trace context in HTTP headers as Envoy's Zipkin tracer reads and writes them
// (span_context_extractor.cc, ZipkinSpan::injectContext): pure parsing and formatting, no spans or I/O.
// Ids are lower-case hex strings of fixed width, the way Envoy prints its uint64 ids back.

/** Reads the first value of a (lower-case) request header; Envoy uses only the first of repeated values. */
export type HeaderGetter = (name: string) => string | undefined;
/** Writes (replaces) a request header. */
export type HeaderSetter = (name: string, value: string) => void;

/** A trace context extracted from request headers (Envoy's Zipkin SpanContext). */
export interface B3Context {
  /** High 64 bits of a 128-bit trace id as 16 hex digits; '' for a 64-bit trace id (or a zero high half). */
  readonly traceIdHigh: string;
  /** Low 64 bits of the trace id, 16 hex digits. */
  readonly traceId: string;
  readonly spanId: string;
  /** The parent span id; '' when absent or zero (Envoy treats parent id 0 as "no parent"). */
  readonly parentId: string;
}

/** Envoy's ExtractorException: malformed ids; Envoy then starts no span at all (a NullSpan). */
export class B3ExtractionError extends Error {}

const ZERO_ID = '0000000000000000';
const HEX = /^[0-9a-fA-F]+$/;

/**
 * Envoy's StringUtil::atoull(s, 16) followed by Hex::uint64ToHex: 1 to 16 hex digits, zero-padded.
 * (strtoull's leading blanks, sign and 0x prefix are not accepted here.)
 */
export function parseHexId(s: string): string | undefined {
  if (s.length === 0 || s.length > 16 || !HEX.test(s)) return undefined;
  return s.toLowerCase().padStart(16, '0');
}

function id(s: string, what: string): string {
  const v = parseHexId(s);
  if (v === undefined) throw new B3ExtractionError(`invalid ${what} ${s}`);
  return v;
}

function context(high: string, low: string, span: string, parent: string): B3Context {
  return { traceIdHigh: high === ZERO_ID ? '' : high, traceId: low, spanId: span, parentId: parent === ZERO_ID ? '' : parent };
}

function isSamplingFlag(c: string | undefined): boolean {
  return c === '1' || c === '0' || c === 'd';
}

/** Where the sampling flag sits in a single `b3` header, by its length (Envoy's extractSampled). */
const B3_SAMPLED_POSITION: Readonly<Record<number, number>> = { 1: 0, 35: 34, 51: 50, 52: 34, 68: 50 };

/**
 * The sampling decision the headers carry, or undefined when they carry none (the local decision is then
 * used): `b3` first (`1`/`d` sampled, `0` not), else `x-b3-sampled` (`1` or legacy `true` = sampled, any other
 * value = not), else, with W3C fallback, the sampled bit of a valid `traceparent`.
 */
export function extractSampled(get: HeaderGetter, w3cFallback: boolean): boolean | undefined {
  const b3 = get('b3');
  if (b3 !== undefined) {
    const pos = B3_SAMPLED_POSITION[b3.length];
    const flag = pos === undefined ? undefined : b3[pos];
    return isSamplingFlag(flag) ? flag !== '0' : undefined;
  }
  const sampled = get('x-b3-sampled');
  if (sampled !== undefined) return sampled === '1' || sampled === 'true';
  if (w3cFallback && hasNoB3(get)) {
    const tp = parseTraceparent(get('traceparent'));
    if (tp) return tp.sampled;
  }
  return undefined;
}

function hasNoB3(get: HeaderGetter): boolean {
  return get('x-b3-traceid') === undefined && get('x-b3-spanid') === undefined;
}

/**
 * The parent context the headers carry, or null when they carry none. Single `b3` takes precedence over the
 * multi headers (which need both x-b3-traceid and x-b3-spanid); with W3C fallback a valid `traceparent`
 * is used when no B3 context is present. Malformed B3 ids throw B3ExtractionError.
 */
export function extractContext(get: HeaderGetter, w3cFallback: boolean): B3Context | null {
  const b3 = get('b3');
  if (b3 !== undefined) return parseSingleB3(b3);
  const traceId = get('x-b3-traceid');
  const spanId = get('x-b3-spanid');
  if (traceId !== undefined && spanId !== undefined) {
    let high = ZERO_ID;
    let low: string;
    if (traceId.length === 32) {
      high = id(traceId.slice(0, 16), 'trace id high');
      low = id(traceId.slice(16), 'trace id');
    } else {
      low = id(traceId, 'trace id');
    }
    const span = id(spanId, 'span id');
    const parentHeader = get('x-b3-parentspanid');
    const parent = parentHeader === undefined || parentHeader === '' ? ZERO_ID : id(parentHeader, 'parent span id');
    return context(high, low, span, parent);
  }
  if (w3cFallback && traceId === undefined && spanId === undefined) {
    const tp = parseTraceparent(get('traceparent'));
    // W3C has no parent id: the caller's span id becomes the parent of this hop's span.
    if (tp) return context(tp.traceId.slice(0, 16), tp.traceId.slice(16), tp.spanId, ZERO_ID);
  }
  return null;
}

/** `b3: {traceid(16|32)}-{spanid}[-{1|0|d}[-{parentspanid}]]`, or a lone sampling flag (no context). */
export function parseSingleB3(b3: string): B3Context | null {
  if (b3.length === 0) throw new B3ExtractionError('b3: empty');
  if (b3.length === 1) {
    if (isSamplingFlag(b3)) return null;
    throw new B3ExtractionError(`b3: invalid sampling flag ${b3}`);
  }
  if (b3.length < 33) throw new B3ExtractionError('b3: truncated');
  if (b3.length > 68) throw new B3ExtractionError('b3: too long');
  let high = ZERO_ID;
  let pos = 0;
  if (b3[32] === '-') {
    high = id(b3.slice(0, 16), 'trace id high');
    pos = 16;
  }
  const low = id(b3.slice(pos, pos + 16), 'trace id');
  pos += 16;
  if (b3[pos++] !== '-') throw new B3ExtractionError('b3: no span id');
  const span = id(b3.slice(pos, pos + 16), 'span id');
  pos += 16;
  let parent = ZERO_ID;
  if (b3.length > pos) {
    if (b3.length === pos + 1) throw new B3ExtractionError('b3: truncated');
    if (b3[pos++] !== '-') throw new B3ExtractionError('b3: no sampling field');
    if (!(b3.length === pos + 1 || b3[pos + 1] === '-')) throw new B3ExtractionError('b3: truncated');
    if (!isSamplingFlag(b3[pos])) throw new B3ExtractionError(`b3: invalid sampling flag ${b3[pos]}`);
    pos++;
    if (b3.length > pos) {
      if (b3.length !== pos + 17) throw new B3ExtractionError('b3: truncated');
      parent = id(b3.slice(pos + 1), 'parent id');
    }
  }
  return context(high, low, span, parent);
}

export interface Traceparent {
  /** 32 hex digits. */
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * W3C `traceparent` (version-traceid-parentid-flags). Invalid values (version ff, all-zero ids, extra
 * fields on version 00) are ignored: Envoy then starts a root span.
 */
export function parseTraceparent(value: string | undefined): Traceparent | undefined {
  if (value === undefined) return undefined;
  const m = TRACEPARENT.exec(value);
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId) || spanId === ZERO_ID) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/** The ids of a span as they are written upstream. */
export interface InjectedIds {
  readonly traceIdHigh: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentId: string;
  readonly sampled: boolean;
}

/** The trace id as Envoy prints it: 32 hex digits for a 128-bit id, else 16. */
export function traceIdHex(ids: Pick<InjectedIds, 'traceIdHigh' | 'traceId'>): string {
  return ids.traceIdHigh === '' ? ids.traceId : ids.traceIdHigh + ids.traceId;
}

/**
 * ZipkinSpan::injectContext: x-b3-traceid, x-b3-spanid, x-b3-parentspanid (only with a parent) and
 * x-b3-sampled; with W3C propagation also `traceparent` (the trace id left-padded to 128 bits).
 * The single `b3` header and x-b3-flags are never written (nor removed).
 */
export function injectB3(set: HeaderSetter, ids: InjectedIds, w3c: boolean): void {
  const traceId = traceIdHex(ids);
  set('x-b3-traceid', traceId);
  set('x-b3-spanid', ids.spanId);
  if (ids.parentId !== '') set('x-b3-parentspanid', ids.parentId);
  set('x-b3-sampled', ids.sampled ? '1' : '0');
  if (w3c) set('traceparent', `00-${traceId.padStart(32, '0')}-${ids.spanId}-${ids.sampled ? '01' : '00'}`);
}

/** The headers injectB3 may write (a propagator's fields()). */
export const B3_FIELDS: readonly string[] = ['x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled'];
