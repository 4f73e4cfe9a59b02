// HeaderMatcher and QueryParameterMatcher semantics (presence, invert, missing headers, pseudo-headers) and schema errors.

import { describe, expect, it } from 'vitest';
import { parseWith } from '../../../proxy/config/schema-kit.ts';
import { HeaderMatcherSchema, compileHeaderMatcher, requestReader } from '../../../proxy/matchers/header-matcher.ts';
import { QueryParameterMatcherSchema, compileQueryParameterMatcher, firstQueryValue } from '../../../proxy/matchers/query-parameter-matcher.ts';
import { firstValue, type HeaderMap, type RequestHeaders } from '../../../proxy/http/headers.ts';

function headerMatcher(wire: unknown) {
  const r = parseWith(HeaderMatcherSchema, wire, 'h');
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return compileHeaderMatcher(r.value);
}

function request(headers: HeaderMap): RequestHeaders {
  return { method: 'POST', path: '/p?q=1', authority: 'Svc.NS:8080', scheme: 'https', headers };
}

describe('HeaderMatcher', () => {
  it.each([
    // string_match kinds
    ['string_match exact', { name: 'x-a', string_match: { exact: 'v' } }, { 'x-a': 'v' }, true],
    ['string_match exact miss', { name: 'x-a', string_match: { exact: 'v' } }, { 'x-a': 'w' }, false],
    ['string_match prefix', { name: 'x-a', string_match: { prefix: 'ab' } }, { 'x-a': 'abc' }, true],
    ['string_match suffix', { name: 'x-a', string_match: { suffix: 'bc' } }, { 'x-a': 'abc' }, true],
    ['string_match contains', { name: 'x-a', string_match: { contains: 'b' } }, { 'x-a': 'abc' }, true],
    ['string_match regex', { name: 'x-a', string_match: { safe_regex: { regex: 'a.c' } } }, { 'x-a': 'abc' }, true],
    ['string_match ignore_case', { name: 'x-a', string_match: { exact: 'ABC', ignore_case: true } }, { 'x-a': 'abc' }, true],
    // deprecated forms
    ['exact_match', { name: 'x-a', exact_match: 'v' }, { 'x-a': 'v' }, true],
    ['prefix_match', { name: 'x-a', prefix_match: 'a' }, { 'x-a': 'abc' }, true],
    ['suffix_match', { name: 'x-a', suffix_match: 'c' }, { 'x-a': 'abc' }, true],
    ['contains_match', { name: 'x-a', contains_match: 'z' }, { 'x-a': 'abc' }, false],
    ['safe_regex_match whole value', { name: 'x-a', safe_regex_match: { regex: 'b' } }, { 'x-a': 'abc' }, false],
    // range_match [start, end), whole value an integer
    ['range inside', { name: 'x-n', range_match: { start: 1, end: 11 } }, { 'x-n': '10' }, true],
    ['range end excluded', { name: 'x-n', range_match: { start: 1, end: 11 } }, { 'x-n': '11' }, false],
    ['range negative', { name: 'x-n', range_match: { start: '-5', end: 0 } }, { 'x-n': '-5' }, true],
    ['range not an integer', { name: 'x-n', range_match: { start: 1, end: 11 } }, { 'x-n': '5a' }, false],
    // presence
    ['present_match true, present', { name: 'x-a', present_match: true }, { 'x-a': '' }, true],
    ['present_match true, missing', { name: 'x-a', present_match: true }, {}, false],
    ['present_match false, missing', { name: 'x-a', present_match: false }, {}, true],
    ['present_match false, present', { name: 'x-a', present_match: false }, { 'x-a': 'v' }, false],
    ['no specifier = presence', { name: 'x-a' }, { 'x-a': 'anything' }, true],
    ['no specifier, missing', { name: 'x-a' }, {}, false],
    // invert_match
    ['invert value match', { name: 'x-a', exact_match: 'v', invert_match: true }, { 'x-a': 'w' }, true],
    ['invert value match, equal', { name: 'x-a', exact_match: 'v', invert_match: true }, { 'x-a': 'v' }, false],
    ['missing header + invert never matches', { name: 'x-a', exact_match: 'v', invert_match: true }, {}, false],
    ['missing header + inverted presence = absence', { name: 'x-a', invert_match: true }, {}, true],
    ['present header + inverted presence', { name: 'x-a', invert_match: true }, { 'x-a': 'v' }, false],
    // treat_missing_header_as_empty
    ['missing as empty, exact ""', { name: 'x-a', string_match: { exact: '' }, treat_missing_header_as_empty: true }, {}, true],
    ['missing as empty + invert', { name: 'x-a', exact_match: 'v', invert_match: true, treat_missing_header_as_empty: true }, {}, true],
    // repeated headers are matched against the ','-joined value
    ['repeated joined', { name: 'x-a', exact_match: 'a,b' }, { 'x-a': ['a', 'b'] }, true],
    ['repeated, single value misses', { name: 'x-a', exact_match: 'a' }, { 'x-a': ['a', 'b'] }, false],
    // names are case-insensitive; pseudo-headers read RequestHeaders
    ['name case-insensitive', { name: 'X-A', exact_match: 'v' }, { 'x-a': 'v' }, true],
    [':method', { name: ':method', exact_match: 'POST' }, {}, true],
    [':path includes the query', { name: ':path', exact_match: '/p?q=1' }, {}, true],
    [':authority', { name: ':authority', exact_match: 'Svc.NS:8080' }, {}, true],
    [':scheme', { name: ':scheme', exact_match: 'https' }, {}, true],
    ['unknown pseudo-header is missing', { name: ':status', present_match: true }, {}, false],
  ])('%s', (_label, wire, headers, expected) => {
    expect(headerMatcher(wire).matchRequest(request(headers as HeaderMap))).toBe(expected);
  });

  it('matches plain header maps (e.g. responses)', () => {
    const m = headerMatcher({ name: 'content-type', prefix_match: 'text/' });
    expect(m.matchHeaders({ 'content-type': 'text/html' })).toBe(true);
    expect(m.matchHeaders({})).toBe(false);
    expect(headerMatcher({ name: ':method', present_match: true }).matchHeaders({})).toBe(false);
  });

  it.each([
    [{ name: 'x', exact_match: 'a', prefix_match: 'b' }, 'h', 'invalid'],
    [{ name: '', exact_match: 'a' }, 'h.name', 'invalid'],
    [{ name: 'x', prefix_match: '' }, 'h.prefix_match', 'invalid'],
    [{ name: 'x', safe_regex_match: { regex: '[' } }, 'h.safe_regex_match.regex', 'invalid'],
    [{ name: 'x', string_match: { exact: 'a', custom: {} } }, 'h.string_match.custom', 'not-implemented'],
    [{ name: 'x', regex_match: 'a' }, 'h.regex_match', 'unknown-field'],
  ])('rejects %j at %s', (wire, path, kind) => {
    const r = parseWith(HeaderMatcherSchema, wire, 'h');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors).toContainEqual(expect.objectContaining({ path, kind }));
  });
});

describe('requestReader', () => {
  const headers: HeaderMap = { 'x-a': ['a', 'b'], 'x-one': 'v' };
  it.each([
    [':method', undefined, 'POST'],
    [':path', undefined, '/p?q=1'],
    [':authority', undefined, 'Svc.NS:8080'],
    [':scheme', undefined, 'https'],
    [':status', undefined, undefined],
    ['x-one', undefined, 'v'],
    ['x-missing', undefined, undefined],
    ['x-a', undefined, 'a,b'],
    ['x-a', firstValue, 'a'],
    [':method', firstValue, 'POST'],
  ])('%s (%s)', (name, valueOf, want) => {
    expect(requestReader(name, valueOf)(request(headers))).toBe(want);
  });
});

describe('QueryParameterMatcher', () => {
  function queryMatcher(wire: unknown) {
    const r = parseWith(QueryParameterMatcherSchema, wire, 'q');
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return compileQueryParameterMatcher(r.value);
  }

  it.each([
    ['string_match', { name: 'v', string_match: { exact: '2' } }, 'a=1&v=2', true],
    ['string_match miss', { name: 'v', string_match: { exact: '2' } }, 'v=3', false],
    ['first value of a repeated key', { name: 'v', string_match: { exact: '1' } }, 'v=1&v=2', true],
    ['second value not used', { name: 'v', string_match: { exact: '2' } }, 'v=1&v=2', false],
    ['no specifier = presence', { name: 'debug' }, 'x=1&debug', true],
    ['no specifier, absent', { name: 'debug' }, 'x=1', false],
    ['present_match true', { name: 'debug', present_match: true }, 'debug=0', true],
    ['present_match false never matches a present key', { name: 'debug', present_match: false }, 'debug=0', false],
    ['present_match false, absent key does not match', { name: 'debug', present_match: false }, '', false],
    ['key is not a prefix match', { name: 'v', present_match: true }, 'vv=1', false],
    ['values are not percent-decoded', { name: 'v', string_match: { exact: 'a b' } }, 'v=a%20b', false],
    ['empty value', { name: 'v', string_match: { exact: '' } }, 'v=', true],
  ])('%s', (_label, wire, query, expected) => {
    expect(queryMatcher(wire)(query)).toBe(expected);
  });

  it('firstQueryValue reads keys without values as empty', () => {
    expect(firstQueryValue('a&b=2', 'a')).toBe('');
    expect(firstQueryValue('a&b=2', 'b')).toBe('2');
    expect(firstQueryValue('', 'a')).toBeUndefined();
  });

  it('rejects string_match together with present_match', () => {
    const r = parseWith(QueryParameterMatcherSchema, { name: 'v', present_match: true, string_match: { exact: 'x' } }, 'q');
    expect(r.ok).toBe(false);
  });
});
