// The service-discovery contract (Envoy's cluster "type"): something that feeds a ClusterImpl its hosts
// and can be stopped. Implementations: static-cluster.ts, strict-dns-cluster.ts, logical-dns-cluster.ts,
// eds-cluster.ts (fed by an EndpointSource, which proxy/xds wires to the xDS client).

import type { Clock } from '../common/clock.ts';
import type { ConfigError } from '../common/result.ts';
import type { ConfigSourceConfig } from '../config/config-source.ts';
import type { ClusterLoadAssignmentWire } from './load-assignment-schema.ts';
import type { ClusterImpl } from './cluster.ts';
import { startDnsRefresh, type DnsRefresh, type DnsResolver } from './dns-resolver.ts';

export interface ClusterDiscovery {
  /** Settles when the cluster has its first host set (DNS: after the first resolution attempt). */
  readonly initialized: Promise<void>;
  /** Cancels timers; late DNS answers are ignored afterwards. */
  stop(): void;
}

/**
 * Where EDS clusters get their ClusterLoadAssignment. `onAssignment` runs with the assignment already held
 * (if any) and then with every accepted update; errors it returns reject (NACK) the update.
 */
export interface EndpointSource {
  watch(serviceName: string, source: ConfigSourceConfig,
    onAssignment: (assignment: ClusterLoadAssignmentWire) => readonly ConfigError[]): { cancel(): void };
}

export interface DiscoveryDeps {
  readonly clock: Clock;
  readonly resolver: DnsResolver;
  /** Required by EDS clusters; the cluster manager starts them only once it has one. */
  readonly endpoints?: EndpointSource;
}

export type DiscoveryFactory = (cluster: ClusterImpl, deps: DiscoveryDeps) => ClusterDiscovery;

/** Re-resolves one endpoint name on the cluster's dns_refresh_rate and lookup family (DNS cluster types). */
export function refreshEndpointName(cluster: ClusterImpl, deps: DiscoveryDeps, name: string,
  onResolved: (addresses: readonly string[]) => void): DnsRefresh {
  return startDnsRefresh({
    name, family: cluster.model.dnsLookupFamily, refreshRateMs: cluster.model.dnsRefreshRateMs,
    clock: deps.clock, resolver: deps.resolver, stats: cluster.stats, onResolved,
  });
}
