// The arithmetic and tables of the mTLS benchmark (bench/mtls-bench.ts): CPU µs per request of each sidecar,
// medians over the interleaved rounds, the mTLS / plaintext CPU ratio against the aim, and the new-connection
// (handshake) rates. Pure: rows in, numbers and text out.

import type { HandshakeResult } from './handshake-load.ts';
import type { LoadResult, LoadTool } from './load.ts';
import { byToolAndVariant, median, pairedRatios, type PairedRatios } from './rounds.ts';
import { cpuPctText, fixed, formatAligned } from './table.ts';

export { isNoisy, median, type RoundRatio } from './rounds.ts';

export const VARIANTS = ['plaintext', 'mtls'] as const;
export type Variant = (typeof VARIANTS)[number];

/** The aim of issue 5: mTLS with keep-alive costs under 25 % more CPU per request than plaintext. */
export const MTLS_CPU_AIM_RATIO = 1.25;

/** One measured keep-alive run: load generator → client sidecar → server sidecar → upstream. */
export interface KeepAliveRow {
  readonly variant: Variant;
  readonly tool: LoadTool;
  readonly round: number;
  readonly load: LoadResult;
  /** CPU seconds of each sidecar's process over the run. */
  readonly clientCpuS: number;
  readonly serverCpuS: number;
  /** Busy seconds of the sidecars' CPUs not spent in the two sidecars (other processes, steal). */
  readonly otherCpuS: number;
  readonly durationS: number;
  /** Connections the client sidecar opened to the server sidecar during the run (a handshake each with mTLS). */
  readonly newConnections: number;
}

/** One measured new-connection run against the server sidecar's listener. */
export interface HandshakeRow {
  /** `plaintext`, or `mtls TLS 1.3` / `mtls TLS 1.2` (the client's maximum version). */
  readonly kind: string;
  readonly round: number;
  readonly result: HandshakeResult;
  readonly serverCpuS: number;
  /** Busy seconds of the sidecars' CPUs not spent in the server sidecar (the idle client sidecar included). */
  readonly otherCpuS: number;
  readonly durationS: number;
}

/** Upstream connections a sidecar opened so far: its clusters' `upstream_cx_total`, from admin stats. */
export function upstreamConnectionsOpened(stats: Readonly<Record<string, number>>): number {
  let total = 0;
  for (const [name, value] of Object.entries(stats)) if (name.startsWith('cluster.') && name.endsWith('.upstream_cx_total')) total += value;
  return total;
}

/** CPU µs per unit of work; undefined when nothing was done. */
export function usPer(cpuS: number, count: number): number | undefined {
  return count > 0 ? (cpuS / count) * 1e6 : undefined;
}

/** Both sidecars' CPU µs per request of a run. */
export function sidecarsUsPerReq(row: KeepAliveRow): number | undefined {
  return usPer(row.clientCpuS + row.serverCpuS, row.load.requests);
}

export const KEEP_ALIVE_COLUMNS = ['variant', 'tool', 'round', 'req/s', 'p50 ms', 'p99 ms', 'client µs/req', 'server µs/req',
  'sidecars µs/req', 'sidecars CPU', 'errors', 'other CPU', 'new conns'] as const;

export function keepAliveCells(rows: readonly KeepAliveRow[]): string[][] {
  return rows.map((r) => [
    r.variant, r.tool, String(r.round), Math.round(r.load.rps).toString(), fixed(r.load.p50Ms, 2), fixed(r.load.p99Ms, 2),
    fixed(usPer(r.clientCpuS, r.load.requests), 1), fixed(usPer(r.serverCpuS, r.load.requests), 1), fixed(sidecarsUsPerReq(r), 1),
    cpuPctText(r.clientCpuS + r.serverCpuS, r.durationS), String(r.load.errors + r.load.non2xx), cpuPctText(r.otherCpuS, r.durationS), String(r.newConnections),
  ]);
}

export interface KeepAliveSummary {
  readonly variant: Variant;
  readonly tool: LoadTool;
  readonly rounds: number;
  readonly rps?: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly clientUs?: number;
  readonly serverUs?: number;
  readonly sidecarsUs?: number;
}

/** Medians over the rounds, per tool and variant (tools in the order they first appear, plaintext first). */
export function summarizeKeepAlive(rows: readonly KeepAliveRow[]): KeepAliveSummary[] {
  return byToolAndVariant(rows, VARIANTS).map(({ tool, variant, runs }) => ({
    variant, tool, rounds: runs.length,
    rps: median(runs.map((r) => r.load.rps)), p50Ms: median(runs.map((r) => r.load.p50Ms)), p99Ms: median(runs.map((r) => r.load.p99Ms)),
    clientUs: median(runs.map((r) => usPer(r.clientCpuS, r.load.requests))), serverUs: median(runs.map((r) => usPer(r.serverCpuS, r.load.requests))),
    sidecarsUs: median(runs.map(sidecarsUsPerReq)),
  }));
}

export interface CpuRatio extends PairedRatios {
  readonly tool: LoadTool;
  /** mTLS / plaintext of the median sidecars µs/req. */
  readonly ofMedians?: number;
}

/** mTLS / plaintext sidecars µs/req per tool: of the medians, and per round (same tool and round) with their median. */
export function cpuRatios(rows: readonly KeepAliveRow[], summaries: readonly KeepAliveSummary[]): CpuRatio[] {
  const tools = [...new Set(rows.map((r) => r.tool))];
  return tools.map((tool) => {
    const of = (variant: Variant) => summaries.find((s) => s.tool === tool && s.variant === variant)?.sidecarsUs;
    const [plain, mtls] = [of('plaintext'), of('mtls')];
    return { tool, ...(plain === undefined || mtls === undefined || plain === 0 ? {} : { ofMedians: mtls / plain }), ...pairedRatios(rows, tool, VARIANTS, sidecarsUsPerReq) };
  });
}

/** "+32.0 % CPU per request: missed the +25 % aim by 7.0 points" (or "met"). */
export function aimVerdict(ratio: number, aim = MTLS_CPU_AIM_RATIO): string {
  const extra = (ratio - 1) * 100;
  const aimPct = (aim - 1) * 100;
  const sign = extra >= 0 ? '+' : '';
  return ratio < aim
    ? `${sign}${extra.toFixed(1)} % CPU per request: meets the aim (under +${aimPct.toFixed(0)} %)`
    : `${sign}${extra.toFixed(1)} % CPU per request: misses the +${aimPct.toFixed(0)} % aim by ${(extra - aimPct).toFixed(1)} points`;
}

export const KEEP_ALIVE_SUMMARY_COLUMNS = ['variant', 'tool', 'rounds', 'req/s', 'p50 ms', 'p99 ms', 'client µs/req', 'server µs/req', 'sidecars µs/req'] as const;

export function formatKeepAlive(rows: readonly KeepAliveRow[]): string {
  const summaries = summarizeKeepAlive(rows);
  const summary = summaries.map((s) => [s.variant, s.tool, String(s.rounds), fixed(s.rps, 0), fixed(s.p50Ms, 2), fixed(s.p99Ms, 2),
    fixed(s.clientUs, 1), fixed(s.serverUs, 1), fixed(s.sidecarsUs, 1)]);
  const verdicts = cpuRatios(rows, summaries).map((r) => (r.medianPerRound === undefined || r.ofMedians === undefined
    ? `${r.tool}: no ratio (a variant has no result)`
    : `${r.tool}: mTLS / plaintext sidecars CPU per request, median of the rounds' ratios ` +
      `${r.medianPerRound.toFixed(2)}x (rounds: ${r.perRound.map((x) => `${x.ratio.toFixed(2)}${x.noisy ? '*' : ''}`).join(', ')}; * = noisy; ` +
      `ratio of the medians ${r.ofMedians.toFixed(2)}x); ${aimVerdict(r.medianPerRound)}`));
  return [
    'keep-alive, every run:', formatAligned(KEEP_ALIVE_COLUMNS, keepAliveCells(rows)),
    'keep-alive, medians:', formatAligned(KEEP_ALIVE_SUMMARY_COLUMNS, summary), ...verdicts.map((v) => `${v}\n`),
  ].join('\n');
}

export const HANDSHAKE_COLUMNS = ['kind', 'round', 'conns/s', 'p50 ms', 'p99 ms', 'server µs/conn', 'server CPU', 'errors', 'other CPU', 'negotiated'] as const;

export function handshakeCells(rows: readonly HandshakeRow[]): string[][] {
  return rows.map((r) => [
    r.kind, String(r.round), fixed(r.result.perS, 0), fixed(r.result.p50Ms, 2), fixed(r.result.p99Ms, 2),
    fixed(usPer(r.serverCpuS, r.result.ok), 1), cpuPctText(r.serverCpuS, r.durationS), String(r.result.errors), cpuPctText(r.otherCpuS, r.durationS),
    r.result.protocol === '' ? '-' : `${r.result.protocol} ${r.result.cipher}`,
  ]);
}

export interface HandshakeSummary {
  readonly kind: string;
  readonly perS?: number;
  readonly serverUs?: number;
  /** serverUs minus the plaintext kind's: what the TLS handshake (and TLS on one request) adds per connection. */
  readonly overPlaintextUs?: number;
}

export function summarizeHandshakes(rows: readonly HandshakeRow[]): HandshakeSummary[] {
  const kinds = [...new Set(rows.map((r) => r.kind))];
  const medians = kinds.map((kind) => {
    const runs = rows.filter((r) => r.kind === kind);
    return { kind, perS: median(runs.map((r) => r.result.perS)), serverUs: median(runs.map((r) => usPer(r.serverCpuS, r.result.ok))) };
  });
  const plain = medians.find((m) => m.kind === 'plaintext')?.serverUs;
  return medians.map((m) => (m.kind === 'plaintext' || plain === undefined || m.serverUs === undefined ? m : { ...m, overPlaintextUs: m.serverUs - plain }));
}

export function formatHandshakes(rows: readonly HandshakeRow[]): string {
  const summary = summarizeHandshakes(rows).map((s) => [s.kind, fixed(s.perS, 0), fixed(s.serverUs, 1), fixed(s.overPlaintextUs, 1)]);
  return [
    'new connection per request, every run:', formatAligned(HANDSHAKE_COLUMNS, handshakeCells(rows)),
    'new connection per request, medians:', formatAligned(['kind', 'conns/s', 'server µs/conn', 'over plaintext µs'], summary, 1),
  ].join('\n');
}
