// Tests bench/lib/args.ts: defaults, --quick, every option, and every error reported at once.

import { describe, expect, it } from 'vitest';
import { ALL_PEERS, DEFAULT_PROXY_NODE_FLAGS, USAGE, benchCommand, parseBenchArgs } from '../../../bench/lib/args.ts';

describe('parseBenchArgs', () => {
  it('defaults to every peer, both tools, 3 s warm-up + 10 s, 50 connections, 100 bytes, proxy on CPU 0', () => {
    const r = parseBenchArgs([]);
    expect(r).toEqual({
      ok: true,
      options: {
        peers: [...ALL_PEERS], tool: 'both', durationS: 10, warmupS: 3, connections: 50, payloadBytes: 100,
        envoyPath: undefined, nodeFlags: DEFAULT_PROXY_NODE_FLAGS.split(' '), proxyCpus: '0', loadCpus: '1',
        controlPlane: false, services: 100, mtls: false, telemetry: false, rounds: 5, handshakeParallel: 16, help: false,
      },
    });
  });

  it('--quick shortens the run and uses autocannon only, unless told otherwise', () => {
    const quick = parseBenchArgs(['--quick']);
    expect(quick.ok && [quick.options.warmupS, quick.options.durationS, quick.options.tool]).toEqual([1, 2, 'autocannon']);
    const quickWrk = parseBenchArgs(['--quick', '--tool', 'wrk', '--duration', '4']);
    expect(quickWrk.ok && [quickWrk.options.durationS, quickWrk.options.tool]).toEqual([4, 'wrk']);
  });

  it.each([
    [['--peers', 'nginx, direct,nginx'], { peers: ['nginx', 'direct'] }],
    [['--duration', '2.5', '--warmup', '0'], { durationS: 2.5, warmupS: 0 }],
    [['--connections', '100', '--payload', '0'], { connections: 100, payloadBytes: 0 }],
    [['--envoy', '/usr/local/bin/envoy', '--peers', 'envoy'], { envoyPath: '/usr/local/bin/envoy', peers: ['envoy'] }],
    [['--node-flags=--max-semi-space-size=16  --max-old-space-size=256'], { nodeFlags: ['--max-semi-space-size=16', '--max-old-space-size=256'] }],
    [['--node-flags', ''], { nodeFlags: [] }],
    [['--proxy-cpus', '0-1', '--load-cpus', '2,3'], { proxyCpus: '0-1', loadCpus: '2,3' }],
    [['--control-plane', '--services', '20'], { controlPlane: true, services: 20 }],
    [['--mtls', '--rounds', '7', '--handshake-parallel', '4'], { mtls: true, rounds: 7, handshakeParallel: 4 }],
    [['--mtls', '--quick'], { mtls: true, rounds: 1, durationS: 2 }],
    [['--mtls', '--handshake-parallel', '0'], { handshakeParallel: 0 }],
    [['--telemetry', '--rounds', '3'], { telemetry: true, mtls: false, rounds: 3 }],
    [['--telemetry', '--quick'], { telemetry: true, rounds: 1, durationS: 2, tool: 'autocannon' }],
    [['-h'], { help: true }],
  ])('%j', (argv, expected) => {
    const r = parseBenchArgs(argv);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.options).toMatchObject(expected);
  });

  it('reports every problem at once', () => {
    const r = parseBenchArgs(['--peers', 'nginx,traefik,envoy', '--tool', 'ab', '--duration', '0', '--connections', '1.5', '--payload', 'x']);
    expect(r).toEqual({
      ok: false,
      errors: [
        '--peers: unknown peer "traefik" (known: direct, nodevoy, http-proxy, nginx, haproxy, envoy)',
        '--tool: "ab" is not one of autocannon, wrk, both',
        '--peers: "envoy" needs --envoy PATH',
        '--duration: "0" is not a number >= 1',
        '--connections: "1.5" is not an integer >= 1',
        '--payload: "x" is not an integer >= 0',
      ],
    });
  });

  it('refuses --mtls with --control-plane, and zero rounds', () => {
    expect(parseBenchArgs(['--mtls', '--control-plane', '--rounds', '0'])).toEqual({
      ok: false,
      errors: ['--rounds: "0" is not an integer >= 1', '--mtls and --control-plane are separate benchmarks: give one'],
    });
  });

  it('refuses --telemetry with another benchmark', () => {
    expect(parseBenchArgs(['--telemetry', '--mtls'])).toEqual({ ok: false, errors: ['--mtls and --telemetry are separate benchmarks: give one'] });
    expect(parseBenchArgs(['--control-plane', '--telemetry', '--mtls'])).toEqual({
      ok: false, errors: ['--mtls and --control-plane and --telemetry are separate benchmarks: give one'],
    });
  });

  it('rejects unknown flags and positionals', () => {
    expect(parseBenchArgs(['--pipelining', '10']).ok).toBe(false);
    expect(parseBenchArgs(['nginx']).ok).toBe(false);
  });
});

describe('benchCommand', () => {
  it('runs with the options, prints the usage for --help, and every problem then the usage for bad arguments', () => {
    expect(benchCommand(['--quick'], 'bench')).toMatchObject({ run: { durationS: 2 } });
    expect(benchCommand(['--help'], 'bench')).toEqual({ exitCode: 0, stdout: USAGE, stderr: '' });
    expect(benchCommand(['--duration', '0', '--rounds', 'x'], 'bench --mtls')).toEqual({
      exitCode: 2, stdout: '',
      stderr: `bench --mtls: --duration: "0" is not a number >= 1\nbench --mtls: --rounds: "x" is not an integer >= 1\n${USAGE}`,
    });
  });
});
