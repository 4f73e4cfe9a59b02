// Route actions: cluster selection (weighted, cluster_header), hash_policy, path/host rewrites, redirects, direct responses.

import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScriptedRandom } from '../../support/fake-clock.ts';
import type { RequestHeaders } from '../../../proxy/http/headers.ts';
import type { Route, RouteAction } from '../../../proxy/route/types.ts';
import { xxHash64 } from '../../../proxy/route/xxhash64.ts';
import { ipOf } from '../../../proxy/route/hash-policy.ts';
import { table, singleHost, req } from './route-fixtures.ts';

/** A ScriptedRandom whose nextUint32() returns exactly these integers. */
const uint32s = (...values: number[]) => new ScriptedRandom(values.map((v) => v / 2 ** 32));

function routeFor(routeWire: Record<string, unknown>, request: RequestHeaders = req('/')): Route {
  const r = table(singleHost([{ name: 'r', match: { prefix: '/' }, ...routeWire }])).route(request);
  if (!r) throw new Error('no route');
  return r;
}

function forward(action: Record<string, unknown>, match: Record<string, unknown> = { prefix: '/' }, path = '/'): RouteAction {
  const r = table(singleHost([{ name: 'r', match, route: action }])).route(req(path));
  if (r?.action.type !== 'route') throw new Error('not a forwarding route');
  return r.action;
}

describe('RouteAction: cluster selection', () => {
  it('cluster: a fixed choice with metadata_match envoy.lb criteria', () => {
    const a = forward({ cluster: 'svc', metadata_match: { filter_metadata: { 'envoy.lb': { version: 'v1' } } } });
    expect(a.selectCluster(req('/'), uint32s(0))).toEqual({ name: 'svc', metadataMatch: { version: 'v1' } });
  });

  it.each([
    // weights 10/30/60 → total 100; value = random % 100
    [0, 'a'], [9, 'a'], [10, 'b'], [39, 'b'], [40, 'c'], [99, 'c'], [100, 'a'], [250, 'c'],
  ])('weighted_clusters: random %i → %s', (value, expected) => {
    const a = forward({ weighted_clusters: { clusters: [{ name: 'a', weight: 10 }, { name: 'b', weight: 30 }, { name: 'c', weight: 60 }] } });
    expect(a.selectCluster(req('/'), uint32s(value))?.name).toBe(expected);
  });

  it('weighted_clusters: zero-weight clusters are never chosen; weightedIndex identifies the choice', () => {
    const a = forward({ weighted_clusters: { clusters: [{ name: 'off', weight: 0 }, { name: 'on', weight: 5 }] } });
    for (const v of [0, 1, 4, 5, 7]) expect(a.selectCluster(req('/'), uint32s(v))).toEqual({ name: 'on', weightedIndex: 1 });
  });

  it('weighted_clusters: metadata_match merged, the weighted cluster winning', () => {
    const a = forward({
      metadata_match: { filter_metadata: { 'envoy.lb': { version: 'v1', zone: 'a' } } },
      weighted_clusters: { clusters: [{ name: 'c', weight: 1, metadata_match: { filter_metadata: { 'envoy.lb': { version: 'v2' } } } }] },
    });
    expect(a.selectCluster(req('/'), uint32s(0))?.metadataMatch).toEqual({ version: 'v2', zone: 'a' });
  });

  it('weighted_clusters: header_name supplies the random value; cluster_header inside a weight', () => {
    const a = forward({ weighted_clusters: { header_name: 'x-split', clusters: [{ name: 'a', weight: 50 }, { cluster_header: 'x-target', weight: 50 }] } });
    // value = header % 100: 149 → 49 → a; 75 → the cluster named by x-target (absent → null).
    expect(a.selectCluster(req('/', { headers: { 'x-split': '149' } }), uint32s(99))?.name).toBe('a');
    expect(a.selectCluster(req('/', { headers: { 'x-split': '75', 'x-target': 'dyn' } }), uint32s(0))?.name).toBe('dyn');
    expect(a.selectCluster(req('/', { headers: { 'x-split': '75' } }), uint32s(0))).toBeNull();
    // A non-numeric header falls back to the random draw.
    expect(a.selectCluster(req('/', { headers: { 'x-split': 'abc' } }), uint32s(10))?.name).toBe('a');
  });

  it('cluster_header: first value of the header; absent → null', () => {
    const a = forward({ cluster_header: 'X-Cluster' });
    expect(a.selectCluster(req('/', { headers: { 'x-cluster': ['one', 'two'] } }), uint32s(0))?.name).toBe('one');
    expect(a.selectCluster(req('/', { headers: { 'x-cluster': 'solo' } }), uint32s(0))?.name).toBe('solo');
    expect(a.selectCluster(req('/'), uint32s(0))).toBeNull();
  });

  it.each([
    [undefined, 503], ['SERVICE_UNAVAILABLE', 503], ['NOT_FOUND', 404], ['INTERNAL_SERVER_ERROR', 500],
  ])('cluster_not_found_response_code %s → %i', (code, status) => {
    expect(forward({ cluster: 'c', ...(code ? { cluster_not_found_response_code: code } : {}) }).clusterNotFoundStatus).toBe(status);
  });

  it('timeouts: 15 s default, 0s disables, idle_timeout when set', () => {
    expect(forward({ cluster: 'c' }).timeoutMs).toBe(15_000);
    expect(forward({ cluster: 'c', timeout: '0s' }).timeoutMs).toBe(0);
    expect(forward({ cluster: 'c', timeout: '2.5s' }).timeoutMs).toBe(2500);
    expect(forward({ cluster: 'c' }).idleTimeoutMs).toBeUndefined();
    expect(forward({ cluster: 'c', idle_timeout: '0s' }).idleTimeoutMs).toBe(0);
  });
});

describe('RouteAction: hash_policy', () => {
  it('xxHash64 matches the reference vectors', () => {
    expect(xxHash64('')).toBe(0xef46db3751d8e999n);
    expect(xxHash64('a')).toBe(0xd24ec4f1a98c6e5bn);
    expect(xxHash64('abc')).toBe(0x44bc2cf5ad770999n);
    expect(xxHash64('Nobody inspects the spammish repetition')).toBe(0xfbcea83c8a378bf1n);
  });

  it('header: xxHash64 of the value; absent → undefined', () => {
    const a = forward({ cluster: 'c', hash_policy: [{ header: { header_name: 'x-user' } }] });
    expect(a.computeHash(req('/', { headers: { 'x-user': 'abc' } }), '1.2.3.4:5')).toBe(xxHash64('abc'));
    expect(a.computeHash(req('/'), '1.2.3.4:5')).toBeUndefined();
  });

  it('connection_properties.source_ip hashes the IP without the port', () => {
    const a = forward({ cluster: 'c', hash_policy: [{ connection_properties: { source_ip: true } }] });
    expect(a.computeHash(req('/'), '10.0.0.1:4321')).toBe(xxHash64('10.0.0.1'));
    expect(a.computeHash(req('/'), '10.0.0.1:1')).toBe(a.computeHash(req('/'), '10.0.0.1:2'));
  });

  it('several policies combine as rotl(previous, 1) xor next; terminal stops once a hash exists', () => {
    const h1 = xxHash64('u');
    const h2 = xxHash64('10.0.0.1');
    const rotl1 = ((h1 << 1n) | (h1 >> 63n)) & 0xffff_ffff_ffff_ffffn;
    const both = forward({ cluster: 'c', hash_policy: [{ header: { header_name: 'x-user' } }, { connection_properties: { source_ip: true } }] });
    expect(both.computeHash(req('/', { headers: { 'x-user': 'u' } }), '10.0.0.1:1')).toBe(rotl1 ^ h2);
    const terminal = forward({ cluster: 'c', hash_policy: [{ header: { header_name: 'x-user' }, terminal: true }, { connection_properties: { source_ip: true } }] });
    expect(terminal.computeHash(req('/', { headers: { 'x-user': 'u' } }), '10.0.0.1:1')).toBe(h1);
    expect(terminal.computeHash(req('/'), '10.0.0.1:1')).toBe(h2);
  });

  it.each([['10.0.0.1:80', '10.0.0.1'], ['[::1]:80', '::1'], ['::1', '::1'], ['10.0.0.1', '10.0.0.1']])('ipOf(%s) = %s', (a, ip) => {
    expect(ipOf(a)).toBe(ip);
  });
});

describe('RouteAction: rewrites', () => {
  it.each([
    ['prefix_rewrite replaces the matched prefix, keeps the query', { prefix: '/api/' }, { prefix_rewrite: '/' }, '/api/users?x=1', '/users?x=1'],
    ['prefix_rewrite trailing-slash pitfall', { prefix: '/api' }, { prefix_rewrite: '/v2' }, '/api/users', '/v2/users'],
    ['prefix_rewrite with case-insensitive prefix', { prefix: '/API', case_sensitive: false }, { prefix_rewrite: '/x' }, '/api/y', '/x/y'],
    ['prefix_rewrite on a path match replaces the path', { path: '/old' }, { prefix_rewrite: '/new' }, '/old?q=1', '/new?q=1'],
    ['prefix_rewrite on a regex match replaces the path', { safe_regex: { regex: '/v\\d+/.*' } }, { prefix_rewrite: '/latest' }, '/v1/x?q', '/latest?q'],
    ['prefix_rewrite on path_separated_prefix', { path_separated_prefix: '/svc' }, { prefix_rewrite: '/inner' }, '/svc/a?q', '/inner/a?q'],
    ['regex_rewrite replaces every match with groups, keeps the query', { prefix: '/' },
      { regex_rewrite: { pattern: { regex: '^/service/([^/]+)(/.*)$' }, substitution: '\\2/instance/\\1' } }, '/service/foo/v1/api?x=y', '/v1/api/instance/foo?x=y'],
    ['regex_rewrite replace-all', { prefix: '/' }, { regex_rewrite: { pattern: { regex: 'one' }, substitution: 'two' } }, '/one/one/three', '/two/two/three'],
    ['regex_rewrite whole match and literal $', { prefix: '/' }, { regex_rewrite: { pattern: { regex: 'a+' }, substitution: '[\\0$]' } }, '/baa', '/b[aa$]'],
  ])('%s', (_label, match, rewrite, path, expected) => {
    const a = forward({ cluster: 'c', ...rewrite }, match, path);
    const request = req(path);
    a.rewriteRequest(request, undefined);
    expect(request.path).toBe(expected);
    expect(request.headers['x-envoy-original-path']).toBe(path);
  });

  it('no rewrite leaves the path and adds no header', () => {
    const request = req('/x');
    forward({ cluster: 'c' }).rewriteRequest(request, 'upstream.local');
    expect(request.path).toBe('/x');
    expect(request.headers['x-envoy-original-path']).toBeUndefined();
    expect(request.authority).toBe('example.com');
  });

  it.each([
    ['host_rewrite_literal', { host_rewrite_literal: 'new.host' }, {}, undefined, 'new.host'],
    ['auto_host_rewrite uses the upstream hostname', { auto_host_rewrite: true }, {}, 'backend.svc', 'backend.svc'],
    ['auto_host_rewrite without a hostname keeps the host', { auto_host_rewrite: true }, {}, undefined, 'example.com'],
    ['host_rewrite_header', { host_rewrite_header: 'x-host' }, { 'x-host': 'from.header' }, undefined, 'from.header'],
    ['host_rewrite_header absent keeps the host', { host_rewrite_header: 'x-host' }, {}, undefined, 'example.com'],
  ])('%s', (_label, rewrite, headers, hostname, expected) => {
    const a = forward({ cluster: 'c', ...rewrite });
    expect(a.autoHostRewrite).toBe('auto_host_rewrite' in rewrite);
    const request = req('/', { headers });
    a.rewriteRequest(request, hostname);
    expect(request.authority).toBe(expected);
    expect(request.headers['x-envoy-original-host']).toBe(expected === 'example.com' ? undefined : 'example.com');
    if (expected !== 'example.com') expect(request.headers.host).toBe(expected);
  });
});

describe('RedirectAction', () => {
  it.each([
    ['https_redirect drops :80', { https_redirect: true }, 'foo.com:80', '/a?b=1', 301, 'https://foo.com/a?b=1'],
    ['https_redirect keeps other ports', { https_redirect: true }, 'foo.com:8080', '/a', 301, 'https://foo.com:8080/a'],
    ['scheme_redirect', { scheme_redirect: 'https' }, 'foo.com', '/', 301, 'https://foo.com/'],
    ['same scheme keeps :80', { host_redirect: 'bar.com' }, 'foo.com:80', '/p', 301, 'http://bar.com/p'],
    ['host_redirect', { host_redirect: 'bar.com' }, 'foo.com', '/p?q', 301, 'http://bar.com/p?q'],
    ['port_redirect replaces the port', { port_redirect: 8443 }, 'foo.com:8080', '/p', 301, 'http://foo.com:8443/p'],
    ['path_redirect keeps the query', { path_redirect: '/new' }, 'foo.com', '/old?x=1', 301, 'http://foo.com/new?x=1'],
    ['path_redirect query replaces the query, even with strip_query', { path_redirect: '/new?y=2', strip_query: true }, 'foo.com', '/old?x=1', 301, 'http://foo.com/new?y=2'],
    ['strip_query', { path_redirect: '/new', strip_query: true }, 'foo.com', '/old?x=1', 301, 'http://foo.com/new'],
    ['prefix_rewrite', { prefix_rewrite: '/v2/' }, 'foo.com', '/v1/users?x', 301, 'http://foo.com/v2/users?x'],
    ['regex_rewrite', { regex_rewrite: { pattern: { regex: '/v1/' }, substitution: '/v3/' } }, 'foo.com', '/v1/a?x', 301, 'http://foo.com/v3/a?x'],
    ['FOUND', { response_code: 'FOUND', host_redirect: 'x.com' }, 'foo.com', '/', 302, 'http://x.com/'],
    ['SEE_OTHER', { response_code: 'SEE_OTHER', host_redirect: 'x.com' }, 'foo.com', '/', 303, 'http://x.com/'],
    ['TEMPORARY_REDIRECT', { response_code: 'TEMPORARY_REDIRECT', host_redirect: 'x.com' }, 'foo.com', '/', 307, 'http://x.com/'],
    ['PERMANENT_REDIRECT', { response_code: 'PERMANENT_REDIRECT', host_redirect: 'x.com' }, 'foo.com', '/', 308, 'http://x.com/'],
  ])('%s', (_label, redirect, authority, path, status, location) => {
    const request = req(path, { authority });
    const r = table(singleHost([{ match: { prefix: '/v1/' }, redirect }, { match: { prefix: '/' }, redirect }])).route(request);
    expect(r?.action.type).toBe('redirect');
    if (r?.action.type === 'redirect') expect(r.action.redirect(request)).toEqual({ status, location });
  });

  it('https → http drops :443', () => {
    const request = req('/', { authority: 'foo.com:443', scheme: 'https' });
    const r = routeFor({ redirect: { scheme_redirect: 'http' } }, request);
    if (r.action.type === 'redirect') expect(r.action.redirect(request).location).toBe('http://foo.com/');
  });
});

describe('DirectResponseAction', () => {
  it.each([
    [{ status: 200, body: { inline_string: 'hello' } }, 200, 'hello'],
    [{ status: 503 }, 503, ''],
    [{ status: 418, body: { inline_bytes: Buffer.from('bytes!').toString('base64') } }, 418, 'bytes!'],
  ])('%j', (direct_response, status, body) => {
    const r = routeFor({ direct_response });
    expect(r.action).toEqual({ type: 'direct_response', status, body });
  });

  it('reads body.filename at build time', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nodevoy-route-'));
    const file = join(dir, 'body.txt');
    writeFileSync(file, 'from a file');
    expect(routeFor({ direct_response: { status: 200, body: { filename: file } } }).action).toMatchObject({ body: 'from a file' });
  });
});
