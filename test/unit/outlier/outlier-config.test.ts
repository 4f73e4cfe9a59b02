// Cluster.outlier_detection: Envoy's defaults, translation of every field (snake and camel case), and
// every config error with its path.

import { describe, expect, it } from 'vitest';
import { parseWith } from '../../../proxy/config/schema-kit.ts';
import { translateCluster } from '../../../proxy/upstream/cluster-config.ts';
import { ClusterSchema } from '../../../proxy/upstream/cluster-schema.ts';
import { parseCluster, staticCluster } from '../upstream/helpers.ts';

const withOutlier = (outlier: unknown): unknown => staticCluster([[{ ip: '10.0.0.1' }]], { outlier_detection: outlier });

describe('outlier_detection translation', () => {
  it('is null without outlier_detection', () => {
    expect(translateCluster(parseCluster(staticCluster([[{ ip: '10.0.0.1' }]]))).outlierDetection).toBeNull();
  });

  it('applies Envoy DetectorConfig defaults to an empty message', () => {
    expect(translateCluster(parseCluster(withOutlier({}))).outlierDetection).toEqual({
      intervalMs: 10_000,
      baseEjectionTimeMs: 30_000,
      maxEjectionTimeMs: 300_000,
      maxEjectionTimeJitterMs: 0,
      maxEjectionPercent: 10,
      alwaysEjectOneHost: false,
      consecutive5xx: 5,
      consecutiveGatewayFailure: 5,
      consecutiveLocalOriginFailure: 5,
      splitExternalLocalOriginErrors: false,
      successRateMinimumHosts: 5,
      successRateRequestVolume: 100,
      successRateStdevFactor: 1.9,
      failurePercentageThreshold: 85,
      failurePercentageMinimumHosts: 5,
      failurePercentageRequestVolume: 50,
      enforcing: {
        CONSECUTIVE_5XX: 100,
        CONSECUTIVE_GATEWAY_FAILURE: 0,
        CONSECUTIVE_LOCAL_ORIGIN_FAILURE: 100,
        SUCCESS_RATE: 100,
        SUCCESS_RATE_LOCAL_ORIGIN: 100,
        FAILURE_PERCENTAGE: 0,
        FAILURE_PERCENTAGE_LOCAL_ORIGIN: 0,
      },
      successfulActiveHealthCheckUnejectHost: true,
    });
  });

  it('defaults max_ejection_time to base_ejection_time when that is larger than 300s', () => {
    expect(translateCluster(parseCluster(withOutlier({ base_ejection_time: '600s' }))).outlierDetection)
      .toMatchObject({ baseEjectionTimeMs: 600_000, maxEjectionTimeMs: 600_000 });
  });

  it('translates every field (snake_case and lowerCamelCase)', () => {
    const model = translateCluster(parseCluster(withOutlier({
      consecutive_5xx: 3, interval: '1s', baseEjectionTime: '2s', max_ejection_percent: 50, enforcing_consecutive_5xx: 90,
      enforcing_success_rate: 80, success_rate_minimum_hosts: 3, success_rate_request_volume: '20', success_rate_stdev_factor: 1000,
      consecutive_gateway_failure: 4, enforcingConsecutiveGatewayFailure: 70, split_external_local_origin_errors: true,
      consecutive_local_origin_failure: 6, enforcing_consecutive_local_origin_failure: 60, enforcing_local_origin_success_rate: 50,
      failure_percentage_threshold: 40, enforcing_failure_percentage: 30, enforcing_failure_percentage_local_origin: 20,
      failure_percentage_minimum_hosts: 2, failure_percentage_request_volume: 10, max_ejection_time: '20s',
      max_ejection_time_jitter: '0.5s', successful_active_health_check_uneject_host: false, alwaysEjectOneHost: true,
    }))).outlierDetection;
    expect(model).toEqual({
      intervalMs: 1000, baseEjectionTimeMs: 2000, maxEjectionTimeMs: 20_000, maxEjectionTimeJitterMs: 500,
      maxEjectionPercent: 50, alwaysEjectOneHost: true, consecutive5xx: 3, consecutiveGatewayFailure: 4,
      consecutiveLocalOriginFailure: 6, splitExternalLocalOriginErrors: true, successRateMinimumHosts: 3,
      successRateRequestVolume: 20, successRateStdevFactor: 1, failurePercentageThreshold: 40,
      failurePercentageMinimumHosts: 2, failurePercentageRequestVolume: 10,
      enforcing: {
        CONSECUTIVE_5XX: 90, CONSECUTIVE_GATEWAY_FAILURE: 70, CONSECUTIVE_LOCAL_ORIGIN_FAILURE: 60, SUCCESS_RATE: 80,
        SUCCESS_RATE_LOCAL_ORIGIN: 50, FAILURE_PERCENTAGE: 30, FAILURE_PERCENTAGE_LOCAL_ORIGIN: 20,
      },
      successfulActiveHealthCheckUnejectHost: false,
    });
  });
});

describe('outlier_detection config errors', () => {
  const errorsOf = (outlier: unknown) => {
    const r = parseWith(ClusterSchema, withOutlier(outlier), 'static_resources.clusters[0]');
    return r.ok ? [] : r.errors.map((e) => ({ path: e.path, kind: e.kind }));
  };
  const at = (field: string) => `static_resources.clusters[0].outlier_detection.${field}`;

  it.each([
    ['interval of 0', { interval: '0s' }, 'interval', 'invalid'],
    ['base_ejection_time of 0', { base_ejection_time: '0s' }, 'base_ejection_time', 'invalid'],
    ['max_ejection_time of 0', { max_ejection_time: '0s', base_ejection_time: '1s' }, 'max_ejection_time', 'invalid'],
    ['max_ejection_time below the default base (30s)', { max_ejection_time: '10s' }, 'max_ejection_time', 'invalid'],
    ['max_ejection_time below base_ejection_time', { base_ejection_time: '60s', max_ejection_time: '59s' }, 'max_ejection_time', 'invalid'],
    ['max_ejection_percent over 100', { max_ejection_percent: 101 }, 'max_ejection_percent', 'invalid'],
    ['enforcing_consecutive_5xx over 100', { enforcing_consecutive_5xx: 150 }, 'enforcing_consecutive_5xx', 'invalid'],
    ['enforcing_failure_percentage over 100', { enforcing_failure_percentage: 101 }, 'enforcing_failure_percentage', 'invalid'],
    ['failure_percentage_threshold over 100', { failure_percentage_threshold: 200 }, 'failure_percentage_threshold', 'invalid'],
    ['negative consecutive_5xx', { consecutive_5xx: -1 }, 'consecutive_5xx', 'invalid'],
    ['a Duration that is not one', { interval: 10 }, 'interval', 'invalid'],
    ['monitors (extension monitors)', { monitors: [] }, 'monitors', 'not-implemented'],
    ['a misspelled field', { consecutive5xx_errors: 3 }, 'consecutive5xx_errors', 'unknown-field'],
  ])('%s', (_what, outlier, field, kind) => {
    expect(errorsOf(outlier)).toEqual([{ path: at(field), kind }]);
  });

  it('reports every error at once', () => {
    expect(errorsOf({ interval: '0s', max_ejection_percent: 101, monitors: [] }).map((e) => e.path).sort())
      .toEqual([at('interval'), at('max_ejection_percent'), at('monitors')]);
  });
});
