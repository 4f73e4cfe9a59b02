// Istio resources → per-proxy xDS snapshots (Envoy v3 JSON). docs/mesh.md describes the mesh model.

export { proxyIdentity } from './identity.ts';
export { translateMesh, type Mesh, type MeshEndpoint, type MeshOptions, type MeshService, type RateLimitPatch } from './mesh.ts';
export { proxySnapshot } from './snapshot.ts';
export { CONFIG_SOURCE, DEFAULT_TRUST_DOMAIN, OUTBOUND_LISTENER_NAME, OUTBOUND_ROUTE_NAME, ROOT_NAMESPACE, XDS_CLUSTER } from './names.ts';
