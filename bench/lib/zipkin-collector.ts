// The telemetry benchmark's Zipkin collector: an HTTP server on 127.0.0.1 that accepts Zipkin v2 JSON reports
// (POST /api/v2/spans, answered 202 as Zipkin does), counts reports and spans, and tells the counts at GET /counts.
// Run as its own process, pinned with the load generator: `node bench/lib/zipkin-collector.ts --port N`.

import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface CollectorCounts {
  /** Reports accepted (a JSON array of spans each). */
  readonly reports: number;
  readonly spans: number;
  /** Spans per Zipkin `kind` (CLIENT for an outbound sidecar). */
  readonly byKind: Readonly<Record<string, number>>;
  /** Requests that were not a POST of a JSON span array to the endpoint (answered 400/404). */
  readonly rejected: number;
}

/** The spans' kinds of one report body (a JSON array of Zipkin v2 spans); undefined when it is not one. */
export function spanKinds(body: string): string[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const kinds: string[] = [];
  for (const span of parsed) {
    if (typeof span !== 'object' || span === null || typeof (span as { id?: unknown }).id !== 'string') return undefined;
    const kind = (span as { kind?: unknown }).kind;
    kinds.push(typeof kind === 'string' ? kind : '-');
  }
  return kinds;
}

/** Largest report accepted: Envoy reports 5 spans at a time (~1.5 KB each); anything far bigger is a mistake. */
const MAX_BODY_BYTES = 1 << 20;

export async function startZipkinCollector(port: number, endpoint = '/api/v2/spans'): Promise<{ port: number; counts(): CollectorCounts; close(): Promise<void> }> {
  let reports = 0;
  let spans = 0;
  let rejected = 0;
  const byKind: Record<string, number> = {};
  const counts = (): CollectorCounts => ({ reports, spans, byKind: { ...byKind }, rejected });
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/counts') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(counts()));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => {
      const kinds = req.method === 'POST' && req.url === endpoint && size <= MAX_BODY_BYTES ? spanKinds(Buffer.concat(chunks).toString()) : undefined;
      if (kinds === undefined) {
        rejected++;
        res.writeHead(req.url === endpoint ? 400 : 404);
        res.end();
        return;
      }
      reports++;
      spans += kinds.length;
      for (const k of kinds) byKind[k] = (byKind[k] ?? 0) + 1;
      res.writeHead(202);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    counts,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** The counts of a collector process (bounded: 5 s). */
export async function fetchCollectorCounts(port: number): Promise<CollectorCounts> {
  const res = await fetch(`http://127.0.0.1:${port}/counts`, { signal: AbortSignal.timeout(5_000) });
  return (await res.json()) as CollectorCounts;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string' } } });
  const collector = await startZipkinCollector(values.port === undefined ? 0 : Number(values.port));
  process.stdout.write(`zipkin collector listening on 127.0.0.1:${collector.port}\n`);
  const stop = (): void => { void collector.close().then(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
