// The benchmark's upstream: a node:http server answering every request with a fixed payload (default 100
// bytes) over keep-alive. Runnable standalone: `node bench/upstream.ts --port 18080 --payload 100`.

import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const DEFAULT_PAYLOAD_BYTES = 100;
/**
 * Longer than every proxy's upstream idle timeout (Envoy's `common_http_protocol_options.idle_timeout` is
 * 1 h but its pool only reuses live sockets; nginx/haproxy keep 60 s), so a proxy never reuses a socket
 * the upstream is closing — that race shows up as 503 UC in Envoy and as errors in the benchmark.
 */
export const UPSTREAM_KEEP_ALIVE_MS = 65_000;

export interface BenchUpstream {
  readonly port: number;
  close(): Promise<void>;
}

/** A payload of `bytes` printable bytes, built once. */
export function makePayload(bytes: number): Buffer {
  return Buffer.alloc(bytes, 'x');
}

export async function startBenchUpstream(opts: { port?: number; payloadBytes?: number } = {}): Promise<BenchUpstream> {
  const body = makePayload(opts.payloadBytes ?? DEFAULT_PAYLOAD_BYTES);
  const headers = { 'content-type': 'text/plain', 'content-length': String(body.length) };
  const server: Server = createServer({ keepAliveTimeout: UPSTREAM_KEEP_ALIVE_MS, headersTimeout: UPSTREAM_KEEP_ALIVE_MS + 1_000 }, (req, res) => {
    req.resume(); // drain any request body so the connection stays reusable
    res.writeHead(200, headers);
    res.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', resolve);
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string' }, payload: { type: 'string' } } });
  const upstream = await startBenchUpstream({
    port: values.port === undefined ? 0 : Number(values.port),
    payloadBytes: values.payload === undefined ? DEFAULT_PAYLOAD_BYTES : Number(values.payload),
  });
  process.stdout.write(`upstream listening on 127.0.0.1:${upstream.port}\n`);
  const stop = (): void => { void upstream.close().then(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
