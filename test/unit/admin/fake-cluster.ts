// A hand-built Cluster/ClusterManager (proxy/upstream/types.ts) for admin tests: fixed hosts, thresholds
// and host stats, no connection pools.

import type { Cluster, ClusterManager, ClusterStats, Host, HostStats } from '../../../proxy/upstream/types.ts';

export function fakeHost(address: string, port: number, opts: Partial<{
  hostname: string; weight: number; priority: number; health: string; canary: boolean; stats: Partial<HostStats>;
  locality: { region: string; zone: string; subZone: string };
}> = {}): Host {
  const health = opts.health ?? 'healthy';
  return {
    address, port, addressString: `${address}:${port}`, hostname: opts.hostname ?? '', weight: opts.weight ?? 1, outlier: null,
    priority: opts.priority ?? 0, locality: opts.locality ?? { region: '', zone: '', subZone: '' },
    metadata: opts.canary ? { 'envoy.lb': { canary: true } } : {},
    healthFlags: () => health,
    healthy: () => health === 'healthy',
    stats: { rq_active: 0, rq_total: 0, rq_success: 0, rq_error: 0, rq_timeout: 0, cx_active: 0, cx_total: 0, cx_connect_fail: 0, ...opts.stats },
    dispatcher: () => { throw new Error('no pools in admin tests'); },
  };
}

export function fakeCluster(name: string, hosts: Host[], opts: Partial<{ statName: string; addedViaApi: boolean }> = {}): Cluster {
  const t = { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 };
  return {
    name, statName: opts.statName ?? name, connectTimeoutMs: 5000, stats: {} as ClusterStats,
    addedViaApi: opts.addedViaApi ?? false,
    circuitBreakers: { default: t, high: { ...t, maxRetries: 5 } },
    hosts: () => hosts,
    chooseHost: () => hosts[0] ?? null,
    resourceManager: () => { throw new Error('no circuit breakers in admin tests'); },
    config: { name },
  };
}

export function fakeClusterManager(clusters: Cluster[]): ClusterManager {
  return {
    get: (n) => clusters.find((c) => c.name === n),
    all: () => clusters,
    initialized: async () => {},
    close: async () => {},
  };
}
