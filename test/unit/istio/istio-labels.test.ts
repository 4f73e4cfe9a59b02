// The label derivation of Istio's stats filter (istio_stats.cc populatePeerInfo): Istio's tag order, `unknown`
// and `latest` where it prints them, the peer's namespace from its SAN first, connection_security_policy, and
// destination_service from the route name, passthrough clusters, cluster metadata or the Host header.

import { describe, expect, it } from 'vitest';
import type { WorkloadMetadata } from '../../../proxy/common/workload-metadata.ts';
import {
  clusterServiceFromMetadata, destinationService, peerTags, principalNamespace, securityPolicy, streamTags, type PeerFacts,
} from '../../../proxy/filters/http/istio-stats/istio-labels.ts';
import type { StatTag } from '../../../proxy/stats/scope.ts';

const workload = (name: string, app: string, namespace = 'default'): WorkloadMetadata => ({
  instanceName: `${name}-abc`, namespace, workloadName: name, clusterName: 'Kubernetes', canonicalName: app, canonicalRevision: 'v1',
  appName: app, appVersion: 'v1', workloadType: '',
});
const PRODUCTPAGE = workload('productpage-v1', 'productpage');
const REVIEWS = workload('reviews-v1', 'reviews');
const SA = (ns: string, sa: string) => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;
const asObject = (tags: readonly StatTag[]) => Object.fromEntries(tags.map((t) => [t.name, t.value]));

const facts = (over: Partial<PeerFacts> = {}): PeerFacts => ({
  peer: PRODUCTPAGE, peerPrincipal: SA('default', 'productpage'), localPrincipal: SA('default', 'reviews'),
  serviceHost: 'reviews.default.svc.cluster.local', serviceName: 'reviews', ...over,
});

describe('Istio metric labels', () => {
  it('a destination report: the peer is the source, this proxy the destination, in Istio\'s tag order', () => {
    expect(peerTags('destination', REVIEWS, facts()).map((t) => `${t.name}=${t.value}`)).toEqual([
      'reporter=destination', 'source_workload=productpage-v1', 'source_canonical_service=productpage', 'source_canonical_revision=v1',
      'source_workload_namespace=default', `source_principal=${SA('default', 'productpage')}`, 'source_app=productpage', 'source_version=v1',
      'source_cluster=Kubernetes', 'destination_workload=reviews-v1', 'destination_workload_namespace=default',
      `destination_principal=${SA('default', 'reviews')}`, 'destination_app=reviews', 'destination_version=v1',
      'destination_service=reviews.default.svc.cluster.local', 'destination_canonical_service=reviews', 'destination_canonical_revision=v1',
      'destination_service_name=reviews', 'destination_service_namespace=default', 'destination_cluster=Kubernetes',
    ]);
  });

  it('a source report: this proxy is the source, the peer the destination; the peer\'s namespace names the service namespace', () => {
    const tags = asObject(peerTags('source', PRODUCTPAGE, facts({
      peer: workload('reviews-v1', 'reviews', 'shop'), peerPrincipal: SA('shop', 'reviews'), localPrincipal: SA('default', 'productpage'),
    })));
    expect(tags).toMatchObject({
      reporter: 'source', source_workload: 'productpage-v1', source_principal: SA('default', 'productpage'), source_cluster: 'Kubernetes',
      destination_workload: 'reviews-v1', destination_workload_namespace: 'shop', destination_principal: SA('shop', 'reviews'),
      destination_service_namespace: 'shop', destination_canonical_revision: 'v1',
    });
  });

  it('an unknown peer: `unknown` everywhere Istio prints it, `latest` for its canonical revision', () => {
    const none = facts({ peer: undefined, peerPrincipal: '', localPrincipal: '', serviceHost: '', serviceName: '' });
    expect(asObject(peerTags('destination', REVIEWS, none))).toMatchObject({
      source_workload: 'unknown', source_canonical_service: 'unknown', source_canonical_revision: 'latest', source_workload_namespace: 'unknown',
      source_principal: 'unknown', source_app: 'unknown', source_version: 'unknown', source_cluster: 'unknown', destination_principal: 'unknown',
      // No service known: this workload's canonical service stands in.
      destination_service: 'reviews', destination_service_name: 'reviews',
    });
    expect(asObject(peerTags('source', PRODUCTPAGE, none))).toMatchObject({
      source_principal: 'unknown', destination_workload: 'unknown', destination_workload_namespace: 'unknown', destination_principal: 'unknown',
      destination_app: 'unknown', destination_version: 'unknown', destination_service: 'unknown', destination_canonical_service: 'unknown',
      destination_canonical_revision: 'latest', destination_service_name: 'unknown', destination_service_namespace: 'unknown', destination_cluster: 'unknown',
    });
  });

  it('this proxy\'s own facts are printed as its node metadata gives them (empty stays empty)', () => {
    const bare: WorkloadMetadata = { ...REVIEWS, appName: '', appVersion: '' };
    expect(asObject(peerTags('destination', bare, facts()))).toMatchObject({ destination_app: '', destination_version: '' });
  });

  it('the peer\'s namespace comes from its SAN before its metadata', () => {
    expect(asObject(peerTags('destination', REVIEWS, facts({ peerPrincipal: SA('other', 'x') })))['source_workload_namespace']).toBe('other');
    expect(asObject(peerTags('destination', REVIEWS, facts({ peerPrincipal: '' })))['source_workload_namespace']).toBe('default');
    expect(principalNamespace('spiffe://td/ns/a/sa/b')).toBe('a');
    expect(principalNamespace('td/ns/a')).toBe('a');
    expect(principalNamespace('spiffe://td/sa/b')).toBe('');
  });

  it('connection_security_policy and the per-response labels', () => {
    expect(securityPolicy('destination', 'a', 'b')).toBe('mutual_tls');
    expect(securityPolicy('destination', '', 'b')).toBe('none');
    expect(securityPolicy('source', 'a', 'b')).toBe('unknown');
    expect(streamTags(503, 'UF,URX', 'unknown')).toEqual([
      { name: 'request_protocol', value: 'http' }, { name: 'response_code', value: '503' }, { name: 'grpc_response_status', value: '' },
      { name: 'response_flags', value: 'UF,URX' }, { name: 'connection_security_policy', value: 'unknown' },
    ]);
  });

  it('destination_service: cluster metadata, else the Host header (when allowed); special routes and clusters', () => {
    const svc = clusterServiceFromMetadata({ filter_metadata: { istio: { services: [{ host: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default' }] } } });
    expect(svc).toEqual({ host: 'reviews.default.svc.cluster.local', name: 'reviews' });
    expect(destinationService('default', 'outbound|9080||reviews.default.svc.cluster.local', svc, 'reviews:9080'))
      .toEqual({ host: 'reviews.default.svc.cluster.local', name: 'reviews' });
    // No name: the host's first label.
    expect(destinationService('', 'c', clusterServiceFromMetadata({ filter_metadata: { istio: { services: [{ host: 'api.example.com' }] } } }), undefined))
      .toEqual({ host: 'api.example.com', name: 'api' });
    expect(destinationService('', 'c', undefined, 'reviews:9080')).toEqual({ host: 'reviews:9080', name: 'reviews:9080' });
    expect(destinationService('', 'c', undefined, undefined)).toEqual({ host: '', name: '' });
    expect(destinationService('block_all', 'c', svc, 'h')).toEqual({ host: 'h', name: 'BlackHoleCluster' });
    expect(destinationService('allow_any', 'c', svc, 'h')).toEqual({ host: 'h', name: 'PassthroughCluster' });
    expect(destinationService('', 'InboundPassthroughClusterIpv4', svc, undefined)).toEqual({ host: '', name: 'InboundPassthroughClusterIpv4' });
    expect(clusterServiceFromMetadata(undefined)).toBeUndefined();
    expect(clusterServiceFromMetadata({ filter_metadata: { istio: { services: [] } } })).toBeUndefined();
  });
});
