// envoy.type.matcher.v3.StringMatcher and RegexMatcher: their config schemas and their compilation into
// plain `(value: string) => boolean` predicates. Shared by routes, RBAC, fault and others; knows no HTTP.
// Regexes are validated in the schema (so errors carry paths) and compiled once at config time.

import { z } from 'zod';
import { message, bool } from '../config/schema-kit.ts';

/** A compiled StringMatcher: no allocation beyond what ignore_case needs. */
export type StringMatch = (value: string) => boolean;

const GoogleRe2Schema = message('envoy.type.matcher.v3.RegexMatcher.GoogleRE2', {}, {
  unimplemented: ['max_program_size'],
});

/** envoy.type.matcher.v3.RegexMatcher. `google_re2` (deprecated, the only engine) may be given or omitted. */
export const RegexMatcherSchema = message('envoy.type.matcher.v3.RegexMatcher', {
  google_re2: GoogleRe2Schema.optional(),
  regex: z.string().min(1, 'regex must not be empty'),
}).superRefine((m, ctx) => {
  const problem = regexProblem(m.regex);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['regex'], message: problem });
});

export type RegexMatcherWire = z.output<typeof RegexMatcherSchema>;

const PATTERNS = ['exact', 'prefix', 'suffix', 'contains', 'safe_regex'] as const;

/** envoy.type.matcher.v3.StringMatcher: exactly one of the match_pattern fields; `custom` is not implemented. */
export const StringMatcherSchema = message('envoy.type.matcher.v3.StringMatcher', {
  exact: z.string().optional(),
  // prefix/suffix/contains have (validate.rules).string.min_len = 1 in Envoy's proto.
  prefix: z.string().min(1, 'prefix must not be empty').optional(),
  suffix: z.string().min(1, 'suffix must not be empty').optional(),
  contains: z.string().min(1, 'contains must not be empty').optional(),
  safe_regex: RegexMatcherSchema.optional(),
  ignore_case: bool.optional(),
}, { unimplemented: ['custom'] }).superRefine((m, ctx) => {
  const set = PATTERNS.filter((k) => m[k] !== undefined);
  if (set.length !== 1) {
    ctx.addIssue({ code: 'custom', message: set.length === 0
      ? `a StringMatcher needs one of ${PATTERNS.join(', ')}`
      : `a StringMatcher takes only one of ${PATTERNS.join(', ')} (got ${set.join(', ')})` });
  }
});

export type StringMatcherWire = z.output<typeof StringMatcherSchema>;

/**
 * RE2 syntax is mostly compatible with JavaScript RegExp. We translate the two RE2-only forms configs
 * commonly use — named groups `(?P<name>…)` and leading flag groups like `(?i)` — and reject what RE2
 * does not support (lookaround, backreferences), so a config valid here is valid for Envoy too.
 */
function translateRe2(source: string): { source: string; flags: string } {
  let flags = '';
  const lead = /^\(\?([ims]+)\)/.exec(source);
  if (lead) {
    flags = [...new Set(lead[1]!)].join('');
    source = source.slice(lead[0].length);
  }
  return { source: source.replaceAll('(?P<', '(?<'), flags };
}

function regexProblem(regex: string): string | undefined {
  if (/\(\?<?[=!]/.test(regex)) return `invalid regex "${regex}": RE2 does not support lookahead or lookbehind`;
  if (/(^|[^\\])(\\\\)*\\[1-9]/.test(regex)) return `invalid regex "${regex}": RE2 does not support backreferences`;
  const { source, flags } = translateRe2(regex);
  try {
    new RegExp(source, flags);
    return undefined;
  } catch (e) {
    return `invalid regex "${regex}": ${(e as Error).message}`;
  }
}

/**
 * Compiles a validated RegexMatcher. `anchored` (the default) makes it match the entire value, as Envoy's
 * `match()` does; unanchored with `global` is for regex_rewrite's replace-all.
 */
export function compileRegex(m: RegexMatcherWire, opts: { anchored?: boolean; global?: boolean } = {}): RegExp {
  const { source, flags } = translateRe2(m.regex);
  const anchored = opts.anchored ?? true;
  return new RegExp(anchored ? `^(?:${source})$` : source, flags + (opts.global ? 'g' : ''));
}

/** Compiles a validated StringMatcher. ignore_case has no effect on safe_regex (as in Envoy). */
export function compileStringMatcher(m: StringMatcherWire): StringMatch {
  if (m.safe_regex !== undefined) {
    const re = compileRegex(m.safe_regex);
    return (v) => re.test(v);
  }
  const ignoreCase = m.ignore_case === true;
  if (m.exact !== undefined) {
    const want = ignoreCase ? m.exact.toLowerCase() : m.exact;
    return ignoreCase ? (v) => v.length === want.length && startsWithIgnoreCase(v, want, 0) : (v) => v === want;
  }
  if (m.prefix !== undefined) {
    const want = ignoreCase ? m.prefix.toLowerCase() : m.prefix;
    return ignoreCase ? (v) => startsWithIgnoreCase(v, want, 0) : (v) => v.startsWith(want);
  }
  if (m.suffix !== undefined) {
    const want = ignoreCase ? m.suffix.toLowerCase() : m.suffix;
    return ignoreCase
      ? (v) => v.length >= want.length && startsWithIgnoreCase(v, want, v.length - want.length)
      : (v) => v.endsWith(want);
  }
  const want = ignoreCase ? m.contains!.toLowerCase() : m.contains!;
  return ignoreCase ? (v) => v.toLowerCase().includes(want) : (v) => v.includes(want);
}

/**
 * ASCII case-insensitive "value has `lowerNeedle` at `offset`" without allocating (Envoy compares with
 * absl's ASCII case folding). `lowerNeedle` must already be lower-cased.
 */
export function startsWithIgnoreCase(value: string, lowerNeedle: string, offset: number): boolean {
  const n = lowerNeedle.length;
  if (offset < 0 || value.length - offset < n) return false;
  for (let i = 0; i < n; i++) {
    let c = value.charCodeAt(offset + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lowerNeedle.charCodeAt(i)) return false;
  }
  return true;
}
