// LOGICAL_DNS discovery: one logical host for the single lb_endpoint; each refresh points *new*
// connections at the first resolved address while open connections stay where they are (Envoy does
// not drain them). Until the first answer the cluster has no host.

import { refreshEndpointName, type ClusterDiscovery, type DiscoveryFactory } from './discovery.ts';
import type { HostImpl } from './host.ts';

export const startLogicalDnsDiscovery: DiscoveryFactory = (cluster, deps): ClusterDiscovery => {
  const model = cluster.model;
  // The schema guarantees exactly one locality with one endpoint.
  const locality = model.localities[0]!;
  const endpoint = locality.endpoints[0]!;
  let host: HostImpl | null = null;
  const refresh = refreshEndpointName(cluster, deps, endpoint.address, (addresses) => {
    const first = addresses[0];
    if (first === undefined) return; // an empty answer keeps the current address
    if (host) {
      host.setAddress(first);
    } else {
      host = cluster.createHost(endpoint, locality, first);
      cluster.updateHosts([host]);
    }
  });
  return { initialized: refresh.firstAttempt, stop: refresh.stop };
};
