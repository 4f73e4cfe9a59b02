// Tests bench/lib/table.ts: ratios against nginx and http-proxy per tool, cell formatting, failed rows.

import { describe, expect, it } from 'vitest';
import type { LoadResult, LoadTool } from '../../../bench/lib/load.ts';
import { formatAligned, formatTable, ratio, tableCells, type RunRow } from '../../../bench/lib/table.ts';

function load(tool: LoadTool, rps: number): LoadResult {
  return { tool, rps, p50Ms: 1.234, p99Ms: 5.678, requests: rps * 10, errors: 1, non2xx: 2 };
}

const rows: RunRow[] = [
  { peer: 'direct', tool: 'wrk', load: load('wrk', 60_000) },
  { peer: 'nginx', tool: 'wrk', load: load('wrk', 30_000), proxyCpuPct: 61.4, proxyCpuUsPerReq: 17.06, proxyRssMiB: 12.94, otherLoadOnProxyCpuPct: 3.4 },
  { peer: 'http-proxy', tool: 'wrk', load: load('wrk', 10_000), proxyCpuPct: 99.6, proxyCpuUsPerReq: 88.44, proxyRssMiB: 120, otherLoadOnProxyCpuPct: -0.4 },
  { peer: 'nginx', tool: 'autocannon', load: load('autocannon', 25_000) },
  { peer: 'nodevoy', tool: 'autocannon', load: load('autocannon', 12_500) },
  { peer: 'nodevoy', tool: 'wrk', error: 'nodevoy exited (1) before listening on 4000' },
];

describe('ratio', () => {
  it.each([
    [rows[0], 'nginx', '2.00x'],
    [rows[0], 'http-proxy', '6.00x'],
    [rows[4], 'nginx', '0.50x'], // compared with nginx under the same tool (autocannon), not wrk
    [rows[4], 'http-proxy', '-'], // no http-proxy row for autocannon
    [rows[5], 'nginx', '-'], // failed row
  ])('%#: %s vs %s', (row, baseline, expected) => {
    expect(ratio(rows, row!, baseline)).toBe(expected);
  });
});

describe('tableCells', () => {
  it('rounds req/s, keeps two decimals of latency, one of CPU µs and RSS, sums errors and non-2xx, clamps other CPU at 0', () => {
    expect(tableCells(rows)[1]).toEqual(['nginx', 'wrk', '30000', '1.23', '5.68', '61%', '17.1', '12.9', '3', '3%', '1.00x', '3.00x']);
    expect(tableCells(rows)[0]?.slice(5, 8)).toEqual(['-', '-', '-']);
  });

  it('gives a failed row its message instead of numbers', () => {
    expect(tableCells(rows)[5]).toEqual(['nodevoy', 'wrk', 'failed: nodevoy exited (1) before listening on 4000']);
  });
});

describe('formatTable', () => {
  it('aligns columns: names left, numbers right, one header and one rule line', () => {
    const lines = formatTable(rows.slice(0, 3)).trimEnd().split('\n');
    expect(lines).toEqual([
      'peer        tool  req/s  p50 ms  p99 ms  proxy CPU  CPU µs/req  RSS MiB  errors  other CPU  vs nginx  vs http-proxy',
      '----------  ----  -----  ------  ------  ---------  ----------  -------  ------  ---------  --------  -------------',
      'direct      wrk   60000    1.23    5.68          -           -        -       3          -     2.00x          6.00x',
      'nginx       wrk   30000    1.23    5.68        61%        17.1     12.9       3         3%     1.00x          3.00x',
      'http-proxy  wrk   10000    1.23    5.68       100%        88.4    120.0       3         0%     0.33x          1.00x',
    ]);
  });
});

describe('formatAligned', () => {
  it('left-aligns the first leftColumns columns, right-aligns the rest, lets a short row\'s message run on', () => {
    expect(formatAligned(['kind', 'n', 'µs'], [['a', '1', '10.5'], ['longer', '200', '1'], ['b', 'failed: no result']], 1).trimEnd().split('\n')).toEqual([
      'kind      n    µs',
      '------  ---  ----',
      'a         1  10.5',
      'longer  200     1',
      'b       failed: no result',
    ]);
  });
});
