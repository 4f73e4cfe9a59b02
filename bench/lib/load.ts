// Runs one load-generator pass (autocannon as a child process with -j, or wrk) against a URL and turns
// its output into a LoadResult; the sanity request sent before loading a proxy. Parsing is pure so that it
// is unit-tested without generating load.

import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { ToolChoice } from './args.ts';
import { awaitSuccess, type ProcessGroup } from './processes.ts';

export type LoadTool = 'autocannon' | 'wrk';

/** The Host header and path every load generator sends: the last virtual host and last route of the sidecar config. */
export const REQUEST_HOST = 'bench-upstream.default.svc.cluster.local';
export const REQUEST_PATH = '/';

export const HAS_WRK = spawnSync('wrk', ['--version']).error === undefined;
const AUTOCANNON_BIN = fileURLToPath(new URL('../../node_modules/autocannon/autocannon.js', import.meta.url));

export interface LoadSpec {
  readonly tool: LoadTool;
  readonly port: number;
  /** Host header (routes the request in the sidecar config's route table). */
  readonly host: string;
  readonly path: string;
  readonly connections: number;
  readonly durationS: number;
  readonly cpus: string;
}

export interface LoadResult {
  readonly tool: LoadTool;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  /** Socket errors and timeouts. */
  readonly errors: number;
  /** Responses that were not 2xx (wrk: not 2xx/3xx). */
  readonly non2xx: number;
}

/** One load run; rejects if the tool fails or runs far past its duration. */
export async function runLoad(spec: LoadSpec, group: ProcessGroup): Promise<LoadResult> {
  const url = `http://127.0.0.1:${spec.port}${spec.path}`;
  const seconds = String(spec.durationS);
  const child = spec.tool === 'autocannon'
    ? group.spawn({
      name: 'autocannon', command: process.execPath, cpus: spec.cpus,
      args: [AUTOCANNON_BIN, '-j', '-n', '-c', String(spec.connections), '-d', seconds, '-t', '10', '-H', `host=${spec.host}`, url],
    })
    : group.spawn({
      name: 'wrk', command: 'wrk', cpus: spec.cpus,
      args: ['-t1', `-c${spec.connections}`, `-d${seconds}s`, '--latency', '--timeout', '10s', '-H', `Host: ${spec.host}`, url],
    });
  const output = await awaitSuccess(child, (spec.durationS + 30) * 1000, group);
  return spec.tool === 'autocannon' ? parseAutocannonJson(output) : parseWrkOutput(output);
}

/** The tools a `--tool` choice runs here: wrk is dropped (with a note) when it is not installed. */
export function chooseTools(choice: ToolChoice, log: (msg: string) => void): LoadTool[] {
  const tools: LoadTool[] = choice === 'both' ? ['autocannon', 'wrk'] : [choice];
  if (HAS_WRK || !tools.includes('wrk')) return tools;
  log('bench: wrk is not installed; running autocannon only');
  return ['autocannon'];
}

/** One GET before loading a proxy: a broken proxy must fail loudly, not benchmark 404s. */
export function checkResponds(port: number, host: string, path: string, payloadBytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false, timeout: 5_000 }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => { bytes += c.length; });
      res.on('end', () => (res.statusCode === 200 && bytes === payloadBytes
        ? resolve()
        : reject(new Error(`sanity request got ${res.statusCode} with ${bytes} bytes, expected 200 with ${payloadBytes}`))));
    });
    req.on('timeout', () => req.destroy(new Error('sanity request timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** The result object autocannon prints with -j (the last JSON line of its output). */
export function parseAutocannonJson(output: string): LoadResult {
  const line = output.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`autocannon: no JSON result in output: ${output.slice(-300)}`);
  const r = JSON.parse(line) as {
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    errors: number; timeouts: number; non2xx: number;
  };
  return {
    tool: 'autocannon', rps: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99,
    requests: r.requests.total, errors: r.errors + r.timeouts, non2xx: r.non2xx,
  };
}

const WRK_TIME_UNIT_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function wrkTimeMs(text: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text ?? '');
  if (!m?.[1] || !m[2]) throw new Error(`wrk: cannot read latency "${text}"`);
  return Number(m[1]) * (WRK_TIME_UNIT_MS[m[2]] ?? NaN);
}

/** wrk's text report, run with --latency (for the 50%/99% lines). */
export function parseWrkOutput(output: string): LoadResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(output)?.[1];
  const requests = /^\s*(\d+) requests in /m.exec(output)?.[1];
  if (rps === undefined || requests === undefined) throw new Error(`wrk: unexpected output: ${output.slice(-300)}`);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const errors = socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return {
    tool: 'wrk',
    rps: Number(rps),
    p50Ms: wrkTimeMs(/^\s+50%\s+(\S+)/m.exec(output)?.[1]),
    p99Ms: wrkTimeMs(/^\s+99%\s+(\S+)/m.exec(output)?.[1]),
    requests: Number(requests),
    errors,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0),
  };
}
