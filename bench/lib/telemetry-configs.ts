// The `on` bootstrap of the telemetry benchmark (bench/telemetry-bench.ts): the peers bench's sidecar config
// (bench/configs/nodevoy-envoy.yaml, already rendered with this run's ports) plus what an Istio sidecar with
// telemetry has: node metadata (so the metrics' labels are real), an OUTBOUND listener, Istio's peer metadata
// exchange and stats filters exactly as nodevoy's control plane emits them for an outbound sidecar, the cluster
// and endpoint metadata it writes, and Zipkin tracing at 1 % to a local collector. Pure: text in, text out.

import { parseDocument } from 'yaml';
import { istioClusterMetadata } from '../../control-plane/translate/names.ts';
import { telemetryFilters } from '../../control-plane/translate/telemetry.ts';
import { DEFAULT_CLUSTER_ID, encodePeerMetadataHeader, endpointWorkloadString, workloadFromNodeMetadata } from '../../proxy/common/workload-metadata.ts';
import { REQUEST_HOST } from './load.ts';

type Json = Record<string, unknown>;

const NAMESPACE = 'default';
/** Percent of requests traced: the "1 % trace sampling" (Istio's default is 1 % too). */
export const TRACE_SAMPLING_PCT = 1;
/** The collector's cluster, named as istiod names the Zipkin provider's (STATIC here, to the bench's collector). */
export const ZIPKIN_CLUSTER = 'outbound|9411||zipkin.istio-system.svc.cluster.local';
export const ZIPKIN_ENDPOINT = '/api/v2/spans';
/** The HCM's stat_prefix in bench/configs/nodevoy-envoy.yaml: its counters are `http.<prefix>.*`. */
export const SIDECAR_STAT_PREFIX = 'outbound_0.0.0.0_8080';

/** The pod's labels as Istio's injector leaves them (app, version and the canonical service labels). */
const labels = (app: string): Json => ({
  app, version: 'v1', 'service.istio.io/canonical-name': app, 'service.istio.io/canonical-revision': 'v1',
});

/** The client sidecar's node.metadata, the keys Istio's agent writes that nodevoy reads (docs/observability.md). */
export const CLIENT_NODE_METADATA: Readonly<Json> = {
  NAME: 'bench-client-6d5f8b7c9-x7k2p',
  NAMESPACE,
  WORKLOAD_NAME: 'bench-client',
  LABELS: labels('bench-client'),
  CLUSTER_ID: DEFAULT_CLUSTER_ID,
  OWNER: `kubernetes://apis/apps/v1/namespaces/${NAMESPACE}/deployments/bench-client`,
  SERVICE_ACCOUNT: 'bench-client',
  ISTIO_VERSION: '1.24.2',
  MESH_ID: 'cluster.local',
};

/** The upstream's workload: what its (imagined) inbound sidecar answers in the peer metadata exchange. */
const UPSTREAM_NODE_METADATA: Readonly<Json> = {
  NAME: 'bench-upstream-7c9d4f6b8-q4w9z',
  NAMESPACE,
  WORKLOAD_NAME: 'bench-upstream',
  LABELS: labels('bench-upstream'),
  CLUSTER_ID: DEFAULT_CLUSTER_ID,
  OWNER: `kubernetes://apis/apps/v1/namespaces/${NAMESPACE}/deployments/bench-upstream`,
};

/** The upstream's `x-envoy-peer-metadata-id` and `x-envoy-peer-metadata` (bench/upstream.ts --peer-metadata-id/--peer-metadata). */
export function upstreamPeerHeaders(): { id: string; value: string } {
  return {
    id: `sidecar~127.0.0.1~${UPSTREAM_NODE_METADATA['NAME']}.${NAMESPACE}~${NAMESPACE}.svc.cluster.local`,
    value: encodePeerMetadataHeader(workloadFromNodeMetadata(UPSTREAM_NODE_METADATA)),
  };
}

/**
 * The HCM's `tracing`, shaped like istiod's Zipkin provider (nodevoy's control plane at aa8bce6 emits none): random
 * sampling at `samplingPct`, client and overall sampling 100 %, 128-bit trace ids, no shared span context, and
 * the literal `istio.*` tags istiod adds from the proxy's metadata.
 */
export function zipkinTracing(samplingPct: number): Json {
  const literal = (tag: string, value: string): Json => ({ tag, literal: { value } });
  return {
    client_sampling: { value: 100 },
    random_sampling: { value: samplingPct },
    overall_sampling: { value: 100 },
    // Sorted by tag, as istiod writes them.
    custom_tags: [
      literal('istio.canonical_revision', 'v1'),
      literal('istio.canonical_service', 'bench-client'),
      literal('istio.cluster_id', DEFAULT_CLUSTER_ID),
      literal('istio.mesh_id', 'cluster.local'),
      literal('istio.namespace', NAMESPACE),
    ],
    provider: {
      name: 'envoy.tracers.zipkin',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfig',
        collector_cluster: ZIPKIN_CLUSTER,
        collector_endpoint: ZIPKIN_ENDPOINT,
        collector_endpoint_version: 'HTTP_JSON',
        collector_hostname: 'zipkin.istio-system.svc.cluster.local',
        trace_id_128bit: true,
        shared_span_context: false,
      },
    },
  };
}

/** A STATIC cluster to the bench's Zipkin collector on 127.0.0.1. */
function collectorCluster(port: number): Json {
  return {
    name: ZIPKIN_CLUSTER,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: ZIPKIN_CLUSTER,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }],
    },
  };
}

export interface TelemetryOptions {
  /** Where the Zipkin collector listens (127.0.0.1). */
  readonly collectorPort: number;
  readonly samplingPct?: number;
}

const LISTENER = ['static_resources', 'listeners', 0] as const;
const HCM = [...LISTENER, 'filter_chains', 0, 'filters', 0, 'typed_config'] as const;
const CLUSTER = ['static_resources', 'clusters', 0] as const;
const ROUTER = 'envoy.filters.http.router';

/**
 * The sidecar bootstrap (ports already filled in) with telemetry on: node metadata, `traffic_direction:
 * OUTBOUND` (source reports, CLIENT spans), the control plane's outbound telemetry filters around the HCM's own
 * (peer metadata exchange first, stats right before the router), `tracing`, the upstream cluster's `istio.services`
 * metadata and its endpoint's `istio.workload` metadata, and the collector's cluster. Everything else is untouched.
 */
export function withTelemetry(yamlText: string, opts: TelemetryOptions): string {
  const doc = parseDocument(yamlText);
  if (doc.errors.length > 0) throw new Error(`bootstrap: ${doc.errors.map((e) => e.message).join('; ')}`);
  for (const path of [HCM, CLUSTER]) if (!doc.hasIn(path)) throw new Error(`bootstrap: no ${path.join('.')}`);
  const filters = doc.getIn([...HCM, 'http_filters'], false) as { toJSON(): unknown } | undefined;
  const own = (filters?.toJSON() ?? []) as Json[];
  const router = own.findIndex((f) => f['name'] === ROUTER);
  if (router < 0) throw new Error(`bootstrap: the HCM has no ${ROUTER}`);
  const telemetry = telemetryFilters(true, 'OUTBOUND');

  doc.setIn(['node', 'metadata'], doc.createNode(CLIENT_NODE_METADATA));
  doc.setIn([...LISTENER, 'traffic_direction'], 'OUTBOUND');
  doc.setIn([...HCM, 'tracing'], doc.createNode(zipkinTracing(opts.samplingPct ?? TRACE_SAMPLING_PCT)));
  doc.setIn([...HCM, 'http_filters'], doc.createNode([...telemetry.first, ...own.slice(0, router), ...telemetry.beforeRouter, ...own.slice(router)]));
  doc.setIn([...CLUSTER, 'metadata'], doc.createNode(istioClusterMetadata([{ host: REQUEST_HOST, namespace: NAMESPACE }])));
  const endpoint = [...CLUSTER, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0];
  if (doc.hasIn(endpoint)) {
    const workload = endpointWorkloadString('bench-upstream', NAMESPACE, labels('bench-upstream'), DEFAULT_CLUSTER_ID);
    doc.setIn([...endpoint, 'metadata'], doc.createNode({ filter_metadata: { istio: { workload } } }));
  }
  doc.addIn(['static_resources', 'clusters'], doc.createNode(collectorCluster(opts.collectorPort)));
  return doc.toString({ lineWidth: 0 });
}
