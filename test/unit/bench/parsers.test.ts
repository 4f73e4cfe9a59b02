// Tests the output parsers of the bench harness: autocannon -j, wrk --latency, /proc stat/status/stat lines,
// and Envoy admin /stats text.

import { describe, expect, it } from 'vitest';
import { parseAutocannonJson, parseWrkOutput } from '../../../bench/lib/load.ts';
import { parseAdminStats } from '../../../bench/lib/peers.ts';
import { cpuBusySecondsFromProcStat, cpuSecondsFromStat, parseCpuList, rssBytesFromStatus } from '../../../bench/lib/proc-stat.ts';

const WRK = `Running 10s test @ http://127.0.0.1:4000/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   715.09us  373.70us   7.85ms   95.25%
    Req/Sec    72.60k     6.92k   78.18k    90.00%
  Latency Distribution
     50%  635.00us
     75%  694.00us
     90%    0.87ms
     99%    1.02s
  144247 requests in 10.00s, 34.53MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  14424.70
Transfer/sec:     17.23MB
`;

describe('parseWrkOutput', () => {
  it('reads req/s, p50/p99 in ms whatever the unit, requests, socket errors and non-2xx', () => {
    expect(parseWrkOutput(WRK)).toEqual({ tool: 'wrk', rps: 14424.7, p50Ms: 0.635, p99Ms: 1020, requests: 144247, errors: 5, non2xx: 7 });
  });

  it('counts no errors when wrk prints no error lines', () => {
    const clean = WRK.replace(/ {2}Socket errors.*\n {2}Non-2xx.*\n/, '');
    expect(parseWrkOutput(clean)).toMatchObject({ errors: 0, non2xx: 0 });
  });

  it('rejects output without a result', () => {
    expect(() => parseWrkOutput('unable to connect to 127.0.0.1:4000 Connection refused\n')).toThrow(/unexpected output/);
  });
});

describe('parseAutocannonJson', () => {
  it('takes the JSON line and maps average req/s, p50/p99, totals, errors+timeouts and non-2xx', () => {
    const json = JSON.stringify({
      requests: { average: 33004.5, total: 66010 }, latency: { p50: 1, p99: 5 }, errors: 2, timeouts: 1, non2xx: 4,
    });
    expect(parseAutocannonJson(`some warning\n${json}\n`)).toEqual({
      tool: 'autocannon', rps: 33004.5, p50Ms: 1, p99Ms: 5, requests: 66010, errors: 3, non2xx: 4,
    });
  });

  it('rejects output without JSON', () => {
    expect(() => parseAutocannonJson('Error: connect ECONNREFUSED')).toThrow(/no JSON result/);
  });
});

describe('/proc parsing', () => {
  it('sums utime and stime even when the command name has spaces and parentheses', () => {
    const stat = '4242 (nginx: worker (x)) S 4241 4241 4241 0 -1 4194624 100 0 0 0 250 50 0 0 20 0 1 0 1000 1000000 300';
    expect(cpuSecondsFromStat(stat, 100)).toBe(3);
  });

  it('reads VmRSS in bytes, 0 when absent', () => {
    expect(rssBytesFromStatus('Name:\tnode\nVmRSS:\t   12345 kB\nThreads:\t7\n')).toBe(12345 * 1024);
    expect(rssBytesFromStatus('Name:\tzombie\n')).toBe(0);
  });
});

describe('parseAdminStats', () => {
  it('keeps the counters that tell whether a run was clean', () => {
    const text = [
      'cluster.bench.upstream_cx_total: 52',
      'cluster.bench.upstream_rq_total: 100000',
      'cluster.bench.upstream_rq_pending_overflow: 0',
      'cluster.bench.upstream_cx_connect_ms: P0(nan,1) P25(nan,1)',
      'http.outbound.downstream_rq_2xx: 100000',
      'http.outbound.no_route: 0',
      'server.uptime: 12',
    ].join('\n');
    expect(parseAdminStats(text)).toEqual({
      'cluster.bench.upstream_cx_total': 52,
      'cluster.bench.upstream_rq_total': 100000,
      'cluster.bench.upstream_rq_pending_overflow': 0,
      'http.outbound.downstream_rq_2xx': 100000,
      'http.outbound.no_route': 0,
    });
  });

  it('keeps what another pattern names instead', () => {
    const text = 'tracing.zipkin.spans_sent: 12\nhttp.outbound.tracing.random_sampling: 12\ncluster.bench.upstream_cx_total: 52\n';
    expect(parseAdminStats(text, /^(tracing\.zipkin\.\w+|http\.outbound\.tracing\.\w+)$/)).toEqual({
      'tracing.zipkin.spans_sent': 12, 'http.outbound.tracing.random_sampling': 12,
    });
  });
});

describe('CPU lists and /proc/stat', () => {
  it.each([['0', [0]], ['2,3', [2, 3]], ['0-2,5', [0, 1, 2, 5]]])('parseCpuList(%s)', (list, cpus) => {
    expect(parseCpuList(list)).toEqual(cpus);
  });

  it('counts user, nice, system, irq, softirq and steal as busy; idle and iowait are not', () => {
    const stat = 'cpu  900 0 900 900 9 0 0 0 0 0\ncpu0 100 10 50 1000 20 5 15 20 0 0\ncpu1 300 0 100 700 0 0 0 0 0 0\n';
    expect(cpuBusySecondsFromProcStat(stat, [0], 100)).toBe(2);
    expect(cpuBusySecondsFromProcStat(stat, [0, 1], 100)).toBe(6);
  });
});
