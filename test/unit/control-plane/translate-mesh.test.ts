// translateMesh as a whole: conflicts (both resources named), references Istio's analyzer reports
// (IST0101), the seed articles' YAML against a registry, every emitted resource checked against Envoy's
// protos, and deterministic snapshots.

import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatIstioError, loadIstioFiles, type SourceFile } from '../../../control-plane/istio/load.ts';
import { proxySnapshot, translateMesh } from '../../../control-plane/translate/index.ts';
import { XDS_TYPES, type XdsKind } from '../../../control-plane/xds/snapshot.ts';
import { validateEnvoyJson } from '../../support/envoy-proto.ts';
import { SEED_REGISTRY, byName, hcmOf, identity, meshOf, routesOf, service, workload } from './translate-kit.ts';

const SEEDS = '/work/shared/seeds/yaml';
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
    ['unknown host, subset and port (IST0101)',
      service('reviews') + vs('r', 'reviews', ', subset: v9, port: {number: 1}') + vs('g', 'ghost'),
      ['mesh.yaml[1]:10 VirtualService default/r: spec.http[0].route[0].destination.port.number: host "reviews.default.svc.cluster.local" has no HTTP port 1 (IST0101 ReferencedResourceNotFound)',
        'mesh.yaml[1]:10 VirtualService default/r: spec.http[0].route[0].destination.subset: no DestinationRule defines subset "v9" for host "reviews.default.svc.cluster.local" (IST0101 ReferencedResourceNotFound): requests routed there get 503',
        'mesh.yaml[2]:17 VirtualService default/g: spec.hosts[0]: no ServiceEntry declares host "ghost.default.svc.cluster.local" (IST0101 ReferencedResourceNotFound)',
        'mesh.yaml[2]:17 VirtualService default/g: spec.http[0].route[0].destination.host: no ServiceEntry declares host "ghost.default.svc.cluster.local" (IST0101 ReferencedResourceNotFound): requests routed there get 503']],
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

async function seedFiles(): Promise<SourceFile[]> {
  const names = (await readdir(SEEDS)).filter((n) => n.endsWith('.yaml')).sort();
  return Promise.all(names.map(async (n) => ({ file: n, text: await readFile(join(SEEDS, n), 'utf8') })));
}

function translateWithRegistry(files: readonly SourceFile[]) {
  const loaded = loadIstioFiles([{ file: 'registry.yaml', text: SEED_REGISTRY }, ...files]);
  const { mesh, errors } = translateMesh(loaded.resources);
  return { mesh, errors: [...loaded.errors, ...errors].map(formatIstioError) };
}

/** The proxies that see every part of the seed mesh: a sidecar per namespace plus production's payment-service v1 (rate limited). */
const SEED_PROXIES = [
  { NAMESPACE: 'default', LABELS: { app: 'product-service', version: 'v1' }, INSTANCE_IPS: '10.0.0.1' },
  { NAMESPACE: 'production', LABELS: { app: 'payment-service', version: 'v1' }, INSTANCE_IPS: '10.1.1.1', APP_PORTS: { 8080: 18080 } },
];

describe('seed articles', async () => {
  const files = await seedFiles();

  it.each(files.map((f) => [f.file, f] as const))('%s translates against the registry', (name, file) => {
    // 002's fault-injection example claims the host of its own payment-service VirtualService (two sections of the article).
    const expected = name === '002-production-mesh.yaml'
      ? [expect.stringMatching(/^002-production-mesh.yaml\[5\]:88 VirtualService default\/payment-fault-test: spec.hosts\[0\]: host "payment-service.default.svc.cluster.local" is already claimed by VirtualService default\/payment-service \(002-production-mesh.yaml document 1\)/)]
      : [];
    expect(translateWithRegistry([file]).errors).toEqual(expected);
  });

  it('loaded together, the sections that claim the same host are reported', () => {
    // Same kind/namespace/name in 002 and 003: the loader keeps 002's; then 002's own two VirtualServices conflict.
    expect(translateWithRegistry(files).errors).toEqual([
      expect.stringMatching(/^003-order-payment.yaml\[5\]:103 VirtualService default\/payment-service: metadata.name: duplicate VirtualService default\/payment-service: already defined in 002-production-mesh.yaml document 1/),
      expect.stringMatching(/^003-order-payment.yaml\[6\]:121 DestinationRule default\/payment-service: metadata.name: duplicate DestinationRule default\/payment-service: already defined in 002-production-mesh.yaml document 2/),
      expect.stringMatching(/^002-production-mesh.yaml\[5\]:88 VirtualService default\/payment-fault-test: spec.hosts\[0\]: .* claimed by VirtualService default\/payment-service/),
    ]);
  });

  it('behave as the articles say: canary header, weights, retries, timeouts, outlier detection', () => {
    const { mesh } = translateWithRegistry(files);
    const s = proxySnapshot(mesh, identity(SEED_PROXIES[0]));
    const [canary, split] = routesOf(s, 'product-service.default.svc.cluster.local:8080');
    expect(canary).toMatchObject({ match: { headers: [{ name: 'x-canary', string_match: { exact: 'true' } }] }, route: { cluster: 'outbound|8080|canary|product-service.default.svc.cluster.local' } });
    expect(split!['route']).toMatchObject({ weighted_clusters: { clusters: [{ name: 'outbound|8080|stable|product-service.default.svc.cluster.local', weight: 90 }, { name: 'outbound|8080|canary|product-service.default.svc.cluster.local', weight: 10 }] },
      timeout: '10s', retry_policy: { num_retries: 3, per_try_timeout: '2s' } });
    expect(byName(s.clusters, 'outbound|8080|stable|product-service.default.svc.cluster.local')).toMatchObject({
      outlier_detection: { consecutive_5xx: 3, interval: '30s', base_ejection_time: '60s' } });
    const prod = proxySnapshot(mesh, identity(SEED_PROXIES[1]));
    const payment = (subset: string) => byName(prod.clusters, `outbound|8080|${subset}|payment-service.production.svc.cluster.local`);
    expect(payment('v1')).toMatchObject({
      lb_policy: 'LEAST_REQUEST', connect_timeout: '0.03s',
      circuit_breakers: { thresholds: [{ max_connections: 100, max_pending_requests: 100 }] },
      outlier_detection: { consecutive_gateway_failure: 5, max_ejection_percent: 50 }, common_lb_config: { healthy_panic_threshold: { value: 30 } },
      typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { common_http_protocol_options: { max_requests_per_connection: 10 } } } });
    // The canary's own connectionPool replaces the rule's whole connectionPool (Istio's MergeTrafficPolicy).
    expect(payment('v2')).toMatchObject({
      connect_timeout: '10s', circuit_breakers: { thresholds: [{ max_connections: 4294967295, max_pending_requests: 4294967295 }] },
      outlier_detection: { consecutive_gateway_failure: 5 },
      typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { common_http_protocol_options: { max_requests_per_connection: 1 } } } });
    const filters = hcmOf(byName(prod.listeners, 'inbound|8080'))['http_filters'] as { name: string }[];
    expect(filters.map((f) => f.name)).toEqual(['envoy.filters.http.local_ratelimit', 'envoy.filters.http.router']);
  });

  it('every emitted resource is valid against Envoy\'s v3 protos (no unknown fields)', () => {
    const { mesh } = translateWithRegistry(files);
    const problems: string[] = [];
    for (const meta of SEED_PROXIES) {
      const s = proxySnapshot(mesh, identity(meta));
      for (const kind of Object.keys(XDS_TYPES) as XdsKind[]) {
        expect(s[kind].length).toBeGreaterThan(0);
        for (const r of s[kind]) problems.push(...validateEnvoyJson(XDS_TYPES[kind], r).map((p) => `${kind} ${String(r['name'] ?? r['cluster_name'])}: ${p}`));
      }
    }
    expect(problems).toEqual([]);
  });

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

describe('determinism', () => {
  it('the same input gives identical JSON, and the mesh is reusable across proxies', async () => {
    const files = await seedFiles();
    const once = () => JSON.stringify(SEED_PROXIES.map((m) => proxySnapshot(translateWithRegistry(files).mesh, identity(m))));
    expect(once()).toBe(once());
    const { mesh } = translateWithRegistry(files);
    const first = JSON.stringify(proxySnapshot(mesh, identity(SEED_PROXIES[1])));
    proxySnapshot(mesh, identity(SEED_PROXIES[0]));
    expect(JSON.stringify(proxySnapshot(mesh, identity(SEED_PROXIES[1])))).toBe(first);
  });
});
