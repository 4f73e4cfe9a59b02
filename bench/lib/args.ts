// Command-line options of `npm run bench` (bench/run.ts). Pure: returns the options or every problem found.

import { parseArgs } from 'node:util';

export const ALL_PEERS = ['direct', 'nodevoy', 'http-proxy', 'nginx', 'haproxy', 'envoy'] as const;
export type PeerName = (typeof ALL_PEERS)[number];
export const TOOLS = ['autocannon', 'wrk', 'both'] as const;
export type ToolChoice = (typeof TOOLS)[number];

/**
 * V8 flags for the Node proxy peers (nodevoy and http-proxy get the same, so the comparison stays fair).
 * A bigger young generation (semi-space) means fewer scavenges for a proxy that allocates short-lived
 * objects per request; see bench/README.md for the measurements behind the value.
 */
export const DEFAULT_PROXY_NODE_FLAGS = '--max-semi-space-size=16';

export interface BenchOptions {
  readonly peers: readonly PeerName[];
  readonly tool: ToolChoice;
  /** Measured window per run, seconds. */
  readonly durationS: number;
  /** Discarded load before the measured runs of each peer, seconds. */
  readonly warmupS: number;
  readonly connections: number;
  readonly payloadBytes: number;
  /** Path of an Envoy binary; the envoy peer runs only when given. */
  readonly envoyPath: string | undefined;
  /** Node flags for the Node proxy peers, split on whitespace. */
  readonly nodeFlags: readonly string[];
  /** The CPU list the proxy is pinned to (taskset -c), and the one for the load generator and upstream. */
  readonly proxyCpus: string;
  readonly loadCpus: string;
  /** Run the control-plane benchmarks (translation, xDS propagation) instead of the data-plane peers. */
  readonly controlPlane: boolean;
  /** Mesh size of the xDS propagation benchmark (with --control-plane). */
  readonly services: number;
  /** Run the two-sidecar mTLS benchmark (bench/mtls-bench.ts) instead of the data-plane peers. */
  readonly mtls: boolean;
  /** Run the telemetry benchmark (bench/telemetry-bench.ts): the sidecar with Istio metrics and tracing off vs on. */
  readonly telemetry: boolean;
  /** With --mtls or --telemetry: measured rounds per variant, the two variants interleaved. */
  readonly rounds: number;
  /** With --mtls: connections opened in parallel by the new-connection (handshake) load; 0 skips those runs. */
  readonly handshakeParallel: number;
  readonly help: boolean;
}

export type ParsedBenchArgs = { ok: true; options: BenchOptions } | { ok: false; errors: string[] };

export const USAGE = `usage: npm run bench -- [options]

  --peers a,b,c        peers to run (default: all): ${ALL_PEERS.join(', ')}
  --tool T             load generator: autocannon | wrk | both (default: both; wrk is skipped when absent)
  --duration S         measured seconds per run (default 10)
  --warmup S           warm-up seconds per peer, discarded (default 3)
  --connections N      concurrent keep-alive connections (default 50)
  --payload N          upstream response body bytes (default 100)
  --envoy PATH         run real Envoy too, with the same bootstrap (bench/configs/nodevoy-envoy.yaml)
  --node-flags "..."   V8/Node flags for the Node proxy peers (default "${DEFAULT_PROXY_NODE_FLAGS}")
  --proxy-cpus LIST    taskset CPU list for the proxy (default 0)
  --load-cpus LIST     taskset CPU list for the load generator and the upstream (default 1)
  --quick              smoke run: 1 s warm-up, 2 s measured, autocannon only unless --tool is given
  --control-plane      instead of the peers: translation of a 1,000-service mesh (bench/translate-bench.ts) and
                       xDS propagation to 50 sidecars (bench/xds-propagation-bench.ts)
  --services N         mesh size of the propagation benchmark (default 100)
  --mtls               instead of the peers: client sidecar -> server sidecar, plaintext vs mTLS with keep-alive,
                       and the new-handshake rate (bench/mtls-bench.ts); both sidecars on --proxy-cpus
  --telemetry          instead of the peers: the nodevoy sidecar with telemetry off vs on (Istio's metadata exchange and
                       stats filters, 1 % Zipkin tracing to a local collector) (bench/telemetry-bench.ts)
  --rounds N           with --mtls or --telemetry: measured rounds per variant, interleaved (default 5; --quick 1)
  --handshake-parallel N  with --mtls: parallel connections of the new-handshake load (default 16; 0 skips it)
`;

export function parseBenchArgs(argv: readonly string[]): ParsedBenchArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        peers: { type: 'string' },
        tool: { type: 'string' },
        duration: { type: 'string' },
        warmup: { type: 'string' },
        connections: { type: 'string' },
        payload: { type: 'string' },
        envoy: { type: 'string' },
        'node-flags': { type: 'string' },
        'proxy-cpus': { type: 'string' },
        'load-cpus': { type: 'string' },
        quick: { type: 'boolean', default: false },
        'control-plane': { type: 'boolean', default: false },
        services: { type: 'string' },
        mtls: { type: 'boolean', default: false },
        telemetry: { type: 'boolean', default: false },
        rounds: { type: 'string' },
        'handshake-parallel': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    return { ok: false, errors: [(err as Error).message] };
  }
  const errors: string[] = [];
  const quick = values.quick === true;

  const number = (flag: string, raw: string | undefined, fallback: number, min: number, integer: boolean): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
      errors.push(`--${flag}: "${raw}" is not ${integer ? 'an integer' : 'a number'} >= ${min}`);
      return fallback;
    }
    return n;
  };

  const peers: PeerName[] = [];
  for (const p of (values.peers ?? ALL_PEERS.join(',')).split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    if ((ALL_PEERS as readonly string[]).includes(p)) {
      if (!peers.includes(p as PeerName)) peers.push(p as PeerName);
    } else {
      errors.push(`--peers: unknown peer "${p}" (known: ${ALL_PEERS.join(', ')})`);
    }
  }
  if (values.peers !== undefined && peers.length === 0 && errors.length === 0) errors.push('--peers: no peer given');

  const tool = (values.tool ?? (quick ? 'autocannon' : 'both')) as ToolChoice;
  if (!TOOLS.includes(tool)) errors.push(`--tool: "${values.tool}" is not one of ${TOOLS.join(', ')}`);
  if (values.peers?.split(',').includes('envoy') && values.envoy === undefined) {
    errors.push('--peers: "envoy" needs --envoy PATH');
  }

  const options: BenchOptions = {
    peers,
    tool,
    durationS: number('duration', values.duration, quick ? 2 : 10, 1, false),
    warmupS: number('warmup', values.warmup, quick ? 1 : 3, 0, false),
    connections: number('connections', values.connections, 50, 1, true),
    payloadBytes: number('payload', values.payload, 100, 0, true),
    envoyPath: values.envoy,
    nodeFlags: (values['node-flags'] ?? DEFAULT_PROXY_NODE_FLAGS).split(/\s+/).filter((f) => f !== ''),
    proxyCpus: values['proxy-cpus'] ?? '0',
    loadCpus: values['load-cpus'] ?? '1',
    controlPlane: values['control-plane'] === true,
    services: number('services', values.services, 100, 2, true),
    mtls: values.mtls === true,
    telemetry: values.telemetry === true,
    rounds: number('rounds', values.rounds, quick ? 1 : 5, 1, true),
    handshakeParallel: number('handshake-parallel', values['handshake-parallel'], 16, 0, true),
    help: values.help === true,
  };
  const benches = (['mtls', 'control-plane', 'telemetry'] as const).filter((b) => values[b] === true);
  if (benches.length > 1) errors.push(`${benches.map((b) => `--${b}`).join(' and ')} are separate benchmarks: give one`);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, options };
}

/** What a bench command does with its arguments: run with the options, or print and exit (problems: 2, --help: 0). */
export type BenchCommand =
  | { readonly run: BenchOptions }
  | { readonly exitCode: number; readonly stdout: string; readonly stderr: string };

/** `name` prefixes each problem (`bench: --duration: ...`); the usage follows the problems on stderr. */
export function benchCommand(argv: readonly string[], name: string): BenchCommand {
  const parsed = parseBenchArgs(argv);
  if (!parsed.ok) return { exitCode: 2, stdout: '', stderr: `${parsed.errors.map((e) => `${name}: ${e}\n`).join('')}${USAGE}` };
  if (parsed.options.help) return { exitCode: 0, stdout: USAGE, stderr: '' };
  return { run: parsed.options };
}
