// The new-connection load of the mTLS benchmark: runs bench/handshake-client.ts (one fresh connection per
// request, plaintext or mTLS, N in parallel for a bounded time and count) pinned to the load CPUs, and reads
// its JSON result. Parsing and percentiles are pure so that they are unit-tested without sockets.

import { fileURLToPath } from 'node:url';
import { awaitSuccess, type ProcessGroup } from './processes.ts';

const CLIENT_SCRIPT = fileURLToPath(new URL('../handshake-client.ts', import.meta.url));

export type TlsMaxVersion = '1.2' | '1.3';

export interface HandshakeTls {
  /** A workload certificate directory: cert-chain.pem, key.pem, root-cert.pem. */
  readonly certDir: string;
  /** The server's SPIFFE ID the client demands (URI SAN, exact). */
  readonly serverId: string;
  readonly servername: string;
  readonly maxVersion: TlsMaxVersion;
}

export interface HandshakeLoadSpec {
  readonly port: number;
  /** Host header and path of the one request sent on each connection. */
  readonly host: string;
  readonly path: string;
  readonly parallel: number;
  readonly durationS: number;
  /** Upper bound on connections opened, whatever the duration. */
  readonly maxConnections: number;
  readonly cpus: string;
  /** Absent: plaintext TCP connections. */
  readonly tls?: HandshakeTls;
}

export interface HandshakeResult {
  /** Connections opened (each one TCP connect, the TLS handshake if any, one request). */
  readonly connections: number;
  /** Of those, the ones that got a `200` and were closed by the server (`Connection: close`). */
  readonly ok: number;
  readonly errors: number;
  /** Wall time of the loop, seconds. */
  readonly elapsedS: number;
  /** Successful connections per second. */
  readonly perS: number;
  /** Connect to last response byte, per successful connection. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** What the first TLS connection negotiated ('' for plaintext). */
  readonly protocol: string;
  readonly cipher: string;
  readonly firstError: string;
}

/** The command-line arguments of bench/handshake-client.ts for a spec. */
export function handshakeClientArgs(spec: HandshakeLoadSpec): string[] {
  const args = ['--port', String(spec.port), '--host', spec.host, '--path', spec.path, '--parallel', String(spec.parallel),
    '--duration', String(spec.durationS), '--max-connections', String(spec.maxConnections)];
  if (spec.tls) {
    args.push('--cert-dir', spec.tls.certDir, '--server-id', spec.tls.serverId, '--servername', spec.tls.servername, '--tls-max', spec.tls.maxVersion);
  }
  return args;
}

export async function runHandshakeLoad(spec: HandshakeLoadSpec, group: ProcessGroup): Promise<HandshakeResult> {
  const child = group.spawn({ name: 'handshake-client', command: process.execPath, cpus: spec.cpus, args: [CLIENT_SCRIPT, ...handshakeClientArgs(spec)] });
  return parseHandshakeResult(await awaitSuccess(child, (spec.durationS + 30) * 1000, group));
}

/** The result line bench/handshake-client.ts prints (the last JSON line of its output). */
export function parseHandshakeResult(output: string): HandshakeResult {
  const line = output.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`handshake-client: no JSON result in output: ${output.slice(-300)}`);
  const r = JSON.parse(line) as Partial<HandshakeResult>;
  const num = (k: keyof HandshakeResult): number => {
    const v = r[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`handshake-client: "${k}" is not a number in ${line.slice(0, 300)}`);
    return v;
  };
  return {
    connections: num('connections'), ok: num('ok'), errors: num('errors'), elapsedS: num('elapsedS'), perS: num('perS'),
    p50Ms: num('p50Ms'), p99Ms: num('p99Ms'),
    protocol: String(r.protocol ?? ''), cipher: String(r.cipher ?? ''), firstError: String(r.firstError ?? ''),
  };
}

/** The `p`-th percentile (0-100) of ascending-sorted `sorted`, nearest rank; 0 for no samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}
