// What ejection changes for routing and the admin: chooseHost avoids ejected hosts, panic mode
// (common_lb_config.healthy_panic_threshold) balances across all hosts when too many are ejected,
// priorities spill over, and /clusters shows the outlier lines, flags and success rates.

import { describe, expect, it } from 'vitest';
import { formatG, renderClustersJson, renderClustersText } from '../../../proxy/admin/clusters.ts';
import { mixed, outlierHarness, times } from './harness.ts';

const eject = (t: ReturnType<typeof outlierHarness>, ...hosts: number[]): void => hosts.forEach((i) => t.respond(i, ...times(5, 500)));
const addresses = (...ips: string[]) => new Set(ips.map((ip) => `${ip}:80`));

describe('load balancing around ejected hosts', () => {
  it('never picks an ejected host while enough hosts are healthy, and picks it again after its return', () => {
    const t = outlierHarness({ max_ejection_percent: 100, interval: '10s', base_ejection_time: '30s' }, [4]);
    eject(t, 0);
    expect(t.picks()).toEqual(addresses('10.0.0.2', '10.0.0.3', '10.0.0.4'));
    eject(t, 1);
    // 2 of 4 healthy = 50 %: not below the panic threshold.
    expect(t.picks()).toEqual(addresses('10.0.0.3', '10.0.0.4'));
    expect(t.stats.counters.get('cluster.c.lb_healthy_panic')?.value() ?? 0).toBe(0);
    t.clock.advance(30_000);
    expect(t.picks()).toEqual(addresses('10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'));
  });

  it('panics when the healthy share drops below healthy_panic_threshold (50 %): all hosts, ejected ones included', () => {
    const t = outlierHarness({ max_ejection_percent: 100 }, [4]);
    eject(t, 0, 1, 2);
    expect(t.stats.gauges.get('cluster.c.membership_healthy')?.value()).toBe(1);
    expect(t.picks(40)).toEqual(addresses('10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'));
    expect(t.stats.counters.get('cluster.c.lb_healthy_panic')?.value()).toBe(40);
  });

  it.each([
    ['a higher threshold panics sooner', 60, [0, 1], addresses('10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4')],
    ['0 disables panic: only healthy hosts', 0, [0, 1, 2], addresses('10.0.0.4')],
    ['0 disables panic: every host ejected → no host', 0, [0, 1, 2, 3], new Set([undefined])],
  ])('%s', (_what, threshold, ejected, picked) => {
    const t = outlierHarness({ max_ejection_percent: 100 }, [4], { extra: { common_lb_config: { healthy_panic_threshold: { value: threshold } } } });
    eject(t, ...ejected);
    expect(t.picks()).toEqual(picked);
  });

  it('spills to the next priority as ejections lower a priority’s health', () => {
    // P0 and P1 with two hosts each; ejecting both P0 hosts sends everything to P1.
    const t = outlierHarness({ max_ejection_percent: 100 }, [2, 2]);
    eject(t, 0);
    // P0 health = 140 × 1/2 = 70 %: 70 % stays on P0 (choosePriority by draw 0 → P0).
    expect(t.picks(10)).toEqual(addresses('10.0.0.2'));
    eject(t, 1);
    expect(t.picks(10)).toEqual(addresses('10.0.1.1', '10.0.1.2'));
  });
});

describe('/clusters with outlier detection', () => {
  it('prints the outlier lines after observability_name, and each host’s flags and success rates', () => {
    const t = outlierHarness({ interval: '10s', max_ejection_percent: 20 }, [5]);
    t.respond(0, ...mixed(50, 50));
    for (let i = 1; i < 5; i++) t.respond(i, ...times(100, 200));
    t.clock.advance(10_000);
    const lines = renderClustersText([t.cluster]).split('\n');
    expect(lines.slice(0, 6)).toEqual([
      'c::observability_name::c',
      'c::outlier::success_rate_average::90',
      'c::outlier::success_rate_ejection_threshold::52',
      'c::outlier::local_origin_success_rate_average::-1',
      'c::outlier::local_origin_success_rate_ejection_threshold::-1',
      'c::default_priority::max_connections::1024',
    ]);
    expect(lines).toContain('c::10.0.0.1:80::health_flags::/failed_outlier_check');
    expect(lines).toContain('c::10.0.0.1:80::success_rate::50');
    expect(lines).toContain('c::10.0.0.1:80::local_origin_success_rate::-1');
    expect(lines).toContain('c::10.0.0.2:80::health_flags::healthy');
    expect(lines).toContain('c::10.0.0.2:80::success_rate::100');
  });

  it('prints %g-formatted averages', () => {
    // Rates {2/3, 1, 1} × 100 with factor 1: average 88.8889, threshold 73.1754 (6 significant digits, as %g).
    const t = outlierHarness({ interval: '10s', max_ejection_percent: 0, success_rate_minimum_hosts: 3, success_rate_request_volume: 3,
      success_rate_stdev_factor: 1000 }, [3]);
    t.respond(0, 200, 500, 200);
    t.respond(1, 200, 200, 200);
    t.respond(2, 200, 200, 200);
    t.clock.advance(10_000);
    const text = renderClustersText([t.cluster]);
    expect(text).toContain('c::outlier::success_rate_average::88.8889\n');
    expect(text).toContain('c::outlier::success_rate_ejection_threshold::73.1754\n');
    expect(text).toContain('c::10.0.0.1:80::success_rate::66.66666666666667\n');
  });

  it.each([
    [-1, '-1'], [0, '0'], [52, '52'], [100, '100'], [88.88888888, '88.8889'], [-5.25, '-5.25'],
    [1234567, '1.23457e+06'], [0.00001234, '1.234e-05'], [0.0001, '0.0001'],
  ])('formats %d as %s (printf %%g)', (value, text) => {
    expect(formatG(value)).toBe(text);
  });

  it('shows the thresholds and host rates in the JSON form', () => {
    const t = outlierHarness({ interval: '10s', max_ejection_percent: 20 }, [5]);
    t.respond(0, ...mixed(50, 50));
    for (let i = 1; i < 5; i++) t.respond(i, ...times(100, 200));
    t.clock.advance(10_000);
    const status = JSON.parse(renderClustersJson([t.cluster])).cluster_statuses[0];
    expect(status.success_rate_ejection_threshold).toEqual({ value: 52 });
    expect(status).not.toHaveProperty('local_origin_success_rate_ejection_threshold');
    expect(status.host_statuses[0].success_rate).toEqual({ value: 50 });
    expect(status.host_statuses[0].health_status).toEqual({ failed_outlier_check: true, eds_health_status: 'HEALTHY' });
    expect(status.host_statuses[0]).not.toHaveProperty('local_origin_success_rate');
  });

  it('combines flags in Envoy’s order for an ejected host that EDS also marks unhealthy', () => {
    const t = outlierHarness({ max_ejection_percent: 100 }, [0], {
      extra: { load_assignment: { cluster_name: 'c', endpoints: [{ lb_endpoints: [
        { endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 80 } } }, health_status: 'UNHEALTHY' },
        { endpoint: { address: { socket_address: { address: '10.0.0.2', port_value: 80 } } } },
      ] }] } },
    });
    eject(t, 0);
    expect(t.hosts[0]!.healthFlags()).toBe('/failed_outlier_check/failed_eds_health');
  });
});
