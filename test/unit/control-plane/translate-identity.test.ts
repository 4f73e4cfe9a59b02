// proxyIdentity: Istio's node metadata keys and nodevoy's APP_PORTS/OUTBOUND_PORT, their defaults and
// the errors (with paths) for unusable values.

import { describe, expect, it } from 'vitest';
import { proxyIdentity } from '../../../control-plane/translate/index.ts';

describe('proxyIdentity', () => {
  it('applies the defaults', () => {
    expect(proxyIdentity({ id: 'p1' })).toEqual({ ok: true, value: {
      id: 'p1', cluster: '', namespace: 'default', serviceAccount: 'default', labels: {}, instanceIp: '127.0.0.1', appPorts: {}, outboundPort: 15001,
      clusterId: '', meshId: '' } });
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ['reads every key', { id: 'p', cluster: 'reviews.default', metadata: {
      NAMESPACE: 'prod', SERVICE_ACCOUNT: 'sa', LABELS: { app: 'a' }, INSTANCE_IPS: '10.0.0.5,fd00::5', APP_PORTS: { 9080: 19080 }, OUTBOUND_PORT: '0',
      CLUSTER_ID: 'Kubernetes', MESH_ID: 'mesh1' } },
    { cluster: 'reviews.default', namespace: 'prod', serviceAccount: 'sa', labels: { app: 'a' }, instanceIp: '10.0.0.5', appPorts: { 9080: 19080 }, outboundPort: 0,
      clusterId: 'Kubernetes', meshId: 'mesh1' }],
    ['LABELS and APP_PORTS as JSON strings', { id: 'p', metadata: { LABELS: '{"app":"a","version":"v2"}', APP_PORTS: '{"9080":"19080"}' } },
      { labels: { app: 'a', version: 'v2' }, appPorts: { 9080: 19080 } }],
    ['INSTANCE_IPS as a list', { id: 'p', metadata: { INSTANCE_IPS: ['10.0.0.7'] } }, { instanceIp: '10.0.0.7' }],
    ['an Istio sidecar id supplies the address and namespace', { id: 'sidecar~10.0.0.9~reviews-v1.prod~prod.svc.cluster.local' },
      { instanceIp: '10.0.0.9', namespace: 'prod' }],
  ])('%s', (_name, node, expected) => {
    const r = proxyIdentity(node);
    expect(r.ok && r.value).toMatchObject(expected);
  });

  it.each<[string, unknown, string[]]>([
    ['no node', undefined, ['node']],
    ['no id', { metadata: {} }, ['node.id']],
    ['bad values', { id: 'p', metadata: { NAMESPACE: 3, LABELS: { app: 1 }, INSTANCE_IPS: 'not-an-ip', APP_PORTS: { http: 80, 9080: 70000 }, OUTBOUND_PORT: -1 } },
      ['node.metadata.NAMESPACE', 'node.metadata.LABELS.app', 'node.metadata.INSTANCE_IPS', 'node.metadata.APP_PORTS.9080', 'node.metadata.APP_PORTS.http', 'node.metadata.OUTBOUND_PORT']],
    ['LABELS not a map', { id: 'p', metadata: { LABELS: '[1]' } }, ['node.metadata.LABELS']],
  ])('%s → errors at their paths', (_name, node, paths) => {
    const r = proxyIdentity(node);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => e.path).sort()).toEqual([...paths].sort());
  });
});
