// The contract between translation and serving: a proxy's xDS snapshot (Envoy v3 resources as JSON, per
// type), the type URLs and REST paths of the four served types, and the proxy identity read from its Node.

/** An Envoy v3 resource as proto3 JSON in snake_case, without `@type` (the server wraps it in an Any). */
export type EnvoyResource = Readonly<Record<string, unknown>>;

/** The served xDS types, by the REST path suffix of `POST /v3/discovery:<path>`. */
export const XDS_TYPES = {
  listeners: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  routes: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  clusters: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoints: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
} as const;

export type XdsKind = keyof typeof XDS_TYPES;

/** Everything one proxy should run. LDS/CDS are state of the world; routes/endpoints are fetched by name. */
export interface ProxySnapshot {
  readonly listeners: readonly EnvoyResource[];
  readonly routes: readonly EnvoyResource[];
  readonly clusters: readonly EnvoyResource[];
  readonly endpoints: readonly EnvoyResource[];
}

/**
 * Who a proxy is, from its `DiscoveryRequest.node` (Istio's node metadata keys, see docs/mesh.md):
 * `metadata.NAMESPACE` (default "default"), `metadata.SERVICE_ACCOUNT` (default "default"),
 * `metadata.LABELS` (string map), `metadata.INSTANCE_IPS` (comma-separated; the first is the workload's
 * address, default 127.0.0.1) and nodevoy's `metadata.APP_PORTS` (service port → local app port) and
 * `metadata.OUTBOUND_PORT` (the virtualOutbound listener's port, default 15001, 0 = ephemeral).
 */
export interface ProxyIdentity {
  readonly id: string;
  readonly cluster: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly instanceIp: string;
  /** Service port number (as a string key) → the port the local application listens on. */
  readonly appPorts: Readonly<Record<string, number>>;
  /** Port of the `virtualOutbound` listener on instanceIp; 0 lets the OS pick one. */
  readonly outboundPort: number;
  /** Istio's CLUSTER_ID and MESH_ID node metadata ('' when absent): the istio.cluster_id / istio.mesh_id span tags. */
  readonly clusterId: string;
  readonly meshId: string;
}
