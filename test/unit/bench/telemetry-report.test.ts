// Tests bench/lib/telemetry-report.ts: CPU µs per request and medians per variant, the on / off ratios per round
// and their median against the 15 % target, the Prometheus counter sum, and the two sanity checks.

import { describe, expect, it } from 'vitest';
import type { LoadResult } from '../../../bench/lib/load.ts';
import {
  checkRequestCount, checkSpans, cpuVerdict, formatTelemetry, onOffRatios, prometheusCounter, rpsVerdict, runCells, summarize, usPerReq,
  type TelemetryRow, type TelemetryVariant,
} from '../../../bench/lib/telemetry-report.ts';

function load(rps: number, requests: number): LoadResult {
  return { tool: 'autocannon', rps, p50Ms: 2, p99Ms: 6, requests, errors: 0, non2xx: 0 };
}

/** A 10 s run of `requests` requests whose proxy used `us` µs per request; `otherCpuS` on its core. */
function run(variant: TelemetryVariant, round: number, requests: number, us: number, otherCpuS = 0.3): TelemetryRow {
  return { variant, tool: 'autocannon', round, load: load(requests / 10, requests), proxyCpuS: (us * requests) / 1e6, otherCpuS, durationS: 10 };
}

const rows: TelemetryRow[] = [
  run('off', 1, 100_000, 50), run('on', 1, 90_000, 55),
  run('on', 2, 80_000, 60, 2), run('off', 2, 90_000, 50),
  run('off', 3, 95_000, 40), run('on', 3, 85_000, 48),
];

describe('summarize and onOffRatios', () => {
  it('takes medians per variant over the rounds', () => {
    const [off, on] = summarize(rows);
    expect(off).toMatchObject({ variant: 'off', tool: 'autocannon', rounds: 3, rps: 9_500, p50Ms: 2, p99Ms: 6 });
    expect(off!.usPerReq).toBeCloseTo(50);
    expect(off!.cpuPct).toBeCloseTo(45);
    expect(on).toMatchObject({ variant: 'on', rounds: 3, rps: 8_500 });
    expect(on!.usPerReq).toBeCloseTo(55);
  });

  it('pairs each round\'s on with its off, marks noisy rounds, and takes the median of the ratios', () => {
    const cpu = onOffRatios(rows, 'autocannon', usPerReq);
    expect(cpu.perRound.map((r) => [r.round, Number(r.ratio.toFixed(3)), r.noisy])).toEqual([[1, 1.1, false], [2, 1.2, true], [3, 1.2, false]]);
    expect(cpu.medianPerRound).toBeCloseTo(1.2);
    const rps = onOffRatios(rows, 'autocannon', (r) => r.load.rps);
    expect(rps.medianPerRound).toBeCloseTo(85 / 95);
    expect(onOffRatios(rows.filter((r) => r.variant === 'off'), 'autocannon', usPerReq)).toEqual({ perRound: [] });
  });
});

describe('verdicts', () => {
  it('says whether CPU per request and req/s stay within 15 %', () => {
    expect(cpuVerdict(1.098)).toBe('+9.8 % CPU per request: within the 15 % target');
    expect(cpuVerdict(1.15)).toBe('+15.0 % CPU per request: within the 15 % target');
    expect(cpuVerdict(1.181)).toBe('+18.1 % CPU per request: misses the 15 % target by 3.1 points');
    expect(rpsVerdict(0.918)).toBe('-8.2 % req/s: within the 15 % target');
    expect(rpsVerdict(0.8)).toBe('-20.0 % req/s: misses the 15 % target by 5.0 points');
    expect(rpsVerdict(1.02)).toBe('+2.0 % req/s: within the 15 % target');
  });
});

describe('formatTelemetry', () => {
  it('prints every run, the medians and both ratios with their verdicts', () => {
    expect(runCells([rows[0]!])).toEqual([['off', 'autocannon', '1', '10000', '2.00', '6.00', '50%', '50.0', '0', '3%']]);
    const text = formatTelemetry(rows);
    expect(text).toContain('telemetry  tool        round');
    expect(text).toContain('on / off CPU µs per request, median of the rounds\' ratios 1.200x (rounds: 1.10, 1.20*, 1.20; * = noisy); +20.0 % CPU per request: misses');
    expect(text).toContain('on / off req/s, median of the rounds\' ratios 0.895x');
  });
});

describe('prometheusCounter', () => {
  it('sums a counter\'s series, per response_code, and nothing with a longer name', () => {
    const text = [
      '# TYPE istio_requests_total counter',
      'istio_requests_total{reporter="source",response_code="200",response_flags="-"} 1000',
      'istio_requests_total{reporter="source",response_code="0",response_flags="DC"} 7',
      'istio_requests_total_other{response_code="200"} 5',
      'istio_request_duration_milliseconds_count{response_code="200"} 1000',
      'istio_requests_total 3',
    ].join('\n');
    expect(prometheusCounter(text, 'istio_requests_total')).toEqual({ total: 1010, series: 3, byResponseCode: { '200': 1000, '0': 7, '': 3 } });
    expect(prometheusCounter('', 'istio_requests_total')).toEqual({ total: 0, series: 0, byResponseCode: {} });
  });
});

describe('checkSpans', () => {
  it('passes when every sampled span arrived and the sample is near 1 %', () => {
    const r = checkSpans({ requests: 100_000, sampled: 1_020, received: 1_020, samplingPct: 1 });
    expect(r).toEqual({ ok: true, text: 'ok: 1020 spans received for 100000 requests = 1.020 % (expected 1 %: 1000 ± 31); 1020 sampled' });
  });

  it('fails on lost spans, on a sample far from the rate, and on no requests', () => {
    expect(checkSpans({ requests: 100_000, sampled: 1_000, received: 990, samplingPct: 1 }).text).toMatch(/FAILED: .*the collector got 990 spans for 1000 sampled requests/);
    expect(checkSpans({ requests: 100_000, sampled: 1_200, received: 1_200, samplingPct: 1 }).text).toMatch(/1200 sampled is more than 5 σ \(31\.5\) from the expected 1000/);
    expect(checkSpans({ requests: 0, sampled: 0, received: 0, samplingPct: 1 }).ok).toBe(false);
  });
});

describe('checkRequestCount', () => {
  it('passes when Istio\'s counter equals the requests served and those are what the generator completed plus cut-off ones', () => {
    expect(checkRequestCount({ istioRequests: 24_916, served: 24_916, clientCompleted: 24_766, inFlightBound: 200 })).toEqual({
      ok: true, text: 'ok: istio_requests_total 24916, served (downstream_rq_total) 24916, completed by the load generator 24766 (+150 cut off in flight)',
    });
  });

  it('fails on a counter off by one, and on more requests served than the generator could have left in flight', () => {
    expect(checkRequestCount({ istioRequests: 24_915, served: 24_916, clientCompleted: 24_766, inFlightBound: 200 }).text).toMatch(/FAILED: .*istio_requests_total 24915 ≠ 24916 served/);
    expect(checkRequestCount({ istioRequests: 25_000, served: 25_000, clientCompleted: 24_766, inFlightBound: 200 }).text).toMatch(/= 234, outside \[0, 200\]/);
    expect(checkRequestCount({ istioRequests: 100, served: 100, clientCompleted: 101, inFlightBound: 200 }).ok).toBe(false);
  });
});
