// RouteConfiguration translation errors: every error with its path; unknown-field vs not-implemented vs invalid.

import { describe, expect, it } from 'vitest';
import { translate } from './route-fixtures.ts';

const ok = { status: 200 };

function errorsOf(input: unknown, opts: Parameters<typeof translate>[1] = {}) {
  const r = translate(input, opts);
  if (r.ok) throw new Error('expected errors');
  return r.errors;
}

describe('RouteConfiguration translation errors', () => {
  it('collects every error of a bad document with its exact path', () => {
    const errors = errorsOf({
      name: 'rc',
      virtual_hosts: [
        { name: 'a', domains: ['a.com', '*'], routes: [
          { match: { prefix: '/' }, route: { cluster: 'missing' } },
          { match: { safe_regex: { regex: '(' } }, route: { weighted_clusters: { clusters: [{ name: 'known', weight: 0 }, { name: 'gone', weight: 0 }] } } },
          { match: { prefix: '/x', path: '/y' }, direct_response: ok },
          { match: { prefix: '/' } },
        ] },
        { name: 'b', domains: ['A.com', '*'], routes: [
          { match: { prefix: '/' }, route: { cluster: 'known', hedge_policy: {}, prefixRewrite: '/' } },
        ] },
      ],
    }, { clusterExists: (n) => n === 'known' });
    // Schema errors are reported first (the build step runs only on a schema-valid document).
    expect(errors).toEqual([
      { path: 'route_config.virtual_hosts[0].routes[1].match.safe_regex.regex', kind: 'invalid', message: expect.stringContaining('invalid regex "("') },
      { path: 'route_config.virtual_hosts[0].routes[1].route.weighted_clusters.clusters', kind: 'invalid', message: 'the sum of the cluster weights must be greater than 0' },
      { path: 'route_config.virtual_hosts[0].routes[2].match', kind: 'invalid', message: 'RouteMatch: only one of prefix, path, safe_regex, path_separated_prefix may be set (got prefix, path)' },
      { path: 'route_config.virtual_hosts[0].routes[3]', kind: 'invalid', message: 'Route: one of route, redirect, direct_response is required' },
      { path: 'route_config.virtual_hosts[1].routes[0].route.hedge_policy', kind: 'not-implemented', message: 'field "hedge_policy" of envoy.config.route.v3.RouteAction is valid Envoy config but nodevoy does not implement it' },
    ]);
  });

  it('reports cross-reference errors of a schema-valid document together', () => {
    const errors = errorsOf({
      virtual_hosts: [
        { name: 'a', domains: ['a.com', '*'], routes: [
          { match: { prefix: '/' }, route: { cluster: 'missing' } },
          { match: { prefix: '/w' }, route: { weighted_clusters: { clusters: [{ name: 'known', weight: 1 }, { name: 'gone', weight: 1 }] } } },
          { match: { prefix: '/big' }, direct_response: { status: 200, body: { inline_string: 'x'.repeat(4097) } } },
          { match: { prefix: '/file' }, direct_response: { status: 200, body: { filename: '/nonexistent/nodevoy-body' } } },
        ] },
        { name: 'b', domains: ['A.com', '*', 'b.com'], routes: [] },
        { name: 'c', domains: ['b.com'] },
      ],
    }, { clusterExists: (n) => n === 'known' });
    expect(errors.map(({ path, message }) => ({ path, message }))).toEqual([
      { path: 'route_config.virtual_hosts[0].routes[0].route.cluster', message: 'unknown cluster "missing" (validate_clusters is on)' },
      { path: 'route_config.virtual_hosts[0].routes[1].route.weighted_clusters.clusters[1].name', message: 'unknown cluster "gone" (validate_clusters is on)' },
      { path: 'route_config.virtual_hosts[0].routes[2].direct_response.body', message: 'the body is 4097 bytes, more than max_direct_response_body_size_bytes (4096)' },
      { path: 'route_config.virtual_hosts[0].routes[3].direct_response.body.filename', message: expect.stringContaining('cannot read /nonexistent/nodevoy-body') },
      { path: 'route_config.virtual_hosts[1].domains[0]', message: 'duplicate domain "A.com": virtual_hosts[0] already has it (domains must be unique)' },
      { path: 'route_config.virtual_hosts[1].domains[1]', message: 'only one virtual host may use the "*" domain (virtual_hosts[0] already does)' },
      { path: 'route_config.virtual_hosts[2].domains[0]', message: 'duplicate domain "b.com": virtual_hosts[1] already has it (domains must be unique)' },
    ]);
  });

  it('validate_clusters: false (or RDS default) skips the cluster check', () => {
    const doc = (extra: object) => ({ ...extra, virtual_hosts: [{ name: 'a', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'missing' } }] }] });
    const exists = () => false;
    expect(translate(doc({ validate_clusters: false }), { clusterExists: exists }).ok).toBe(true);
    expect(translate(doc({}), { clusterExists: exists, validateClustersByDefault: false }).ok).toBe(true);
    expect(translate(doc({ validate_clusters: true }), { clusterExists: exists, validateClustersByDefault: false }).ok).toBe(false);
  });

  it('max_direct_response_body_size_bytes raises the limit', () => {
    const doc = { max_direct_response_body_size_bytes: 10_000, virtual_hosts: [{ name: 'a', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'x'.repeat(5000) } } }] }] };
    expect(translate(doc).ok).toBe(true);
  });

  it.each([
    // unknown fields: not in Envoy's proto
    [{ virtual_hosts: [{ name: 'a', domains: ['*'], routez: [] }] }, 'route_config.virtual_hosts[0].routez', 'unknown-field',
      'unknown field "routez": envoy.config.route.v3.VirtualHost has no such field'],
    [{ virtual_hosts: [{ name: 'a', domains: ['*'], routes: [{ match: { prefix: '/', regex: 'x' }, direct_response: ok }] }] },
      'route_config.virtual_hosts[0].routes[0].match.regex', 'unknown-field', 'unknown field "regex": envoy.config.route.v3.RouteMatch has no such field'],
    // not implemented: Envoy has them
    [{ vhds: {} }, 'route_config.vhds', 'not-implemented', 'field "vhds" of envoy.config.route.v3.RouteConfiguration is valid Envoy config but nodevoy does not implement it'],
    [{ virtual_hosts: [{ name: 'a', domains: ['*'], cors: {} }] }, 'route_config.virtual_hosts[0].cors', 'not-implemented',
      'field "cors" of envoy.config.route.v3.VirtualHost is valid Envoy config but nodevoy does not implement it'],
    [{ virtual_hosts: [{ name: 'a', domains: ['*'], virtualClusters: [] }] }, 'route_config.virtual_hosts[0].virtualClusters', 'not-implemented',
      'field "virtual_clusters" of envoy.config.route.v3.VirtualHost is valid Envoy config but nodevoy does not implement it'],
    [{ virtual_hosts: [{ name: 'a', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c', rate_limits: [] } }] }] },
      'route_config.virtual_hosts[0].routes[0].route.rate_limits', 'not-implemented',
      'field "rate_limits" of envoy.config.route.v3.RouteAction is valid Envoy config but nodevoy does not implement it'],
    [{ virtual_hosts: [{ name: 'a', domains: ['*'], routes: [{ match: { prefix: '/', runtime_fraction: {} }, direct_response: ok }] }] },
      'route_config.virtual_hosts[0].routes[0].match.runtime_fraction', 'not-implemented',
      'field "runtime_fraction" of envoy.config.route.v3.RouteMatch is valid Envoy config but nodevoy does not implement it'],
    [{ virtual_hosts: [{ name: 'a', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c', hash_policy: [{ cookie: { name: 'x' } }] } }] }] },
      'route_config.virtual_hosts[0].routes[0].route.hash_policy[0].cookie', 'not-implemented',
      'field "cookie" of envoy.config.route.v3.RouteAction.HashPolicy is valid Envoy config but nodevoy does not implement it'],
    // invalid values
    [{ virtual_hosts: [{ name: 'a', domains: [] }] }, 'route_config.virtual_hosts[0].domains', 'invalid', 'a virtual host needs at least one domain'],
    [{ virtual_hosts: [{ name: 'a', domains: ['*'], routes: [{ match: { path_separated_prefix: '/api/' }, direct_response: ok }] }] },
      'route_config.virtual_hosts[0].routes[0].match.path_separated_prefix', 'invalid', 'path_separated_prefix must not contain "?" or "#" nor end with "/"'],
    [{ virtual_hosts: [{ name: 'a', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 99 } }] }] },
      'route_config.virtual_hosts[0].routes[0].direct_response.status', 'invalid', 'status must be in [200, 600)'],
    [{ virtual_hosts: [{ name: 'a', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c', cluster_header: 'x' } }] }] },
      'route_config.virtual_hosts[0].routes[0].route', 'invalid', 'RouteAction: only one of cluster, cluster_header, weighted_clusters may be set (got cluster, cluster_header)'],
    [{ virtual_hosts: [{ name: 'a', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c', prefix_rewrite: '/', regex_rewrite: { pattern: { regex: 'a' }, substitution: 'b' } } }] }] },
      'route_config.virtual_hosts[0].routes[0].route', 'invalid', 'RouteAction: only one of prefix_rewrite, regex_rewrite may be set (got prefix_rewrite, regex_rewrite)'],
    [{ virtual_hosts: [{ name: 'a', domains: ['*'], routes: [{ match: { prefix: '/' }, redirect: { https_redirect: true, scheme_redirect: 'http' } }] }] },
      'route_config.virtual_hosts[0].routes[0].redirect', 'invalid', 'RedirectAction: only one of https_redirect, scheme_redirect may be set (got https_redirect, scheme_redirect)'],
    [{ virtual_hosts: [{ name: 'a', domains: ['*'], routes: [{ match: { prefix: '/' }, redirect: { response_code: 'TEAPOT' } }] }] },
      'route_config.virtual_hosts[0].routes[0].redirect.response_code', 'invalid', expect.stringContaining('TEAPOT is not a envoy.config.route.v3.RedirectAction.RedirectResponseCode value')],
    [{ virtual_hosts: [{ name: 'a', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c', timeout: '5' } }] }] },
      'route_config.virtual_hosts[0].routes[0].route.timeout', 'invalid', expect.stringContaining('Duration')],
  ])('%j → %s (%s)', (input, path, kind, msg) => {
    expect(errorsOf(input)).toContainEqual({ path, kind, message: msg });
  });

  it('accepts fields Envoy and Istio commonly emit', () => {
    const r = translate({
      name: 'istio-style',
      validateClusters: false,
      virtual_hosts: [{
        name: 'svc.ns.svc.cluster.local:80', domains: ['svc.ns.svc.cluster.local', 'svc.ns.svc.cluster.local:80', 'svc', 'svc:80'],
        include_request_attempt_count: true,
        routes: [{ name: 'default', match: { prefix: '/' }, metadata: { filter_metadata: { istio: { config: 'x' } } },
          route: { cluster: 'outbound|80||svc.ns.svc.cluster.local', timeout: '0s' } }],
      }],
    });
    expect(r.ok, JSON.stringify(!r.ok && r.errors)).toBe(true);
    if (r.ok) {
      const route = r.value.route({ method: 'GET', path: '/', authority: 'svc:80', scheme: 'http', headers: {} });
      expect(route?.virtualHost).toMatchObject({ name: 'svc.ns.svc.cluster.local:80', includeRequestAttemptCount: true, includeAttemptCountInResponse: false });
    }
  });
});
