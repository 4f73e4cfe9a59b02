// Tests bench/lib/telemetry-configs.ts: the `on` sidecar bootstrap of the telemetry benchmark is the `off` one plus
// the control plane's outbound telemetry filters (exactly), tracing at 1 % to the collector's cluster, node, cluster
// and endpoint metadata and an OUTBOUND listener; both pass nodevoy's own bootstrap validation; the upstream's peer
// metadata headers decode to its workload.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { telemetryFilters } from '../../../control-plane/translate/telemetry.ts';
import { decodePeerMetadataHeader, workloadFromNodeMetadata } from '../../../proxy/common/workload-metadata.ts';
import { validateBootstrap } from '../../../proxy/config/bootstrap.ts';
import { SIDECAR_BOOTSTRAP } from '../../../bench/lib/peers.ts';
import {
  CLIENT_NODE_METADATA, SIDECAR_STAT_PREFIX, TRACE_SAMPLING_PCT, ZIPKIN_CLUSTER, ZIPKIN_ENDPOINT, upstreamPeerHeaders, withTelemetry,
} from '../../../bench/lib/telemetry-configs.ts';
import { renderBootstrap } from '../../../bench/lib/templates.ts';

type Json = Record<string, any>;

const off = renderBootstrap(readFileSync(SIDECAR_BOOTSTRAP, 'utf8'), { adminPort: 4001, listenerPort: 4002, upstreamPort: 4003 });
const on = withTelemetry(off, { collectorPort: 4004 });
const [offDoc, onDoc] = [parse(off) as Json, parse(on) as Json];
const hcm = (doc: Json): Json => doc['static_resources'].listeners[0].filter_chains[0].filters[0].typed_config;

describe('withTelemetry', () => {
  it('puts the control plane\'s outbound telemetry filters around the HCM\'s own: metadata exchange first, stats right before the router', () => {
    const { first, beforeRouter } = telemetryFilters(true, 'OUTBOUND');
    const own = hcm(offDoc)['http_filters'] as Json[];
    expect(own.map((f) => f['name'])).toEqual(['envoy.filters.http.router']);
    expect(hcm(onDoc)['http_filters']).toEqual([...first, ...beforeRouter, ...own]);
    expect((hcm(onDoc)['http_filters'] as Json[]).map((f) => f['name'])).toEqual(['istio.metadata_exchange', 'istio.stats', 'envoy.filters.http.router']);
  });

  it('traces 1 % of requests with Zipkin to the collector\'s cluster, which points at the collector', () => {
    const tracing = hcm(onDoc)['tracing'];
    expect(TRACE_SAMPLING_PCT).toBe(1);
    expect(tracing['random_sampling']).toEqual({ value: 1 });
    expect(tracing['provider']).toMatchObject({
      name: 'envoy.tracers.zipkin',
      typed_config: { collector_cluster: ZIPKIN_CLUSTER, collector_endpoint: ZIPKIN_ENDPOINT, collector_endpoint_version: 'HTTP_JSON' },
    });
    const collector = (onDoc['static_resources'].clusters as Json[]).find((c) => c['name'] === ZIPKIN_CLUSTER)!;
    expect(collector['load_assignment'].endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: '127.0.0.1', port_value: 4004 });
    expect(withTelemetry(off, { collectorPort: 4004, samplingPct: 10 })).toContain('value: 10');
  });

  it('gives the proxy its workload (node metadata), an OUTBOUND listener, and the cluster and endpoint metadata the control plane writes', () => {
    expect(onDoc['node']).toEqual({ ...offDoc['node'], metadata: CLIENT_NODE_METADATA });
    expect(workloadFromNodeMetadata(onDoc['node'].metadata)).toMatchObject({
      workloadName: 'bench-client', namespace: 'default', appName: 'bench-client', appVersion: 'v1', canonicalName: 'bench-client', workloadType: 'deployment',
    });
    expect(onDoc['static_resources'].listeners[0].traffic_direction).toBe('OUTBOUND');
    const cluster = onDoc['static_resources'].clusters[0];
    expect(cluster.metadata).toEqual({
      filter_metadata: { istio: { services: [{ host: 'bench-upstream.default.svc.cluster.local', name: 'bench-upstream', namespace: 'default' }] } },
    });
    expect(cluster.load_assignment.endpoints[0].lb_endpoints[0].metadata).toEqual({
      filter_metadata: { istio: { workload: 'bench-upstream;default;bench-upstream;v1;Kubernetes' } },
    });
  });

  it('changes nothing else: the route table, the ports, the upstream cluster\'s other fields', () => {
    expect(hcm(onDoc)['route_config']).toEqual(hcm(offDoc)['route_config']);
    expect(hcm(onDoc)['stat_prefix']).toBe(SIDECAR_STAT_PREFIX);
    expect(hcm(offDoc)['stat_prefix']).toBe(SIDECAR_STAT_PREFIX);
    expect(onDoc['admin']).toEqual(offDoc['admin']);
    const { metadata: _m, load_assignment: onLa, ...onCluster } = onDoc['static_resources'].clusters[0];
    const { load_assignment: offLa, ...offCluster } = offDoc['static_resources'].clusters[0];
    expect(onCluster).toEqual(offCluster);
    expect(onLa.endpoints[0].lb_endpoints[0].endpoint).toEqual(offLa.endpoints[0].lb_endpoints[0].endpoint);
    expect(onDoc['static_resources'].clusters).toHaveLength(2);
  });

  it('both bootstraps pass nodevoy\'s own validation (the Istio filters and the Zipkin provider built)', () => {
    for (const doc of [offDoc, onDoc]) {
      const r = validateBootstrap(doc);
      expect(r.ok ? [] : r.errors).toEqual([]);
    }
  });

  it('refuses a bootstrap without an HCM or a router', () => {
    expect(() => withTelemetry('static_resources: { listeners: [], clusters: [] }\n', { collectorPort: 1 })).toThrow(/no static_resources\.listeners\.0/);
    const noRouter = off.replace('envoy.filters.http.router', 'envoy.filters.http.fault');
    expect(() => withTelemetry(noRouter, { collectorPort: 1 })).toThrow(/no envoy\.filters\.http\.router/);
  });
});

describe('upstreamPeerHeaders', () => {
  it('is the upstream workload as Istio\'s x-envoy-peer-metadata encodes it, with a sidecar node id', () => {
    const { id, value } = upstreamPeerHeaders();
    expect(id).toMatch(/^sidecar~127\.0\.0\.1~bench-upstream-/);
    expect(decodePeerMetadataHeader(value)).toMatchObject({
      workloadName: 'bench-upstream', namespace: 'default', appName: 'bench-upstream', appVersion: 'v1', canonicalName: 'bench-upstream', canonicalRevision: 'v1',
      clusterName: 'Kubernetes', workloadType: 'deployment',
    });
  });
});
