// Admin /stats text and JSON rendering: sorted counters+gauges, histogram quantile summaries that match
// Envoy's printed numbers (log-linear bins), interval vs cumulative after merges, usedonly/filter/type.

import { describe, expect, it } from 'vitest';
import { approxQuantiles, binKey } from '../../../proxy/stats/histogram-bins.ts';
import { renderStatsJson, renderStatsText } from '../../../proxy/stats/render.ts';
import { StatsStore } from '../../../proxy/stats/store.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { startStatsFlush } from '../../../proxy/stats/flush.ts';

describe('approxQuantiles (circllhist interpolation)', () => {
  const qs = [0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1];
  const binsOf = (values: number[]): Map<number, number> => {
    const m = new Map<number, number>();
    for (const v of values) m.set(binKey(v), (m.get(binKey(v)) ?? 0) + 1);
    return m;
  };
  const cases: { values: number[]; expected: number[] }[] = [
    // Envoy prints `P0(nan,1) P25(nan,1.025) ... P100(nan,1.1)` for a single 1 ms sample.
    { values: [1], expected: [1, 1.025, 1.05, 1.075, 1.09, 1.095, 1.099, 1.0995, 1.0999, 1.1] },
    { values: [2], expected: [2, 2.025, 2.05, 2.075, 2.09, 2.095, 2.099, 2.0995, 2.0999, 2.1] },
    { values: [0], expected: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0] },
    { values: [], expected: qs.map(() => NaN) },
  ];
  for (const c of cases) {
    it(`[${c.values.join(',')}]`, () => {
      const got = approxQuantiles(binsOf(c.values), qs);
      got.forEach((v, i) => (Number.isNaN(c.expected[i]!) ? expect(v).toBeNaN() : expect(v).toBeCloseTo(c.expected[i]!, 9)));
    });
  }
  it('interpolates across bins by rank', () => {
    const got = approxQuantiles(binsOf([10, 20, 30, 40]), [0, 0.5, 1]);
    expect(got).toEqual([10, 21, 41]);
  });
  it('puts values in two-significant-digit bins', () => {
    expect(binKey(0.3)).toBe(binKey(0.305));
    expect(binKey(0.29)).not.toBe(binKey(0.289));
    expect(approxQuantiles(new Map([[binKey(0.29), 1]]), [0])).toEqual([0.29]);
    expect(binKey(99)).not.toBe(binKey(100));
    expect(binKey(1234)).toBe(binKey(1299));
  });
});

describe('renderStatsText', () => {
  function store(): StatsStore {
    const s = new StatsStore();
    s.counter('cluster.web.upstream_rq_total').inc(3);
    s.gauge('cluster.web.upstream_rq_active').set(1);
    s.counter('http.ingress.downstream_rq_total');
    s.histogram('http.ingress.downstream_rq_time').record(1);
    s.histogram('cluster.web.upstream_rq_time');
    return s;
  }

  it('prints counters and gauges sorted, then histograms', () => {
    const s = store();
    s.mergeHistograms();
    expect(renderStatsText(s)).toBe(
      'cluster.web.upstream_rq_active: 1\n' +
      'cluster.web.upstream_rq_total: 3\n' +
      'http.ingress.downstream_rq_total: 0\n' +
      'cluster.web.upstream_rq_time: No recorded values\n' +
      'http.ingress.downstream_rq_time: P0(1,1) P25(1.025,1.025) P50(1.05,1.05) P75(1.075,1.075) P90(1.09,1.09) ' +
      'P95(1.095,1.095) P99(1.099,1.099) P99.5(1.0995,1.0995) P99.9(1.0999,1.0999) P100(1.1,1.1)\n');
  });

  it('shows nan for an empty interval after the next merge, keeping the cumulative values', () => {
    const s = store();
    const clock = new FakeClock();
    const flush = startStatsFlush(s, clock, 5000);
    clock.advance(5000);
    clock.advance(5000);
    flush.cancel();
    expect(renderStatsText(s, { filter: /downstream_rq_time/ })).toBe(
      'http.ingress.downstream_rq_time: P0(nan,1) P25(nan,1.025) P50(nan,1.05) P75(nan,1.075) P90(nan,1.09) ' +
      'P95(nan,1.095) P99(nan,1.099) P99.5(nan,1.0995) P99.9(nan,1.0999) P100(nan,1.1)\n');
  });

  it('applies usedonly, filter and type', () => {
    const s = store();
    expect(renderStatsText(s, { usedOnly: true, type: 'Counters' })).toBe('cluster.web.upstream_rq_total: 3\n');
    expect(renderStatsText(s, { filter: /^http\./, type: 'Counters' })).toBe('http.ingress.downstream_rq_total: 0\n');
    expect(renderStatsText(s, { type: 'Gauges' })).toBe('cluster.web.upstream_rq_active: 1\n');
    expect(renderStatsText(s, { type: 'Histograms', usedOnly: true })).toBe('http.ingress.downstream_rq_time: No recorded values\n');
  });

  it('reset_counters zeroes counters only', () => {
    const s = store();
    s.resetCounters();
    expect(renderStatsText(s, { type: 'All', filter: /upstream_rq_(total|active)/ })).toBe(
      'cluster.web.upstream_rq_active: 1\ncluster.web.upstream_rq_total: 0\n');
  });
});

describe('renderStatsJson', () => {
  it('has Envoy\'s stats array with a trailing histograms object', () => {
    const s = new StatsStore();
    s.counter('a.b').inc(2);
    s.gauge('a.c').set(5);
    s.histogram('h.recorded').record(2);
    s.histogram('h.empty');
    s.mergeHistograms();
    const body = JSON.parse(renderStatsJson(s));
    expect(body.stats.slice(0, 2)).toEqual([{ name: 'a.b', value: 2 }, { name: 'a.c', value: 5 }]);
    const hist = body.stats[2].histograms;
    expect(hist.supported_quantiles).toEqual([0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100]);
    expect(hist.computed_quantiles[0].name).toBe('h.empty');
    expect(hist.computed_quantiles[0].values[0]).toEqual({ interval: null, cumulative: null });
    expect(hist.computed_quantiles[1].name).toBe('h.recorded');
    expect(hist.computed_quantiles[1].values[0]).toEqual({ interval: 2, cumulative: 2 });
    expect(hist.computed_quantiles[1].values[9].cumulative).toBeCloseTo(2.1, 9);
  });

  it('omits the histograms object when there are none', () => {
    const s = new StatsStore();
    s.counter('x').inc();
    expect(JSON.parse(renderStatsJson(s))).toEqual({ stats: [{ name: 'x', value: 1 }] });
  });
});
