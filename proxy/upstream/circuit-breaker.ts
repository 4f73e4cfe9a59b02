// Circuit breakers of one cluster (Envoy's ResourceManagerImpl): per routing priority, the counts and
// limits of active requests, pending requests, retries (max_retries or retry_budget) and connections,
// with Envoy's `circuit_breakers.<priority>.*_open` and (track_remaining) `remaining_*` gauges.

import type { Gauge, StatsScope } from '../stats/scope.ts';
import type { CircuitBreakerThresholds, ResourceCount, ResourceLimit, ResourceManager, ResourcePriority } from './types.ts';

/**
 * A resource the router counts (inc/dec) against a max the subclass defines; publishes the open gauge on
 * transitions only (cheap per request) and, with track_remaining, `remaining_*` = max - count.
 */
abstract class CountedResource implements ResourceLimit {
  private n = 0;
  private open = false;
  private readonly openGauge: Gauge;
  private readonly remaining: Gauge | null;

  constructor(openGauge: Gauge, remaining: Gauge | null) {
    this.openGauge = openGauge;
    this.remaining = remaining;
  }

  abstract max(): number;

  canCreate(): boolean {
    return this.n < this.max();
  }

  inc(): void {
    this.n++;
    this.update();
  }

  dec(): void {
    this.n--;
    this.update();
  }

  count(): number {
    return this.n;
  }

  private update(): void {
    const max = this.max();
    const open = this.n >= max;
    if (open !== this.open) {
      this.open = open;
      this.openGauge.set(open ? 1 : 0);
    }
    this.remaining?.set(Math.max(0, max - this.n));
  }
}

/** A counted resource with a fixed max (max_requests, max_pending_requests, max_retries). */
export class ManagedResource extends CountedResource {
  private readonly limit: number;

  constructor(limit: number, openGauge: Gauge, remaining: Gauge | null) {
    super(openGauge, remaining);
    this.limit = limit;
    remaining?.set(limit);
  }

  max(): number {
    return this.limit;
  }
}

/**
 * retry_budget: the retry limit is budget_percent of the active plus pending requests (truncated), but
 * never below min_retry_concurrency (Envoy's RetryBudgetImpl::max()).
 */
export function retryBudgetMax(budgetPercent: number, minRetryConcurrency: number, activeAndPending: number): number {
  return Math.max(Math.trunc((budgetPercent / 100) * activeAndPending), minRetryConcurrency);
}

/** The retries resource when a retry_budget is configured: its max follows the cluster's load. */
class RetryBudgetResource extends CountedResource {
  private readonly budgetPercent: number;
  private readonly minConcurrency: number;
  private readonly requests: ResourceLimit;
  private readonly pending: ResourceLimit;

  constructor(budget: { budgetPercent: number; minRetryConcurrency: number }, requests: ResourceLimit, pending: ResourceLimit,
    openGauge: Gauge, remaining: Gauge | null) {
    super(openGauge, remaining);
    this.budgetPercent = budget.budgetPercent;
    this.minConcurrency = budget.minRetryConcurrency;
    this.requests = requests;
    this.pending = pending;
  }

  max(): number {
    return retryBudgetMax(this.budgetPercent, this.minConcurrency, this.requests.count() + this.pending.count());
  }
}

/** Connections are opened and closed by the host pools; this reads the cluster-wide count. */
class ConnectionCount implements ResourceCount {
  private readonly limit: number;
  private readonly active: Gauge;

  constructor(limit: number, active: Gauge) {
    this.limit = limit;
    this.active = active;
  }

  canCreate(): boolean {
    return this.active.value() < this.limit;
  }

  count(): number {
    return this.active.value();
  }

  max(): number {
    return this.limit;
  }
}

/** One priority's resources. Gauges live under `cluster.<name>.circuit_breakers.<default|high>.`. */
export class ResourceManagerImpl implements ResourceManager {
  readonly requests: ManagedResource;
  readonly pendingRequests: ManagedResource;
  readonly retries: ResourceLimit;
  readonly connections: ResourceCount;

  constructor(t: CircuitBreakerThresholds, scope: StatsScope, connectionsActive: Gauge) {
    const remaining = (name: string): Gauge | null => (t.trackRemaining ? scope.gauge(name) : null);
    this.requests = new ManagedResource(t.maxRequests, scope.gauge('rq_open'), remaining('remaining_rq'));
    this.pendingRequests = new ManagedResource(t.maxPendingRequests, scope.gauge('rq_pending_open'), remaining('remaining_pending'));
    this.retries = t.retryBudget
      ? new RetryBudgetResource(t.retryBudget, this.requests, this.pendingRequests, scope.gauge('rq_retry_open'), remaining('remaining_retries'))
      : new ManagedResource(t.maxRetries, scope.gauge('rq_retry_open'), remaining('remaining_retries'));
    this.connections = new ConnectionCount(t.maxConnections, connectionsActive);
  }
}

/** Both priorities of a cluster. `clusterScope` is `cluster.<stat_name>`. */
export class ClusterCircuitBreakers {
  private readonly byPriority: { readonly DEFAULT: ResourceManagerImpl; readonly HIGH: ResourceManagerImpl };

  constructor(thresholds: { readonly default: CircuitBreakerThresholds; readonly high: CircuitBreakerThresholds },
    clusterScope: StatsScope, connectionsActive: Gauge) {
    this.byPriority = {
      DEFAULT: new ResourceManagerImpl(thresholds.default, clusterScope.scope('circuit_breakers.default'), connectionsActive),
      HIGH: new ResourceManagerImpl(thresholds.high, clusterScope.scope('circuit_breakers.high'), connectionsActive),
    };
  }

  get(priority: ResourcePriority): ResourceManagerImpl {
    return this.byPriority[priority];
  }
}
