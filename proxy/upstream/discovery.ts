// The service-discovery contract (Envoy's cluster "type"): something that feeds a ClusterImpl its hosts
// and can be stopped. Implementations: static-cluster.ts, strict-dns-cluster.ts, logical-dns-cluster.ts.

import type { Clock } from '../common/clock.ts';
import type { ClusterImpl } from './cluster.ts';
import { startDnsRefresh, type DnsRefresh, type DnsResolver } from './dns-resolver.ts';

export interface ClusterDiscovery {
  /** Settles when the cluster has its first host set (DNS: after the first resolution attempt). */
  readonly initialized: Promise<void>;
  /** Cancels timers; late DNS answers are ignored afterwards. */
  stop(): void;
}

export interface DiscoveryDeps {
  readonly clock: Clock;
  readonly resolver: DnsResolver;
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
