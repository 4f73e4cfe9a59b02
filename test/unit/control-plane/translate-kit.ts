// Shared by the translate-*.test.ts files: Istio YAML → mesh → one proxy's snapshot, lookups into the
// snapshot by name, the service registry the seed articles' YAML runs against, and the check of emitted
// resources against Envoy's protos and the proxy's own xDS schemas (with a sidecar's `default`/`ROOTCA` secrets).

import { expect } from 'vitest';
import { formatIstioError, loadIstioFiles } from '../../../control-plane/istio/load.ts';
import { proxyIdentity, proxySnapshot, translateMesh, type Mesh, type MeshOptions } from '../../../control-plane/translate/index.ts';
import { XDS_TYPES, type ProxyIdentity, type ProxySnapshot, type XdsKind } from '../../../control-plane/xds/snapshot.ts';
import { parseWith } from '../../../proxy/config/schema-kit.ts';
import { SecretSchema } from '../../../proxy/secrets/secret-schema.ts';
import { withSecrets } from '../../../proxy/secrets/secret-scope.ts';
import { StaticSecrets } from '../../../proxy/secrets/static-secrets.ts';
import {
  clusterLoadAssignmentResourceType, clusterResourceType, listenerResourceType, routeConfigurationResourceType,
} from '../../../proxy/xds/resource-types.ts';
import { validateEnvoyJson } from '../../support/envoy-proto.ts';
import { createTestCa, spiffeId } from '../../support/test-pki.ts';

type Json = Record<string, unknown>;

/**
 * A mesh from YAML that must load without errors; translation errors are returned for the test to judge. Istio's
 * telemetry filters are left out unless `options.telemetry` asks for them: each translate test looks at one
 * concern, and translate-telemetry.test.ts covers those filters.
 */
export function meshOf(yaml: string, options: MeshOptions = {}): { mesh: Mesh; errors: string[] } {
  const loaded = loadIstioFiles([{ file: 'mesh.yaml', text: yaml }]);
  expect(loaded.errors.map(formatIstioError)).toEqual([]);
  const { mesh, errors } = translateMesh(loaded.resources, { telemetry: false, ...options });
  return { mesh, errors: errors.map(formatIstioError) };
}

let sidecarSecrets: StaticSecrets | undefined;

/** The static secrets a sidecar bootstrap gives the mesh's SDS names: `default` (its SVID) and `ROOTCA`. */
function meshSecrets(): StaticSecrets {
  if (sidecarSecrets !== undefined) return sidecarSecrets;
  const ca = createTestCa('mesh root');
  const svid = ca.issue({ uris: [spiffeId('default', 'sidecar')] });
  const wires = [
    { name: 'default', tls_certificate: { certificate_chain: { inline_string: svid.certPem }, private_key: { inline_string: svid.keyPem } } },
    { name: 'ROOTCA', validation_context: { trusted_ca: { inline_string: ca.certPem } } },
  ].map((w, i) => {
    const r = parseWith(SecretSchema, w, `secrets[${i}]`);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.value;
  });
  const built = StaticSecrets.build(wires, 'static_resources.secrets');
  if (built.errors.length > 0) throw new Error(JSON.stringify(built.errors));
  sidecarSecrets = built.secrets;
  return sidecarSecrets;
}

const PROXY_TYPES = { listeners: listenerResourceType, routes: routeConfigurationResourceType, clusters: clusterResourceType, endpoints: clusterLoadAssignmentResourceType };

/**
 * Every problem of a snapshot: each resource against Envoy's v3 protos, and each type as the proxy's xDS
 * client validates it, for a sidecar whose bootstrap has the `default` and `ROOTCA` static secrets.
 */
export function snapshotProblems(s: ProxySnapshot): string[] {
  const problems: string[] = [];
  for (const kind of Object.keys(XDS_TYPES) as XdsKind[]) {
    for (const r of s[kind]) problems.push(...validateEnvoyJson(XDS_TYPES[kind], r).map((p) => `${kind} ${String(r['name'] ?? r['cluster_name'])}: ${p}`));
    const accepted = withSecrets(meshSecrets(), () => PROXY_TYPES[kind].validate(s[kind]));
    if (!accepted.ok) problems.push(...accepted.errors.map((e) => `${kind} (proxy): ${e.path}: ${e.message}`));
  }
  return problems;
}

export function identity(metadata: Json = {}): ProxyIdentity {
  const r = proxyIdentity({ id: 'sidecar-under-test', metadata });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

/** The snapshot of a proxy (default: namespace default, no labels) for a mesh whose YAML translates cleanly. */
export function snapshotOf(yaml: string, metadata: Json = {}, options: MeshOptions = {}): ProxySnapshot {
  const { mesh, errors } = meshOf(yaml, options);
  expect(errors).toEqual([]);
  return proxySnapshot(mesh, identity(metadata));
}

export function byName(resources: readonly Json[], name: string, key = 'name'): Json {
  const r = resources.find((x) => x[key] === name);
  if (r === undefined) throw new Error(`no resource named ${name} (have ${resources.map((x) => String(x[key])).join(', ')})`);
  return r;
}

export function virtualHost(s: ProxySnapshot, name: string): Json {
  return byName(s.routes[0]!['virtual_hosts'] as Json[], name);
}

/** The routes of the virtual host `<host>:<port>`. */
export function routesOf(s: ProxySnapshot, name: string): Json[] {
  return virtualHost(s, name)['routes'] as Json[];
}

export function hcmOf(listener: Json): Json {
  const chains = listener['filter_chains'] as { filters: { typed_config: Json }[] }[];
  return chains[0]!.filters[0]!.typed_config;
}

/** A STATIC HTTP service `<name>.<ns>.svc.cluster.local` on `port`, selecting workloads by `app: <name>`. */
export function service(name: string, opts: { namespace?: string; port?: number; extra?: string } = {}): string {
  const ns = opts.namespace ?? 'default';
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${name}.${ns}.svc.cluster.local]
  ports: [{number: ${opts.port ?? 8080}, name: http, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {labels: {app: ${name}}}
${opts.extra ?? ''}---
`;
}

/** A WorkloadEntry `app: <app>, version: <version>` at `address`. */
export function workload(app: string, version: string, address: string, namespace = 'default'): string {
  return `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${app}-${version}, namespace: ${namespace}}
spec: {address: ${address}, labels: {app: ${app}, version: ${version}}}
---
`;
}

/**
 * The registry the seed articles assume (their services as ServiceEntries, two versions each) plus the
 * bookinfo DestinationRule that 004's article applies before its VirtualService (samples/bookinfo).
 */
export const SEED_REGISTRY = [
  service('product-service') + workload('product-service', 'v1', '10.0.0.1') + workload('product-service', 'v2', '10.0.0.2'),
  service('payment-service') + workload('payment-service', 'v1', '10.0.1.1') + workload('payment-service', 'v2', '10.0.1.2'),
  service('payment-service', { namespace: 'production' }) + workload('payment-service', 'v1', '10.1.1.1', 'production') +
    workload('payment-service', 'v2', '10.1.1.2', 'production'),
  service('order-service') + workload('order-service', 'v1', '10.0.2.1') + workload('order-service', 'v2', '10.0.2.2'),
  service('reviews', { port: 9080 }) + workload('reviews', 'v1', '10.0.3.1') + workload('reviews', 'v2', '10.0.3.2'),
  `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`,
].join('');
