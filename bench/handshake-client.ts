// The new-connection load of the mTLS benchmark: `--parallel` loops, each a fresh connection per request (TCP, or
// TLS with a client certificate and no session resumption: a full handshake each), one `GET` with `Connection: close`
// read to the server's close. Bounded by --duration and --max-connections; prints one JSON line. Loopback only.
//
//   node bench/handshake-client.ts --port P [--parallel 16] [--duration 10] [--max-connections 1000000]
//     [--cert-dir DIR --server-id spiffe://... --servername SNI --tls-max 1.2|1.3]

import { readFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, createSecureContext, type PeerCertificate, type SecureContext, type TLSSocket } from 'node:tls';
import { parseArgs } from 'node:util';
import { percentile, type HandshakeResult } from './lib/handshake-load.ts';

const CONNECTION_TIMEOUT_MS = 10_000;
/** Kept latency samples at most (memory bound); the count bound usually stops the loop long before. */
const MAX_SAMPLES = 1_000_000;

interface Options {
  readonly port: number;
  readonly request: Buffer;
  readonly parallel: number;
  readonly durationMs: number;
  readonly maxConnections: number;
  readonly tls?: { readonly context: SecureContext; readonly serverId: string; readonly servername: string };
}

interface Outcome {
  readonly ok: boolean;
  readonly ms: number;
  readonly error?: string;
  readonly protocol?: string;
  readonly cipher?: string;
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' }, host: { type: 'string' }, path: { type: 'string' }, parallel: { type: 'string' },
      duration: { type: 'string' }, 'max-connections': { type: 'string' }, 'cert-dir': { type: 'string' },
      'server-id': { type: 'string' }, servername: { type: 'string' }, 'tls-max': { type: 'string' },
    },
  });
  const positive = (name: string, raw: string | undefined, fallback: number): number => {
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}: "${raw}" is not a positive number`);
    return n;
  };
  const host = values.host ?? 'localhost';
  const request = Buffer.from(`GET ${values.path ?? '/'} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  const certDir = values['cert-dir'];
  let tls: Options['tls'];
  if (certDir !== undefined) {
    if (values['server-id'] === undefined) throw new Error('--cert-dir needs --server-id');
    const maxVersion = values['tls-max'] === '1.2' ? 'TLSv1.2' : 'TLSv1.3';
    // One context for every connection, as a sidecar builds it once: the PEM is not parsed per handshake.
    const context = createSecureContext({
      cert: readFileSync(join(certDir, 'cert-chain.pem')), key: readFileSync(join(certDir, 'key.pem')),
      ca: readFileSync(join(certDir, 'root-cert.pem')), minVersion: 'TLSv1.2', maxVersion,
    });
    tls = { context, serverId: values['server-id'], servername: values.servername ?? host };
  }
  return {
    port: positive('port', values.port, NaN), request, parallel: positive('parallel', values.parallel, 16),
    durationMs: positive('duration', values.duration, 10) * 1000, maxConnections: positive('max-connections', values['max-connections'], 1_000_000),
    ...(tls ? { tls } : {}),
  };
}

/** The server's identity check: its URI SAN must be the expected SPIFFE ID (Node's own check ignores URI SANs). */
function checkSpiffeId(expected: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => (cert.subjectaltname?.split(', ').includes(`URI:${expected}`)
    ? undefined
    : new Error(`server SAN ${cert.subjectaltname ?? '(none)'} is not URI:${expected}`));
}

/** One connection: connect (+ handshake), one request, the response until the server closes. */
function oneConnection(o: Options): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    let head = '';
    let settled = false;
    let socket: Socket | TLSSocket;
    const finish = (error?: string): void => {
      if (settled) return;
      settled = true;
      const ms = performance.now() - started;
      // Read before destroy(): a destroyed TLS socket no longer knows what it negotiated.
      const tlsSocket = o.tls ? socket as TLSSocket : undefined;
      const negotiated = tlsSocket ? { protocol: tlsSocket.getProtocol() ?? '', cipher: tlsSocket.getCipher()?.name ?? '' } : {};
      socket.destroy();
      resolve(error === undefined ? { ok: true, ms, ...negotiated } : { ok: false, ms, error });
    };
    const send = (): void => { socket.write(o.request); };
    socket = o.tls
      ? tlsConnect({
        host: '127.0.0.1', port: o.port, secureContext: o.tls.context, servername: o.tls.servername,
        rejectUnauthorized: true, checkServerIdentity: checkSpiffeId(o.tls.serverId),
      }, send)
      : tcpConnect({ host: '127.0.0.1', port: o.port }, send);
    socket.setTimeout(CONNECTION_TIMEOUT_MS, () => finish('timeout'));
    socket.on('data', (chunk: Buffer) => { if (head.length < 16) head += chunk.toString('latin1', 0, 16); });
    socket.on('error', (err: Error & { code?: string }) => finish(err.code ?? err.message));
    socket.on('end', () => finish(head.startsWith('HTTP/1.1 200') ? undefined : `response "${head.slice(0, 12)}"`));
  });
}

async function main(): Promise<void> {
  const o = readOptions();
  const samples: number[] = [];
  let connections = 0;
  let errors = 0;
  let protocol = '';
  let cipher = '';
  let firstError = '';
  const started = performance.now();
  const deadline = started + o.durationMs;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline && connections < o.maxConnections) {
      connections++;
      const r = await oneConnection(o);
      if (!r.ok) {
        errors++;
        firstError ||= r.error ?? 'error';
        continue;
      }
      if (samples.length < MAX_SAMPLES) samples.push(r.ms);
      if (protocol === '' && r.protocol) {
        protocol = r.protocol;
        cipher = r.cipher ?? '';
      }
    }
  };
  await Promise.all(Array.from({ length: o.parallel }, loop));
  const elapsedS = (performance.now() - started) / 1000;
  samples.sort((a, b) => a - b);
  const ok = connections - errors;
  const result: HandshakeResult = {
    connections, ok, errors, elapsedS, perS: ok / elapsedS,
    p50Ms: percentile(samples, 50), p99Ms: percentile(samples, 99), protocol, cipher, firstError,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
