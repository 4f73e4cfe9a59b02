// Envoy's outlier detection stats under `cluster.<name>.outlier_detection.` (ALL_OUTLIER_DETECTION_STATS):
// the ejections_active gauge, detected/enforced counters per ejection type, overflow and the totals.
// All are created with the detector so they show (as 0) in /stats from the start, as in Envoy.

import type { Counter, Gauge, StatsScope } from '../../stats/scope.ts';
import type { EjectionType } from './outlier-config.ts';

/** The stat-name part of each ejection type (ejections_detected_<x>, ejections_enforced_<x>). */
const STAT_SUFFIX: Readonly<Record<EjectionType, string>> = {
  CONSECUTIVE_5XX: 'consecutive_5xx',
  CONSECUTIVE_GATEWAY_FAILURE: 'consecutive_gateway_failure',
  CONSECUTIVE_LOCAL_ORIGIN_FAILURE: 'consecutive_local_origin_failure',
  SUCCESS_RATE: 'success_rate',
  SUCCESS_RATE_LOCAL_ORIGIN: 'local_origin_success_rate',
  FAILURE_PERCENTAGE: 'failure_percentage',
  FAILURE_PERCENTAGE_LOCAL_ORIGIN: 'local_origin_failure_percentage',
};

const TYPES = Object.keys(STAT_SUFFIX) as EjectionType[];

export class OutlierDetectionStats {
  readonly ejections_active: Gauge;
  readonly ejections_enforced_total: Counter;
  /** Detections not acted on because max_ejection_percent was reached. */
  readonly ejections_overflow: Counter;
  /** Deprecated in Envoy, still emitted: consecutive-5xx and success-rate ejections past the max-% check. */
  readonly ejections_total: Counter;
  /** Deprecated in Envoy, still emitted: consecutive-5xx detections. */
  readonly ejections_consecutive_5xx: Counter;
  /** Deprecated in Envoy, still emitted: success-rate detections. */
  readonly ejections_success_rate: Counter;
  private readonly detected: Readonly<Record<EjectionType, Counter>>;
  private readonly enforced: Readonly<Record<EjectionType, Counter>>;

  /** `scope` is the cluster's scope (`cluster.<stat_name>`). */
  constructor(clusterScope: StatsScope) {
    const scope = clusterScope.scope('outlier_detection');
    this.ejections_active = scope.gauge('ejections_active');
    this.ejections_enforced_total = scope.counter('ejections_enforced_total');
    this.ejections_overflow = scope.counter('ejections_overflow');
    this.ejections_total = scope.counter('ejections_total');
    this.ejections_consecutive_5xx = scope.counter('ejections_consecutive_5xx');
    this.ejections_success_rate = scope.counter('ejections_success_rate');
    this.detected = Object.fromEntries(TYPES.map((t) => [t, scope.counter(`ejections_detected_${STAT_SUFFIX[t]}`)])) as Record<EjectionType, Counter>;
    this.enforced = Object.fromEntries(TYPES.map((t) => [t, scope.counter(`ejections_enforced_${STAT_SUFFIX[t]}`)])) as Record<EjectionType, Counter>;
  }

  /** updateDetectedEjectionStats. */
  recordDetected(type: EjectionType): void {
    this.detected[type].inc();
  }

  /** updateEnforcedEjectionStats. */
  recordEnforced(type: EjectionType): void {
    this.ejections_enforced_total.inc();
    this.enforced[type].inc();
  }
}
