// translateMesh as a whole: conflicts (errors, both resources named), references Istio's analyzer reports
// (IST0101, warnings: the resource stays in force), fields accepted but not applied (warnings), and the
// emitted resources checked against Envoy's protos. The seed articles' YAML: seeds.test.ts.

import { describe, expect, it } from 'vitest';
import { proxySnapshot } from '../../../control-plane/translate/index.ts';
import { XDS_TYPES, type XdsKind } from '../../../control-plane/xds/snapshot.ts';
import { validateEnvoyJson } from '../../support/envoy-proto.ts';
import { byName, identity, meshOf, routesOf, service, workload } from './translate-kit.ts';
const vs = (name: string, host: string, extra = '', ns = 'default') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${host}]
  http: [{route: [{destination: {host: ${host}${extra}}}]}]
---
`;
const dr = (name: string, host: string, ns = 'default') => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${ns}}
spec: {host: ${host}, subsets: [{name: v1, labels: {version: v1}}]}
---
`;

describe('conflicts and references', () => {
  it.each<[string, string, string[]]>([
    ['two VirtualServices for one host (short and full name): the first wins, the error names both',
      service('reviews') + vs('first', 'reviews') + vs('second', 'reviews.default.svc.cluster.local'),
      ['mesh.yaml[2]:17 VirtualService default/second: spec.hosts[0]: host "reviews.default.svc.cluster.local" is already claimed by VirtualService default/first (mesh.yaml document 1), which was loaded first and is used; this VirtualService is ignored for that host (Istio\'s analyzer: IST0109 conflicting VirtualService hosts)']],
    ['two DestinationRules for one host',
      service('reviews') + dr('first', 'reviews') + dr('second', 'reviews'),
      ['mesh.yaml[2]:15 DestinationRule default/second: spec.host: host "reviews.default.svc.cluster.local" already has DestinationRule default/first (mesh.yaml document 1), which was loaded first and is used; this DestinationRule is ignored (Istio\'s analyzer: conflicting destination rules)']],
    ['the same short name in two namespaces is two hosts',
      service('reviews') + service('reviews', { namespace: 'prod' }) + vs('r', 'reviews') + vs('r', 'reviews', '', 'prod'), []],
    ['two ServiceEntries declaring one host',
      service('reviews') + service('reviews').replace('name: reviews,', 'name: reviews-again,'),
      ['mesh.yaml[1]:10 ServiceEntry default/reviews-again: spec.hosts[0]: host "reviews.default.svc.cluster.local" is already declared by ServiceEntry default/reviews (mesh.yaml document 0), which was loaded first and is used; this declaration is ignored']],
    ['unknown host, subset and port (IST0101) are warnings; a VirtualService\'s own missing host is reported once',
      service('reviews') + vs('r', 'reviews', ', subset: v9, port: {number: 1}') + vs('g', 'ghost') +
        vs('m', 'reviews').replace('http: [{route', 'http: [{mirror: {host: shadow}, route'),
      ['mesh.yaml[1]:10 VirtualService default/r: warning: spec.http[0].route[0].destination.port.number: host "reviews.default.svc.cluster.local" has no HTTP port 1 (IST0101 ReferencedResourceNotFound): requests routed there get 503 (NC, cluster not found) until it exists',
        'mesh.yaml[1]:10 VirtualService default/r: warning: spec.http[0].route[0].destination.subset: no DestinationRule defines subset "v9" for host "reviews.default.svc.cluster.local" (IST0101 ReferencedResourceNotFound): requests routed there get 503 (NC, cluster not found) until it exists',
        'mesh.yaml[2]:17 VirtualService default/g: warning: spec.hosts[0]: no ServiceEntry declares host "ghost.default.svc.cluster.local" (IST0101 ReferencedResourceNotFound): the VirtualService is kept and routes this host once it is in the registry',
        // m conflicts with r (an error) and mirrors to a host nobody declares (a warning).
        'mesh.yaml[3]:24 VirtualService default/m: spec.hosts[0]: host "reviews.default.svc.cluster.local" is already claimed by VirtualService default/r (mesh.yaml document 1), which was loaded first and is used; this VirtualService is ignored for that host (Istio\'s analyzer: IST0109 conflicting VirtualService hosts)',
        'mesh.yaml[3]:24 VirtualService default/m: warning: spec.http[0].mirror.host: no ServiceEntry declares host "shadow.default.svc.cluster.local" (IST0101 ReferencedResourceNotFound): requests routed there get 503 (NC, cluster not found) until it exists']],
    ['a DestinationRule for a host nobody declares is a warning',
      dr('d', 'ghost'),
      ['mesh.yaml[0]:1 DestinationRule default/d: warning: spec.host: no ServiceEntry declares host "ghost.default.svc.cluster.local" (IST0101 ReferencedResourceNotFound): the DestinationRule is kept and applies once the host is in the registry']],
    ['resolution NONE and non-HTTP ports are not implemented; STATIC needs IPs',
      `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext}
spec: {hosts: [ext.example.com], ports: [{number: 443, name: https, protocol: HTTPS}]}
---
` + service('db').replace('protocol: HTTP}', 'protocol: TCP}') + service('web') + workload('web', 'v1', 'web.internal'),
      ['mesh.yaml[0]:1 ServiceEntry default/ext: spec.resolution: resolution NONE (forward to the address the application dialled) needs original-destination clusters, which nodevoy does not implement; use STATIC or DNS',
        'mesh.yaml[1]:6 ServiceEntry default/db: spec.ports[0].protocol: port 8080 (TCP): nodevoy proxies HTTP only, so this port gets no route, cluster or listener',
        'mesh.yaml[3]:24 WorkloadEntry default/web-v1: spec.address: "web.internal" is not an IP address: resolution STATIC needs IP endpoints (use resolution DNS for host names)']],
  ])('%s', (_name, yaml, expected) => {
    expect(meshOf(yaml).errors).toEqual(expected);
  });

  it('the winning VirtualService routes; a gateway-only one is ignored by sidecars', () => {
    const yaml = service('reviews') + dr('reviews', 'reviews') + vs('first', 'reviews', ', subset: v1') + vs('second', 'reviews') +
      vs('edge', 'reviews').replace('http:', 'gateways: [istio-system/ingress]\n  http:');
    const { mesh } = meshOf(yaml);
    const s = proxySnapshot(mesh, identity());
    expect(routesOf(s, 'reviews.default.svc.cluster.local:8080').map((r) => (r['route'] as Record<string, unknown>)['cluster']))
      .toEqual(['outbound|8080|v1|reviews.default.svc.cluster.local']);
  });

  it('an invalid rate limit patch is reported with its path and not applied', () => {
    const yaml = service('web') + `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: rl}
spec:
  configPatches:
  - applyTo: HTTP_FILTER
    match: {context: SIDECAR_INBOUND}
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          stat_prefix: rl
          token_bucket: {max_tokens: 0, fill_interval: 1s}
`;
    const { mesh, errors } = meshOf(yaml);
    expect(errors).toEqual(['mesh.yaml[1]:10 EnvoyFilter default/rl: spec.configPatches[0].patch.value.typed_config.token_bucket.max_tokens: max_tokens must be greater than 0']);
    expect(mesh.rateLimits).toEqual([]);
  });
});

describe('warnings keep the resource in force', () => {
  it('a VirtualService whose subset is unknown is translated as written: its route names a cluster that does not exist (503 NC)', () => {
    const yaml = service('reviews') + dr('reviews', 'reviews') + vs('r', 'reviews', ', subset: v9');
    const { mesh, errors } = meshOf(yaml);
    expect(errors).toEqual([expect.stringContaining('VirtualService default/r: warning: spec.http[0].route[0].destination.subset: no DestinationRule defines subset "v9"')]);
    const s = proxySnapshot(mesh, identity());
    expect(routesOf(s, 'reviews.default.svc.cluster.local:8080').map((r) => (r['route'] as Record<string, unknown>)['cluster']))
      .toEqual(['outbound|8080|v9|reviews.default.svc.cluster.local']);
    expect(s.clusters.map((c) => c['name'])).not.toContain('outbound|8080|v9|reviews.default.svc.cluster.local');
  });

  it('a VirtualService and DestinationRule whose host is not in the registry yet apply once a ServiceEntry declares it', () => {
    const rules = dr('reviews', 'reviews') + vs('r', 'reviews', ', subset: v1');
    expect(meshOf(rules).errors.every((e) => e.includes(': warning: '))).toBe(true);
    const s = proxySnapshot(meshOf(rules + service('reviews')).mesh, identity());
    expect(routesOf(s, 'reviews.default.svc.cluster.local:8080').map((r) => (r['route'] as Record<string, unknown>)['cluster']))
      .toEqual(['outbound|8080|v1|reviews.default.svc.cluster.local']);
  });
});

const trafficPolicy = (policy: string, subsetPolicy = '') => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy: ${policy}
  subsets: [{name: v1, labels: {version: v1}${subsetPolicy === '' ? '' : `, trafficPolicy: ${subsetPolicy}`}}]
---
`;
const rateLimit = (fields: string, typedStruct = false) => `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: rl}
spec:
  configPatches:
  - applyTo: HTTP_FILTER
    match: {context: SIDECAR_INBOUND}
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config: ${typedStruct
    ? `{"@type": type.googleapis.com/udpa.type.v1.TypedStruct, type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, value: {stat_prefix: rl, token_bucket: {max_tokens: 1, fill_interval: 1s}${fields}}}`
    : `{"@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, stat_prefix: rl, token_bucket: {max_tokens: 1, fill_interval: 1s}${fields}}`}
`;
const ALL = '{default_value: {numerator: 100, denominator: HUNDRED}}';

describe('fields accepted but not applied are warnings, never silence', () => {
  it.each<[string, string, string[]]>([
    ['h2UpgradePolicy UPGRADE wherever a policy is written',
      trafficPolicy('{connectionPool: {http: {h2UpgradePolicy: UPGRADE}}, portLevelSettings: [{port: {number: 8080}, connectionPool: {http: {h2UpgradePolicy: UPGRADE}}}]}',
        '{connectionPool: {http: {h2UpgradePolicy: UPGRADE}}}'),
      ['spec.trafficPolicy.connectionPool.http.h2UpgradePolicy', 'spec.trafficPolicy.portLevelSettings[0].connectionPool.http.h2UpgradePolicy',
        'spec.subsets[0].trafficPolicy.connectionPool.http.h2UpgradePolicy']],
    ['h2UpgradePolicy DEFAULT (the mesh default, DO_NOT_UPGRADE) and DO_NOT_UPGRADE are what nodevoy does',
      trafficPolicy('{connectionPool: {http: {h2UpgradePolicy: DEFAULT}}}', '{connectionPool: {http: {h2UpgradePolicy: DO_NOT_UPGRADE}}}'), []],
    ['a gateway next to mesh', vs('r', 'reviews').replace('http:', 'gateways: [mesh, istio-system/ingress]\n  http:'), ['spec.gateways[1]']],
    ['retryRemoteLocalities: true (false is what nodevoy does)',
      vs('r', 'reviews').replace('}}]}]', '}}], retries: {attempts: 1, retryRemoteLocalities: true}}, {route: [{destination: {host: reviews}}], retries: {attempts: 1, retryRemoteLocalities: false}}]'),
      ['spec.http[0].retries.retryRemoteLocalities']],
  ])('%s', (_name, yaml, paths) => {
    const { errors } = meshOf(service('reviews') + yaml);
    expect(errors.map((e) => /: warning: (\S+):/.exec(e)?.[1] ?? e)).toEqual(paths);
  });

  it('messages say what is not applied and what happens instead', () => {
    const { mesh, errors } = meshOf(service('reviews') + trafficPolicy('{connectionPool: {http: {h2UpgradePolicy: UPGRADE}}}') +
      vs('r', 'reviews').replace('http:', 'gateways: [mesh, ingress]\n  http:'));
    expect(errors).toEqual([
      'mesh.yaml[1]:10 DestinationRule default/reviews: warning: spec.trafficPolicy.connectionPool.http.h2UpgradePolicy: h2UpgradePolicy UPGRADE is accepted but not applied: nodevoy\'s sidecars accept HTTP/1.1 only, so requests to this destination stay HTTP/1.1 (one request per connection at a time) where Istio would multiplex them over HTTP/2',
      'mesh.yaml[2]:18 VirtualService default/r: warning: spec.gateways[1]: gateway "ingress" is not applied: nodevoy has no gateways yet (a later issue); the VirtualService applies to sidecars ("mesh") only',
    ]);
    expect(mesh.virtualServices.get('reviews.default.svc.cluster.local')?.metadata.name).toBe('r');
  });

  const prefix = 'spec.configPatches[0].patch.value.typed_config';
  it.each<[string, string, boolean, string | undefined]>([
    ['neither filter_enabled nor filter_enforced: never limits', '', false, `${prefix}: without filter_enabled and filter_enforced Envoy runs this local rate limit for 0 % of requests and enforces it for none`],
    ['the same in a TypedStruct: the path names its value', '', true, `${prefix}.value: without filter_enabled and filter_enforced`],
    ['filter_enabled only: counts, never rejects', `, filter_enabled: ${ALL}`, false,
      `${prefix}: without filter_enforced Envoy enforces this local rate limit for 0 % of requests: requests over the limit are only counted (rl.http_local_rate_limit.rate_limited), never rejected. To reject them with 429, add filter_enforced: ${ALL}`],
    ['filter_enforced only: never runs', `, filterEnforced: ${ALL}`, false, `${prefix}: without filter_enabled Envoy runs this local rate limit for 0 % of requests, so filter_enforced never applies and nothing is limited. Add filter_enabled: ${ALL}`],
    ['both: limits, no warning', `, filter_enabled: ${ALL}, filter_enforced: ${ALL}`, false, undefined],
  ])('local rate limit, %s; the patch is applied as written (Envoy\'s semantics)', (_name, fields, typedStruct, warning) => {
    const { mesh, errors } = meshOf(service('web') + rateLimit(fields, typedStruct));
    expect(errors).toEqual(warning === undefined ? [] : [expect.stringContaining(`mesh.yaml[1]:10 EnvoyFilter default/rl: warning: ${warning}`)]);
    expect(mesh.rateLimits).toHaveLength(1);
  });

  it('an invalid LocalRateLimit in a TypedStruct is reported under typed_config.value', () => {
    const { errors } = meshOf(service('web') + rateLimit(', status: {code: 99}', true));
    expect(errors).toEqual([expect.stringMatching(/^mesh\.yaml\[1\]:10 EnvoyFilter default\/rl: spec\.configPatches\[0\]\.patch\.value\.typed_config\.value\.status\.code: /)]);
  });
});

describe('emitted resources', () => {
  it('the route and cluster tables of the other tests are valid Envoy too', () => {
    const yaml = service('reviews') + dr('reviews', 'reviews') + `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {regex: "/a.*"}, headers: {x: {regex: "*"}}, withoutHeaders: {y: {exact: "1"}}, queryParams: {q: {prefix: a}}, ignoreUriCase: true}]
    redirect: {uri: /b, authority: c, port: 8443, scheme: https, redirectCode: 308}
  - headers: {request: {set: {x-a: "1", host: h}, remove: [x-b]}, response: {add: {x-c: "2"}}}
    fault: {delay: {fixedDelay: 1s, percentage: {value: 1.5}}, abort: {httpStatus: 500}}
    mirror: {host: reviews, subset: v1}
    mirrorPercentage: {value: 10}
    rewrite: {uri: /v2}
    retries: {attempts: 2, retryOn: "503,cancelled"}
    route: [{destination: {host: reviews, subset: v1}, weight: 1, headers: {request: {set: {host: h1}}}}, {destination: {host: reviews}, weight: 2}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: sticky}
spec:
  host: sticky
  trafficPolicy:
    loadBalancer: {consistentHash: {useSourceIp: true, minimumRingSize: 64}}
    connectionPool: {tcp: {connectTimeout: 1s}, http: {idleTimeout: 5s}}
    outlierDetection: {consecutive5xxErrors: 2, minHealthPercent: 10}
---
` + service('sticky');
    const s = proxySnapshot(meshOf(yaml).mesh, identity({ LABELS: { app: 'reviews' } }));
    const problems = (Object.keys(XDS_TYPES) as XdsKind[]).flatMap((kind) => s[kind].flatMap((r) => validateEnvoyJson(XDS_TYPES[kind], r)));
    expect(problems).toEqual([]);
  });
});
