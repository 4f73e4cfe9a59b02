// Header mutations (level order, append actions, formatters, forbidden names) and typed_per_filter_config resolution.

import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { message } from '../../../proxy/config/schema-kit.ts';
import { newStreamInfo } from '../../../proxy/http/stream-info.ts';
import type { HeaderMap } from '../../../proxy/http/headers.ts';
import type { Route } from '../../../proxy/route/types.ts';
import { ScriptedRandom } from '../../support/fake-clock.ts';
import { table, translate, req } from './route-fixtures.ts';

const set = (key: string, value: string, action = 'OVERWRITE_IF_EXISTS_OR_ADD') => ({ header: { key, value }, append_action: action });
const add = (key: string, value: string) => ({ header: { key, value } });

/** Four levels that each write x-level / x-list, on request and response. */
function levels(mostSpecificWins: boolean) {
  const level = (name: string) => ({
    request_headers_to_add: [set('x-level', name), add('x-list', name)],
    response_headers_to_add: [set('x-level', name), add('x-list', name)],
  });
  return table({
    most_specific_header_mutations_wins: mostSpecificWins,
    ...level('config'),
    virtual_hosts: [{
      name: 'vh', domains: ['*'], ...level('vhost'),
      routes: [{ match: { prefix: '/' }, ...level('route'), route: { weighted_clusters: { clusters: [{ name: 'c', weight: 1, ...level('wc') }] } } }],
    }],
  });
}

function ctx(request = req('/')) {
  const info = newStreamInfo(0, 0);
  info.downstreamRemoteAddress = '10.1.2.3:5555';
  info.responseCode = 201;
  return { request, info };
}

function routeOf(rc: ReturnType<typeof table>): Route {
  const r = rc.route(req('/'));
  if (!r) throw new Error('no route');
  return r;
}

describe('header mutations: level order', () => {
  it.each([
    [false, 'config', ['wc', 'route', 'vhost', 'config']],
    [true, 'wc', ['config', 'vhost', 'route', 'wc']],
  ])('most_specific_header_mutations_wins %s: overwrite → %s, append order %j', (wins, winner, order) => {
    const route = routeOf(levels(wins));
    const request = req('/');
    const choice = route.action.type === 'route' ? route.action.selectCluster(request, new ScriptedRandom([0])) ?? undefined : undefined;
    route.applyRequestHeaders(request, ctx(request), choice);
    expect(request.headers['x-level']).toBe(winner);
    expect(request.headers['x-list']).toEqual(order);
    const response: HeaderMap = {};
    route.applyResponseHeaders(response, ctx(request), choice);
    expect(response['x-level']).toBe(winner);
    expect(response['x-list']).toEqual(order);
  });

  it('without the weighted-cluster choice only route, vhost and config apply', () => {
    const route = routeOf(levels(false));
    const request = req('/');
    route.applyRequestHeaders(request, ctx(request));
    expect(request.headers['x-list']).toEqual(['route', 'vhost', 'config']);
  });
});

describe('header mutations: HeaderValueOption', () => {
  function applyRoute(routeLevel: Record<string, unknown>, headers: HeaderMap): HeaderMap {
    const rc = table({ virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200 }, ...routeLevel }] }] });
    const request = req('/', { headers });
    routeOf(rc).applyRequestHeaders(request, ctx(request));
    return request.headers;
  }

  it.each([
    ['APPEND_IF_EXISTS_OR_ADD (default) adds', [add('x-a', '1')], {}, { 'x-a': '1' }],
    ['APPEND_IF_EXISTS_OR_ADD appends', [add('x-a', '2')], { 'x-a': '1' }, { 'x-a': ['1', '2'] }],
    ['ADD_IF_ABSENT keeps an existing value', [set('x-a', '2', 'ADD_IF_ABSENT')], { 'x-a': '1' }, { 'x-a': '1' }],
    ['ADD_IF_ABSENT adds', [set('x-a', '2', 'ADD_IF_ABSENT')], {}, { 'x-a': '2' }],
    ['OVERWRITE_IF_EXISTS_OR_ADD', [set('x-a', '2')], { 'x-a': ['1', '3'] }, { 'x-a': '2' }],
    ['OVERWRITE_IF_EXISTS only when present', [set('x-a', '2', 'OVERWRITE_IF_EXISTS')], {}, {}],
    ['OVERWRITE_IF_EXISTS overwrites', [set('x-a', '2', 'OVERWRITE_IF_EXISTS')], { 'x-a': '1' }, { 'x-a': '2' }],
    ['deprecated append: false overwrites', [{ header: { key: 'x-a', value: '2' }, append: false }], { 'x-a': '1' }, { 'x-a': '2' }],
    ['deprecated append: true appends', [{ header: { key: 'x-a', value: '2' }, append: true }], { 'x-a': '1' }, { 'x-a': ['1', '2'] }],
    ['keys are lower-cased', [add('X-Upper', 'v')], {}, { 'x-upper': 'v' }],
    ['empty values are skipped', [add('x-a', '')], {}, {}],
    ['keep_empty_value', [{ header: { key: 'x-a', value: '' }, keep_empty_value: true }], {}, { 'x-a': '' }],
    ['formatter: %DOWNSTREAM_REMOTE_ADDRESS%', [add('x-client', '%DOWNSTREAM_REMOTE_ADDRESS%')], {}, { 'x-client': '10.1.2.3:5555' }],
    ['formatter: %REQ(x-foo)% with text', [add('x-copy', 'foo=%REQ(x-foo)%')], { 'x-foo': 'bar' }, { 'x-foo': 'bar', 'x-copy': 'foo=bar' }],
    ['formatter: missing value is empty → header skipped', [add('x-copy', '%REQ(x-missing)%')], {}, {}],
    ['%% is a literal %', [add('x-pct', '100%%')], {}, { 'x-pct': '100%' }],
  ])('%s', (_label, toAdd, before, after) => {
    expect(applyRoute({ request_headers_to_add: toAdd }, before as HeaderMap)).toEqual(after);
  });

  it('removes before adding', () => {
    expect(applyRoute({ request_headers_to_remove: ['x-a', 'X-B'], request_headers_to_add: [add('x-a', 'new')] }, { 'x-a': 'old', 'x-b': 'b', 'x-c': 'c' }))
      .toEqual({ 'x-a': 'new', 'x-c': 'c' });
  });

  it('response values may use %RESPONSE_CODE%', () => {
    const rc = table({ virtual_hosts: [{ name: 'vh', domains: ['*'], response_headers_to_add: [add('x-code', '%RESPONSE_CODE%')], routes: [{ match: { prefix: '/' }, direct_response: { status: 201 } }] }] });
    const headers: HeaderMap = {};
    routeOf(rc).applyResponseHeaders(headers, ctx());
    expect(headers).toEqual({ 'x-code': '201' });
  });

  it.each([
    [{ request_headers_to_add: [add(':path', '/x')] }, 'request_headers_to_add[0].header.key', 'pseudo-header ":path" cannot be added or removed by header mutation'],
    [{ response_headers_to_add: [add('Host', 'x')] }, 'response_headers_to_add[0].header.key', '"host" cannot be added or removed by header mutation'],
    [{ request_headers_to_remove: [':authority'] }, 'request_headers_to_remove[0]', 'pseudo-header ":authority" cannot be added or removed by header mutation'],
    [{ request_headers_to_add: [{ header: { key: 'x', value: 'v' }, append: true, append_action: 'ADD_IF_ABSENT' }] }, 'request_headers_to_add[0]', 'append and append_action cannot both be set (append is deprecated)'],
  ])('rejects %j', (level, path, msg) => {
    const r = translate({ name: 'rc', ...level });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors).toContainEqual({ path: `route_config.${path}`, kind: 'invalid', message: msg });
  });

  it('rejects an invalid formatter with its path', () => {
    const r = translate({ request_headers_to_add: [add('x', '%NOT_A_COMMAND%')] });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]).toMatchObject({ path: 'route_config.request_headers_to_add[0].header.value', kind: 'invalid' });
  });
});

describe('typed_per_filter_config', () => {
  const Limit = message('test.Limit', { limit: z.number() });
  const lookup = (name: string) => (name === 'limiter' ? Limit : undefined);
  const any = (limit: number) => ({ '@type': 'type.googleapis.com/test.Limit', limit });

  it('most specific level wins: route > vhost > route configuration', () => {
    const rc = table({
      typed_per_filter_config: { limiter: any(1) },
      virtual_hosts: [
        { name: 'plain', domains: ['plain'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200 } }] },
        { name: 'vh', domains: ['*'], typed_per_filter_config: { limiter: any(2) }, routes: [
          { match: { prefix: '/vh' }, direct_response: { status: 200 } },
          { match: { prefix: '/' }, typed_per_filter_config: { limiter: any(3) }, route: { weighted_clusters: { clusters: [
            { name: 'a', weight: 1 },
            { name: 'b', weight: 1 },
          ] } } },
        ] },
      ],
    }, { perFilterConfig: lookup });
    expect(rc.route(req('/', { authority: 'plain' }))?.perFilterConfig('limiter')).toEqual({ limit: 1 });
    expect(rc.route(req('/vh'))?.perFilterConfig('limiter')).toEqual({ limit: 2 });
    const route = rc.route(req('/'))!;
    expect(route.perFilterConfig('limiter')).toEqual({ limit: 3 });
    expect(route.perFilterConfig('other')).toBeUndefined();
  });

  it('a weighted cluster\'s typed_per_filter_config is reported as not implemented at its path', () => {
    const r = translate({
      virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [
        { name: 'a', weight: 1 },
        { name: 'b', weight: 1, typed_per_filter_config: { limiter: any(4) } },
      ] } } }] }],
    }, { perFilterConfig: lookup });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors).toEqual([{
        path: 'route_config.virtual_hosts[0].routes[0].route.weighted_clusters.clusters[1].typed_per_filter_config',
        kind: 'not-implemented',
        message: expect.stringContaining('envoy.config.route.v3.WeightedCluster.ClusterWeight'),
      }]);
    }
  });

  it('accepts the FilterConfig wrapper; is_optional skips unknown filters', () => {
    const rc = table({
      virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200 }, typed_per_filter_config: {
        limiter: { '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig', config: any(7) },
        unknown: { '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig', config: { '@type': 'x' }, is_optional: true },
      } }] }],
    }, { perFilterConfig: lookup });
    expect(rc.route(req('/'))?.perFilterConfig('limiter')).toEqual({ limit: 7 });
    expect(rc.route(req('/'))?.perFilterConfig('unknown')).toBeUndefined();
  });

  it('reports unknown filters and invalid configs with their paths', () => {
    const r = translate({
      typed_per_filter_config: { nope: any(1) },
      virtual_hosts: [{ name: 'vh', domains: ['*'], typed_per_filter_config: { limiter: { '@type': 't', limit: 'x' } }, routes: [
        { match: { prefix: '/' }, direct_response: { status: 200 }, typed_per_filter_config: { limiter: { limit: 1 } } },
      ] }],
    }, { perFilterConfig: lookup });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => e.path)).toEqual([
      'route_config.typed_per_filter_config.nope',
      'route_config.virtual_hosts[0].typed_per_filter_config.limiter.limit',
      'route_config.virtual_hosts[0].routes[0].typed_per_filter_config.limiter',
    ]);
    expect(r.errors[0]!.message).toBe('no HTTP filter named "nope" in this connection manager takes per-route config');
  });

  it('FilterConfig.disabled is not implemented', () => {
    const r = translate({ typed_per_filter_config: { limiter: { '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig', disabled: true, config: any(1) } } }, { perFilterConfig: lookup });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors).toContainEqual(expect.objectContaining({ path: 'route_config.typed_per_filter_config.limiter.disabled', kind: 'not-implemented' }));
  });
});
