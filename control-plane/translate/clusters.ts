// Outbound clusters and endpoints of the registry: one cluster per (service host, HTTP port) and one per
// DestinationRule subset, named like Istio's; STATIC services are EDS clusters with a ClusterLoadAssignment
// each (subset clusters keep the endpoints whose labels match), DNS services resolve inline. TLS origination
// (DestinationRule tls, auto mTLS) comes from upstream-tls.ts. Clusters and endpoints carry Istio's telemetry
// metadata (`istio.services`, `istio.workload`).

import { DEFAULT_CLUSTER_ID, endpointWorkloadString } from '../../proxy/common/workload-metadata.ts';
import type { DestinationRule } from '../istio/resources.ts';
import type { ServicePort } from '../istio/service-entry.ts';
import type { EnvoyResource } from '../xds/snapshot.ts';
import type { MeshEndpoint, MeshService } from './mesh.ts';
import { CONFIG_SOURCE, istioClusterMetadata, labelsMatch, outboundClusterName } from './names.ts';
import { effectivePolicy, policyClusterFields } from './traffic-policy.ts';
import { upstreamTls, type UpstreamTarget, type UpstreamTlsContextInput } from './upstream-tls.ts';

interface Target extends UpstreamTarget {
  readonly address: string;
  readonly weight: number | undefined;
}

/** A service whose cluster cannot be served as Istio would (reported as a warning on its ServiceEntry). */
export interface ClusterWarning {
  readonly service: MeshService;
  readonly message: string;
}

export function buildServiceClusters(services: ReadonlyMap<string, MeshService>, rules: ReadonlyMap<string, DestinationRule>,
  security: UpstreamTlsContextInput): { clusters: EnvoyResource[]; endpoints: EnvoyResource[]; warnings: ClusterWarning[] } {
  const clusters: EnvoyResource[] = [];
  const endpoints: EnvoyResource[] = [];
  const warnings: ClusterWarning[] = [];
  for (const service of services.values()) {
    const dr = rules.get(service.host);
    const subsets = [{ name: '', labels: {} }, ...(dr?.spec.subsets ?? [])];
    for (const port of service.httpPorts) {
      for (const subset of subsets) {
        const name = outboundClusterName(port.number, subset.name, service.host);
        const targets = targetsOf(service, port, subset.labels);
        const { cluster, assignment } = discovery(service, name, targets);
        const policy = effectivePolicy(dr, subset.name, port.number);
        const tls = upstreamTls(security, service, port.number, subset.name, targets, policy.tls);
        if (tls.warning !== undefined) warnings.push({ service, message: tls.warning });
        clusters.push({
          name, ...cluster, ...policyClusterFields(policy),
          ...(tls.transportSocket === undefined ? {} : { transport_socket: tls.transportSocket }),
          metadata: istioClusterMetadata([service]),
        });
        if (assignment !== undefined) endpoints.push(assignment);
      }
    }
  }
  return { clusters, endpoints, warnings };
}

/**
 * The endpoints a cluster of `port` reaches: port = WorkloadEntry.ports[port name] ?? targetPort ?? number.
 * A DNS service without endpoints resolves its own host (Istio's behaviour for external services).
 */
function targetsOf(service: MeshService, port: ServicePort, subsetLabels: Readonly<Record<string, string>>): Target[] {
  const fallbackPort = port.targetPort ?? port.number;
  const { resolution, workloadSelector } = service.entry.spec;
  if (service.endpoints.length === 0 && workloadSelector === undefined && resolution !== 'STATIC') {
    return Object.keys(subsetLabels).length === 0 ? [{ address: service.host, port: fallbackPort, weight: undefined, endpoint: undefined }] : [];
  }
  return service.endpoints
    .filter((e: MeshEndpoint) => labelsMatch(subsetLabels, e.labels))
    .map((e) => ({ address: e.address, port: (port.name === undefined ? undefined : e.ports[port.name]) ?? fallbackPort, weight: e.weight, endpoint: e }));
}

function loadAssignment(name: string, targets: readonly Target[]): EnvoyResource {
  if (targets.length === 0) return { cluster_name: name };
  return {
    cluster_name: name,
    endpoints: [{
      lb_endpoints: targets.map((t) => ({
        endpoint: { address: { socket_address: { address: t.address, port_value: t.port } } },
        ...(t.endpoint === undefined ? {} : { metadata: endpointMetadata(t.endpoint) }),
        ...(t.weight === undefined ? {} : { load_balancing_weight: t.weight }),
      })),
    }],
  };
}

/**
 * Istio's telemetry metadata of an endpoint (pilot's AppendLbEndpointMetadata): the workload behind it, which
 * the client's stats filter reports when no peer metadata came back (a failed connection, a workload without
 * a sidecar).
 */
function endpointMetadata(e: MeshEndpoint): Record<string, unknown> {
  return { filter_metadata: { istio: { workload: endpointWorkloadString(e.workloadName, e.namespace, e.labels, DEFAULT_CLUSTER_ID) } } };
}

/**
 * STATIC → EDS (service_name = the cluster name, endpoints served over REST); DNS → STRICT_DNS;
 * DNS_ROUND_ROBIN → LOGICAL_DNS, which takes exactly one address (STRICT_DNS otherwise).
 */
function discovery(service: MeshService, name: string, targets: readonly Target[]): { cluster: Record<string, unknown>; assignment?: EnvoyResource } {
  const resolution = service.entry.spec.resolution;
  if (resolution === 'STATIC') {
    return { cluster: { type: 'EDS', eds_cluster_config: { eds_config: CONFIG_SOURCE, service_name: name } }, assignment: loadAssignment(name, targets) };
  }
  const type = resolution === 'DNS_ROUND_ROBIN' && targets.length === 1 ? 'LOGICAL_DNS' : 'STRICT_DNS';
  return { cluster: { type, load_assignment: loadAssignment(name, targets) } };
}
