// Consecutive-error ejection on a real cluster (monitors driven directly, FakeClock): counters and their
// resets, enforcing_* percentages through the injected Random, the max_ejection_percent rule, split
// local-origin mode, ejection/unejection times (base × n, cap, jitter, sweep rounding, decrement).

import { describe, expect, it } from 'vitest';
import type { OutlierResult } from '../../../proxy/upstream/types.ts';
import { harness, staticCluster, uint32s } from '../upstream/helpers.ts';
import { outlierHarness, times } from './harness.ts';

describe('consecutive_5xx', () => {
  it('ejects on the 5th consecutive 5xx; a success resets the run', () => {
    const t = outlierHarness({});
    t.respond(0, ...times(4, 500), 200, ...times(4, 500));
    expect(t.ejected()[0]).toBe(false);
    t.respond(0, 500);
    expect(t.ejected()[0]).toBe(true);
    expect(t.hosts[0]!.healthy()).toBe(false);
    expect(t.hosts[0]!.healthFlags()).toBe('/failed_outlier_check');
    expect([t.stat('ejections_detected_consecutive_5xx'), t.stat('ejections_enforced_consecutive_5xx'),
      t.stat('ejections_enforced_total'), t.stat('ejections_active'), t.stat('ejections_total'),
      t.stat('ejections_consecutive_5xx'), t.stat('ejections_overflow')]).toEqual([1, 1, 1, 1, 1, 1, 0]);
    expect(t.stats.gauges.get('cluster.c.membership_healthy')?.value()).toBe(9);
  });

  it('counts 4xx and 3xx as successes', () => {
    const t = outlierHarness({});
    t.respond(0, ...times(4, 503), 404, ...times(4, 500), 302, ...times(4, 502));
    expect(t.ejected()[0]).toBe(false);
  });

  it('creates every outlier_detection stat at 0 with the detector', () => {
    const t = outlierHarness({});
    const names = [...t.stats.counters.keys(), ...t.stats.gauges.keys()].filter((n) => n.startsWith('cluster.c.outlier_detection.')).sort();
    expect(names.map((n) => n.slice('cluster.c.outlier_detection.'.length))).toEqual([
      'ejections_active', 'ejections_consecutive_5xx',
      'ejections_detected_consecutive_5xx', 'ejections_detected_consecutive_gateway_failure',
      'ejections_detected_consecutive_local_origin_failure', 'ejections_detected_failure_percentage',
      'ejections_detected_local_origin_failure_percentage', 'ejections_detected_local_origin_success_rate',
      'ejections_detected_success_rate',
      'ejections_enforced_consecutive_5xx', 'ejections_enforced_consecutive_gateway_failure',
      'ejections_enforced_consecutive_local_origin_failure', 'ejections_enforced_failure_percentage',
      'ejections_enforced_local_origin_failure_percentage', 'ejections_enforced_local_origin_success_rate',
      'ejections_enforced_success_rate', 'ejections_enforced_total', 'ejections_overflow',
      'ejections_success_rate', 'ejections_total',
    ]);
  });

  it('ignores results for a host already ejected, and for a host the cluster removed', () => {
    const t = outlierHarness({ max_ejection_percent: 100 }, [3]);
    t.respond(0, ...times(10, 500));
    expect(t.stat('ejections_detected_consecutive_5xx')).toBe(1);
    const removed = t.hosts[1]!;
    t.cluster.updateHosts(t.hosts.filter((h) => h !== removed));
    removed.outlier!.putHttpResponseCode(500);
    for (let i = 0; i < 5; i++) removed.outlier!.putHttpResponseCode(500);
    expect(removed.failedOutlierCheck).toBe(false);
    expect(t.stat('ejections_detected_consecutive_5xx')).toBe(1);
  });

  it('removing an ejected host lowers ejections_active', () => {
    const t = outlierHarness({ max_ejection_percent: 100 }, [3]);
    t.respond(0, ...times(5, 500));
    t.respond(1, ...times(5, 500));
    expect(t.stat('ejections_active')).toBe(2);
    t.cluster.updateHosts(t.hosts.slice(1));
    expect(t.stat('ejections_active')).toBe(1);
  });
});

describe('consecutive_gateway_failure', () => {
  it('is detected but not enforced by default (enforcing_consecutive_gateway_failure 0%)', () => {
    const t = outlierHarness({ consecutive_5xx: 100 });
    t.respond(0, ...times(5, 503));
    expect(t.ejected()[0]).toBe(false);
    expect([t.stat('ejections_detected_consecutive_gateway_failure'), t.stat('ejections_enforced_consecutive_gateway_failure'),
      t.stat('ejections_enforced_total'), t.stat('ejections_active')]).toEqual([1, 0, 0, 0]);
    // The run restarts after a detection: five more are detected again.
    t.respond(0, ...times(5, 504));
    expect(t.stat('ejections_detected_consecutive_gateway_failure')).toBe(2);
  });

  it('ejects when enforced; a non-gateway 5xx breaks the run', () => {
    const t = outlierHarness({ consecutive_5xx: 100, enforcing_consecutive_gateway_failure: 100 });
    t.respond(0, ...times(4, 502), 500, ...times(4, 503));
    expect(t.ejected()[0]).toBe(false);
    t.respond(0, 504);
    expect(t.ejected()[0]).toBe(true);
    expect([t.stat('ejections_detected_consecutive_gateway_failure'), t.stat('ejections_enforced_consecutive_gateway_failure'),
      t.stat('ejections_enforced_total'), t.stat('ejections_detected_consecutive_5xx')]).toEqual([1, 1, 1, 0]);
  });

  it('five 503s are both a gateway-failure and a 5xx run: the gateway detection comes first', () => {
    const t = outlierHarness({});
    t.respond(0, ...times(5, 503));
    expect(t.ejected()[0]).toBe(true);
    expect([t.stat('ejections_detected_consecutive_gateway_failure'), t.stat('ejections_detected_consecutive_5xx'),
      t.stat('ejections_enforced_consecutive_5xx'), t.stat('ejections_enforced_total')]).toEqual([1, 1, 1, 1]);
  });
});

describe('enforcing_* percentages draw from the injected Random', () => {
  it.each([
    ['a draw below the percentage ejects', 29, true],
    ['a draw at the percentage does not', 30, false],
    ['draws are taken modulo 100', 129, true],
  ])('%s', (_what, draw, ejected) => {
    const t = outlierHarness({ enforcing_consecutive_5xx: 30 }, [10], { random: uint32s(draw) });
    t.respond(0, ...times(5, 500));
    expect(t.ejected()[0]).toBe(ejected);
    expect([t.stat('ejections_detected_consecutive_5xx'), t.stat('ejections_enforced_consecutive_5xx')]).toEqual([1, ejected ? 1 : 0]);
  });
});

describe('max_ejection_percent (current Envoy: eject while (ejected + 1) / hosts ≤ max %)', () => {
  it.each([
    ['2 hosts, default 10%: never', 2, {}, [false, false], 2],
    ['2 hosts, always_eject_one_host', 2, { always_eject_one_host: true }, [true, false], 1],
    ['2 hosts, 50%', 2, { max_ejection_percent: 50 }, [true, false], 1],
    ['2 hosts, 100%', 2, { max_ejection_percent: 100 }, [true, true], 0],
    ['3 hosts, default 10%: never', 3, {}, [false, false, false], 3],
    ['3 hosts, 50%: one (2/3 > 50%)', 3, { max_ejection_percent: 50 }, [true, false, false], 2],
    ['3 hosts, 67%: two', 3, { max_ejection_percent: 67 }, [true, true, false], 1],
    ['3 hosts, always_eject_one_host only lets the first through', 3, { always_eject_one_host: true, max_ejection_percent: 34 }, [true, false, false], 2],
    ['10 hosts, default 10%: exactly one', 10, {}, [true, false, false], 2],
    ['10 hosts, 20%: two', 10, { max_ejection_percent: 20 }, [true, true, false], 1],
  ])('%s', (_what, hostCount, config, ejected, overflow) => {
    const t = outlierHarness(config, [hostCount]);
    for (let i = 0; i < ejected.length; i++) t.respond(i, ...times(5, 500));
    expect(t.ejected().slice(0, ejected.length)).toEqual(ejected);
    expect(t.stat('ejections_overflow')).toBe(overflow);
    expect(t.stat('ejections_active')).toBe(ejected.filter(Boolean).length);
    expect(t.stat('ejections_detected_consecutive_5xx')).toBe(ejected.length);
  });

  it('counts hosts of every priority', () => {
    // 10 hosts over two priorities: 10% admits one ejection.
    const t = outlierHarness({}, [5, 5]);
    t.respond(0, ...times(5, 500));
    t.respond(5, ...times(5, 500));
    expect([t.ejected()[0], t.ejected()[5], t.stat('ejections_overflow')]).toEqual([true, false, 1]);
  });
});

describe('non-split mode: local-origin results count as the HTTP codes Envoy maps them to', () => {
  it.each<[OutlierResult, number, number]>([
    ['LOCAL_ORIGIN_CONNECT_FAILED', 1, 1],
    ['LOCAL_ORIGIN_TIMEOUT', 1, 1],
    ['EXT_ORIGIN_REQUEST_FAILED', 1, 0],
    ['EXT_ORIGIN_REQUEST_SUCCESS', 0, 0],
    ['LOCAL_ORIGIN_CONNECT_SUCCESS_FINAL', 0, 0],
    ['LOCAL_ORIGIN_CONNECT_SUCCESS', 0, 0],
  ])('%s ×5 → 5xx detections %i, gateway detections %i', (result, fiveXx, gateway) => {
    const t = outlierHarness({});
    t.result(0, result, 5);
    expect([t.stat('ejections_detected_consecutive_5xx'), t.stat('ejections_detected_consecutive_gateway_failure'),
      t.stat('ejections_detected_consecutive_local_origin_failure')]).toEqual([fiveXx, gateway, 0]);
    expect(t.ejected()[0]).toBe(fiveXx === 1);
  });

  it('a successful connect does not break a 5xx run (only the response counts)', () => {
    const t = outlierHarness({});
    t.respond(0, ...times(4, 500));
    t.result(0, 'LOCAL_ORIGIN_CONNECT_SUCCESS');
    t.respond(0, 500);
    expect(t.ejected()[0]).toBe(true);
  });
});

describe('split_external_local_origin_errors', () => {
  const split = { split_external_local_origin_errors: true };

  it('ejects on consecutive_local_origin_failure without touching the 5xx counters', () => {
    const t = outlierHarness(split);
    t.result(0, 'LOCAL_ORIGIN_CONNECT_FAILED', 2);
    t.result(0, 'LOCAL_ORIGIN_TIMEOUT', 2);
    expect(t.ejected()[0]).toBe(false);
    t.result(0, 'LOCAL_ORIGIN_CONNECT_FAILED');
    expect(t.ejected()[0]).toBe(true);
    expect([t.stat('ejections_detected_consecutive_local_origin_failure'), t.stat('ejections_enforced_consecutive_local_origin_failure'),
      t.stat('ejections_detected_consecutive_5xx'), t.stat('ejections_detected_consecutive_gateway_failure')]).toEqual([1, 1, 0, 0]);
  });

  it.each<[OutlierResult]>([['LOCAL_ORIGIN_CONNECT_SUCCESS'], ['LOCAL_ORIGIN_CONNECT_SUCCESS_FINAL'], ['EXT_ORIGIN_REQUEST_SUCCESS']])(
    '%s resets the local-origin run', (success) => {
      const t = outlierHarness(split);
      t.result(0, 'LOCAL_ORIGIN_CONNECT_FAILED', 4);
      t.result(0, success);
      t.result(0, 'LOCAL_ORIGIN_CONNECT_FAILED', 4);
      expect(t.ejected()[0]).toBe(false);
    });

  it('an HTTP 5xx does not break a local-origin run, and a connect success does not break a 5xx run', () => {
    const t = outlierHarness({ ...split, max_ejection_percent: 100 });
    t.result(0, 'LOCAL_ORIGIN_CONNECT_FAILED', 4);
    t.respond(0, 500);
    t.result(0, 'LOCAL_ORIGIN_CONNECT_FAILED');
    t.respond(1, ...times(4, 500));
    t.result(1, 'LOCAL_ORIGIN_CONNECT_SUCCESS');
    t.respond(1, 500);
    expect(t.ejected().slice(0, 2)).toEqual([true, true]);
    expect([t.stat('ejections_enforced_consecutive_local_origin_failure'), t.stat('ejections_enforced_consecutive_5xx')]).toEqual([1, 1]);
  });

  it('EXT_ORIGIN_REQUEST_FAILED counts as a 503', () => {
    const t = outlierHarness(split);
    t.result(0, 'EXT_ORIGIN_REQUEST_FAILED', 5);
    expect([t.stat('ejections_detected_consecutive_gateway_failure'), t.stat('ejections_detected_consecutive_5xx'), t.ejected()[0]])
      .toEqual([1, 1, true]);
  });

  it('enforcing_consecutive_local_origin_failure 0% only detects', () => {
    const t = outlierHarness({ ...split, enforcing_consecutive_local_origin_failure: 0 });
    t.result(0, 'LOCAL_ORIGIN_TIMEOUT', 5);
    expect([t.ejected()[0], t.stat('ejections_detected_consecutive_local_origin_failure'), t.stat('ejections_enforced_total')]).toEqual([false, 1, 0]);
  });
});

describe('ejection time', () => {
  /** Advances in 1 ms steps of `step` until host 0 is back; returns the time it returned (ms since start). */
  function returnTime(t: ReturnType<typeof outlierHarness>, start: number, step: number, limit = 1_000_000): number {
    let now = 0;
    while (t.ejected()[0] && now < limit) {
      t.clock.advance(step);
      now += step;
    }
    return start + now;
  }

  it('is base_ejection_time, rounded up to the next interval sweep', () => {
    // Sweeps every 10 s from the start; ejected at 5 s for 30 s → back at the 40 s sweep, not at 35 s.
    const t = outlierHarness({ interval: '10s', base_ejection_time: '30s' });
    t.clock.advance(5_000);
    t.respond(0, ...times(5, 500));
    t.clock.advance(34_999);
    expect(t.ejected()[0]).toBe(true);
    t.clock.advance(1);
    expect(t.ejected()[0]).toBe(false);
    expect(t.hosts[0]!.healthFlags()).toBe('healthy');
    expect(t.stat('ejections_active')).toBe(0);
    expect(t.stats.gauges.get('cluster.c.membership_healthy')?.value()).toBe(10);
  });

  it('grows with each ejection (base × n) up to max_ejection_time', () => {
    // interval 1 s, base 10 s, max 25 s: re-ejected right after each return → 10, 20, 25, 25 s.
    const t = outlierHarness({ interval: '1s', base_ejection_time: '10s', max_ejection_time: '25s' });
    const durations: number[] = [];
    for (let i = 0; i < 4; i++) {
      t.respond(0, ...times(5, 500));
      durations.push(returnTime(t, 0, 1_000));
    }
    expect(durations).toEqual([10_000, 20_000, 25_000, 25_000]);
    expect(t.stat('ejections_enforced_consecutive_5xx')).toBe(4);
  });

  it.each([
    // First ejection at 5 s, back at the 40 s sweep. The multiplier (1) drops by one for every whole interval
    // the host then stays in service, so the next ejection lasts 30 s × (multiplier + 1).
    ['re-ejected at once: 2 × 30 s', 40_000, 100_000],
    ['re-ejected after one healthy interval (multiplier back to 0): 30 s', 55_000, 90_000],
  ])('%s', (_what, reEjectAt, backAt) => {
    const t = outlierHarness({ interval: '10s', base_ejection_time: '30s' });
    t.clock.advance(5_000);
    t.respond(0, ...times(5, 500));
    t.clock.advance(35_000);
    expect(t.ejected()[0]).toBe(false);
    t.clock.advance(reEjectAt - 40_000);
    t.respond(0, ...times(5, 500));
    expect(returnTime(t, reEjectAt, 1_000)).toBe(backAt);
  });

  it('decrements the multiplier once per interval while the host stays healthy', () => {
    // interval 1 s, base 10 s: three back-to-back ejections (multiplier 3), then k healthy sweeps → 10 s × (3 − k + 1).
    const durations = [0, 1, 2, 3, 5].map((healthySweeps) => {
      const t = outlierHarness({ interval: '1s', base_ejection_time: '10s' });
      for (let i = 0; i < 3; i++) {
        t.respond(0, ...times(5, 500));
        returnTime(t, 0, 1_000);
      }
      t.clock.advance(healthySweeps * 1_000);
      t.respond(0, ...times(5, 500));
      return returnTime(t, 0, 1_000);
    });
    expect(durations).toEqual([40_000, 30_000, 20_000, 10_000, 10_000]);
  });

  it('adds max_ejection_time_jitter drawn from the injected Random', () => {
    // Draw 3000 → jitter 3000 % (5000 + 1) = 3 s on top of base 10 s.
    const t = outlierHarness({ interval: '1s', base_ejection_time: '10s', max_ejection_time_jitter: '5s' }, [10], { random: uint32s(3_000) });
    t.respond(0, ...times(5, 500));
    expect(returnTime(t, 0, 1_000)).toBe(13_000);
  });

  it('starts fresh counters on return: four errors do not re-eject', () => {
    const t = outlierHarness({ interval: '1s', base_ejection_time: '1s' });
    t.respond(0, ...times(4, 500));
    t.respond(0, ...times(6, 500));
    expect(t.ejected()[0]).toBe(true);
    t.clock.advance(1_000);
    expect(t.ejected()[0]).toBe(false);
    t.respond(0, ...times(4, 500));
    expect(t.ejected()[0]).toBe(false);
    t.respond(0, 500);
    expect(t.ejected()[0]).toBe(true);
  });
});

describe('cluster manager lifecycle', () => {
  it('arms one sweep timer per detector and close() cancels it', async () => {
    const t = outlierHarness({});
    expect(t.clock.pendingTimers()).toBe(1);
    t.clock.advance(10_000);
    expect(t.clock.pendingTimers()).toBe(1);
    await t.cm.close();
    expect(t.clock.pendingTimers()).toBe(0);
  });

  it('has no detector (and no timer) without outlier_detection', () => {
    const h = harness(staticCluster([[{ ip: '10.0.0.1' }]]));
    expect(h.cluster.outlierDetector).toBeNull();
    expect(h.cluster.hosts()[0]!.outlier).toBeNull();
    expect(h.clock.pendingTimers()).toBe(0);
  });
});
