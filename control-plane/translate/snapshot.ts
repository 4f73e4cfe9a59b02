// proxySnapshot: one proxy's xDS resources — its listeners and outbound routes (which depend on who it
// is) plus the mesh's shared outbound clusters and endpoints and its own inbound clusters.

import type { ProxyIdentity, ProxySnapshot } from '../xds/snapshot.ts';
import { inboundResources, outboundListener } from './listeners.ts';
import type { Mesh } from './mesh.ts';
import { outboundRouteConfiguration } from './route-config.ts';

/** Deterministic: the same mesh and identity give the same JSON, so versions can be content hashes. */
export function proxySnapshot(mesh: Mesh, proxy: ProxyIdentity): ProxySnapshot {
  const inbound = inboundResources(mesh, proxy);
  return {
    listeners: [outboundListener(mesh, proxy), ...inbound.listeners],
    routes: [outboundRouteConfiguration(mesh, proxy)],
    clusters: [...mesh.clusters, ...inbound.clusters],
    endpoints: mesh.endpoints,
  };
}
