// The service-discovery contract (Envoy's cluster "type"): something that feeds a ClusterImpl its hosts
// and can be stopped. Implementations: static-cluster.ts, strict-dns-cluster.ts, logical-dns-cluster.ts.

import type { Clock } from '../common/clock.ts';
import type { ClusterImpl } from './cluster.ts';
import type { DnsResolver } from './dns-resolver.ts';

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
