// request_mirror_policies: schema errors with paths, validate_clusters for mirror clusters, the route >
// virtual host > route configuration precedence, per-request sampling and cluster_header, and the
// `-shadow` authority suffix.

import { describe, expect, it } from 'vitest';
import type { RouteAction } from '../../../proxy/route/types.ts';
import { shadowAppendedHost } from '../../../proxy/filters/http/router/shadow-writer.ts';
import { req, singleHost, table, translate } from './route-fixtures.ts';

function errorsOf(input: unknown, opts: Parameters<typeof translate>[1] = {}) {
  const r = translate(input, opts);
  if (r.ok) throw new Error('expected errors');
  return r.errors;
}

/** The forwarding action the request matches. */
function actionFor(input: unknown, path = '/', headers: Record<string, string> = {}): RouteAction {
  const route = table(input).route(req(path, { headers }));
  if (route?.action.type !== 'route') throw new Error('expected a forwarding route');
  return route.action;
}

const mirrorClusters = (a: RouteAction, headers: Record<string, string> = {}): (string | undefined)[] =>
  (a.requestMirrorPolicies ?? []).map((p) => p.clusterFor(req('/', { headers })));

describe('request_mirror_policies schema', () => {
  it.each([
    ['neither cluster nor cluster_header', {}, 'request_mirror_policies[0]', 'invalid',
      'RequestMirrorPolicy: one of cluster, cluster_header is required'],
    ['both cluster and cluster_header', { cluster: 'm', cluster_header: 'x-m' }, 'request_mirror_policies[0]', 'invalid',
      'RequestMirrorPolicy: only one of cluster, cluster_header may be set (got cluster, cluster_header)'],
    ['an unknown denominator', { cluster: 'm', runtime_fraction: { default_value: { numerator: 5, denominator: 'THOUSAND' } } },
      'request_mirror_policies[0].runtime_fraction.default_value.denominator', 'invalid', expect.stringContaining('THOUSAND')],
    ['a negative numerator', { cluster: 'm', runtime_fraction: { default_value: { numerator: -1 } } },
      'request_mirror_policies[0].runtime_fraction.default_value.numerator', 'invalid', expect.any(String)],
    ['runtime_fraction without default_value', { cluster: 'm', runtime_fraction: { runtime_key: 'k' } },
      'request_mirror_policies[0].runtime_fraction.default_value', 'invalid', expect.any(String)],
    ['a field nodevoy does not implement', { cluster: 'm', host_rewrite_literal: 'h' },
      'request_mirror_policies[0].host_rewrite_literal', 'not-implemented', expect.stringContaining('host_rewrite_literal')],
    ['a field Envoy does not have', { cluster: 'm', percent: 5 },
      'request_mirror_policies[0].percent', 'unknown-field', expect.stringContaining('percent')],
  ])('rejects %s with its path', (_name, policy, suffix, kind, message) => {
    const errors = errorsOf(singleHost([{ match: { prefix: '/' }, route: { cluster: 'c', request_mirror_policies: [policy] } }]));
    expect(errors).toEqual([{ path: `route_config.virtual_hosts[0].routes[0].route.${suffix}`, kind, message }]);
  });

  it('accepts camelCase, trace_sampled and runtime_key (no runtime layer: default_value applies)', () => {
    const a = actionFor(singleHost([{ match: { prefix: '/' }, route: { cluster: 'c', requestMirrorPolicies: [
      { cluster: 'm', traceSampled: false, disableShadowHostSuffixAppend: true, runtimeFraction: { runtimeKey: 'k', defaultValue: { numerator: 1 } } },
    ] } }]));
    const [p] = a.requestMirrorPolicies!;
    expect([p!.clusterFor(req('/')), p!.traceSampled, p!.disableShadowHostSuffixAppend, p!.sampled(0), p!.sampled(1)]).toEqual(['m', false, true, true, false]);
  });
});

describe('validate_clusters covers mirror clusters', () => {
  const known = (n: string): boolean => n === 'c';
  it('reports an unknown mirror cluster at every level, with its path', () => {
    const errors = errorsOf({
      name: 'rc',
      request_mirror_policies: [{ cluster: 'gone-root' }],
      virtual_hosts: [{
        name: 'vh', domains: ['*'], request_mirror_policies: [{ cluster: 'c' }, { cluster: 'gone-vh' }],
        routes: [{ match: { prefix: '/' }, route: { cluster: 'c', request_mirror_policies: [{ cluster: 'gone-route' }, { cluster_header: 'x-mirror' }] } }],
      }],
    }, { clusterExists: known });
    expect(errors.map((e) => [e.path, e.message])).toEqual([
      ['route_config.request_mirror_policies[0].cluster', 'unknown cluster "gone-root" (validate_clusters is on)'],
      ['route_config.virtual_hosts[0].request_mirror_policies[1].cluster', 'unknown cluster "gone-vh" (validate_clusters is on)'],
      ['route_config.virtual_hosts[0].routes[0].route.request_mirror_policies[0].cluster', 'unknown cluster "gone-route" (validate_clusters is on)'],
    ]);
  });

  it('does not check them when validate_clusters is off (the shadow is skipped at request time instead)', () => {
    const r = translate(singleHost([{ match: { prefix: '/' }, route: { cluster: 'c', request_mirror_policies: [{ cluster: 'gone' }] } }],
      { validate_clusters: false }), { clusterExists: known });
    expect(r.ok).toBe(true);
  });
});

describe('precedence: route > virtual host > route configuration (a non-empty list replaces, no merge)', () => {
  const config = {
    name: 'rc',
    request_mirror_policies: [{ cluster: 'root-mirror' }],
    virtual_hosts: [
      { name: 'with', domains: ['with'], request_mirror_policies: [{ cluster: 'vh-mirror' }], routes: [
        { match: { prefix: '/own' }, route: { cluster: 'c', request_mirror_policies: [{ cluster: 'route-mirror' }, { cluster: 'route-mirror-2' }] } },
        { match: { prefix: '/empty' }, route: { cluster: 'c', request_mirror_policies: [] } },
        { match: { prefix: '/' }, route: { cluster: 'c' } },
      ] },
      { name: 'without', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] },
    ],
  };
  const at = (authority: string, path: string): (string | undefined)[] => {
    const route = table(config).route(req(path, { authority }));
    if (route?.action.type !== 'route') throw new Error('expected a forwarding route');
    return mirrorClusters(route.action);
  };
  it.each([
    ['with', '/own', ['route-mirror', 'route-mirror-2']],
    ['with', '/empty', ['vh-mirror']],
    ['with', '/other', ['vh-mirror']],
    ['other', '/', ['root-mirror']],
  ])('%s%s mirrors to %j', (authority, path, expected) => {
    expect(at(authority, path)).toEqual(expected);
  });

  it('a route without any policy anywhere has none', () => {
    expect(mirrorClusters(actionFor(singleHost([{ match: { prefix: '/' }, route: { cluster: 'c' } }])))).toEqual([]);
  });
});

describe('per-request decisions', () => {
  it.each([
    // [runtime_fraction, stable random draws, sampled?] — draw % denominator < numerator.
    [undefined, [0, 99, 4294967295], [true, true, true]],
    [{ default_value: { numerator: 0 } }, [0, 1], [false, false]],
    [{ default_value: { numerator: 25 } }, [24, 25, 124, 125], [true, false, true, false]],
    [{ default_value: { numerator: 5000, denominator: 'TEN_THOUSAND' } }, [4999, 5000, 14999], [true, false, true]],
    // Istio's mirrorPercentage 12.5 → 125000 / MILLION.
    [{ default_value: { numerator: 125000, denominator: 'MILLION' } }, [124999, 125000, 1_124_999], [true, false, true]],
    // A numerator above the denominator mirrors everything.
    [{ default_value: { numerator: 150 } }, [99], [true]],
  ])('runtime_fraction %j', (fraction, draws, expected) => {
    const a = actionFor(singleHost([{ match: { prefix: '/' }, route: { cluster: 'c', request_mirror_policies: [
      { cluster: 'm', ...(fraction ? { runtime_fraction: fraction } : {}) },
    ] } }]));
    const [p] = a.requestMirrorPolicies!;
    expect(draws.map((d) => p!.sampled(d))).toEqual(expected);
  });

  it('cluster_header names the mirror per request; an absent or empty header skips the policy', () => {
    const a = actionFor(singleHost([{ match: { prefix: '/' }, route: { cluster: 'c', request_mirror_policies: [{ cluster_header: 'X-Mirror-To' }] } }]));
    expect(mirrorClusters(a, { 'x-mirror-to': 'canary' })).toEqual(['canary']);
    expect(mirrorClusters(a, { 'x-mirror-to': '' })).toEqual([undefined]);
    expect(mirrorClusters(a)).toEqual([undefined]);
  });
});

describe('shadowAppendedHost (Envoy ShadowWriterImpl)', () => {
  it.each([
    ['api', 'api-shadow'],
    ['api.ns.svc.cluster.local:8080', 'api.ns.svc.cluster.local-shadow:8080'],
    ['127.0.0.1:10000', '127.0.0.1-shadow:10000'],
    ['[::1]:80', '[::1]-shadow:80'],
    ['[::1]', '[::1]-shadow'],
  ])('%s → %s', (host, expected) => {
    expect(shadowAppendedHost(host)).toBe(expected);
  });
});
