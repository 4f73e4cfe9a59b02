// The runtime model of Cluster.outlier_detection: Envoy's DetectorConfig defaults applied once, and the
// ejection types (Envoy's OutlierEjectionType) with the enforcing_* percentage that gates each.

import { DEFAULT_BASE_EJECTION_TIME_MS, type OutlierDetectionWire } from './outlier-schema.ts';

/** The ejection types detected per result, as a run of consecutive errors reaches its threshold. */
export type ConsecutiveEjectionType = 'CONSECUTIVE_5XX' | 'CONSECUTIVE_GATEWAY_FAILURE' | 'CONSECUTIVE_LOCAL_ORIGIN_FAILURE';

/** envoy.data.cluster.v3.OutlierEjectionType (the kinds nodevoy detects). */
export type EjectionType =
  | ConsecutiveEjectionType
  | 'SUCCESS_RATE'
  | 'SUCCESS_RATE_LOCAL_ORIGIN'
  | 'FAILURE_PERCENTAGE'
  | 'FAILURE_PERCENTAGE_LOCAL_ORIGIN';

export interface OutlierDetectionConfig {
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionTimeMs: number;
  readonly maxEjectionTimeJitterMs: number;
  readonly maxEjectionPercent: number;
  readonly alwaysEjectOneHost: boolean;
  readonly consecutive5xx: number;
  readonly consecutiveGatewayFailure: number;
  readonly consecutiveLocalOriginFailure: number;
  /** split_external_local_origin_errors: local-origin failures get their own counter and success rate. */
  readonly splitExternalLocalOriginErrors: boolean;
  readonly successRateMinimumHosts: number;
  readonly successRateRequestVolume: number;
  /** success_rate_stdev_factor / 1000 (1900 → 1.9). */
  readonly successRateStdevFactor: number;
  readonly failurePercentageThreshold: number;
  readonly failurePercentageMinimumHosts: number;
  readonly failurePercentageRequestVolume: number;
  /** The enforcing_* percentage for each ejection type: the chance a detected outlier is ejected. */
  readonly enforcing: Readonly<Record<EjectionType, number>>;
  readonly successfulActiveHealthCheckUnejectHost: boolean;
}

const DEFAULT_INTERVAL_MS = 10_000;
const DEFAULT_MAX_EJECTION_TIME_MS = 300_000;

/** Envoy's DetectorConfig: every default as in outlier_detection_impl.h. */
export function translateOutlierDetection(w: OutlierDetectionWire): OutlierDetectionConfig {
  const base = w.base_ejection_time ?? DEFAULT_BASE_EJECTION_TIME_MS;
  return Object.freeze({
    intervalMs: w.interval ?? DEFAULT_INTERVAL_MS,
    baseEjectionTimeMs: base,
    // "If not specified, the default value (300000ms or 300s) or base_ejection_time value is applied,
    // whatever is larger."
    maxEjectionTimeMs: w.max_ejection_time ?? Math.max(DEFAULT_MAX_EJECTION_TIME_MS, base),
    maxEjectionTimeJitterMs: Math.trunc(w.max_ejection_time_jitter ?? 0),
    maxEjectionPercent: w.max_ejection_percent ?? 10,
    alwaysEjectOneHost: w.always_eject_one_host ?? false,
    consecutive5xx: w.consecutive_5xx ?? 5,
    consecutiveGatewayFailure: w.consecutive_gateway_failure ?? 5,
    consecutiveLocalOriginFailure: w.consecutive_local_origin_failure ?? 5,
    splitExternalLocalOriginErrors: w.split_external_local_origin_errors ?? false,
    successRateMinimumHosts: w.success_rate_minimum_hosts ?? 5,
    successRateRequestVolume: w.success_rate_request_volume ?? 100,
    successRateStdevFactor: (w.success_rate_stdev_factor ?? 1900) / 1000,
    failurePercentageThreshold: w.failure_percentage_threshold ?? 85,
    failurePercentageMinimumHosts: w.failure_percentage_minimum_hosts ?? 5,
    failurePercentageRequestVolume: w.failure_percentage_request_volume ?? 50,
    enforcing: Object.freeze({
      CONSECUTIVE_5XX: w.enforcing_consecutive_5xx ?? 100,
      // Detected and counted but not enforced unless configured.
      CONSECUTIVE_GATEWAY_FAILURE: w.enforcing_consecutive_gateway_failure ?? 0,
      CONSECUTIVE_LOCAL_ORIGIN_FAILURE: w.enforcing_consecutive_local_origin_failure ?? 100,
      SUCCESS_RATE: w.enforcing_success_rate ?? 100,
      SUCCESS_RATE_LOCAL_ORIGIN: w.enforcing_local_origin_success_rate ?? 100,
      FAILURE_PERCENTAGE: w.enforcing_failure_percentage ?? 0,
      FAILURE_PERCENTAGE_LOCAL_ORIGIN: w.enforcing_failure_percentage_local_origin ?? 0,
    }),
    successfulActiveHealthCheckUnejectHost: w.successful_active_health_check_uneject_host ?? true,
  });
}
