// StringMatcher/RegexMatcher: every match kind, ignore_case, whole-value regexes and schema errors.

import { describe, expect, it } from 'vitest';
import { parseWith } from '../../../proxy/config/schema-kit.ts';
import { StringMatcherSchema, compileStringMatcher } from '../../../proxy/matchers/string-matcher.ts';

function matcher(wire: unknown) {
  const r = parseWith(StringMatcherSchema, wire, 'm');
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return compileStringMatcher(r.value);
}

describe('StringMatcher', () => {
  it.each([
    [{ exact: 'abc' }, 'abc', true],
    [{ exact: 'abc' }, 'ABC', false],
    [{ exact: 'abc', ignore_case: true }, 'aBc', true],
    [{ exact: 'abc', ignore_case: true }, 'abcd', false],
    [{ exact: '' }, '', true],
    [{ prefix: '/api' }, '/api/v1', true],
    [{ prefix: '/api' }, '/API/v1', false],
    [{ prefix: '/api', ignore_case: true }, '/API/v1', true],
    [{ prefix: '/api', ignore_case: true }, '/ap', false],
    [{ suffix: '.com' }, 'foo.com', true],
    [{ suffix: '.com', ignore_case: true }, 'FOO.COM', true],
    [{ suffix: '.com' }, 'foo.org', false],
    [{ contains: 'mid' }, 'a-mid-b', true],
    [{ contains: 'mid', ignore_case: true }, 'a-MID-b', true],
    [{ contains: 'mid' }, 'a-MID-b', false],
    // safe_regex must match the whole value.
    [{ safe_regex: { google_re2: {}, regex: 'ab+' } }, 'abbb', true],
    [{ safe_regex: { regex: 'ab+' } }, 'xabbb', false],
    [{ safe_regex: { regex: 'ab+' } }, 'abbbx', false],
    [{ safe_regex: { regex: 'a|b' } }, 'b', true],
    // ignore_case has no effect on safe_regex.
    [{ safe_regex: { regex: 'abc' }, ignore_case: true }, 'ABC', false],
    // RE2 named groups and leading flags are translated.
    [{ safe_regex: { regex: '(?P<v>v\\d+)' } }, 'v12', true],
    [{ safe_regex: { regex: '(?i)abc' } }, 'ABC', true],
  ])('%j matches %j → %s', (wire, value, expected) => {
    expect(matcher(wire)(value)).toBe(expected);
  });

  it.each([
    [{ prefix: '' }, 'm.prefix', 'prefix must not be empty', 'invalid'],
    [{ suffix: '' }, 'm.suffix', 'suffix must not be empty', 'invalid'],
    [{ contains: '' }, 'm.contains', 'contains must not be empty', 'invalid'],
    [{}, 'm', 'a StringMatcher needs one of exact, prefix, suffix, contains, safe_regex', 'invalid'],
    [{ exact: 'a', prefix: 'b' }, 'm', 'a StringMatcher takes only one of exact, prefix, suffix, contains, safe_regex (got exact, prefix)', 'invalid'],
    [{ safe_regex: { regex: 'a(' } }, 'm.safe_regex.regex', undefined, 'invalid'],
    [{ safe_regex: { regex: '(?=a)b' } }, 'm.safe_regex.regex', 'invalid regex "(?=a)b": RE2 does not support lookahead or lookbehind', 'invalid'],
    [{ safe_regex: { regex: '(a)\\1' } }, 'm.safe_regex.regex', 'invalid regex "(a)\\1": RE2 does not support backreferences', 'invalid'],
    [{ custom: {} }, 'm.custom', 'field "custom" of envoy.type.matcher.v3.StringMatcher is valid Envoy config but nodevoy does not implement it', 'not-implemented'],
    [{ exact: 'a', exactly: 'b' }, 'm.exactly', 'unknown field "exactly": envoy.type.matcher.v3.StringMatcher has no such field', 'unknown-field'],
  ])('rejects %j at %s', (wire, path, msg, kind) => {
    const r = parseWith(StringMatcherSchema, wire, 'm');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const e = r.errors.find((x) => x.path === path);
    expect(e, JSON.stringify(r.errors)).toBeDefined();
    expect(e!.kind).toBe(kind);
    if (msg !== undefined) expect(e!.message).toBe(msg);
  });

  it('accepts lowerCamelCase field names', () => {
    expect(matcher({ safeRegex: { googleRe2: {}, regex: 'x+' }, ignoreCase: false })('xx')).toBe(true);
  });
});
