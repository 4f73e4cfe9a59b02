// STATIC discovery: the hosts are exactly the load_assignment's IP endpoints, set once.

import type { ClusterDiscovery, DiscoveryFactory } from './discovery.ts';

export const startStaticDiscovery: DiscoveryFactory = (cluster): ClusterDiscovery => {
  cluster.updateHosts(cluster.model.localities.flatMap((l) => l.endpoints.map((e) => cluster.createHost(e, l))));
  return { initialized: Promise.resolve(), stop: () => {} };
};
