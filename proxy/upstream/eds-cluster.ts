// EDS discovery (Cluster type EDS): the hosts are the endpoints of the ClusterLoadAssignment named by
// eds_cluster_config.service_name (else the cluster name), replaced on every EDS update. The cluster is
// initialized (warm) once the first assignment arrives or eds_config.initial_fetch_timeout elapses.

import { isIP } from 'node:net';
import type { ConfigError } from '../common/result.ts';
import { translateLocalities, type EndpointConfig, type LocalityEndpointsConfig } from './cluster-config.ts';
import type { ClusterDiscovery, DiscoveryFactory } from './discovery.ts';
import type { HostImpl } from './host.ts';
import type { ClusterLoadAssignmentWire } from './load-assignment-schema.ts';

/** Hosts are kept (with their pools and outlier state) while everything that describes them is unchanged. */
function hostKey(e: EndpointConfig, l: LocalityEndpointsConfig): string {
  return JSON.stringify([e.address, e.port, e.hostname, e.healthStatus, e.weight, e.metadata, l.priority, l.locality]);
}

/** EDS endpoints are connected to as given, so each address must be an IP (Envoy resolves none). */
function addressErrors(assignment: ClusterLoadAssignmentWire): ConfigError[] {
  const errors: ConfigError[] = [];
  (assignment.endpoints ?? []).forEach((l, i) => (l.lb_endpoints ?? []).forEach((e, j) => {
    const address = e.endpoint.address.socket_address.address;
    if (isIP(address) === 0) {
      errors.push({
        path: `endpoints[${i}].lb_endpoints[${j}].endpoint.address.socket_address.address`, kind: 'invalid',
        message: `ClusterLoadAssignment "${assignment.cluster_name}": malformed IP address "${address}"`,
      });
    }
  }));
  return errors;
}

export const startEdsDiscovery: DiscoveryFactory = (cluster, deps): ClusterDiscovery => {
  const eds = cluster.model.eds;
  if (!eds || !deps.endpoints) throw new Error(`cluster ${cluster.name}: an EDS cluster needs eds_cluster_config and an endpoint source`);
  let markInitialized = (): void => {};
  const initialized = new Promise<void>((resolve) => { markInitialized = resolve; });
  // ConfigSource.initial_fetch_timeout: stop warming without endpoints (0 = wait forever).
  const timeout = eds.configSource.initialFetchTimeoutMs > 0 ? deps.clock.setTimer(markInitialized, eds.configSource.initialFetchTimeoutMs) : null;
  let hosts = new Map<string, HostImpl>();
  const watch = deps.endpoints.watch(eds.serviceName, eds.configSource, (assignment) => {
    const errors = addressErrors(assignment);
    if (errors.length > 0) return errors;
    const next = new Map<string, HostImpl>();
    for (const l of translateLocalities(assignment)) {
      for (const e of l.endpoints) {
        const key = hostKey(e, l);
        if (!next.has(key)) next.set(key, hosts.get(key) ?? cluster.createHost(e, l));
      }
    }
    hosts = next;
    cluster.updateHosts([...next.values()]);
    timeout?.cancel();
    markInitialized();
    return [];
  });
  return {
    initialized,
    stop: () => {
      timeout?.cancel();
      watch.cancel();
    },
  };
};
