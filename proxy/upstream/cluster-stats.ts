// Envoy's per-cluster stats under `cluster.<stat_name>.`: the router-facing ClusterStats contract plus
// the membership, connection, DNS update and subset stats the cluster itself records. Handles are
// resolved once here; per-response-code counters are created on first use and cached.

import type { Counter, Gauge, Histogram, StatsScope } from '../stats/scope.ts';
import type { ClusterStats } from './types.ts';

interface CodeCounters {
  readonly code: Counter;
  readonly cls: Counter;
}

export class ClusterStatsImpl implements ClusterStats {
  readonly upstream_rq_total: Counter;
  readonly upstream_rq_completed: Counter;
  readonly upstream_rq_active: Gauge;
  readonly upstream_rq_time: Histogram;
  readonly upstream_cx_total: Counter;
  readonly upstream_cx_active: Gauge;
  readonly upstream_cx_connect_fail: Counter;
  readonly upstream_cx_connect_timeout: Counter;
  readonly upstream_cx_destroy: Counter;
  readonly upstream_rq_tx_reset: Counter;
  readonly upstream_rq_rx_reset: Counter;
  readonly upstream_rq_timeout: Counter;
  readonly upstream_cx_none_healthy: Counter;
  readonly upstream_rq_maintenance_mode: Counter;
  readonly upstream_rq_retry: Counter;
  readonly upstream_rq_retry_success: Counter;
  readonly upstream_rq_retry_overflow: Counter;
  readonly upstream_rq_retry_limit_exceeded: Counter;
  readonly retry_or_shadow_abandoned: Counter;
  readonly upstream_rq_per_try_timeout: Counter;
  readonly upstream_rq_per_try_idle_timeout: Counter;
  readonly upstream_rq_pending_overflow: Counter;
  readonly upstream_cx_overflow: Counter;
  readonly membership_total: Gauge;
  readonly membership_healthy: Gauge;
  readonly membership_degraded: Gauge;
  readonly membership_change: Counter;
  readonly lb_healthy_panic: Counter;
  /** DNS resolutions (Envoy's update_attempt / update_success / update_failure). */
  readonly update_attempt: Counter;
  readonly update_success: Counter;
  readonly update_failure: Counter;
  readonly lb_subsets_active: Gauge;
  readonly lb_subsets_selected: Counter;
  readonly lb_subsets_fallback: Counter;
  /** `cluster.<stat_name>.`: for stats recorded elsewhere under it (ssl.* of TLS clusters). */
  readonly scope: StatsScope;
  private readonly byCode = new Map<number, CodeCounters>();
  private readonly retryByCode = new Map<number, CodeCounters>();

  constructor(scope: StatsScope) {
    this.scope = scope;
    this.upstream_rq_total = scope.counter('upstream_rq_total');
    this.upstream_rq_completed = scope.counter('upstream_rq_completed');
    this.upstream_rq_active = scope.gauge('upstream_rq_active');
    this.upstream_rq_time = scope.histogram('upstream_rq_time');
    this.upstream_cx_total = scope.counter('upstream_cx_total');
    this.upstream_cx_active = scope.gauge('upstream_cx_active');
    this.upstream_cx_connect_fail = scope.counter('upstream_cx_connect_fail');
    this.upstream_cx_connect_timeout = scope.counter('upstream_cx_connect_timeout');
    this.upstream_cx_destroy = scope.counter('upstream_cx_destroy');
    this.upstream_rq_tx_reset = scope.counter('upstream_rq_tx_reset');
    this.upstream_rq_rx_reset = scope.counter('upstream_rq_rx_reset');
    this.upstream_rq_timeout = scope.counter('upstream_rq_timeout');
    this.upstream_cx_none_healthy = scope.counter('upstream_cx_none_healthy');
    this.upstream_rq_maintenance_mode = scope.counter('upstream_rq_maintenance_mode');
    this.upstream_rq_retry = scope.counter('upstream_rq_retry');
    this.upstream_rq_retry_success = scope.counter('upstream_rq_retry_success');
    this.upstream_rq_retry_overflow = scope.counter('upstream_rq_retry_overflow');
    this.upstream_rq_retry_limit_exceeded = scope.counter('upstream_rq_retry_limit_exceeded');
    this.retry_or_shadow_abandoned = scope.counter('retry_or_shadow_abandoned');
    this.upstream_rq_per_try_timeout = scope.counter('upstream_rq_per_try_timeout');
    this.upstream_rq_per_try_idle_timeout = scope.counter('upstream_rq_per_try_idle_timeout');
    this.upstream_rq_pending_overflow = scope.counter('upstream_rq_pending_overflow');
    this.upstream_cx_overflow = scope.counter('upstream_cx_overflow');
    this.membership_total = scope.gauge('membership_total');
    this.membership_healthy = scope.gauge('membership_healthy');
    this.membership_degraded = scope.gauge('membership_degraded');
    this.membership_change = scope.counter('membership_change');
    this.lb_healthy_panic = scope.counter('lb_healthy_panic');
    this.update_attempt = scope.counter('update_attempt');
    this.update_success = scope.counter('update_success');
    this.update_failure = scope.counter('update_failure');
    this.lb_subsets_active = scope.gauge('lb_subsets_active');
    this.lb_subsets_selected = scope.counter('lb_subsets_selected');
    this.lb_subsets_fallback = scope.counter('lb_subsets_fallback');
  }

  recordResponseCode(code: number): void {
    this.countCode(this.byCode, '', code);
  }

  recordRetryResponseCode(code: number): void {
    this.countCode(this.retryByCode, 'retry.', code);
  }

  private countCode(cache: Map<number, CodeCounters>, prefix: string, code: number): void {
    let c = cache.get(code);
    if (!c) {
      c = { code: this.scope.counter(`${prefix}upstream_rq_${code}`), cls: this.scope.counter(`${prefix}upstream_rq_${Math.floor(code / 100)}xx`) };
      cache.set(code, c);
    }
    c.code.inc();
    c.cls.inc();
  }
}
