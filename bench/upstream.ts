// The benchmark's upstream: a node:http server answering every request with a fixed payload (default 100
// bytes) over keep-alive. Runnable standalone: `node bench/upstream.ts --port 18080 --payload 100`. With
// `--peer-metadata-id ID --peer-metadata VALUE` it also answers Istio's peer metadata exchange as an inbound
// sidecar would (its own headers on the response, only to a request that carried the caller's).

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

/** The `x-envoy-peer-metadata-id` and `x-envoy-peer-metadata` values an inbound sidecar answers with. */
export interface PeerMetadataHeaders {
  readonly id: string;
  readonly value: string;
}

export async function startBenchUpstream(opts: { port?: number; payloadBytes?: number; peerMetadata?: PeerMetadataHeaders } = {}): Promise<BenchUpstream> {
  const body = makePayload(opts.payloadBytes ?? DEFAULT_PAYLOAD_BYTES);
  const headers = { 'content-type': 'text/plain', 'content-length': String(body.length) };
  const peer = opts.peerMetadata;
  const peerHeaders = peer && { ...headers, 'x-envoy-peer-metadata-id': peer.id, 'x-envoy-peer-metadata': peer.value };
  const server: Server = createServer({ keepAliveTimeout: UPSTREAM_KEEP_ALIVE_MS, headersTimeout: UPSTREAM_KEEP_ALIVE_MS + 1_000 }, (req, res) => {
    req.resume(); // drain any request body so the connection stays reusable
    // A caller in the mesh (its sidecar sent its metadata) learns who answered, as from Istio's inbound sidecar.
    res.writeHead(200, peerHeaders !== undefined && req.headers['x-envoy-peer-metadata'] !== undefined ? peerHeaders : headers);
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
  const { values } = parseArgs({
    options: { port: { type: 'string' }, payload: { type: 'string' }, 'peer-metadata-id': { type: 'string' }, 'peer-metadata': { type: 'string' } },
  });
  const [id, value] = [values['peer-metadata-id'], values['peer-metadata']];
  const upstream = await startBenchUpstream({
    port: values.port === undefined ? 0 : Number(values.port),
    payloadBytes: values.payload === undefined ? DEFAULT_PAYLOAD_BYTES : Number(values.payload),
    ...(id === undefined || value === undefined ? {} : { peerMetadata: { id, value } }),
  });
  process.stdout.write(`upstream listening on 127.0.0.1:${upstream.port}\n`);
  const stop = (): void => { void upstream.close().then(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
