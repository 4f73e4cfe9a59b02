// Tests bench/lib/mtls-report.ts: CPU µs per request, medians over rounds, the mTLS / plaintext ratio against
// the +25 % aim (of medians and per round), the handshake cost over plaintext, and the tables' cells.

import { describe, expect, it } from 'vitest';
import type { HandshakeResult } from '../../../bench/lib/handshake-load.ts';
import type { LoadResult, LoadTool } from '../../../bench/lib/load.ts';
import {
  aimVerdict, cpuRatios, formatKeepAlive, handshakeCells, keepAliveCells, median, summarizeHandshakes, summarizeKeepAlive, upstreamConnectionsOpened, usPer,
  type HandshakeRow, type KeepAliveRow, type Variant,
} from '../../../bench/lib/mtls-report.ts';

function load(tool: LoadTool, rps: number, requests: number): LoadResult {
  return { tool, rps, p50Ms: 2, p99Ms: 6, requests, errors: 0, non2xx: 1 };
}

/** A 10 s run of `requests` requests whose sidecars used `clientUs` + `serverUs` µs per request. */
function run(variant: Variant, round: number, requests: number, clientUs: number, serverUs: number, tool: LoadTool = 'autocannon'): KeepAliveRow {
  return {
    variant, tool, round, load: load(tool, requests / 10, requests), durationS: 10,
    clientCpuS: (clientUs * requests) / 1e6, serverCpuS: (serverUs * requests) / 1e6, otherCpuS: 0.3, newConnections: 40,
  };
}

const rows: KeepAliveRow[] = [
  run('plaintext', 1, 100_000, 50, 40), run('mtls', 1, 80_000, 60, 50),
  run('mtls', 2, 70_000, 70, 60), run('plaintext', 2, 90_000, 55, 45),
  run('plaintext', 3, 95_000, 52, 38), run('mtls', 3, 75_000, 66, 54),
];

describe('upstreamConnectionsOpened', () => {
  it('sums every cluster\'s upstream_cx_total and nothing else', () => {
    expect(upstreamConnectionsOpened({
      'cluster.a.upstream_cx_total': 40, 'cluster.b.upstream_cx_total': 2, 'cluster.a.ssl.handshake': 40, 'listener.x.downstream_cx_total': 9,
    })).toBe(42);
    expect(upstreamConnectionsOpened({})).toBe(0);
  });
});

describe('usPer and median', () => {
  it('divides CPU seconds by the count in µs, undefined for no work', () => {
    expect(usPer(0.5, 10_000)).toBeCloseTo(50);
    expect(usPer(0.5, 0)).toBeUndefined();
  });

  it('takes the middle value, the mean of the two middle ones, and skips undefined', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, undefined, 3, 2])).toBe(2.5);
    expect(median([undefined])).toBeUndefined();
  });
});

describe('summarizeKeepAlive and cpuRatios', () => {
  it('takes medians per variant over the rounds, sidecars = client + server', () => {
    const [plain, mtls] = summarizeKeepAlive(rows);
    expect(plain).toMatchObject({ variant: 'plaintext', tool: 'autocannon', rounds: 3, rps: 9_500 });
    expect(plain!.clientUs).toBeCloseTo(52);
    expect(plain!.serverUs).toBeCloseTo(40);
    expect(plain!.sidecarsUs).toBeCloseTo(90);
    expect(mtls!.sidecarsUs).toBeCloseTo(120);
  });

  it('gives the ratio of the medians and of each round (matched by round number, whatever the order)', () => {
    const [r] = cpuRatios(rows, summarizeKeepAlive(rows));
    expect(r!.tool).toBe('autocannon');
    expect(r!.ofMedians).toBeCloseTo(120 / 90);
    expect(r!.perRound.map((x) => [x.round, x.ratio.toFixed(3), x.noisy])).toEqual([[1, (110 / 90).toFixed(3), false], [2, (130 / 100).toFixed(3), false], [3, (120 / 90).toFixed(3), false]]);
    expect(r!.medianPerRound).toBeCloseTo(130 / 100);
  });

  it('marks a round noisy when either run had over 10 % other CPU on the sidecars\' core, and keeps it in the median', () => {
    const someNoisy = [rows[0]!, rows[1]!, { ...rows[2]!, otherCpuS: 1.5 }, rows[3]!, rows[4]!, rows[5]!];
    const [r] = cpuRatios(someNoisy, summarizeKeepAlive(someNoisy));
    expect(r!.perRound.map((x) => x.noisy)).toEqual([false, true, false]);
    expect(r!.medianPerRound).toBeCloseTo(130 / 100);
    expect(formatKeepAlive(someNoisy)).toContain('(rounds: 1.22, 1.30*, 1.33; * = noisy;');
  });

  it('has no ratio for a tool with one variant only', () => {
    const wrkOnly = [run('plaintext', 1, 1000, 10, 10, 'wrk')];
    expect(cpuRatios(wrkOnly, summarizeKeepAlive(wrkOnly))).toEqual([{ tool: 'wrk', perRound: [] }]);
  });
});

describe('aimVerdict', () => {
  it.each([
    [1.1, '+10.0 % CPU per request: meets the aim (under +25 %)'],
    [1.32, '+32.0 % CPU per request: misses the +25 % aim by 7.0 points'],
    [0.95, '-5.0 % CPU per request: meets the aim (under +25 %)'],
  ])('%s', (ratio, expected) => {
    expect(aimVerdict(ratio)).toBe(expected);
  });
});

describe('keep-alive cells and table', () => {
  it('shows per-sidecar and summed µs/req, CPU % of the run, errors + non-2xx', () => {
    expect(keepAliveCells(rows.slice(0, 1))).toEqual([
      ['plaintext', 'autocannon', '1', '10000', '2.00', '6.00', '50.0', '40.0', '90.0', '90%', '1', '3%', '40'],
    ]);
  });

  it('prints every run, the medians and the verdict', () => {
    const text = formatKeepAlive(rows);
    expect(text).toContain('keep-alive, every run:');
    expect(text).toContain('keep-alive, medians:');
    expect(text).toContain('autocannon: mTLS / plaintext sidecars CPU per request, median of the rounds\' ratios 1.30x (rounds: 1.22, 1.30, 1.33; ' +
      '* = noisy; ratio of the medians 1.33x); +30.0 % CPU per request: misses the +25 % aim by 5.0 points');
  });
});

function hs(ok: number, errors = 0, protocol = ''): HandshakeResult {
  return { connections: ok + errors, ok, errors, elapsedS: 10, perS: ok / 10, p50Ms: 5, p99Ms: 20, protocol, cipher: protocol ? 'TLS_AES_256_GCM_SHA384' : '', firstError: '' };
}

describe('handshakes', () => {
  const runs: HandshakeRow[] = [
    { kind: 'plaintext', round: 1, result: hs(30_000), serverCpuS: 6, otherCpuS: 0, durationS: 10 },
    { kind: 'mtls TLS 1.3', round: 1, result: hs(4_000, 2, 'TLSv1.3'), serverCpuS: 8, otherCpuS: 0.5, durationS: 10 },
    { kind: 'mtls TLS 1.3', round: 2, result: hs(5_000, 0, 'TLSv1.3'), serverCpuS: 9, otherCpuS: 0.5, durationS: 10 },
  ];

  it('gives connections/s, server µs per connection and what mTLS adds over a plaintext connection', () => {
    expect(summarizeHandshakes(runs)).toEqual([
      { kind: 'plaintext', perS: 3_000, serverUs: 200 },
      { kind: 'mtls TLS 1.3', perS: 450, serverUs: 1900, overPlaintextUs: 1700 },
    ]);
  });

  it('shows what was negotiated', () => {
    expect(handshakeCells(runs.slice(0, 2))).toEqual([
      ['plaintext', '1', '3000', '5.00', '20.00', '200.0', '60%', '0', '0%', '-'],
      ['mtls TLS 1.3', '1', '400', '5.00', '20.00', '2000.0', '80%', '2', '5%', 'TLSv1.3 TLS_AES_256_GCM_SHA384'],
    ]);
  });
});
