// Istio's workload facts in their three encodings: node.metadata (with the defaults Istio's injector and agent
// supply), the x-envoy-peer-metadata header (base64 protobuf Struct, checked against protobufjs), and the EDS
// endpoint string `<workload>;<namespace>;<canonical service>;<canonical revision>;<cluster>`.

import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import {
  canonicalService, decodePeerMetadataHeader, encodePeerMetadataHeader, endpointWorkloadString, workloadFromEndpointString,
  workloadFromNodeMetadata, workloadFromStruct, workloadToStruct,
} from '../../../proxy/common/workload-metadata.ts';

const Struct = protobuf.Root.fromJSON(protobuf.common.get('google/protobuf/struct.proto')!).lookupType('google.protobuf.Struct');

const REVIEWS = {
  NAME: 'reviews-v1-7d8f', WORKLOAD_NAME: 'reviews-v1', NAMESPACE: 'default', CLUSTER_ID: 'Kubernetes', SERVICE_ACCOUNT: 'bookinfo-reviews',
  OWNER: 'kubernetes://apis/apps/v1/namespaces/default/deployments/reviews-v1', INSTANCE_IPS: '10.0.0.2',
  LABELS: { app: 'reviews', version: 'v1', 'service.istio.io/canonical-name': 'reviews-svc', 'service.istio.io/canonical-revision': 'r1' },
};

describe('workload metadata', () => {
  it('reads a sidecar\'s node.metadata (Istio\'s keys)', () => {
    expect(workloadFromNodeMetadata(REVIEWS)).toEqual({
      instanceName: 'reviews-v1-7d8f', namespace: 'default', workloadName: 'reviews-v1', clusterName: 'Kubernetes',
      canonicalName: 'reviews-svc', canonicalRevision: 'r1', appName: 'reviews', appVersion: 'v1', workloadType: 'deployment',
    });
  });

  it('applies the injector\'s and agent\'s defaults: workload = NAME, canonical service = app, revision = version, cluster Kubernetes', () => {
    expect(workloadFromNodeMetadata({ NAME: 'pp-1', NAMESPACE: 'shop', LABELS: '{"app":"productpage","version":"v2"}' })).toEqual({
      instanceName: 'pp-1', namespace: 'shop', workloadName: 'pp-1', clusterName: 'Kubernetes',
      canonicalName: 'productpage', canonicalRevision: 'v2', appName: 'productpage', appVersion: 'v2', workloadType: '',
    });
    expect(workloadFromNodeMetadata({ WORKLOAD_NAME: 'batch', LABELS: 'not json' })).toMatchObject({ canonicalName: 'batch', canonicalRevision: 'latest', appName: '' });
  });

  it.each<[string, Record<string, string>, { name: string; revision: string }]>([
    ['canonical labels first', { 'service.istio.io/canonical-name': 'a', 'app.kubernetes.io/name': 'b', app: 'c', 'service.istio.io/canonical-revision': 'r', version: 'v' }, { name: 'a', revision: 'r' }],
    ['then app.kubernetes.io/*', { 'app.kubernetes.io/name': 'b', app: 'c', 'app.kubernetes.io/version': '2', version: 'v' }, { name: 'b', revision: '2' }],
    ['then app and version', { app: 'c', version: 'v' }, { name: 'c', revision: 'v' }],
    ['then the workload and latest', {}, { name: 'wl', revision: 'latest' }],
  ])('canonicalService: %s', (_name, labels, expected) => {
    expect(canonicalService(labels, 'wl')).toEqual(expected);
  });

  it('x-envoy-peer-metadata is Istio\'s struct (convertWorkloadMetadataToStruct) as base64 protobuf', () => {
    const header = encodePeerMetadataHeader(workloadFromNodeMetadata(REVIEWS));
    expect(Struct.toObject(Struct.decode(Buffer.from(header, 'base64')), { json: true })).toEqual({ fields: {
      CLUSTER_ID: { stringValue: 'Kubernetes' },
      LABELS: { structValue: { fields: {
        app: { stringValue: 'reviews' }, 'service.istio.io/canonical-name': { stringValue: 'reviews-svc' },
        'service.istio.io/canonical-revision': { stringValue: 'r1' }, version: { stringValue: 'v1' },
      } } },
      NAME: { stringValue: 'reviews-v1-7d8f' }, NAMESPACE: { stringValue: 'default' },
      OWNER: { stringValue: 'kubernetes://apis/apps/v1/namespaces/default/deployments/reviews-v1' },
      WORKLOAD_NAME: { stringValue: 'reviews-v1' },
    } });
    expect(decodePeerMetadataHeader(header)).toEqual(workloadFromNodeMetadata(REVIEWS));
  });

  it('reads a header another implementation wrote (fields in any order, extra keys ignored), and refuses garbage', () => {
    const bytes = Struct.encode(Struct.fromObject({ fields: {
      WORKLOAD_NAME: { stringValue: 'ratings-v1' }, NAMESPACE: { stringValue: 'default' }, ISTIO_VERSION: { stringValue: '1.24.0' },
      LABELS: { structValue: { fields: { app: { stringValue: 'ratings' }, version: { stringValue: 'v1' } } } },
    } })).finish();
    expect(decodePeerMetadataHeader(Buffer.from(bytes).toString('base64'))).toEqual({
      instanceName: '', namespace: 'default', workloadName: 'ratings-v1', clusterName: '', canonicalName: '', canonicalRevision: '',
      appName: 'ratings', appVersion: 'v1', workloadType: '',
    });
    expect(decodePeerMetadataHeader(Buffer.from([0x0a, 0x20, 0x01]).toString('base64'))).toBeUndefined();
  });

  it('leaves empty facts out of the struct but always writes LABELS', () => {
    const empty = workloadFromStruct({});
    expect(workloadToStruct(empty)).toEqual({ LABELS: {} });
  });

  it('endpoint metadata: Istio\'s five parts, `latest` left empty, and back (no app or version)', () => {
    expect(endpointWorkloadString('reviews-v1', 'default', { app: 'reviews', version: 'v1' }, 'Kubernetes')).toBe('reviews-v1;default;reviews;v1;Kubernetes');
    expect(endpointWorkloadString('legacy', 'ops', {}, 'Kubernetes')).toBe('legacy;ops;legacy;;Kubernetes');
    expect(workloadFromEndpointString('reviews-v1;default;reviews;v1;Kubernetes')).toEqual({
      instanceName: '', workloadName: 'reviews-v1', namespace: 'default', canonicalName: 'reviews', canonicalRevision: 'v1',
      clusterName: 'Kubernetes', appName: '', appVersion: '', workloadType: '',
    });
    expect(workloadFromEndpointString('a;b;c;d')).toBeUndefined();
  });
});
