// Istio security resources → xDS: PeerAuthentication precedence (mesh, namespace, workload, port) and the
// inbound filter chains of each mode, AuthorizationPolicy → RBAC filters (every field, exact Envoy JSON, as
// Istio's authz builder writes it), auto mTLS and DestinationRule tls → cluster transport sockets. Every
// snapshot is checked against Envoy's protos and the proxy's xDS schemas.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { proxySnapshot } from '../../../control-plane/translate/index.ts';
import type { MeshOptions } from '../../../control-plane/translate/index.ts';
import { createTestCa } from '../../support/test-pki.ts';
import { byName, hcmOf, identity, meshOf, service, snapshotProblems, workload } from './translate-kit.ts';

type Json = Record<string, unknown>;

const CERTS: MeshOptions = { workloadCertificates: true };
const REVIEWS_PROXY = { LABELS: { app: 'reviews', version: 'v1' }, INSTANCE_IPS: '10.0.0.1' };
const registry = service('reviews') + workload('reviews', 'v1', '10.0.0.1');

const pa = (name: string, ns: string, spec: string) => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: ${name}, namespace: ${ns}}
spec: ${spec}
---
`;
const ap = (name: string, spec: string, ns = 'default', annotations = '') => `apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: ${ns}${annotations}}
spec: ${spec}
---
`;

/** The snapshot of the reviews v1 sidecar, checked against Envoy's protos and the proxy's schemas. */
function reviewsSnapshot(yaml: string, options: MeshOptions = CERTS, proxy: Json = REVIEWS_PROXY) {
  const { mesh, errors } = meshOf(registry + yaml, options);
  expect(errors).toEqual([]);
  const s = proxySnapshot(mesh, identity(proxy));
  expect(snapshotProblems(s)).toEqual([]);
  return s;
}

const inbound = (yaml: string, options?: MeshOptions) => byName(reviewsSnapshot(yaml, options).listeners, 'inbound|8080');
const httpFilters = (yaml: string) => hcmOf(inbound(yaml))['http_filters'] as Json[];

const DOWNSTREAM_MTLS = {
  name: 'envoy.transport_sockets.tls',
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
    common_tls_context: {
      tls_params: {
        tls_minimum_protocol_version: 'TLSv1_2', tls_maximum_protocol_version: 'TLSv1_3',
        cipher_suites: ['ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-GCM-SHA256'],
      },
      alpn_protocols: ['http/1.1'],
      tls_certificate_sds_secret_configs: [{ name: 'default' }],
      combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: { name: 'ROOTCA' } },
    },
    require_client_certificate: true,
  },
};
const TLS_INSPECTOR = [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } }];

describe('PeerAuthentication → inbound filter chains', () => {
  it('STRICT: tls_inspector and one mTLS chain (plaintext matches no chain); PERMISSIVE: mTLS and plaintext chains; DISABLE: plaintext', () => {
    const strict = inbound(pa('default', 'default', '{mtls: {mode: STRICT}}'));
    expect(strict['listener_filters']).toEqual(TLS_INSPECTOR);
    const chains = strict['filter_chains'] as Json[];
    expect(chains.map((c) => [c['filter_chain_match'], c['transport_socket']])).toEqual([[{ transport_protocol: 'tls' }, DOWNSTREAM_MTLS]]);

    const permissive = inbound(pa('default', 'default', '{mtls: {mode: PERMISSIVE}}'));
    expect(permissive['listener_filters']).toEqual(TLS_INSPECTOR);
    const both = permissive['filter_chains'] as Json[];
    expect(both.map((c) => [c['filter_chain_match'], c['transport_socket']])).toEqual([[{ transport_protocol: 'tls' }, DOWNSTREAM_MTLS], [{ transport_protocol: 'raw_buffer' }, undefined]]);
    expect(both[0]!['filters']).toEqual(both[1]!['filters']);

    const disabled = inbound(pa('default', 'default', '{mtls: {mode: DISABLE}}'));
    expect(disabled).not.toHaveProperty('listener_filters');
    expect((disabled['filter_chains'] as Json[]).map((c) => Object.keys(c))).toEqual([['filters']]);
  });

  const mode = (listener: Json) => {
    const chains = (listener['filter_chains'] as Json[]).map((c) => (c['filter_chain_match'] as Json | undefined)?.['transport_protocol']);
    return chains.length === 2 ? 'PERMISSIVE' : chains[0] === 'tls' ? 'STRICT' : 'DISABLE';
  };
  const wl = (spec: string, ns = 'default') => pa('workload', ns, `{selector: {matchLabels: {app: reviews}}, ${spec}}`);

  it.each<[string, string, MeshOptions, string]>([
    ['nothing said, sidecars with certificates: Istio\'s PERMISSIVE', '', CERTS, 'PERMISSIVE'],
    ['nothing said, no workload certificates: plaintext only', '', {}, 'DISABLE'],
    ['an explicit mode applies without workload certificates too (fails closed)', pa('default', 'default', '{mtls: {mode: STRICT}}'), {}, 'STRICT'],
    ['mesh-wide (root namespace)', pa('default', 'istio-system', '{mtls: {mode: STRICT}}'), CERTS, 'STRICT'],
    ['the namespace overrides the mesh', pa('m', 'istio-system', '{mtls: {mode: STRICT}}') + pa('n', 'default', '{mtls: {mode: DISABLE}}'), CERTS, 'DISABLE'],
    ['namespace UNSET inherits the mesh', pa('m', 'istio-system', '{mtls: {mode: STRICT}}') + pa('n', 'default', '{mtls: {mode: UNSET}}'), CERTS, 'STRICT'],
    ['another namespace\'s policy does not apply', pa('n', 'prod', '{mtls: {mode: STRICT}}'), CERTS, 'PERMISSIVE'],
    ['the workload overrides the namespace', pa('n', 'default', '{mtls: {mode: STRICT}}') + wl('mtls: {mode: PERMISSIVE}'), CERTS, 'PERMISSIVE'],
    ['a workload policy without mtls inherits', pa('n', 'default', '{mtls: {mode: STRICT}}') + wl('portLevelMtls: {9999: {mode: DISABLE}}'), CERTS, 'STRICT'],
    ['a selector that does not match', pa('n', 'default', '{mtls: {mode: STRICT}}') + pa('w', 'default', '{selector: {matchLabels: {app: ratings}}, mtls: {mode: DISABLE}}'), CERTS, 'STRICT'],
    ['portLevelMtls overrides for its (workload) port', wl('mtls: {mode: STRICT}, portLevelMtls: {8080: {mode: DISABLE}}'), CERTS, 'DISABLE'],
    ['portLevelMtls UNSET inherits the workload mode', pa('n', 'default', '{mtls: {mode: DISABLE}}') + wl('mtls: {mode: STRICT}, portLevelMtls: {8080: {mode: UNSET}}'), CERTS, 'STRICT'],
    ['the first workload policy in load order wins (Istio: the oldest)', wl('mtls: {mode: STRICT}') + pa('w2', 'default', '{selector: {matchLabels: {version: v1}}, mtls: {mode: DISABLE}}'), CERTS, 'STRICT'],
  ])('%s', (_name, yaml, options, expected) => {
    expect(mode(inbound(yaml, options))).toBe(expected);
  });

  it('every inbound HCM forwards the caller\'s identity to the application as Istio\'s does: XFCC APPEND_FORWARD with subject, DNS and URI', () => {
    expect(hcmOf(inbound(''))).toMatchObject({ forward_client_cert_details: 'APPEND_FORWARD', set_current_client_cert_details: { subject: true, dns: true, uri: true } });
  });

  it('policies Istio would not use are warnings: a selector in the root namespace, a second namespace-wide policy', () => {
    const { mesh, errors } = meshOf(registry + pa('sel', 'istio-system', '{selector: {matchLabels: {app: reviews}}, mtls: {mode: DISABLE}}') +
      pa('a', 'default', '{mtls: {mode: STRICT}}') + pa('b', 'default', '{mtls: {mode: DISABLE}}'), CERTS);
    expect(errors).toEqual([
      'mesh.yaml[2]:15 PeerAuthentication istio-system/sel: warning: spec.selector: a PeerAuthentication with a selector in the root namespace (istio-system) is not applied, as in Istio: put workload-level policies in the workload\'s namespace',
      'mesh.yaml[4]:25 PeerAuthentication default/b: warning: metadata.name: namespace default already has PeerAuthentication default/a, loaded first (Istio keeps the oldest): this one is not applied',
    ]);
    expect(mesh.peerAuthentications.modeFor('default', { app: 'reviews' }, 8080)).toBe('STRICT');
  });
});

const RBAC = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
const ANY_PERMISSION = { and_rules: { rules: [{ any: true }] } };
const ANY_PRINCIPAL = { and_ids: { ids: [{ any: true }] } };
const or = (ids: Json[]) => ({ or_ids: { ids } });
const orRules = (rules: Json[]) => ({ or_rules: { rules } });
const authn = (principal_name: Json) => ({ authenticated: { principal_name } });

describe('AuthorizationPolicy → RBAC filters', () => {
  it('no policy: no RBAC filter; DENY, ALLOW and AUDIT: one filter each, AUDIT (LOG) first, then DENY, then ALLOW, before the router', () => {
    expect(httpFilters('').map((f) => f['name'])).toEqual(['envoy.filters.http.router']);
    const filters = httpFilters(ap('allow', '{rules: [{}]}') + ap('deny', '{action: DENY, rules: [{}]}') + ap('audit', '{action: AUDIT, rules: [{}]}'));
    const everything = { permissions: [ANY_PERMISSION], principals: [ANY_PRINCIPAL] };
    expect(filters).toEqual([
      { name: 'envoy.filters.http.rbac', typed_config: { '@type': RBAC, rules: { action: 'LOG', policies: { 'ns[default]-policy[audit]-rule[0]': everything } } } },
      { name: 'istio.authorization.deny', typed_config: { '@type': RBAC, rules: { action: 'DENY', policies: { 'ns[default]-policy[deny]-rule[0]': everything } } } },
      { name: 'istio.authorization.allow', typed_config: { '@type': RBAC, rules: { policies: { 'ns[default]-policy[allow]-rule[0]': everything } } } },
      expect.objectContaining({ name: 'envoy.filters.http.router' }),
    ]);
  });

  it('spec: {} (ALLOW without rules) matches nothing: every request is denied', () => {
    expect(httpFilters(ap('deny-all', '{}'))[0]).toEqual({ name: 'istio.authorization.allow', typed_config: { '@type': RBAC, rules: { policies: {
      'ns[default]-policy[deny-all]-rule[0]': { permissions: [{ not_rule: { any: true } }], principals: [{ not_id: { any: true } }] },
    } } } });
  });

  it('selection: the proxy\'s namespace and the root namespace; selectors match the proxy\'s labels (from the root namespace, in any namespace)', () => {
    const names = (yaml: string) => Object.keys(((httpFilters(yaml)[0]!['typed_config'] as Json)['rules'] as Json)['policies'] as Json);
    expect(names(ap('mine', '{rules: [{}]}') + ap('mesh', '{rules: [{}]}', 'istio-system') + ap('root-selected', '{selector: {matchLabels: {app: reviews}}, rules: [{}]}', 'istio-system') +
      ap('other-ns', '{rules: [{}]}', 'prod') + ap('not-me', '{selector: {matchLabels: {app: ratings}}, rules: [{}]}') + ap('me', '{selector: {matchLabels: {version: v1}}, rules: [{}]}')))
      .toEqual(['ns[default]-policy[me]-rule[0]', 'ns[default]-policy[mine]-rule[0]', 'ns[istio-system]-policy[mesh]-rule[0]', 'ns[istio-system]-policy[root-selected]-rule[0]']);
  });

  it('istio.io/dry-run policies become shadow rules with Istio\'s stat prefix', () => {
    expect(httpFilters(ap('dry', '{rules: [{}]}', 'default', ', annotations: {istio.io/dry-run: "true"}'))[0]).toEqual({ name: 'istio.authorization.allow', typed_config: {
      '@type': RBAC, shadow_rules: { policies: { 'ns[default]-policy[dry]-rule[0]': { permissions: [ANY_PERMISSION], principals: [ANY_PRINCIPAL] } } },
      shadow_rules_stat_prefix: 'istio_dry_run_allow_' } });
  });

  const policyOf = (rule: string): Json => {
    const f = httpFilters(ap('p', `{rules: [${rule}]}`))[0]!;
    return (((f['typed_config'] as Json)['rules'] as Json)['policies'] as Json)['ns[default]-policy[p]-rule[0]'] as Json;
  };
  const principalOf = (source: string) => policyOf(`{from: [{source: ${source}}]}`)['principals'];
  const permissionOf = (operation: string) => policyOf(`{to: [{operation: ${operation}}]}`)['permissions'];
  const andIds = (...ids: Json[]) => [{ and_ids: { ids } }];
  const andRules = (...rules: Json[]) => [{ and_rules: { rules } }];

  it.each<[string, string, unknown]>([
    ['principals: exact, prefix*, *suffix, * (SPIFFE URI)', '{principals: ["cluster.local/ns/a/sa/b", "cluster.local/ns/a/*", "*/sa/b", "*"]}', andIds(or([
      authn({ exact: 'spiffe://cluster.local/ns/a/sa/b' }), authn({ prefix: 'spiffe://cluster.local/ns/a/' }),
      authn({ safe_regex: { regex: 'spiffe://.*/sa/b' } }), authn({ safe_regex: { regex: '.+' } })]))],
    ['notPrincipals', '{notPrincipals: ["cluster.local/ns/a/sa/b"]}', andIds({ not_id: or([authn({ exact: 'spiffe://cluster.local/ns/a/sa/b' })]) })],
    ['namespaces (with *)', '{namespaces: [prod, "team-*"]}', andIds(or([authn({ safe_regex: { regex: '.*/ns/prod/.*' } }), authn({ safe_regex: { regex: '.*/ns/team-.*/.*' } })]))],
    ['notNamespaces', '{notNamespaces: [prod]}', andIds({ not_id: or([authn({ safe_regex: { regex: '.*/ns/prod/.*' } })]) })],
    ['serviceAccounts: <ns>/<sa> or <sa> in the policy\'s namespace', '{serviceAccounts: ["prod/api", "web"]}', andIds(or([
      authn({ safe_regex: { regex: 'spiffe://.+/ns/prod/(.+/|)sa/api(/.+)?' } }), authn({ safe_regex: { regex: 'spiffe://.+/ns/default/(.+/|)sa/web(/.+)?' } })]))],
    ['ipBlocks → direct_remote_ip', '{ipBlocks: ["10.0.0.1", "10.1.0.0/16"], notIpBlocks: ["10.1.2.0/24"]}', andIds(
      or([{ direct_remote_ip: { address_prefix: '10.0.0.1', prefix_len: 32 } }, { direct_remote_ip: { address_prefix: '10.1.0.0', prefix_len: 16 } }]),
      { not_id: or([{ direct_remote_ip: { address_prefix: '10.1.2.0', prefix_len: 24 } }]) })],
    ['remoteIpBlocks → remote_ip (IPv6 /128)', '{remoteIpBlocks: ["::1"], notRemoteIpBlocks: ["192.168.0.0/16"]}', andIds(
      or([{ remote_ip: { address_prefix: '::1', prefix_len: 128 } }]), { not_id: or([{ remote_ip: { address_prefix: '192.168.0.0', prefix_len: 16 } }]) })],
    ['Istio\'s order: principals, serviceAccounts, namespaces, remoteIpBlocks, ipBlocks', '{ipBlocks: ["1.2.3.4"], namespaces: [n], principals: [p]}', andIds(
      or([authn({ exact: 'spiffe://p' })]), or([authn({ safe_regex: { regex: '.*/ns/n/.*' } })]), or([{ direct_remote_ip: { address_prefix: '1.2.3.4', prefix_len: 32 } }]))],
  ])('from.source %s', (_name, source, expected) => {
    expect(principalOf(source)).toEqual(expected);
  });

  it.each<[string, string, unknown]>([
    ['methods → :method (prefix*, *suffix, *)', '{methods: [GET, "P*", "*T", "*"], notMethods: [DELETE]}', andRules(
      orRules([{ header: { name: ':method', string_match: { exact: 'GET' } } }, { header: { name: ':method', string_match: { prefix: 'P' } } },
        { header: { name: ':method', string_match: { suffix: 'T' } } }, { header: { name: ':method', present_match: true } }]),
      { not_rule: orRules([{ header: { name: ':method', string_match: { exact: 'DELETE' } } }]) })],
    ['paths → url_path (exact, prefix*, *suffix, *)', '{paths: [/a, "/b/*", "*.css", "*"], notPaths: ["/admin*"]}', andRules(
      orRules([{ url_path: { path: { exact: '/a' } } }, { url_path: { path: { prefix: '/b/' } } }, { url_path: { path: { suffix: '.css' } } }, { url_path: { path: { safe_regex: { regex: '.+' } } } }]),
      { not_rule: orRules([{ url_path: { path: { prefix: '/admin' } } }]) })],
    ['ports → destination_port', '{ports: ["8080", "9090"], notPorts: ["15000"]}', andRules(
      orRules([{ destination_port: 8080 }, { destination_port: 9090 }]), { not_rule: orRules([{ destination_port: 15000 }]) })],
    ['hosts → :authority, case-insensitive', '{hosts: ["reviews.default.svc.cluster.local", "*.example.com", "*"], notHosts: ["admin.*"]}', andRules(
      orRules([{ header: { name: ':authority', string_match: { exact: 'reviews.default.svc.cluster.local', ignore_case: true } } },
        { header: { name: ':authority', string_match: { suffix: '.example.com', ignore_case: true } } }, { header: { name: ':authority', present_match: true } }]),
      { not_rule: orRules([{ header: { name: ':authority', string_match: { prefix: 'admin.', ignore_case: true } } }]) })],
    ['Istio\'s order: hosts, methods, paths, ports', '{ports: ["80"], paths: [/p], methods: [GET], hosts: [h]}', andRules(
      orRules([{ header: { name: ':authority', string_match: { exact: 'h', ignore_case: true } } }]), orRules([{ header: { name: ':method', string_match: { exact: 'GET' } } }]),
      orRules([{ url_path: { path: { exact: '/p' } } }]), orRules([{ destination_port: 80 }]))],
  ])('to.operation %s', (_name, operation, expected) => {
    expect(permissionOf(operation)).toEqual(expected);
  });

  it.each<[string, string, Json]>([
    ['request.headers[x] → a principal header matcher', '{key: "request.headers[x-user]", values: [alice, "adm*"], notValues: ["*"]}', {
      permissions: [ANY_PERMISSION], principals: andIds(
        or([{ header: { name: 'x-user', string_match: { exact: 'alice' } } }, { header: { name: 'x-user', string_match: { prefix: 'adm' } } }]),
        { not_id: or([{ header: { name: 'x-user', present_match: true } }]) }) }],
    ['source.ip → direct_remote_ip', '{key: source.ip, values: ["10.0.0.0/8"]}', { permissions: [ANY_PERMISSION], principals: andIds(or([{ direct_remote_ip: { address_prefix: '10.0.0.0', prefix_len: 8 } }])) }],
    ['remote.ip → remote_ip', '{key: remote.ip, notValues: ["1.1.1.1"]}', { permissions: [ANY_PERMISSION], principals: andIds({ not_id: or([{ remote_ip: { address_prefix: '1.1.1.1', prefix_len: 32 } }]) }) }],
    ['source.namespace', '{key: source.namespace, values: [prod]}', { permissions: [ANY_PERMISSION], principals: andIds(or([authn({ safe_regex: { regex: '.*/ns/prod/.*' } })])) }],
    ['source.principal', '{key: source.principal, values: ["cluster.local/ns/a/sa/b"]}', { permissions: [ANY_PERMISSION], principals: andIds(or([authn({ exact: 'spiffe://cluster.local/ns/a/sa/b' })])) }],
    ['destination.port → a permission', '{key: destination.port, values: ["8080"]}', { permissions: andRules(orRules([{ destination_port: 8080 }])), principals: [ANY_PRINCIPAL] }],
    ['destination.ip → a permission', '{key: destination.ip, values: ["10.0.0.1"]}', { permissions: andRules(orRules([{ destination_ip: { address_prefix: '10.0.0.1', prefix_len: 32 } }])), principals: [ANY_PRINCIPAL] }],
    ['connection.sni → requested_server_name', '{key: connection.sni, values: ["*.local"]}', { permissions: andRules(orRules([{ requested_server_name: { suffix: '.local' } }])), principals: [ANY_PRINCIPAL] }],
  ])('when %s', (_name, condition, expected) => {
    expect(policyOf(`{when: [${condition}]}`)).toEqual(expected);
  });

  it('a rule: one principal per from, one permission per to, each with the when conditions ANDed after its own fields', () => {
    expect(policyOf('{from: [{source: {namespaces: [a]}}, {source: {principals: [p]}}], to: [{operation: {methods: [GET]}}, {operation: {paths: [/x]}}], when: [{key: source.ip, values: ["1.2.3.4"]}, {key: destination.port, values: ["80"]}]}')).toEqual({
      permissions: [
        { and_rules: { rules: [orRules([{ header: { name: ':method', string_match: { exact: 'GET' } } }]), orRules([{ destination_port: 80 }])] } },
        { and_rules: { rules: [orRules([{ url_path: { path: { exact: '/x' } } }]), orRules([{ destination_port: 80 }])] } },
      ],
      principals: [
        { and_ids: { ids: [or([authn({ safe_regex: { regex: '.*/ns/a/.*' } })]), or([{ direct_remote_ip: { address_prefix: '1.2.3.4', prefix_len: 32 } }])] } },
        { and_ids: { ids: [or([authn({ exact: 'spiffe://p' })]), or([{ direct_remote_ip: { address_prefix: '1.2.3.4', prefix_len: 32 } }])] } },
      ],
    });
  });

  it('several rules: one Envoy policy each, rule[<index>]', () => {
    const f = httpFilters(ap('p', '{action: DENY, rules: [{to: [{operation: {paths: [/a]}}]}, {to: [{operation: {paths: [/b]}}]}]}'))[0]!;
    expect(Object.keys((((f['typed_config'] as Json)['rules'] as Json)['policies'] as Json))).toEqual(['ns[default]-policy[p]-rule[0]', 'ns[default]-policy[p]-rule[1]']);
  });
});

const upstream = (sni: string, sans: string[]) => ({
  name: 'envoy.transport_sockets.tls',
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
    common_tls_context: {
      alpn_protocols: ['istio-peer-exchange', 'istio'],
      tls_certificate_sds_secret_configs: [{ name: 'default' }],
      combined_validation_context: {
        default_validation_context: sans.length === 0 ? {} : { match_typed_subject_alt_names: sans.map((exact) => ({ san_type: 'URI', matcher: { exact } })) },
        validation_context_sds_secret_config: { name: 'ROOTCA' },
      },
    },
    sni,
  },
});

describe('outbound TLS: auto mTLS and DestinationRule tls', () => {
  // The files SIMPLE/MUTUAL name: the proxy reads them when it loads the cluster.
  const dir = mkdtempSync(join(tmpdir(), 'nodevoy-dr-tls-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const ca = createTestCa('ratings ca');
  const client = ca.issue({ uris: ['spiffe://cluster.local/ns/default/sa/reviews'] });
  const [caFile, certFile, keyFile] = [['ca.pem', ca.certPem], ['c.pem', client.certPem], ['k.pem', client.keyPem]].map(([name, pem]) => {
    writeFileSync(join(dir, name!), pem!);
    return join(dir, name!);
  });
  const withSa = (app: string, version: string, ip: string, sa: string, labels = '') =>
    workload(app, version, ip).replace(`labels: {app: ${app}, version: ${version}}`, `serviceAccount: ${sa}, labels: {app: ${app}, version: ${version}${labels}}`);
  const ratings = (extra = '') => service('ratings') + withSa('ratings', 'v1', '10.0.1.1', 'ratings') + withSa('ratings', 'v2', '10.0.1.2', 'ratings-v2') + extra;
  const dr = (tls: string, subsets = '') => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings}
spec: {host: ratings, trafficPolicy: {tls: ${tls}}${subsets}}
---
`;
  const socketOf = (yaml: string, cluster = 'outbound|8080||ratings.default.svc.cluster.local', options: MeshOptions = CERTS) =>
    byName(reviewsSnapshot(yaml, options).clusters, cluster)['transport_socket'];
  const SANS = ['spiffe://cluster.local/ns/default/sa/ratings', 'spiffe://cluster.local/ns/default/sa/ratings-v2'];

  it.each<[string, string, string | undefined, unknown]>([
    ['sidecars everywhere: ISTIO_MUTUAL with the service accounts as SANs and Istio\'s SNI', ratings(), undefined, upstream('outbound_.8080_._.ratings.default.svc.cluster.local', SANS)],
    ['a subset cluster: the subset in the SNI, the service\'s SANs', ratings() + dr('{mode: ISTIO_MUTUAL}', ', subsets: [{name: v1, labels: {version: v1}}]'),
      'outbound|8080|v1|ratings.default.svc.cluster.local', upstream('outbound_.8080_.v1_.ratings.default.svc.cluster.local', SANS)],
    ['no sidecar (security.istio.io/tlsMode: disabled): plaintext', service('ratings') + withSa('ratings', 'v1', '10.0.1.1', 'r', ', security.istio.io/tlsMode: disabled'), undefined, undefined],
    ['the destination\'s PeerAuthentication is DISABLE: plaintext', ratings(pa('r', 'default', '{selector: {matchLabels: {app: ratings}}, mtls: {mode: DISABLE}}')), undefined, undefined],
    ['DISABLE on another port of the destination changes nothing', ratings(pa('r', 'default', '{selector: {matchLabels: {app: ratings}}, portLevelMtls: {9999: {mode: DISABLE}}}')), undefined, upstream('outbound_.8080_._.ratings.default.svc.cluster.local', SANS)],
    ['DestinationRule DISABLE: plaintext', ratings(dr('{mode: DISABLE}')), undefined, undefined],
    ['DestinationRule ISTIO_MUTUAL with its own sni and subjectAltNames', ratings(dr('{mode: ISTIO_MUTUAL, sni: r.example, subjectAltNames: ["spiffe://cluster.local/ns/x/sa/y"]}')), undefined,
      upstream('r.example', ['spiffe://cluster.local/ns/x/sa/y'])],
    ['DestinationRule SIMPLE with a CA, SANs (URI, DNS, IP) and sni', ratings(dr(`{mode: SIMPLE, caCertificates: ${caFile}, sni: ratings.example, subjectAltNames: ["spiffe://td/ns/a/sa/b", ratings.example, "10.0.0.9"]}`)), undefined, {
      name: 'envoy.transport_sockets.tls',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', common_tls_context: { validation_context: {
        trusted_ca: { filename: caFile }, match_typed_subject_alt_names: [
          { san_type: 'URI', matcher: { exact: 'spiffe://td/ns/a/sa/b' } }, { san_type: 'DNS', matcher: { exact: 'ratings.example' } }, { san_type: 'IP_ADDRESS', matcher: { exact: '10.0.0.9' } }] } },
      sni: 'ratings.example' } }],
    ['DestinationRule MUTUAL: the client certificate from files', ratings(dr(`{mode: MUTUAL, clientCertificate: ${certFile}, privateKey: ${keyFile}, caCertificates: ${caFile}}`)), undefined, {
      name: 'envoy.transport_sockets.tls',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', common_tls_context: {
        tls_certificates: [{ certificate_chain: { filename: certFile }, private_key: { filename: keyFile } }], validation_context: { trusted_ca: { filename: caFile } } } } }],
    ['insecureSkipVerify: no validation context', ratings(dr('{mode: SIMPLE, insecureSkipVerify: true}')), undefined, {
      name: 'envoy.transport_sockets.tls', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', common_tls_context: {} } }],
  ])('%s', (_name, yaml, cluster, expected) => {
    expect(socketOf(yaml, cluster)).toEqual(expected);
  });

  it('without workload certificates there is no auto mTLS; DestinationRule ISTIO_MUTUAL still applies', () => {
    expect(socketOf(ratings(), undefined, {})).toBeUndefined();
    expect(socketOf(ratings(dr('{mode: ISTIO_MUTUAL}')), undefined, {})).toEqual(upstream('outbound_.8080_._.ratings.default.svc.cluster.local', SANS));
  });

  it('the trust domain is a control-plane option', () => {
    expect(socketOf(ratings(), undefined, { ...CERTS, trustDomain: 'example.org' })).toEqual(upstream('outbound_.8080_._.ratings.default.svc.cluster.local',
      ['spiffe://example.org/ns/default/sa/ratings', 'spiffe://example.org/ns/default/sa/ratings-v2']));
  });

  it('a service with and without sidecars stays plaintext, with a warning; SIMPLE without caCertificates is a warning', () => {
    const mixed = service('ratings') + withSa('ratings', 'v1', '10.0.1.1', 'r') + withSa('ratings', 'v2', '10.0.1.2', 'r', ', security.istio.io/tlsMode: disabled');
    const { mesh, errors } = meshOf(registry + mixed + dr('{mode: SIMPLE}').replace('host: ratings', 'host: reviews').replace('name: ratings', 'name: reviews'), CERTS);
    expect(errors).toEqual([
      'mesh.yaml[5]:34 DestinationRule default/reviews: warning: spec.trafficPolicy.tls.caCertificates: mode SIMPLE without caCertificates: the server\'s certificate is not verified (nodevoy has no system CA roots; Istio would verify against the OS roots). Give caCertificates, or insecureSkipVerify: true to say it is intended',
      'mesh.yaml[2]:15 ServiceEntry default/ratings: warning: spec.workloadSelector: host "ratings.default.svc.cluster.local": auto mTLS: 1 of the 2 endpoints of port 8080 run a sidecar that accepts mTLS, the others do not; Istio would pick per endpoint (transport_socket_matches), which nodevoy does not implement, so the cluster stays plaintext and the mTLS endpoints get plaintext (refused where they are STRICT). Set the DestinationRule\'s tls mode to choose',
    ]);
    expect(byName(proxySnapshot(mesh, identity(REVIEWS_PROXY)).clusters, 'outbound|8080||ratings.default.svc.cluster.local')).not.toHaveProperty('transport_socket');
  });

  it('inbound clusters (to the local app) never originate TLS', () => {
    expect(byName(reviewsSnapshot('').clusters, 'inbound|8080||')).not.toHaveProperty('transport_socket');
  });
});
