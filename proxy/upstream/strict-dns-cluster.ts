// STRICT_DNS discovery: every lb_endpoint's name is re-resolved every dns_refresh_rate and every
// address it returns is a host. Hosts whose address is unchanged are kept (with their pools); the
// cluster's membership is the union over all endpoints.

import { refreshEndpointName, type ClusterDiscovery, type DiscoveryFactory } from './discovery.ts';
import type { HostImpl } from './host.ts';

export const startStrictDnsDiscovery: DiscoveryFactory = (cluster, deps): ClusterDiscovery => {
  const model = cluster.model;
  const targets = model.localities.flatMap((l) => l.endpoints.map((e) => ({ locality: l, endpoint: e, hosts: [] as HostImpl[] })));
  const publish = (): void => cluster.updateHosts(targets.flatMap((t) => t.hosts));
  const refreshes = targets.map((t) => refreshEndpointName(cluster, deps, t.endpoint.address, (addresses) => {
    const existing = new Map(t.hosts.map((h) => [h.address, h]));
    const next = addresses.map((a) => existing.get(a) ?? cluster.createHost(t.endpoint, t.locality, a));
    const changed = next.length !== t.hosts.length || next.some((h, i) => h !== t.hosts[i]);
    t.hosts = next;
    if (changed) publish();
  }));
  return {
    initialized: Promise.all(refreshes.map((r) => r.firstAttempt)).then(() => {}),
    stop: () => refreshes.forEach((r) => r.stop()),
  };
};
