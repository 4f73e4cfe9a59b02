// Wire schema of Envoy's `envoy.config.cluster.v3.OutlierDetection` (Cluster.outlier_detection), with the
// proto's validation rules (positive durations, percentages <= 100) and the check Envoy's detector makes
// when it is created (max_ejection_time must not be below base_ejection_time). No defaults here.

import { z } from 'zod';
import { bool, duration, message, positiveDuration, uint32 } from '../../config/schema-kit.ts';

/** A UInt32Value percentage (`[(validate.rules).uint32 = {lte: 100}]`). */
const percent = uint32.refine((n) => n <= 100, 'must be between 0 and 100');

/** Envoy's DetectorConfig default for base_ejection_time (needed to check an explicit max_ejection_time). */
export const DEFAULT_BASE_EJECTION_TIME_MS = 30_000;

const OutlierDetectionFields = message('envoy.config.cluster.v3.OutlierDetection', {
  consecutive_5xx: uint32.optional(),
  interval: positiveDuration.optional(),
  base_ejection_time: positiveDuration.optional(),
  max_ejection_percent: percent.optional(),
  enforcing_consecutive_5xx: percent.optional(),
  enforcing_success_rate: percent.optional(),
  success_rate_minimum_hosts: uint32.optional(),
  success_rate_request_volume: uint32.optional(),
  success_rate_stdev_factor: uint32.optional(),
  consecutive_gateway_failure: uint32.optional(),
  enforcing_consecutive_gateway_failure: percent.optional(),
  split_external_local_origin_errors: bool.optional(),
  consecutive_local_origin_failure: uint32.optional(),
  enforcing_consecutive_local_origin_failure: percent.optional(),
  enforcing_local_origin_success_rate: percent.optional(),
  failure_percentage_threshold: percent.optional(),
  enforcing_failure_percentage: percent.optional(),
  enforcing_failure_percentage_local_origin: percent.optional(),
  failure_percentage_minimum_hosts: uint32.optional(),
  failure_percentage_request_volume: uint32.optional(),
  max_ejection_time: positiveDuration.optional(),
  max_ejection_time_jitter: duration.optional(),
  // Accepted; nodevoy has no active health checking, so nothing can uneject early.
  successful_active_health_check_uneject_host: bool.optional(),
  always_eject_one_host: bool.optional(),
}, { unimplemented: ['monitors'] });

export const OutlierDetectionSchema = OutlierDetectionFields.superRefine((o, ctx) => {
  // DetectorImpl::create: "outlier detector's max_ejection_time cannot be smaller than base_ejection_time".
  // Without max_ejection_time Envoy uses max(300s, base_ejection_time), which never is. (Zero durations
  // are already reported by their own rule.)
  const base = o.base_ejection_time || DEFAULT_BASE_EJECTION_TIME_MS;
  if (o.max_ejection_time && o.max_ejection_time < base) {
    ctx.addIssue({
      code: 'custom', path: ['max_ejection_time'],
      message: `max_ejection_time (${o.max_ejection_time} ms) cannot be smaller than base_ejection_time (${base} ms)`,
    });
  }
});

export type OutlierDetectionWire = z.output<typeof OutlierDetectionSchema>;
