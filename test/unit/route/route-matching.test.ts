// Route matching: path specifiers (query-string visibility, case_sensitive), headers, query parameters, gRPC, order, require_tls.

import { describe, expect, it } from 'vitest';
import type { HeaderMap } from '../../../proxy/http/headers.ts';
import { table, singleHost, req } from './route-fixtures.ts';

/** A route table with one route using `match`; returns whether the request path (and headers) match. */
function matches(match: unknown, path: string, headers: HeaderMap = {}, method = 'GET'): boolean {
  const rc = table(singleHost([{ name: 'r', match, direct_response: { status: 200 } }]));
  return rc.route(req(path, { headers, method })) !== null;
}

describe('route matching (RouteMatch)', () => {
  it.each([
    // prefix sees the raw path, query string included
    ['prefix', { prefix: '/api' }, '/api/v1', true],
    ['prefix is not segment-aware', { prefix: '/api' }, '/apis', true],
    ['prefix sees the query string', { prefix: '/search?q=' }, '/search?q=x', true],
    ['prefix case-sensitive by default', { prefix: '/API' }, '/api', false],
    ['prefix case_sensitive false', { prefix: '/API', case_sensitive: false }, '/api/x', true],
    ['empty prefix matches all', { prefix: '' }, '/anything', true],
    // path: exact, query and fragment removed
    ['path', { path: '/exact' }, '/exact', true],
    ['path ignores the query', { path: '/exact' }, '/exact?x=1', true],
    ['path ignores the fragment', { path: '/exact' }, '/exact#frag', true],
    ['path is exact', { path: '/exact' }, '/exact/more', false],
    ['path with a query in config never matches', { path: '/exact?x=1' }, '/exact?x=1', false],
    ['path case_sensitive false', { path: '/Exact', case_sensitive: false }, '/eXACT?q', true],
    // safe_regex: whole path without query; case_sensitive does not apply
    ['safe_regex', { safe_regex: { google_re2: {}, regex: '/users/\\d+' } }, '/users/42', true],
    ['safe_regex ignores the query', { safe_regex: { regex: '/users/\\d+' } }, '/users/42?x=y', true],
    ['safe_regex must match the whole path', { safe_regex: { regex: '/users/\\d+' } }, '/users/42/edit', false],
    ['safe_regex not affected by case_sensitive', { safe_regex: { regex: '/a' }, case_sensitive: false }, '/A', false],
    // path_separated_prefix
    ['path_separated_prefix equal', { path_separated_prefix: '/api/dev' }, '/api/dev', true],
    ['path_separated_prefix segment', { path_separated_prefix: '/api/dev' }, '/api/dev/x', true],
    ['path_separated_prefix is segment-aware', { path_separated_prefix: '/api/dev' }, '/api/developer', false],
    ['path_separated_prefix ignores the query', { path_separated_prefix: '/api/dev' }, '/api/dev?x', true],
    ['path_separated_prefix case_sensitive false', { path_separated_prefix: '/API', case_sensitive: false }, '/api/x', true],
  ])('%s', (_label, match, path, expected) => {
    expect(matches(match, path)).toBe(expected);
  });

  it.each([
    ['all headers must match', [{ name: 'x-a', exact_match: '1' }, { name: 'x-b', exact_match: '2' }], { 'x-a': '1', 'x-b': '2' }, true],
    ['one header missing', [{ name: 'x-a', exact_match: '1' }, { name: 'x-b', exact_match: '2' }], { 'x-a': '1' }, false],
    ['string_match prefix', [{ name: 'x-v', string_match: { prefix: 'v2' } }], { 'x-v': 'v2.1' }, true],
    ['string_match suffix', [{ name: 'x-v', string_match: { suffix: '-beta' } }], { 'x-v': '2-beta' }, true],
    ['string_match contains', [{ name: 'user-agent', string_match: { contains: 'Chrome' } }], { 'user-agent': 'x Chrome y' }, true],
    ['string_match safe_regex', [{ name: 'x-v', string_match: { safe_regex: { regex: 'v[12]' } } }], { 'x-v': 'v3' }, false],
    ['range_match', [{ name: 'x-n', range_match: { start: 0, end: 10 } }], { 'x-n': '9' }, true],
    ['present_match', [{ name: 'x-debug', present_match: true }], { 'x-debug': '' }, true],
    ['no specifier = presence', [{ name: 'x-debug' }], {}, false],
    ['invert_match', [{ name: 'x-env', exact_match: 'prod', invert_match: true }], { 'x-env': 'dev' }, true],
    ['missing header + invert_match', [{ name: 'x-env', exact_match: 'prod', invert_match: true }], {}, false],
    [':method', [{ name: ':method', exact_match: 'POST' }], {}, false],
  ])('headers: %s', (_label, headers, requestHeaders, expected) => {
    expect(matches({ prefix: '/', headers }, '/x', requestHeaders as HeaderMap)).toBe(expected);
  });

  it.each([
    ['string_match', [{ name: 'v', string_match: { exact: '2' } }], '/p?v=2', true],
    ['string_match miss', [{ name: 'v', string_match: { exact: '2' } }], '/p?v=1', false],
    ['presence', [{ name: 'debug' }], '/p?a&debug', true],
    ['no query string', [{ name: 'debug' }], '/p', false],
    ['all must match', [{ name: 'a' }, { name: 'b' }], '/p?a=1', false],
  ])('query_parameters: %s', (_label, query_parameters, path, expected) => {
    expect(matches({ prefix: '/', query_parameters }, path)).toBe(expected);
  });

  it.each([
    ['application/grpc', true],
    ['application/grpc+proto', true],
    ['application/grpc-web', false],
    ['application/json', false],
  ])('grpc: content-type %s → %s', (contentType, expected) => {
    expect(matches({ prefix: '/', grpc: {} }, '/svc/Method', { 'content-type': contentType })).toBe(expected);
  });

  it('the first matching route in list order wins', () => {
    const rc = table(singleHost([
      { name: 'specific-header', match: { prefix: '/api', headers: [{ name: 'x-canary', exact_match: 'true' }] }, direct_response: { status: 200 } },
      { name: 'api', match: { prefix: '/api' }, direct_response: { status: 200 } },
      { name: 'never', match: { prefix: '/api/v1' }, direct_response: { status: 200 } },
      { name: 'root', match: { prefix: '/' }, direct_response: { status: 200 } },
    ]));
    expect(rc.route(req('/api/v1', { headers: { 'x-canary': 'true' } }))?.name).toBe('specific-header');
    expect(rc.route(req('/api/v1'))?.name).toBe('api');
    expect(rc.route(req('/other'))?.name).toBe('root');
  });

  it('no matching route → null', () => {
    const rc = table(singleHost([{ match: { path: '/only' }, direct_response: { status: 200 } }]));
    expect(rc.route(req('/other'))).toBeNull();
    expect(rc.route(req('/only'))?.name).toBe('');
  });

  it('require_tls ALL redirects plain-text requests to https before route matching', () => {
    const rc = table({ virtual_hosts: [{ name: 'secure', domains: ['*'], require_tls: 'ALL', routes: [{ name: 'r', match: { prefix: '/' }, direct_response: { status: 200 } }] }] });
    const r = rc.route(req('/a?b', { authority: 'site.com:80' }));
    expect(r?.action.type).toBe('redirect');
    if (r?.action.type === 'redirect') expect(r.action.redirect(req('/a?b', { authority: 'site.com:80' }))).toEqual({ status: 301, location: 'https://site.com/a?b' });
    expect(rc.route(req('/a', { scheme: 'https' }))?.name).toBe('r');
    expect(rc.route(req('/a', { headers: { 'x-envoy-internal': 'true' } }))?.action.type).toBe('redirect');
  });

  it('require_tls EXTERNAL_ONLY exempts internal requests', () => {
    const rc = table({ virtual_hosts: [{ name: 'secure', domains: ['*'], require_tls: 'EXTERNAL_ONLY', routes: [{ name: 'r', match: { prefix: '/' }, direct_response: { status: 200 } }] }] });
    expect(rc.route(req('/a'))?.action.type).toBe('redirect');
    expect(rc.route(req('/a', { headers: { 'x-envoy-internal': 'true' } }))?.name).toBe('r');
  });
});
