// Success-rate and failure-percentage ejection on interval sweeps: the arithmetic on hand-computed
// examples, request-volume and minimum-host gates, enforcing percentages, local-origin rates in split mode.

import { describe, expect, it } from 'vitest';
import { SuccessRateAccumulator, successRateEjectionThreshold } from '../../../proxy/upstream/outlier/success-rate.ts';
import { mixed, outlierHarness, times } from './harness.ts';

describe('successRateEjectionThreshold (mean − factor × population stdev)', () => {
  it.each([
    // Envoy's own example: mean 90, variance 400, stdev 20, 90 − 1.9 × 20 = 52.
    [[50, 100, 100, 100, 100], 1.9, 90, 52],
    // mean 90, variance (100 + 0 + 100) / 3, stdev √(200/3) ≈ 8.165.
    [[80, 90, 100], 1, 90, 90 - Math.sqrt(200 / 3)],
    [[100, 100, 100, 100, 100], 1.9, 100, 100],
  ])('%j with factor %d → average %d, threshold %d', (rates, factor, average, threshold) => {
    const r = successRateEjectionThreshold(rates, factor);
    expect(r.average).toBe(average);
    expect(r.threshold).toBeCloseTo(threshold, 12);
  });
});

describe('SuccessRateAccumulator', () => {
  it('reads the interval that closed last; requests in the open one wait for the next sweep', () => {
    const a = new SuccessRateAccumulator();
    a.recordSuccess();
    a.recordFailure();
    expect(a.successRateAndVolume()).toBeNull();
    a.closeInterval();
    a.recordFailure();
    expect(a.successRateAndVolume()).toEqual({ rate: 50, volume: 2 });
    a.closeInterval();
    expect(a.successRateAndVolume()).toEqual({ rate: 0, volume: 1 });
    a.closeInterval();
    expect(a.successRateAndVolume()).toBeNull();
  });
});

/** Five hosts; host 0 answers `host0` codes, the others 100 × 200, then one sweep runs. */
function fiveHosts(outlier: Record<string, unknown>, host0: number[], others: number[] = times(100, 200)) {
  const t = outlierHarness({ interval: '10s', max_ejection_percent: 20, ...outlier }, [5]);
  t.respond(0, ...host0);
  for (let i = 1; i < 5; i++) t.respond(i, ...others);
  t.clock.advance(10_000);
  return t;
}

describe('success-rate ejection', () => {
  it('ejects the host below the threshold at the sweep (Envoy example: 50 % vs 4 × 100 %)', () => {
    const t = fiveHosts({}, mixed(50, 50));
    expect(t.ejected()).toEqual([true, false, false, false, false]);
    expect([t.stat('ejections_detected_success_rate'), t.stat('ejections_enforced_success_rate'), t.stat('ejections_success_rate'),
      t.stat('ejections_total'), t.stat('ejections_enforced_total'), t.stat('ejections_detected_consecutive_5xx')]).toEqual([1, 1, 1, 1, 1, 0]);
    const d = t.cluster.outlierDetector!;
    expect([d.successRateAverage('ExternalOrigin'), d.successRateEjectionThreshold('ExternalOrigin')]).toEqual([90, 52]);
    expect(t.hosts.map((h) => d.hostSuccessRate(h, 'ExternalOrigin'))).toEqual([50, 100, 100, 100, 100]);
    expect(d.successRateAverage('LocalOrigin')).toBe(-1);
  });

  it('does nothing before the sweep', () => {
    const t = outlierHarness({ interval: '10s', max_ejection_percent: 20 }, [5]);
    t.respond(0, ...mixed(50, 50));
    for (let i = 1; i < 5; i++) t.respond(i, ...times(100, 200));
    t.clock.advance(9_999);
    expect(t.ejected()[0]).toBe(false);
    expect(t.cluster.outlierDetector!.successRateAverage('ExternalOrigin')).toBe(-1);
  });

  it('needs success_rate_request_volume requests per host and success_rate_minimum_hosts such hosts', () => {
    // Host 4 has 99 requests: only 4 hosts qualify (< 5), so nothing is computed.
    const t = outlierHarness({ interval: '10s', max_ejection_percent: 20 }, [5]);
    t.respond(0, ...mixed(50, 50));
    for (let i = 1; i < 4; i++) t.respond(i, ...times(100, 200));
    t.respond(4, ...times(99, 200));
    t.clock.advance(10_000);
    const d = t.cluster.outlierDetector!;
    expect([t.ejected()[0], d.successRateAverage('ExternalOrigin'), t.stat('ejections_detected_success_rate')]).toEqual([false, -1, 0]);
    // Hosts with at least min(success_rate_request_volume, failure_percentage_request_volume) still show a rate.
    expect(t.hosts.map((h) => d.hostSuccessRate(h, 'ExternalOrigin'))).toEqual([50, 100, 100, 100, 100]);
  });

  it('applies the configured volume, minimum hosts and stdev factor', () => {
    // 3 hosts at 10 requests: rates {80, 90, 100}, factor 1 → threshold 90 − 8.165 = 81.8 → host 0 out.
    const t = outlierHarness({ interval: '10s', max_ejection_percent: 50, success_rate_minimum_hosts: 3,
      success_rate_request_volume: 10, success_rate_stdev_factor: 1000 }, [3]);
    t.respond(0, ...mixed(2, 8));
    t.respond(1, ...mixed(1, 9));
    t.respond(2, ...times(10, 200));
    t.clock.advance(10_000);
    expect(t.ejected()).toEqual([true, false, false]);
    expect(t.cluster.outlierDetector!.successRateEjectionThreshold('ExternalOrigin')).toBeCloseTo(90 - Math.sqrt(200 / 3), 12);
  });

  it('enforcing_success_rate 0 % detects without ejecting', () => {
    const t = fiveHosts({ enforcing_success_rate: 0 }, mixed(50, 50));
    expect([t.ejected()[0], t.stat('ejections_detected_success_rate'), t.stat('ejections_enforced_success_rate')]).toEqual([false, 1, 0]);
  });

  it('overflows like any other detection (5 hosts, default 10 %)', () => {
    const t = fiveHosts({ max_ejection_percent: 10 }, mixed(50, 50));
    expect([t.ejected()[0], t.stat('ejections_detected_success_rate'), t.stat('ejections_overflow')]).toEqual([false, 1, 1]);
  });

  it('looks only at the last interval: a quiet interval resets the figures', () => {
    const t = fiveHosts({ enforcing_success_rate: 0 }, mixed(50, 50));
    t.clock.advance(10_000);
    const d = t.cluster.outlierDetector!;
    expect([d.successRateAverage('ExternalOrigin'), d.hostSuccessRate(t.hosts[0]!, 'ExternalOrigin')]).toEqual([-1, -1]);
  });

  it('leaves ejected hosts out of the computation', () => {
    const t = outlierHarness({ interval: '10s', max_ejection_percent: 20 }, [6]);
    t.respond(5, ...times(5, 500));
    expect(t.ejected()[5]).toBe(true);
    t.respond(0, ...mixed(50, 50));
    for (let i = 1; i < 5; i++) t.respond(i, ...times(100, 200));
    // Host 5 (ejected) answered badly too, but is not part of the statistics.
    t.respond(5, ...mixed(100, 0));
    t.clock.advance(10_000);
    expect(t.cluster.outlierDetector!.successRateAverage('ExternalOrigin')).toBe(90);
    expect(t.cluster.outlierDetector!.hostSuccessRate(t.hosts[5]!, 'ExternalOrigin')).toBe(-1);
  });
});

describe('failure-percentage ejection', () => {
  // consecutive_5xx out of the way; success-rate detection off (needs 100 hosts).
  const base = { consecutive_5xx: 1000, success_rate_minimum_hosts: 100 };

  it('is detected but not enforced by default (enforcing_failure_percentage 0 %)', () => {
    const t = fiveHosts(base, mixed(45, 5), times(50, 200));
    expect([t.ejected()[0], t.stat('ejections_detected_failure_percentage'), t.stat('ejections_enforced_failure_percentage')]).toEqual([false, 1, 0]);
    expect(t.cluster.outlierDetector!.hostSuccessRate(t.hosts[0]!, 'ExternalOrigin')).toBe(10);
  });

  it.each([
    ['90 % failures ≥ 85 %', mixed(45, 5), true],
    ['exactly the threshold (85 of 100)', mixed(85, 15), true],
    ['84 %', mixed(84, 16), false],
  ])('%s', (_what, codes, ejected) => {
    const t = fiveHosts({ ...base, enforcing_failure_percentage: 100 }, codes, times(50, 200));
    expect(t.ejected()[0]).toBe(ejected);
    expect([t.stat('ejections_detected_failure_percentage'), t.stat('ejections_enforced_failure_percentage')]).toEqual([ejected ? 1 : 0, ejected ? 1 : 0]);
  });

  it('needs failure_percentage_request_volume (50) requests and failure_percentage_minimum_hosts (5) hosts', () => {
    expect(fiveHosts({ ...base, enforcing_failure_percentage: 100 }, mixed(45, 4), times(50, 200)).ejected()[0]).toBe(false);
    const four = outlierHarness({ ...base, enforcing_failure_percentage: 100, max_ejection_percent: 100 }, [4]);
    four.respond(0, ...mixed(50, 0));
    for (let i = 1; i < 4; i++) four.respond(i, ...times(50, 200));
    four.clock.advance(10_000);
    expect(four.ejected()[0]).toBe(false);
  });

  it('honours a lower threshold and minimum', () => {
    const t = outlierHarness({ ...base, enforcing_failure_percentage: 100, max_ejection_percent: 100,
      failure_percentage_threshold: 30, failure_percentage_minimum_hosts: 2, failure_percentage_request_volume: 10 }, [2]);
    t.respond(0, ...mixed(3, 7));
    t.respond(1, ...mixed(2, 8));
    t.clock.advance(10_000);
    expect(t.ejected()).toEqual([true, false]);
  });
});

describe('local-origin rates (split_external_local_origin_errors)', () => {
  it('keep their own success rate and eject as SUCCESS_RATE_LOCAL_ORIGIN', () => {
    const t = outlierHarness({ interval: '10s', max_ejection_percent: 20, split_external_local_origin_errors: true,
      success_rate_request_volume: 10 }, [5]);
    for (let k = 0; k < 5; k++) {
      t.result(0, 'LOCAL_ORIGIN_CONNECT_FAILED');
      t.result(0, 'LOCAL_ORIGIN_CONNECT_SUCCESS');
    }
    for (let i = 1; i < 5; i++) t.result(i, 'LOCAL_ORIGIN_CONNECT_SUCCESS', 10);
    t.clock.advance(10_000);
    const d = t.cluster.outlierDetector!;
    expect(t.ejected()).toEqual([true, false, false, false, false]);
    expect([t.stat('ejections_detected_local_origin_success_rate'), t.stat('ejections_enforced_local_origin_success_rate'),
      t.stat('ejections_detected_success_rate')]).toEqual([1, 1, 0]);
    expect([d.successRateAverage('LocalOrigin'), d.successRateEjectionThreshold('LocalOrigin'), d.successRateAverage('ExternalOrigin')]).toEqual([90, 52, -1]);
    expect(d.hostSuccessRate(t.hosts[0]!, 'LocalOrigin')).toBe(50);
  });

  it('local-origin failure percentage is detected (enforcing_failure_percentage_local_origin 0 % by default)', () => {
    const t = outlierHarness({ interval: '10s', split_external_local_origin_errors: true, consecutive_local_origin_failure: 1000,
      success_rate_minimum_hosts: 100, failure_percentage_request_volume: 10 }, [5]);
    t.result(0, 'LOCAL_ORIGIN_TIMEOUT', 10);
    for (let i = 1; i < 5; i++) t.result(i, 'LOCAL_ORIGIN_CONNECT_SUCCESS', 10);
    t.clock.advance(10_000);
    expect([t.ejected()[0], t.stat('ejections_detected_local_origin_failure_percentage'), t.stat('ejections_detected_failure_percentage')])
      .toEqual([false, 1, 0]);
  });
});
