// The arithmetic and tables of the telemetry benchmark (bench/telemetry-bench.ts): the proxy's CPU µs per request
// and req/s with telemetry off and on, medians over the interleaved rounds, the on / off ratios per round against
// issue 6's 15 % target, and the two sanity checks (spans ≈ the sampling rate of the requests; Istio's request
// counter = the requests the proxy served). Pure: rows and texts in, numbers and text out.

import type { LoadResult, LoadTool } from './load.ts';
import { usPer } from './mtls-report.ts';
import { byToolAndVariant, median, pairedRatios, type PairedRatios, type RoundRun } from './rounds.ts';
import { cpuPctText, fixed, formatAligned } from './table.ts';

export const TELEMETRY_VARIANTS = ['off', 'on'] as const;
export type TelemetryVariant = (typeof TELEMETRY_VARIANTS)[number];

/** Issue 6: with telemetry on, the sidecar stays within 15 % of the same run with it off. */
export const TELEMETRY_TARGET = 0.15;

/** One measured run: load generator → the variant's sidecar → upstream (otherCpuS: the idle other variant included). */
export interface TelemetryRow extends RoundRun<TelemetryVariant> {
  readonly load: LoadResult;
  /** CPU seconds of the sidecar's process over the run. */
  readonly proxyCpuS: number;
}

export const usPerReq = (r: TelemetryRow): number | undefined => usPer(r.proxyCpuS, r.load.requests);

export const RUN_COLUMNS = ['telemetry', 'tool', 'round', 'req/s', 'p50 ms', 'p99 ms', 'proxy CPU', 'CPU µs/req', 'errors', 'other CPU'] as const;

export function runCells(rows: readonly TelemetryRow[]): string[][] {
  return rows.map((r) => [
    r.variant, r.tool, String(r.round), Math.round(r.load.rps).toString(), fixed(r.load.p50Ms, 2), fixed(r.load.p99Ms, 2),
    cpuPctText(r.proxyCpuS, r.durationS), fixed(usPerReq(r), 1), String(r.load.errors + r.load.non2xx), cpuPctText(r.otherCpuS, r.durationS),
  ]);
}

export interface TelemetrySummary {
  readonly variant: TelemetryVariant;
  readonly tool: LoadTool;
  readonly rounds: number;
  readonly rps?: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly cpuPct?: number;
  readonly usPerReq?: number;
}

/** Medians over the rounds, per tool and variant (tools in the order they first appear, off first). */
export function summarize(rows: readonly TelemetryRow[]): TelemetrySummary[] {
  return byToolAndVariant(rows, TELEMETRY_VARIANTS).map(({ tool, variant, runs }) => ({
    variant, tool, rounds: runs.length,
    rps: median(runs.map((r) => r.load.rps)), p50Ms: median(runs.map((r) => r.load.p50Ms)), p99Ms: median(runs.map((r) => r.load.p99Ms)),
    cpuPct: median(runs.map((r) => (r.proxyCpuS / r.durationS) * 100)), usPerReq: median(runs.map(usPerReq)),
  }));
}

/** on / off of `metric` per round of `tool`, and their median. */
export function onOffRatios(rows: readonly TelemetryRow[], tool: LoadTool, metric: (r: TelemetryRow) => number | undefined): PairedRatios {
  return pairedRatios(rows, tool, TELEMETRY_VARIANTS, metric);
}

/** "+9.8 % CPU per request: within the 15 % target" (or "misses the 15 % target by 3.1 points"). */
export function cpuVerdict(ratio: number, target = TELEMETRY_TARGET): string {
  const extra = (ratio - 1) * 100;
  const limit = target * 100;
  const text = `${extra >= 0 ? '+' : ''}${extra.toFixed(1)} % CPU per request`;
  return extra <= limit ? `${text}: within the ${limit.toFixed(0)} % target` : `${text}: misses the ${limit.toFixed(0)} % target by ${(extra - limit).toFixed(1)} points`;
}

/** "-8.2 % req/s: within the 15 % target" (or "misses …"). */
export function rpsVerdict(ratio: number, target = TELEMETRY_TARGET): string {
  const change = (ratio - 1) * 100;
  const limit = target * 100;
  const text = `${change >= 0 ? '+' : ''}${change.toFixed(1)} % req/s`;
  return -change <= limit ? `${text}: within the ${limit.toFixed(0)} % target` : `${text}: misses the ${limit.toFixed(0)} % target by ${(-change - limit).toFixed(1)} points`;
}

const roundsText = (p: PairedRatios): string => p.perRound.map((x) => `${x.ratio.toFixed(2)}${x.noisy ? '*' : ''}`).join(', ');

export const SUMMARY_COLUMNS = ['telemetry', 'tool', 'rounds', 'req/s', 'p50 ms', 'p99 ms', 'proxy CPU', 'CPU µs/req'] as const;

export function formatTelemetry(rows: readonly TelemetryRow[]): string {
  const summary = summarize(rows).map((s) => [s.variant, s.tool, String(s.rounds), fixed(s.rps, 0), fixed(s.p50Ms, 2), fixed(s.p99Ms, 2),
    s.cpuPct === undefined ? '-' : `${s.cpuPct.toFixed(0)}%`, fixed(s.usPerReq, 1)]);
  const verdicts = [...new Set(rows.map((r) => r.tool))].flatMap((tool) => {
    const cpu = onOffRatios(rows, tool, usPerReq);
    const rps = onOffRatios(rows, tool, (r) => r.load.rps);
    if (cpu.medianPerRound === undefined || rps.medianPerRound === undefined) return [`${tool}: no ratio (a variant has no result)`];
    return [
      `${tool}: on / off CPU µs per request, median of the rounds' ratios ${cpu.medianPerRound.toFixed(3)}x (rounds: ${roundsText(cpu)}; * = noisy); ${cpuVerdict(cpu.medianPerRound)}`,
      `${tool}: on / off req/s, median of the rounds' ratios ${rps.medianPerRound.toFixed(3)}x (rounds: ${roundsText(rps)}); ${rpsVerdict(rps.medianPerRound)}`,
    ];
  });
  return [
    'every run:', formatAligned(RUN_COLUMNS, runCells(rows)),
    'medians:', formatAligned(SUMMARY_COLUMNS, summary), ...verdicts.map((v) => `${v}\n`),
  ].join('\n');
}

/** Sum and per-`response_code` sums of a Prometheus counter's series in `/stats/prometheus` text (v0.0.4). */
export function prometheusCounter(text: string, name: string): { total: number; series: number; byResponseCode: Record<string, number> } {
  let total = 0;
  let series = 0;
  const byResponseCode: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!Number.isFinite(value)) continue;
    total += value;
    series++;
    const code = /[{,]response_code="([^"]*)"/.exec(line)?.[1] ?? '';
    byResponseCode[code] = (byResponseCode[code] ?? 0) + value;
  }
  return { total, series, byResponseCode };
}

export interface SpanCheck {
  /** Requests the traced sidecar served (its HCM's downstream_rq_total). */
  readonly requests: number;
  /** Requests it sampled (its HCM's tracing.random_sampling). */
  readonly sampled: number;
  /** Spans the collector received. */
  readonly received: number;
  readonly samplingPct: number;
}

/**
 * Spans ≈ the sampling rate of the requests: every sampled request's span reached the collector, and the number
 * sampled is within 5 standard deviations of the binomial expectation (request ids are random UUIDs).
 */
export function checkSpans(c: SpanCheck): { ok: boolean; text: string } {
  const p = c.samplingPct / 100;
  const expected = c.requests * p;
  const sigma = Math.sqrt(c.requests * p * (1 - p));
  const rate = c.requests > 0 ? (c.received / c.requests) * 100 : 0;
  const problems = [
    ...(c.received === c.sampled ? [] : [`the collector got ${c.received} spans for ${c.sampled} sampled requests`]),
    ...(Math.abs(c.sampled - expected) <= 5 * sigma + 1 ? [] : [`${c.sampled} sampled is more than 5 σ (${sigma.toFixed(1)}) from the expected ${expected.toFixed(0)}`]),
    ...(c.requests > 0 ? [] : ['no requests']),
  ];
  const facts = `${c.received} spans received for ${c.requests} requests = ${rate.toFixed(3)} % (expected ${c.samplingPct} %: ${expected.toFixed(0)} ± ${sigma.toFixed(0)}); ${c.sampled} sampled`;
  return { ok: problems.length === 0, text: problems.length === 0 ? `ok: ${facts}` : `FAILED: ${facts}; ${problems.join('; ')}` };
}

export interface RequestCountCheck {
  /** Sum of istio_requests_total's series on the `on` sidecar. */
  readonly istioRequests: number;
  /** Its HCM's downstream_rq_total: the requests it served. */
  readonly served: number;
  /** Responses the load generator completed (every run, warm-up included) plus the sanity requests. */
  readonly clientCompleted: number;
  /** Most requests a run can leave in flight when the load generator stops (its connections), times the runs. */
  readonly inFlightBound: number;
}

/**
 * Istio's request counter = the requests the sidecar served, exactly; and the served count is what the load
 * generator completed, plus at most the requests in flight when each run stopped (those complete in the proxy
 * after the generator has closed their connections).
 */
export function checkRequestCount(c: RequestCountCheck): { ok: boolean; text: string } {
  const extra = c.served - c.clientCompleted;
  const problems = [
    ...(c.istioRequests === c.served ? [] : [`istio_requests_total ${c.istioRequests} ≠ ${c.served} served`]),
    ...(extra >= 0 && extra <= c.inFlightBound ? [] : [`served − completed by the load generator = ${extra}, outside [0, ${c.inFlightBound}]`]),
  ];
  const facts = `istio_requests_total ${c.istioRequests}, served (downstream_rq_total) ${c.served}, completed by the load generator ${c.clientCompleted} (+${extra} cut off in flight)`;
  return { ok: problems.length === 0, text: problems.length === 0 ? `ok: ${facts}` : `FAILED: ${facts}; ${problems.join('; ')}` };
}
