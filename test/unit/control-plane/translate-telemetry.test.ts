// Istio's telemetry in the translation: the peer metadata exchange and stats filters in every sidecar HCM (as
// istiod writes them, and in its order), MeshOptions.telemetry turning them off, Istio's `istio.services`
// metadata on clusters and `istio.workload` on endpoints; all of it valid for Envoy's (and Istio's) protos and
// for the proxy's own xDS schemas.

import { describe, expect, it } from 'vitest';
import { loadIstioFiles } from '../../../control-plane/istio/load.ts';
import { proxySnapshot, translateMesh } from '../../../control-plane/translate/index.ts';
import { localRateLimitEnvoyFilter } from '../../support/istio-yaml.ts';
import { byName, hcmOf, identity, meshOf, service, snapshotProblems, workload } from './translate-kit.ts';

type Json = Record<string, unknown>;

const TYPED_STRUCT = 'type.googleapis.com/udpa.type.v1.TypedStruct';
const MX_TYPE = 'type.googleapis.com/io.istio.http.peer_metadata.Config';
const STATS_TYPE = 'type.googleapis.com/stats.PluginConfig';

const MESH = service('reviews', { port: 9080 }) + workload('reviews', 'v1', '10.0.3.1') + `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-canary}
spec:
  address: 10.0.3.9
  labels: {app: reviews, service.istio.io/canonical-name: reviews-next, service.istio.io/canonical-revision: r7}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin, namespace: default}
spec:
  hosts: [httpbin.example.com, httpbin.example.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.9.0.1}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  rules: [{from: [{source: {namespaces: [default]}}]}]
---
` + localRateLimitEnvoyFilter({ name: 'rl', app: 'reviews', maxTokens: 1 });
const REVIEWS_PROXY = { NAMESPACE: 'default', LABELS: { app: 'reviews', version: 'v1' }, INSTANCE_IPS: '10.0.3.1' };

function snapshot(telemetry: boolean) {
  const { mesh, errors } = meshOf(MESH, { workloadCertificates: true, telemetry });
  expect(errors).toEqual([]);
  return proxySnapshot(mesh, identity(REVIEWS_PROXY));
}

/** istiod's peer metadata filter for one direction: learn the peer from its headers (else workload discovery), send ours. */
const metadataExchange = (side: 'upstream' | 'downstream'): Json => ({ name: 'istio.metadata_exchange', typed_config: {
  '@type': TYPED_STRUCT, type_url: MX_TYPE,
  value: { [`${side}_discovery`]: [{ istio_headers: {} }, { workload_discovery: {} }], [`${side}_propagation`]: [{ istio_headers: {} }] },
} });

const filterNames = (listener: Json) => (hcmOf(listener)['http_filters'] as Json[]).map((f) => f['name']);

describe('Istio telemetry in sidecar HCMs', () => {
  it('outbound: the peer metadata exchange first, the stats filter before the router, as istiod writes them', () => {
    const http = hcmOf(byName(snapshot(true).listeners, 'virtualOutbound'))['http_filters'] as Json[];
    expect(http.map((f) => f['name'])).toEqual(['istio.metadata_exchange', 'envoy.filters.http.fault', 'istio.stats', 'envoy.filters.http.router']);
    expect(http[0]).toEqual(metadataExchange('upstream'));
    expect(http[2]).toEqual({ name: 'istio.stats', typed_config: { '@type': STATS_TYPE } });
  });

  it('inbound: exchange, authorization, stats, the EnvoyFilter patches, router; no Host header fallback', () => {
    const http = hcmOf(byName(snapshot(true).listeners, 'inbound|9080'))['http_filters'] as Json[];
    expect(http.map((f) => f['name'])).toEqual(['istio.metadata_exchange', 'istio.authorization.allow', 'istio.stats', 'envoy.filters.http.local_ratelimit', 'envoy.filters.http.router']);
    expect(http[0]).toEqual(metadataExchange('downstream'));
    expect(http[2]).toEqual({ name: 'istio.stats', typed_config: { '@type': STATS_TYPE, disable_host_header_fallback: true } });
  });

  it('is on by default; MeshOptions.telemetry false leaves both filters out (the metadata stays)', () => {
    const byDefault = proxySnapshot(translateMesh(loadIstioFiles([{ file: 'mesh.yaml', text: MESH }]).resources).mesh, identity(REVIEWS_PROXY));
    expect(filterNames(byName(byDefault.listeners, 'virtualOutbound'))).toContain('istio.stats');
    const off = snapshot(false);
    expect(filterNames(byName(off.listeners, 'virtualOutbound'))).toEqual(['envoy.filters.http.fault', 'envoy.filters.http.router']);
    expect(filterNames(byName(off.listeners, 'inbound|9080'))).toEqual(['istio.authorization.allow', 'envoy.filters.http.local_ratelimit', 'envoy.filters.http.router']);
    expect(byName(off.clusters, 'inbound|9080||')).toHaveProperty('metadata');
  });

  it('clusters carry istio.services: a Kubernetes-style host by its service name, another host as itself', () => {
    const s = snapshot(true);
    const services = (name: string) => (((byName(s.clusters, name)['metadata'] as Json)['filter_metadata'] as Json)['istio'] as Json)['services'];
    expect(services('outbound|9080||reviews.default.svc.cluster.local')).toEqual([{ host: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default' }]);
    expect(services('outbound|80||httpbin.example.org')).toEqual([{ host: 'httpbin.example.org', name: 'httpbin.example.org', namespace: 'default' }]);
    // The inbound cluster names the services of the port that select the workload.
    expect(services('inbound|9080||')).toEqual([{ host: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default' }]);
  });

  it('endpoints carry istio.workload: name, namespace, canonical service and revision (latest left empty), cluster', () => {
    const workloads = (cluster: string) => ((byName(snapshot(true).endpoints, cluster, 'cluster_name')['endpoints'] as Json[])[0]!['lb_endpoints'] as Json[])
      .map((e) => (((e['metadata'] as Json)['filter_metadata'] as Json)['istio'] as Json)['workload']);
    expect(workloads('outbound|9080||reviews.default.svc.cluster.local')).toEqual(['reviews-v1;default;reviews;v1;Kubernetes', 'reviews-canary;default;reviews-next;r7;Kubernetes']);
    // An inline ServiceEntry endpoint belongs to the ServiceEntry; without labels its canonical service is that name.
    expect(workloads('outbound|80||httpbin.example.com')).toEqual(['httpbin;default;httpbin;;Kubernetes']);
  });

  it('every resource is valid for Envoy\'s and Istio\'s protos and for the proxy\'s xDS schemas', () => {
    expect(snapshotProblems(snapshot(true))).toEqual([]);
  });
});
