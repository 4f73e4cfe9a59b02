// envoy.config.route.v3.HeaderMatcher: its schema and its compilation into a matcher over a request
// (pseudo-headers :method/:path/:authority/:scheme read from RequestHeaders) or a plain header map.
// Used by route matching, RBAC, fault injection and retry policies; knows nothing of routes.

import { z } from 'zod';
import { message, bool, int64 } from '../config/schema-kit.ts';
import { joinedValue, type HeaderMap, type RequestHeaders } from '../http/headers.ts';
import { StringMatcherSchema, RegexMatcherSchema, compileStringMatcher, compileRegex, type StringMatch } from './string-matcher.ts';

/** envoy.type.v3.Int64Range: [start, end). */
export const Int64RangeSchema = message('envoy.type.v3.Int64Range', {
  start: int64.optional(),
  end: int64.optional(),
});

const SPECIFIERS = ['exact_match', 'safe_regex_match', 'range_match', 'present_match', 'prefix_match',
  'suffix_match', 'contains_match', 'string_match'] as const;

export const HeaderMatcherSchema = message('envoy.config.route.v3.HeaderMatcher', {
  name: z.string().min(1, 'header name must not be empty'),
  // Deprecated forms, still accepted by Envoy; they behave like the matching string_match.
  exact_match: z.string().optional(),
  safe_regex_match: RegexMatcherSchema.optional(),
  prefix_match: z.string().min(1, 'prefix_match must not be empty').optional(),
  suffix_match: z.string().min(1, 'suffix_match must not be empty').optional(),
  contains_match: z.string().min(1, 'contains_match must not be empty').optional(),
  range_match: Int64RangeSchema.optional(),
  present_match: bool.optional(),
  string_match: StringMatcherSchema.optional(),
  invert_match: bool.optional(),
  treat_missing_header_as_empty: bool.optional(),
}).superRefine((m, ctx) => {
  const set = SPECIFIERS.filter((k) => m[k] !== undefined);
  if (set.length > 1) ctx.addIssue({ code: 'custom', message: `a HeaderMatcher takes only one of ${SPECIFIERS.join(', ')} (got ${set.join(', ')})` });
});

export type HeaderMatcherWire = z.output<typeof HeaderMatcherSchema>;

/** A compiled HeaderMatcher. */
export interface HeaderMatch {
  /** Matches a request; `:method`, `:path`, `:authority`, `:scheme` read the pseudo-headers. */
  matchRequest(request: RequestHeaders): boolean;
  /** Matches a plain header map (e.g. a response); pseudo-header names are absent there. */
  matchHeaders(headers: HeaderMap): boolean;
}

/** Reads one header of a request; undefined when it is absent. */
export type RequestReader = (request: RequestHeaders) => string | undefined;

/**
 * A reader for the lower-cased header `name`, built once at config time: the pseudo-headers
 * :method/:path/:authority/:scheme read the request line (Envoy's header map holds them), other
 * pseudo-headers are absent, and a repeated header is read with `valueOf` — all values joined by ','
 * as HeaderMatcher sees them, or `firstValue` for Envoy's `get()[0]` (e.g. rate limit request_headers).
 */
export function requestReader(name: string, valueOf: (headers: HeaderMap, name: string) => string | undefined = joinedValue): RequestReader {
  switch (name) {
    case ':method': return (r) => r.method;
    case ':path': return (r) => r.path;
    case ':authority': return (r) => r.authority;
    case ':scheme': return (r) => r.scheme;
    default:
      if (name.startsWith(':')) return () => undefined;
      return (r) => valueOf(r.headers, name);
  }
}

function valueMatcher(m: HeaderMatcherWire): StringMatch | null {
  if (m.string_match !== undefined) return compileStringMatcher(m.string_match);
  if (m.exact_match !== undefined) { const want = m.exact_match; return (v) => v === want; }
  if (m.prefix_match !== undefined) { const want = m.prefix_match; return (v) => v.startsWith(want); }
  if (m.suffix_match !== undefined) { const want = m.suffix_match; return (v) => v.endsWith(want); }
  if (m.contains_match !== undefined) { const want = m.contains_match; return (v) => v.includes(want); }
  if (m.safe_regex_match !== undefined) { const re = compileRegex(m.safe_regex_match); return (v) => re.test(v); }
  if (m.range_match !== undefined) {
    const start = m.range_match.start ?? 0;
    const end = m.range_match.end ?? 0;
    // The whole value must be a base-10 integer (absl::SimpleAtoi), then start <= value < end.
    return (v) => {
      if (!/^[+-]?\d+$/.test(v)) return false;
      const n = Number(v);
      return n >= start && n < end;
    };
  }
  return null; // present_match, or no specifier at all (= presence match)
}

class CompiledHeaderMatcher implements HeaderMatch {
  private readonly name: string;
  private readonly read: RequestReader;
  /** null = presence match (present_match, or no specifier). */
  private readonly match: StringMatch | null;
  private readonly present: boolean;
  private readonly invert: boolean;
  private readonly missingAsEmpty: boolean;

  constructor(m: HeaderMatcherWire) {
    this.name = m.name.toLowerCase();
    this.read = requestReader(this.name);
    this.match = valueMatcher(m);
    this.present = m.present_match ?? true;
    this.invert = m.invert_match ?? false;
    this.missingAsEmpty = m.treat_missing_header_as_empty ?? false;
  }

  matchRequest(request: RequestHeaders): boolean {
    return this.evaluate(this.read(request));
  }

  matchHeaders(headers: HeaderMap): boolean {
    return this.evaluate(this.name.startsWith(':') ? undefined : joinedValue(headers, this.name));
  }

  /** HeaderUtility::matchHeaders: a missing header fails every value match, even inverted. */
  private evaluate(value: string | undefined): boolean {
    if (value === undefined && !this.missingAsEmpty) {
      // Only a presence match can succeed on a missing header: present_match false, or inverted true.
      return this.match === null && this.present === this.invert;
    }
    const matched = this.match === null ? this.present : this.match(value ?? '');
    return matched !== this.invert;
  }
}

export function compileHeaderMatcher(m: HeaderMatcherWire): HeaderMatch {
  return new CompiledHeaderMatcher(m);
}

/** All matchers must match (the AND of RouteMatch.headers and similar lists). */
export function matchAllHeaders(matchers: readonly HeaderMatch[], request: RequestHeaders): boolean {
  for (const m of matchers) if (!m.matchRequest(request)) return false;
  return true;
}
