// VirtualService → outbound routes: each Istio HTTPRoute field and the exact Envoy route fields Istio's
// pilot emits for it (route.go, retry.go), plus virtual host domains, default routes and route selection.

import { describe, expect, it } from 'vitest';
import { proxySnapshot } from '../../../control-plane/translate/index.ts';
import { identity, meshOf, routesOf, service, snapshotOf, virtualHost, workload } from './translate-kit.ts';

const REGISTRY = service('reviews', { port: 9080 }) + workload('reviews', 'v1', '10.0.0.1') + workload('reviews', 'v2', '10.0.0.2') +
  service('ratings', { port: 9080 }) + `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
`;

const R = 'reviews.default.svc.cluster.local';
const V1 = `outbound|9080|v1|${R}`;
const V2 = `outbound|9080|v2|${R}`;
const ALL = `outbound|9080||${R}`;
const PREVIOUS_HOSTS = [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }];
/** Istio's default retry policy (MeshConfig.defaultHttpRetryPolicy). */
const DEFAULT_RETRY = {
  retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
  num_retries: 2, retry_host_predicate: PREVIOUS_HOSTS, host_selection_retry_max_attempts: '5', retriable_status_codes: [503],
};

/** The routes of reviews:9080 for one VirtualService `http` list (YAML flow/indented under `http:`). */
function routes(http: string, metadata: Record<string, unknown> = {}): Record<string, unknown>[] {
  const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
${http.trim().split('\n').map((l) => `  ${l}`).join('\n')}
`;
  return routesOf(snapshotOf(REGISTRY + vs, metadata), `${R}:9080`);
}

const route = (cluster: string, extra: Record<string, unknown> = {}) => ({ cluster, timeout: '0s', ...extra, retry_policy: DEFAULT_RETRY });

describe('HTTPRoute → Envoy Route', () => {
  it.each<[string, string, Record<string, unknown>]>([
    ['a lone destination → cluster, no timeout, the default retry policy',
      '- route: [{destination: {host: reviews, subset: v1}}]',
      { match: { prefix: '/' }, route: route(V1) }],
    ['one non-zero weight left → a plain cluster (Istio rewrites a one-entry weighted_clusters)',
      '- route: [{destination: {host: reviews, subset: v1}, weight: 0}, {destination: {host: reviews, subset: v2}, weight: 100, headers: {request: {set: {x-v: "2"}}}}]',
      { match: { prefix: '/' }, route: { cluster: V2, timeout: '0s', retry_policy: DEFAULT_RETRY },
        request_headers_to_add: [{ header: { key: 'x-v', value: '2' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }] }],
    ['weights → weighted_clusters (zero weights dropped)',
      '- route: [{destination: {host: reviews, subset: v1}, weight: 90}, {destination: {host: reviews, subset: v2}, weight: 10}, {destination: {host: reviews}, weight: 0}]',
      { match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: V1, weight: 90 }, { name: V2, weight: 10 }] }, timeout: '0s', retry_policy: DEFAULT_RETRY } }],
    ['uri exact + headers (sorted) + method + authority + query params + ignoreUriCase',
      `- match:
  - uri: {exact: /a}
    headers: {x-b: {prefix: b}, x-a: {regex: "a.*"}, x-p: {regex: "*"}}
    method: {exact: GET}
    authority: {prefix: rev}
    queryParams: {z: {exact: "1"}, a: {regex: "*"}}
    ignoreUriCase: true
  route: [{destination: {host: reviews}}]`,
      {
        match: {
          path: '/a', case_sensitive: false,
          headers: [
            { name: 'x-a', string_match: { safe_regex: { regex: 'a.*' } } },
            { name: 'x-b', string_match: { prefix: 'b' } },
            { name: 'x-p', present_match: true },
            { name: ':method', string_match: { exact: 'GET' } },
            { name: ':authority', string_match: { prefix: 'rev' } },
          ],
          query_parameters: [{ name: 'a', present_match: true }, { name: 'z', string_match: { exact: '1' } }],
        },
        route: route(ALL),
      }],
    ['uri prefix and regex; withoutHeaders → invert_match + treat_missing_header_as_empty',
      `- match:
  - {uri: {prefix: /api}, withoutHeaders: {x-debug: {exact: "1"}, x-any: {regex: "*"}}}
  route: [{destination: {host: reviews}}]`,
      {
        match: {
          prefix: '/api', case_sensitive: true,
          headers: [
            { name: 'x-any', present_match: true, invert_match: true },
            { name: 'x-debug', string_match: { exact: '1' }, invert_match: true, treat_missing_header_as_empty: true },
          ],
        },
        route: route(ALL),
      }],
    ['timeout, retries with status codes and gRPC tokens',
      '- {timeout: 5s, retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,unavailable,503,429"}, route: [{destination: {host: reviews}}]}',
      { match: { prefix: '/' }, route: { cluster: ALL, timeout: '5s', retry_policy: {
        retry_on: '5xx,unavailable,retriable-status-codes', num_retries: 3, retry_host_predicate: PREVIOUS_HOSTS,
        host_selection_retry_max_attempts: '5', retriable_status_codes: [503, 429], per_try_timeout: '2s' } } }],
    ['retryOn without codes replaces the default status codes',
      '- {retries: {attempts: 1, retryOn: "gateway-error,connect-failure,retriable-4xx"}, route: [{destination: {host: reviews}}]}',
      { match: { prefix: '/' }, route: { cluster: ALL, timeout: '0s', retry_policy: {
        retry_on: 'gateway-error,connect-failure,retriable-4xx', num_retries: 1, retry_host_predicate: PREVIOUS_HOSTS, host_selection_retry_max_attempts: '5' } } }],
    ['attempts 0 → no retry policy',
      '- {retries: {attempts: 0}, route: [{destination: {host: reviews}}]}',
      { match: { prefix: '/' }, route: { cluster: ALL, timeout: '0s' } }],
    ['fault → typed_per_filter_config HTTPFault (percent in millionths; delay without percentage: 0 %)',
      '- {fault: {delay: {fixedDelay: 500ms, percentage: {value: 10}}, abort: {httpStatus: 503, percentage: {value: 0.5}}}, route: [{destination: {host: reviews}}]}',
      { match: { prefix: '/' }, route: route(ALL), typed_per_filter_config: { 'envoy.filters.http.fault': {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
        delay: { fixed_delay: '0.5s', percentage: { numerator: 100000, denominator: 'MILLION' } },
        abort: { http_status: 503, percentage: { numerator: 5000, denominator: 'MILLION' } } } } }],
    ['fault delay without percentage',
      '- {fault: {delay: {fixedDelay: 1s}}, route: [{destination: {host: reviews}}]}',
      { match: { prefix: '/' }, route: route(ALL), typed_per_filter_config: { 'envoy.filters.http.fault': {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
        delay: { fixed_delay: '1s', percentage: { numerator: 0, denominator: 'HUNDRED' } } } } }],
    ['rewrite → prefix_rewrite + host_rewrite_literal',
      '- {rewrite: {uri: /v2, authority: reviews-v2}, route: [{destination: {host: reviews}}]}',
      { match: { prefix: '/' }, route: route(ALL, { prefix_rewrite: '/v2', host_rewrite_literal: 'reviews-v2' }) }],
    ['redirect (no route action, no retries)',
      '- {redirect: {uri: /new, authority: example.com, port: 8443, scheme: https, redirectCode: 302}}',
      { match: { prefix: '/' }, redirect: { host_redirect: 'example.com', path_redirect: '/new', scheme_redirect: 'https', port_redirect: 8443, response_code: 'FOUND' } }],
    ['redirect defaults to 301 and drops :80 for http',
      '- {redirect: {uri: /new, port: 80}}',
      { match: { prefix: '/' }, redirect: { path_redirect: '/new', response_code: 'MOVED_PERMANENTLY' } }],
    ['headers: set overwrites, add appends, remove; Host in set → host_rewrite_literal',
      `- headers:
    request: {set: {x-b: "2", host: rewritten, x-a: "1"}, add: {x-c: "3"}, remove: [x-d, ":path"]}
    response: {add: {x-r: r}, remove: [x-s]}
  route: [{destination: {host: reviews}, headers: {request: {set: {x-dest: d}}}}]`,
      { match: { prefix: '/' }, route: route(ALL, { host_rewrite_literal: 'rewritten' }),
        request_headers_to_add: [
          { header: { key: 'x-a', value: '1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
          { header: { key: 'x-b', value: '2' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
          { header: { key: 'x-c', value: '3' }, append_action: 'APPEND_IF_EXISTS_OR_ADD' },
          { header: { key: 'x-dest', value: 'd' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
        ],
        request_headers_to_remove: ['x-d'],
        response_headers_to_add: [{ header: { key: 'x-r', value: 'r' }, append_action: 'APPEND_IF_EXISTS_OR_ADD' }],
        response_headers_to_remove: ['x-s'] }],
    ['weighted destination headers go on the ClusterWeight',
      '- route: [{destination: {host: reviews, subset: v1}, weight: 50, headers: {response: {set: {x-v: "1"}}}}, {destination: {host: reviews, subset: v2}, weight: 50}]',
      { match: { prefix: '/' }, route: { weighted_clusters: { clusters: [
        { name: V1, weight: 50, response_headers_to_add: [{ header: { key: 'x-v', value: '1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }] },
        { name: V2, weight: 50 }] }, timeout: '0s', retry_policy: DEFAULT_RETRY } }],
    ['mirror + mirrorPercentage → request_mirror_policies',
      '- {mirror: {host: reviews, subset: v2}, mirrorPercentage: {value: 25}, route: [{destination: {host: reviews, subset: v1}}]}',
      { match: { prefix: '/' }, route: route(V1, { request_mirror_policies: [{ cluster: V2, runtime_fraction: { default_value: { numerator: 250000, denominator: 'MILLION' } } }] }) }],
    ['mirror without a percentage mirrors everything',
      '- {mirror: {host: ratings}, route: [{destination: {host: reviews}}]}',
      { match: { prefix: '/' }, route: route(ALL, { request_mirror_policies: [{ cluster: 'outbound|9080||ratings.default.svc.cluster.local', runtime_fraction: { default_value: { numerator: 100, denominator: 'HUNDRED' } } }] }) }],
    ['route and match names join with "."',
      '- {name: primary, match: [{name: api, uri: {prefix: /api}}], route: [{destination: {host: reviews}}]}',
      { name: 'primary.api', match: { prefix: '/api', case_sensitive: true }, route: route(ALL) }],
  ])('%s', (_name, http, expected) => {
    expect(routes(http)[0]).toEqual(expected);
  });

  it('mirrorPercentage 0 disables mirroring', () => {
    const [r] = routes('- {mirror: {host: ratings}, mirrorPercentage: {value: 0}, route: [{destination: {host: reviews}}]}');
    expect(r!['route']).not.toHaveProperty('request_mirror_policies');
  });

  it('a route without conditions ends the list: later routes are unreachable', () => {
    const rs = routes(`- match: [{headers: {end-user: {exact: jason}}}]
  route: [{destination: {host: reviews, subset: v2}}]
- route: [{destination: {host: reviews, subset: v1}}]
- route: [{destination: {host: reviews}}]`);
    expect(rs.map((r) => (r['route'] as Record<string, unknown>)['cluster'])).toEqual([V2, V1]);
  });

  it('a catch-all match also ends the list', () => {
    const rs = routes(`- match: [{uri: {prefix: /}}, {uri: {prefix: /never}}]
  route: [{destination: {host: reviews, subset: v1}}]
- route: [{destination: {host: reviews}}]`);
    expect(rs.map((r) => r['match'])).toEqual([{ prefix: '/', case_sensitive: true }]);
  });

  it('matches bound to another port or to other source labels are left out for this proxy', () => {
    const http = `- match: [{port: 1234}]
  route: [{destination: {host: reviews, subset: v2}}]
- match: [{sourceLabels: {app: productpage}, uri: {prefix: /p}}]
  route: [{destination: {host: reviews, subset: v1}}]`;
    expect(routes(http, { LABELS: { app: 'productpage', version: 'v1' } }).map((r) => r['match'])).toEqual([{ prefix: '/p', case_sensitive: true }]);
    // No route applies to other workloads: the host falls back to the default route.
    expect(routes(http, { LABELS: { app: 'other' } }).map((r) => r['name'])).toEqual(['default']);
  });

  it('proxies that only differ in what routes ignore share one route table object (translated and served once)', () => {
    const vs = (http: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
${http}
`;
    const table = (yaml: string) => {
      const { mesh } = meshOf(REGISTRY + yaml);
      return (metadata: Record<string, unknown>) => proxySnapshot(mesh, identity(metadata)).routes[0];
    };
    const plain = table(vs('  - route: [{destination: {host: reviews, subset: v1}}]'));
    const productpage = plain({ LABELS: { app: 'productpage' }, INSTANCE_IPS: '10.0.1.1' });
    expect(plain({ LABELS: { app: 'details' }, INSTANCE_IPS: '10.0.1.2' })).toBe(productpage);
    // The namespace changes the short-name domains: its own table.
    expect(plain({ NAMESPACE: 'other', LABELS: { app: 'productpage' } })).not.toBe(productpage);

    const bySource = table(vs('  - match: [{sourceLabels: {app: productpage}}]\n    route: [{destination: {host: reviews, subset: v1}}]'));
    const pp = bySource({ LABELS: { app: 'productpage', version: 'v1' } });
    expect(bySource({ LABELS: { app: 'productpage', version: 'v2' } })).toBe(pp);
    const other = bySource({ LABELS: { app: 'details' } });
    expect(other).not.toBe(pp);
    expect(JSON.stringify(other)).not.toBe(JSON.stringify(pp));
  });

  it('a destination without port uses the service\'s single port; with a port, that port', () => {
    const multi = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: multi}
spec:
  hosts: [multi.default.svc.cluster.local]
  ports: [{number: 80, name: http}, {number: 9000, name: admin, protocol: HTTP}]
  resolution: STATIC
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: multi}
spec:
  hosts: [multi]
  http:
  - match: [{uri: {prefix: /admin}}]
    route: [{destination: {host: multi, port: {number: 9000}}}]
  - route: [{destination: {host: multi}}]
`;
    const s = snapshotOf(multi);
    const clusters = (name: string) => routesOf(s, name).map((r) => (r['route'] as Record<string, unknown>)['cluster']);
    // No port and several ports: the port of the virtual host the request came in on.
    expect(clusters('multi.default.svc.cluster.local:80')).toEqual(['outbound|9000||multi.default.svc.cluster.local', 'outbound|80||multi.default.svc.cluster.local']);
    expect(clusters('multi.default.svc.cluster.local:9000')).toEqual(['outbound|9000||multi.default.svc.cluster.local', 'outbound|9000||multi.default.svc.cluster.local']);
    // Port-less domains only for port 80 (the service has two HTTP ports).
    expect(virtualHost(s, 'multi.default.svc.cluster.local:9000')['domains']).toEqual([
      'multi.default.svc.cluster.local:9000', 'multi.default.svc:9000', 'multi.default:9000', 'multi:9000']);
    expect(virtualHost(s, 'multi.default.svc.cluster.local:80')['domains']).toContain('multi');
  });
});

describe('virtual hosts', () => {
  it('a host without VirtualService gets Istio\'s default route', () => {
    expect(routesOf(snapshotOf(REGISTRY), `ratings.default.svc.cluster.local:9080`)).toEqual([
      { name: 'default', match: { prefix: '/' }, route: { cluster: 'outbound|9080||ratings.default.svc.cluster.local', timeout: '0s', retry_policy: DEFAULT_RETRY } }]);
  });

  it.each([
    ['default', ['reviews.default.svc.cluster.local:9080', 'reviews.default.svc.cluster.local', 'reviews.default.svc:9080', 'reviews.default.svc',
      'reviews.default:9080', 'reviews.default', 'reviews:9080', 'reviews']],
    ['other', ['reviews.default.svc.cluster.local:9080', 'reviews.default.svc.cluster.local', 'reviews.default.svc:9080', 'reviews.default.svc',
      'reviews.default:9080', 'reviews.default']],
  ])('domains seen from namespace %s (the bare name only from the same namespace)', (ns, domains) => {
    expect(virtualHost(snapshotOf(REGISTRY, { NAMESPACE: ns }), `${R}:9080`)['domains']).toEqual(domains);
  });

  it('a non-Kubernetes ServiceEntry host has no short forms', () => {
    const yaml = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: [api.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
`;
    expect(virtualHost(snapshotOf(yaml), 'api.example.com:80')['domains']).toEqual(['api.example.com:80', 'api.example.com']);
  });

  it('a consistent hash in the DestinationRule becomes the route hash_policy, without previous_hosts on retries', () => {
    const yaml = service('sticky') + `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: sticky}
spec:
  host: sticky
  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: sticky}
spec:
  hosts: [sticky]
  http: [{route: [{destination: {host: sticky}}]}]
`;
    const [r] = routesOf(snapshotOf(yaml), 'sticky.default.svc.cluster.local:8080');
    const action = r!['route'] as Record<string, unknown>;
    expect(action['hash_policy']).toEqual([{ header: { header_name: 'x-user' } }]);
    expect(action['retry_policy']).not.toHaveProperty('retry_host_predicate');
  });
});
