// The one results table printed at the end of `npm run bench`: a row per peer and load tool, with the
// req/s ratios against nginx and http-proxy measured by the same tool; the fixed-width layout other bench
// tables share. Pure.

import type { LoadResult, LoadTool } from './load.ts';

export interface RunRow {
  readonly peer: string;
  readonly tool: LoadTool;
  readonly load?: LoadResult;
  /** Proxy CPU over the measured window as % of one core (absent for `direct`). */
  readonly proxyCpuPct?: number;
  /** Proxy CPU time per request, µs. */
  readonly proxyCpuUsPerReq?: number;
  /** Busy time of the proxy's CPU not spent in the proxy (other processes, steal), % of one core. */
  readonly otherLoadOnProxyCpuPct?: number;
  /** Proxy resident memory after the run, MiB. */
  readonly proxyRssMiB?: number;
  /** Why the row has no numbers. */
  readonly error?: string;
}

export const COLUMNS = ['peer', 'tool', 'req/s', 'p50 ms', 'p99 ms', 'proxy CPU', 'CPU µs/req', 'RSS MiB', 'errors', 'other CPU', 'vs nginx', 'vs http-proxy'] as const;

/** `peer`'s req/s divided by `baseline`'s, for the same tool ("-" when either is missing). */
export function ratio(rows: readonly RunRow[], row: RunRow, baseline: string): string {
  const base = rows.find((r) => r.peer === baseline && r.tool === row.tool)?.load;
  if (!row.load || !base || base.rps === 0) return '-';
  return `${(row.load.rps / base.rps).toFixed(2)}x`;
}

/** A number with `digits` decimals, `-` when there is none. */
export function fixed(n: number | undefined, digits: number): string {
  return n === undefined ? '-' : n.toFixed(digits);
}

/** CPU seconds over a window as a whole % of one core (never below 0). */
export function cpuPctText(cpuS: number, durationS: number): string {
  return `${Math.max(0, (cpuS / durationS) * 100).toFixed(0)}%`;
}

export function tableCells(rows: readonly RunRow[]): string[][] {
  return rows.map((r) => {
    if (!r.load) return [r.peer, r.tool, `failed: ${r.error ?? 'no result'}`];
    return [
      r.peer,
      r.tool,
      Math.round(r.load.rps).toString(),
      fixed(r.load.p50Ms, 2),
      fixed(r.load.p99Ms, 2),
      r.proxyCpuPct === undefined ? '-' : `${r.proxyCpuPct.toFixed(0)}%`,
      fixed(r.proxyCpuUsPerReq, 1),
      fixed(r.proxyRssMiB, 1),
      String(r.load.errors + r.load.non2xx),
      r.otherLoadOnProxyCpuPct === undefined ? '-' : `${Math.max(0, r.otherLoadOnProxyCpuPct).toFixed(0)}%`,
      ratio(rows, r, 'nginx'),
      ratio(rows, r, 'http-proxy'),
    ];
  });
}

/** The peers table: fixed-width, a failed row's message running across the numeric columns. */
export function formatTable(rows: readonly RunRow[]): string {
  return formatAligned(COLUMNS, tableCells(rows));
}

/**
 * A fixed-width text table: the first `leftColumns` columns left-aligned (names), the others right-aligned
 * (numbers), one header and one rule line. A row shorter than the header ends with a message (a failed
 * row's reason) that runs across the remaining columns and does not widen the column it starts in.
 */
export function formatAligned(columns: readonly string[], body: readonly (readonly string[])[], leftColumns = 2): string {
  const all = [columns, ...body];
  const widths = columns.map((_, i) => Math.max(...all.map((cells) => (cells.length === columns.length || i < cells.length - 1 ? cells[i]?.length ?? 0 : 0))));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (cells.length < columns.length && i === cells.length - 1 ? c : i < leftColumns ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(columns), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n') + '\n';
}
