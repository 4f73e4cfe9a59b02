// The seed articles' YAML (/work/shared/seeds/yaml) as written: the directory loaded as the control plane
// loads it (exact conflicts as errors, everything else accepted, every accepted-but-not-applied field a
// warning), each file against a registry of its services, and the behaviour each article describes
// checked in the emitted xDS, which the proxy's own xDS schemas accept. docs/mesh.md has the table.

import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatIstioError, loadIstioDirectory, loadIstioFiles, severityOf, type SourceFile } from '../../../control-plane/istio/load.ts';
import { proxySnapshot, translateMesh } from '../../../control-plane/translate/index.ts';
import { XDS_TYPES, type XdsKind } from '../../../control-plane/xds/snapshot.ts';
import { SEED_REGISTRY, byName, hcmOf, identity, routesOf, snapshotProblems } from './translate-kit.ts';

type Json = Record<string, unknown>;
/** ../shared beside the checkout (CI clones elsewhere, with shared/ next to the clone). */
const SEEDS = fileURLToPath(new URL('../../../../shared/seeds/yaml', import.meta.url));

async function seedFiles(): Promise<SourceFile[]> {
  const names = (await readdir(SEEDS)).filter((n) => n.endsWith('.yaml')).sort();
  return Promise.all(names.map(async (n) => ({ file: n, text: await readFile(join(SEEDS, n), 'utf8') })));
}

/**
 * The seeds with the registry their articles assume (Kubernetes Services there, ServiceEntries here), in a mesh
 * whose sidecars hold workload certificates (Istio's: auto mTLS, so STRICT namespaces are reachable).
 */
function translateWithRegistry(files: readonly SourceFile[]) {
  const loaded = loadIstioFiles([{ file: 'registry.yaml', text: SEED_REGISTRY }, ...files]);
  const { mesh, errors } = translateMesh(loaded.resources, { workloadCertificates: true });
  return { mesh, report: [...loaded.errors, ...errors].map(formatIstioError) };
}

/** The proxies that see every part of the seed mesh: a sidecar per namespace plus production's payment-service v1 (rate limited). */
const SEED_PROXIES = [
  { NAMESPACE: 'default', LABELS: { app: 'product-service', version: 'v1' }, INSTANCE_IPS: '10.0.0.1' },
  { NAMESPACE: 'production', LABELS: { app: 'payment-service', version: 'v1' }, INSTANCE_IPS: '10.1.1.1', APP_PORTS: { 8080: 18080 } },
];

const H2_UPGRADE = 'h2UpgradePolicy UPGRADE is accepted but not applied: nodevoy\'s sidecars accept HTTP/1.1 only, so requests to this destination stay HTTP/1.1 (one request per connection at a time) where Istio would multiplex them over HTTP/2';
const RATE_LIMIT_INERT = 'without filter_enabled and filter_enforced Envoy runs this local rate limit for 0 % of requests and enforces it for none, so it never limits (nor counts) anything, whatever its token_bucket says. To limit every request, add filter_enabled: {default_value: {numerator: 100, denominator: HUNDRED}} and filter_enforced: {default_value: {numerator: 100, denominator: HUNDRED}}';
const gatewayOnly = (gateway: string) => `gateway "${gateway}" is not applied: nodevoy has no gateways yet (a later issue), so this VirtualService, bound to gateways only, has no effect (add "mesh" to apply it to sidecars)`;
const missingHost = (host: string, what: 'VirtualService' | 'DestinationRule') =>
  `no ServiceEntry declares host "${host}.svc.cluster.local" (IST0101 ReferencedResourceNotFound): ` +
  (what === 'VirtualService' ? 'the VirtualService is kept and routes this host once it is in the registry' : 'the DestinationRule is kept and applies once the host is in the registry');

describe('the seed directory, loaded as `nodevoy control-plane --config-dir` loads it', async () => {
  const load = await loadIstioDirectory(SEEDS);
  const { mesh, errors: translation } = translateMesh(load.resources);
  const report = [...load.errors, ...translation];
  const at = (file: string) => join(SEEDS, file);

  it('the errors are exactly the resources two sections both define', () => {
    expect(report.filter((e) => severityOf(e) === 'error').map(formatIstioError)).toEqual([
      // 002, 003 and 004 all define production/default (the same STRICT PeerAuthentication): 002's stays.
      `${at('003-order-payment.yaml')}[0]:3 PeerAuthentication production/default: metadata.name: duplicate PeerAuthentication production/default: already defined in ${at('002-production-mesh.yaml')} document 3; this one is ignored`,
      // 002 and 003 both define default/payment-service (a VirtualService and a DestinationRule): the first file's stay.
      `${at('003-order-payment.yaml')}[5]:103 VirtualService default/payment-service: metadata.name: duplicate VirtualService default/payment-service: already defined in ${at('002-production-mesh.yaml')} document 1; this one is ignored`,
      `${at('003-order-payment.yaml')}[6]:121 DestinationRule default/payment-service: metadata.name: duplicate DestinationRule default/payment-service: already defined in ${at('002-production-mesh.yaml')} document 2; this one is ignored`,
      `${at('004-reviews.yaml')}[1]:19 PeerAuthentication production/default: metadata.name: duplicate PeerAuthentication production/default: already defined in ${at('002-production-mesh.yaml')} document 3; this one is ignored`,
      // 002's fault-injection section claims the host of its own canary section's VirtualService (IST0109).
      `${at('002-production-mesh.yaml')}[5]:88 VirtualService default/payment-fault-test: spec.hosts[0]: host "payment-service.default.svc.cluster.local" is already claimed by VirtualService default/payment-service (${at('002-production-mesh.yaml')} document 1), which was loaded first and is used; this VirtualService is ignored for that host (Istio's analyzer: IST0109 conflicting VirtualService hosts)`,
    ]);
  });

  it('every other VirtualService, DestinationRule, EnvoyFilter, PeerAuthentication and AuthorizationPolicy is accepted as written', () => {
    expect(load.resources.map((r) => `${r.source.file.slice(SEEDS.length + 1)}[${r.source.document}] ${r.kind} ${r.metadata.namespace}/${r.metadata.name}`)).toEqual([
      '000-product-service.yaml[0] VirtualService default/product-service',
      '000-product-service.yaml[1] DestinationRule default/product-service',
      '001-payment-service.yaml[0] VirtualService production/payment-service',
      '001-payment-service.yaml[1] DestinationRule production/payment-service',
      '001-payment-service.yaml[3] VirtualService production/techoral-api',
      '001-payment-service.yaml[4] PeerAuthentication istio-system/default',
      '001-payment-service.yaml[5] PeerAuthentication production/legacy-service-permissive',
      '001-payment-service.yaml[6] AuthorizationPolicy production/deny-all',
      '001-payment-service.yaml[7] AuthorizationPolicy production/payment-service-policy',
      '002-production-mesh.yaml[1] VirtualService default/payment-service',
      '002-production-mesh.yaml[2] DestinationRule default/payment-service',
      '002-production-mesh.yaml[3] PeerAuthentication production/default',
      '002-production-mesh.yaml[4] AuthorizationPolicy production/payment-access',
      '002-production-mesh.yaml[5] VirtualService default/payment-fault-test',
      '002-production-mesh.yaml[7] EnvoyFilter production/payment-ratelimit',
      '003-order-payment.yaml[1] AuthorizationPolicy production/payment-service-authz',
      '003-order-payment.yaml[3] DestinationRule default/order-service',
      '003-order-payment.yaml[4] VirtualService default/order-service',
      '003-order-payment.yaml[8] VirtualService default/api-routing',
      '004-reviews.yaml[0] VirtualService default/reviews-route',
    ]);
    // Kinds of later issues are listed apart, not errors.
    expect(new Set(load.deferred.map((d) => d.resource.kind))).toEqual(new Set(['Gateway', 'Sidecar', 'Namespace', 'Deployment']));
    // The resources with only warnings are in the mesh: their rules are indexed by host, the rate limit is a patch.
    expect([...mesh.virtualServices.values()].map((vs) => vs.metadata.name)).toEqual(['product-service', 'payment-service', 'payment-service', 'order-service', 'reviews-route']);
    expect([...mesh.destinationRules.keys()]).toEqual([
      'product-service.default.svc.cluster.local', 'payment-service.production.svc.cluster.local',
      'payment-service.default.svc.cluster.local', 'order-service.default.svc.cluster.local',
    ]);
    expect(mesh.rateLimits).toHaveLength(1);
    expect(mesh.authorizationPolicies.map((p) => p.metadata.name)).toEqual(['deny-all', 'payment-service-policy', 'payment-access', 'payment-service-authz']);
  });

  it('the warnings: hosts no ServiceEntry declares yet, h2UpgradePolicy UPGRADE, gateway bindings, the inert rate limit', () => {
    const warnings = report.filter((e) => severityOf(e) === 'warning').map((e) => [`${e.resource?.kind} ${e.resource?.namespace}/${e.resource?.name}`, e.path, e.message]);
    expect(warnings).toEqual([
      ['DestinationRule default/product-service', 'spec.host', missingHost('product-service.default', 'DestinationRule')],
      ['DestinationRule default/product-service', 'spec.trafficPolicy.connectionPool.http.h2UpgradePolicy', H2_UPGRADE],
      ['DestinationRule production/payment-service', 'spec.host', missingHost('payment-service.production', 'DestinationRule')],
      ['DestinationRule production/payment-service', 'spec.trafficPolicy.connectionPool.http.h2UpgradePolicy', H2_UPGRADE],
      ['DestinationRule default/payment-service', 'spec.host', missingHost('payment-service.default', 'DestinationRule')],
      ['DestinationRule default/order-service', 'spec.host', missingHost('order-service.default', 'DestinationRule')],
      ['DestinationRule default/order-service', 'spec.subsets[1].trafficPolicy.connectionPool.http.h2UpgradePolicy', H2_UPGRADE],
      ['VirtualService default/product-service', 'spec.hosts[0]', missingHost('product-service.default', 'VirtualService')],
      ['VirtualService production/payment-service', 'spec.hosts[0]', missingHost('payment-service.production', 'VirtualService')],
      ['VirtualService production/techoral-api', 'spec.gateways[0]', gatewayOnly('istio-system/techoral-gateway')],
      ['VirtualService default/payment-service', 'spec.hosts[0]', missingHost('payment-service.default', 'VirtualService')],
      ['VirtualService default/payment-fault-test', 'spec.http[0].route[0].destination.host',
        'no ServiceEntry declares host "payment-service.default.svc.cluster.local" (IST0101 ReferencedResourceNotFound): requests routed there get 503 (NC, cluster not found) until it exists'],
      ['VirtualService default/order-service', 'spec.hosts[0]', missingHost('order-service.default', 'VirtualService')],
      ['VirtualService default/api-routing', 'spec.gateways[0]', gatewayOnly('api-gateway')],
      ['VirtualService default/reviews-route', 'spec.hosts[0]', missingHost('reviews.default', 'VirtualService')],
      ['EnvoyFilter production/payment-ratelimit', 'spec.configPatches[0].patch.value.typed_config.value', RATE_LIMIT_INERT],
    ]);
  });
});

describe('each seed file against the registry its article assumes', async () => {
  const files = await seedFiles();
  const expected: Readonly<Record<string, readonly string[]>> = {
    '000-product-service.yaml': [`000-product-service.yaml[1]:31 DestinationRule default/product-service: warning: spec.trafficPolicy.connectionPool.http.h2UpgradePolicy: ${H2_UPGRADE}`],
    '001-payment-service.yaml': [
      `001-payment-service.yaml[1]:37 DestinationRule production/payment-service: warning: spec.trafficPolicy.connectionPool.http.h2UpgradePolicy: ${H2_UPGRADE}`,
      `001-payment-service.yaml[3]:92 VirtualService production/techoral-api: warning: spec.gateways[0]: ${gatewayOnly('istio-system/techoral-gateway')}`,
    ],
    // h2UpgradePolicy DEFAULT is MeshConfig's DO_NOT_UPGRADE: applied as written, no warning.
    '002-production-mesh.yaml': [
      expect.stringMatching(/^002-production-mesh.yaml\[5\]:88 VirtualService default\/payment-fault-test: spec.hosts\[0\]: host "payment-service.default.svc.cluster.local" is already claimed by VirtualService default\/payment-service \(002-production-mesh.yaml document 1\)/),
      `002-production-mesh.yaml[7]:136 EnvoyFilter production/payment-ratelimit: warning: spec.configPatches[0].patch.value.typed_config.value: ${RATE_LIMIT_INERT}`,
    ],
    '003-order-payment.yaml': [
      `003-order-payment.yaml[3]:55 DestinationRule default/order-service: warning: spec.subsets[1].trafficPolicy.connectionPool.http.h2UpgradePolicy: ${H2_UPGRADE}`,
      `003-order-payment.yaml[8]:157 VirtualService default/api-routing: warning: spec.gateways[0]: ${gatewayOnly('api-gateway')}`,
    ],
    '004-reviews.yaml': [],
  };

  it.each(files.map((f) => [f.file, f] as const))('%s', (name, file) => {
    expect(translateWithRegistry([file]).report).toEqual(expected[name]);
  });

  it('every seed file is covered', () => {
    expect(files.map((f) => f.file)).toEqual(Object.keys(expected));
  });
});

const RBAC = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
const allowFilter = (policies: Json) => ({ name: 'istio.authorization.allow', typed_config: { '@type': RBAC, rules: { policies } } });
const any = { and_rules: { rules: [{ any: true }] } };
/** A policy whose only condition is the caller's SPIFFE identity. */
const fromPrincipal = (ns: string, sa: string, permissions: Json[] = [any]) => ({
  permissions,
  principals: [{ and_ids: { ids: [{ or_ids: { ids: [{ authenticated: { principal_name: { exact: `spiffe://cluster.local/ns/${ns}/sa/${sa}` } } }] } }] } }],
});
const methodsAndPaths = (method: string, paths: Json[]) => [{ and_rules: { rules: [
  { or_rules: { rules: [{ header: { name: ':method', string_match: { exact: method } } }] } },
  { or_rules: { rules: paths.map((path) => ({ url_path: { path } })) } },
] } }];
const MATCH_NEVER = { permissions: [{ not_rule: { any: true } }], principals: [{ not_id: { any: true } }] };

/** The inbound listener's filter chains: STRICT is one mTLS chain behind tls_inspector (plaintext matches nothing). */
function chainsOf(listener: Json): { inspector: boolean; matches: unknown[] } {
  return {
    inspector: (listener['listener_filters'] as Json[] | undefined)?.some((f) => f['name'] === 'envoy.filters.listener.tls_inspector') ?? false,
    matches: (listener['filter_chains'] as Json[]).map((c) => [c['filter_chain_match'], (c['transport_socket'] as Json | undefined)?.['name']]),
  };
}
const STRICT_CHAINS = { inspector: true, matches: [[{ transport_protocol: 'tls' }, 'envoy.transport_sockets.tls']] };

describe('the seeds behave as their articles say', async () => {
  const files = await seedFiles();
  const one = (name: string) => translateWithRegistry(files.filter((f) => f.file === name)).mesh;
  const route = (r: Json | undefined) => r!['route'] as Json;

  it('001: mesh-wide STRICT (istio-system) refuses plaintext everywhere but at legacy-service (PERMISSIVE); payment-service: deny-all plus POST /charge, /refund from checkout-service', () => {
    const mesh = one('001-payment-service.yaml');
    expect([['default', { app: 'product-service' }], ['production', { app: 'payment-service' }], ['production', { app: 'legacy-service' }]]
      .map(([ns, labels]) => mesh.peerAuthentications.modeFor(ns as string, labels as Record<string, string>, 8080))).toEqual(['STRICT', 'STRICT', 'PERMISSIVE']);
    const s = proxySnapshot(mesh, identity(SEED_PROXIES[1]));
    const inbound = byName(s.listeners, 'inbound|8080');
    expect(chainsOf(inbound)).toEqual(STRICT_CHAINS);
    expect(byName(hcmOf(inbound)['http_filters'] as Json[], 'istio.authorization.allow')).toEqual(allowFilter({
      'ns[production]-policy[deny-all]-rule[0]': MATCH_NEVER,
      'ns[production]-policy[payment-service-policy]-rule[0]': fromPrincipal('production', 'checkout-service', methodsAndPaths('POST', [{ exact: '/charge' }, { exact: '/refund' }])),
    }));
    // Callers reach the STRICT workloads with mTLS: auto mTLS to their sidecars, checking their identity.
    expect(byName(s.clusters, 'outbound|8080||payment-service.production.svc.cluster.local')['transport_socket']).toMatchObject({
      typed_config: { sni: 'outbound_.8080_._.payment-service.production.svc.cluster.local', common_tls_context: { combined_validation_context: {
        default_validation_context: { match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: 'spiffe://cluster.local/ns/production/sa/default' } }] } } } } });
  });

  it('002: production is STRICT; only the api-gateway identity may call payment-service', () => {
    const s = proxySnapshot(one('002-production-mesh.yaml'), identity(SEED_PROXIES[1]));
    expect(chainsOf(byName(s.listeners, 'inbound|8080'))).toEqual(STRICT_CHAINS);
    // default is not under production's policy: no policy, no RBAC, Istio's PERMISSIVE.
    const def = proxySnapshot(one('002-production-mesh.yaml'), identity({ ...SEED_PROXIES[0], LABELS: { app: 'payment-service', version: 'v1' }, INSTANCE_IPS: '10.0.1.1' }));
    const inbound = byName(def.listeners, 'inbound|8080');
    expect(chainsOf(inbound)).toEqual({ inspector: true, matches: [[{ transport_protocol: 'tls' }, 'envoy.transport_sockets.tls'], [{ transport_protocol: 'raw_buffer' }, undefined]] });
    expect((hcmOf(inbound)['http_filters'] as Json[]).map((f) => f['name'])).toEqual(['istio.metadata_exchange', 'istio.stats', 'envoy.filters.http.router']);
  });

  it('003: production STRICT; only order-service may POST /api/v1/payments and below', () => {
    const s = proxySnapshot(one('003-order-payment.yaml'), identity(SEED_PROXIES[1]));
    const inbound = byName(s.listeners, 'inbound|8080');
    expect(chainsOf(inbound)).toEqual(STRICT_CHAINS);
    expect(byName(hcmOf(inbound)['http_filters'] as Json[], 'istio.authorization.allow')).toEqual(allowFilter({
      'ns[production]-policy[payment-service-authz]-rule[0]': fromPrincipal('production', 'order-service', methodsAndPaths('POST', [{ exact: '/api/v1/payments' }, { prefix: '/api/v1/payments/' }])),
    }));
  });

  it('004: production STRICT, no authorization policy', () => {
    const s = proxySnapshot(one('004-reviews.yaml'), identity(SEED_PROXIES[1]));
    const inbound = byName(s.listeners, 'inbound|8080');
    expect(chainsOf(inbound)).toEqual(STRICT_CHAINS);
    expect((hcmOf(inbound)['http_filters'] as Json[]).map((f) => f['name'])).toEqual(['istio.metadata_exchange', 'istio.stats', 'envoy.filters.http.router']);
  });

  it('the whole directory: payment-service in production gets every applicable ALLOW policy in one filter', () => {
    const s = proxySnapshot(translateWithRegistry(files).mesh, identity(SEED_PROXIES[1]));
    const rbac = byName(hcmOf(byName(s.listeners, 'inbound|8080'))['http_filters'] as Json[], 'istio.authorization.allow');
    expect(Object.keys(((rbac['typed_config'] as Json)['rules'] as Json)['policies'] as Json)).toEqual([
      'ns[production]-policy[deny-all]-rule[0]', 'ns[production]-policy[payment-access]-rule[0]',
      'ns[production]-policy[payment-service-authz]-rule[0]', 'ns[production]-policy[payment-service-policy]-rule[0]',
    ]);
  });

  it('000: x-canary: true goes to the canary; the rest splits 90/10 with 3 retries of 2 s under a 10 s timeout; 3 consecutive 5xx eject for 60 s', () => {
    const s = proxySnapshot(one('000-product-service.yaml'), identity(SEED_PROXIES[0]));
    const [canary, split] = routesOf(s, 'product-service.default.svc.cluster.local:8080');
    expect(canary).toMatchObject({ match: { headers: [{ name: 'x-canary', string_match: { exact: 'true' } }] }, route: { cluster: 'outbound|8080|canary|product-service.default.svc.cluster.local' } });
    expect(route(split)).toMatchObject({
      weighted_clusters: { clusters: [{ name: 'outbound|8080|stable|product-service.default.svc.cluster.local', weight: 90 }, { name: 'outbound|8080|canary|product-service.default.svc.cluster.local', weight: 10 }] },
      timeout: '10s', retry_policy: { num_retries: 3, per_try_timeout: '2s' },
    });
    expect(byName(s.clusters, 'outbound|8080|stable|product-service.default.svc.cluster.local')).toMatchObject({
      outlier_detection: { consecutive_5xx: 3, enforcing_consecutive_5xx: 100, interval: '30s', base_ejection_time: '60s' } });
  });

  it('001: beta users (x-canary) to v2 with 3 retries on 5xx,reset,connect-failure; 90/10 otherwise; LEAST_CONN, pool limits, gateway-error ejection', () => {
    const s = proxySnapshot(one('001-payment-service.yaml'), identity(SEED_PROXIES[1]));
    const [canary, split] = routesOf(s, 'payment-service.production.svc.cluster.local:8080');
    expect(route(canary)).toMatchObject({ cluster: 'outbound|8080|v2|payment-service.production.svc.cluster.local', timeout: '10s',
      retry_policy: { num_retries: 3, per_try_timeout: '3s', retry_on: '5xx,reset,connect-failure' } });
    expect(route(split)).toMatchObject({ timeout: '10s', weighted_clusters: { clusters: [{ weight: 90 }, { weight: 10 }] } });
    const cluster = (subset: string) => byName(s.clusters, `outbound|8080|${subset}|payment-service.production.svc.cluster.local`);
    expect(cluster('v1')).toMatchObject({
      lb_policy: 'LEAST_REQUEST', connect_timeout: '0.03s',
      circuit_breakers: { thresholds: [{ max_connections: 100, max_pending_requests: 100 }] },
      outlier_detection: { consecutive_gateway_failure: 5, interval: '10s', base_ejection_time: '30s', max_ejection_percent: 50 },
      common_lb_config: { healthy_panic_threshold: { value: 30 } },
      typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { common_http_protocol_options: { max_requests_per_connection: 10 } } } });
    // The canary's own connectionPool replaces the rule's whole connectionPool (Istio's MergeTrafficPolicy).
    expect(cluster('v2')).toMatchObject({
      connect_timeout: '10s', circuit_breakers: { thresholds: [{ max_connections: 4294967295, max_pending_requests: 4294967295 }] },
      typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { common_http_protocol_options: { max_requests_per_connection: 1 } } } });
  });

  it('002: 95/5 with a 10 s timeout and 2 retries; 5 consecutive 5xx eject; the rate limit sits before the router as written (inert, as on Envoy)', () => {
    const mesh = one('002-production-mesh.yaml');
    const s = proxySnapshot(mesh, identity({ ...SEED_PROXIES[0], LABELS: {} }));
    const [split] = routesOf(s, 'payment-service.default.svc.cluster.local:8080');
    expect(route(split)).toMatchObject({ timeout: '10s', retry_policy: { num_retries: 2, retry_on: '5xx,reset,connect-failure' },
      weighted_clusters: { clusters: [{ name: 'outbound|8080|v1|payment-service.default.svc.cluster.local', weight: 95 }, { name: 'outbound|8080|v2|payment-service.default.svc.cluster.local', weight: 5 }] } });
    // payment-fault-test lost the host to payment-service (IST0109): no fault on the route.
    expect(split).not.toHaveProperty('typed_per_filter_config');
    expect(byName(s.clusters, 'outbound|8080|v1|payment-service.default.svc.cluster.local')).toMatchObject({
      circuit_breakers: { thresholds: [{ max_connections: 100, max_pending_requests: 100, max_requests: 1000 }] },
      outlier_detection: { consecutive_5xx: 5, interval: '10s', base_ejection_time: '30s', max_ejection_percent: 50 } });
    const prod = proxySnapshot(mesh, identity(SEED_PROXIES[1]));
    const filters = hcmOf(byName(prod.listeners, 'inbound|8080'))['http_filters'] as Json[];
    expect(filters).toEqual([
      expect.objectContaining({ name: 'istio.metadata_exchange' }),
      allowFilter({ 'ns[production]-policy[payment-access]-rule[0]': fromPrincipal('production', 'api-gateway') }),
      expect.objectContaining({ name: 'istio.stats' }),
      { name: 'envoy.filters.http.local_ratelimit', typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
        stat_prefix: 'http_local_rate_limiter', token_bucket: { max_tokens: 100, tokens_per_fill: 100, fill_interval: '60s' } } },
      expect.objectContaining({ name: 'envoy.filters.http.router' }),
    ]);
  });

  it('002: the fix the warning gives (filter_enabled and filter_enforced at 100 %) is accepted without a warning and emitted', () => {
    const fixed = files.find((f) => f.file === '002-production-mesh.yaml')!.text.replace('              fill_interval: 60s\n',
      '              fill_interval: 60s\n            filter_enabled: {default_value: {numerator: 100, denominator: HUNDRED}}\n' +
      '            filter_enforced: {default_value: {numerator: 100, denominator: HUNDRED}}\n');
    const { mesh, report } = translateWithRegistry([{ file: '002-production-mesh.yaml', text: fixed }]);
    expect(report.filter((l) => l.includes('EnvoyFilter'))).toEqual([]);
    expect(mesh.rateLimits[0]!.filter['typed_config']).toMatchObject({
      filter_enabled: { default_value: { numerator: 100, denominator: 'HUNDRED' } }, filter_enforced: { default_value: { numerator: 100, denominator: 'HUNDRED' } } });
  });

  it('003: x-canary to v2, else 95/5; payment-service: 5 s timeout, 3 retries of 2 s on gateway-error,connect-failure,retriable-4xx', () => {
    const s = proxySnapshot(one('003-order-payment.yaml'), identity(SEED_PROXIES[0]));
    const [canary, split] = routesOf(s, 'order-service.default.svc.cluster.local:8080');
    expect(route(canary)).toMatchObject({ cluster: 'outbound|8080|v2|order-service.default.svc.cluster.local' });
    expect(route(split)).toMatchObject({ weighted_clusters: { clusters: [{ name: 'outbound|8080|v1|order-service.default.svc.cluster.local', weight: 95 }, { name: 'outbound|8080|v2|order-service.default.svc.cluster.local', weight: 5 }] } });
    const [payment] = routesOf(s, 'payment-service.default.svc.cluster.local:8080');
    expect(route(payment)).toMatchObject({ cluster: 'outbound|8080||payment-service.default.svc.cluster.local', timeout: '5s',
      retry_policy: { num_retries: 3, per_try_timeout: '2s', retry_on: 'gateway-error,connect-failure,retriable-4xx' } });
    expect(byName(s.clusters, 'outbound|8080|v2|order-service.default.svc.cluster.local')).toMatchObject({ circuit_breakers: { thresholds: [{ max_connections: 100 }] } });
    expect(byName(s.clusters, 'outbound|8080||payment-service.default.svc.cluster.local')).toMatchObject({
      circuit_breakers: { thresholds: [{ max_pending_requests: 100 }] }, outlier_detection: { consecutive_5xx: 5, interval: '30s', base_ejection_time: '30s', max_ejection_percent: 50 } });
  });

  it('004: reviews splits 90/10 between v1 and v2', () => {
    const s = proxySnapshot(one('004-reviews.yaml'), identity(SEED_PROXIES[0]));
    expect(routesOf(s, 'reviews.default.svc.cluster.local:9080').map(route)).toMatchObject([{ weighted_clusters: { clusters: [
      { name: 'outbound|9080|v1|reviews.default.svc.cluster.local', weight: 90 }, { name: 'outbound|9080|v2|reviews.default.svc.cluster.local', weight: 10 }] } }]);
  });

  it('every emitted resource is valid against Envoy\'s v3 protos and accepted by the proxy\'s xDS schemas (sidecars with their secrets)', () => {
    const { mesh } = translateWithRegistry(files);
    const problems: string[] = [];
    for (const meta of SEED_PROXIES) {
      const s = proxySnapshot(mesh, identity(meta));
      for (const kind of Object.keys(XDS_TYPES) as XdsKind[]) expect(s[kind].length).toBeGreaterThan(0);
      problems.push(...snapshotProblems(s));
    }
    expect(problems).toEqual([]);
  });

  it('the same input gives identical JSON, and the mesh is reusable across proxies', () => {
    const once = () => JSON.stringify(SEED_PROXIES.map((m) => proxySnapshot(translateWithRegistry(files).mesh, identity(m))));
    expect(once()).toBe(once());
    const { mesh } = translateWithRegistry(files);
    const first = JSON.stringify(proxySnapshot(mesh, identity(SEED_PROXIES[1])));
    proxySnapshot(mesh, identity(SEED_PROXIES[0]));
    expect(JSON.stringify(proxySnapshot(mesh, identity(SEED_PROXIES[1])))).toBe(first);
  });
});
