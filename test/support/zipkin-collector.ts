// A test Zipkin collector: an HTTP server on 127.0.0.1 port 0 that records every POSTed span batch (Zipkin
// v2 JSON) and answers 202 Accepted, or a configured status, or never (to test report timeouts).

import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** A span as the collector received it (Zipkin API v2 JSON). */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly id: string;
  readonly parentId?: string;
  readonly kind: 'CLIENT' | 'SERVER';
  readonly name?: string;
  readonly timestamp: number;
  readonly duration?: number;
  readonly shared?: boolean;
  readonly localEndpoint: { readonly serviceName?: string; readonly ipv4?: string; readonly port: number };
  readonly tags?: Record<string, string>;
  readonly annotations?: { readonly timestamp: number; readonly value: string }[];
}

export interface ReceivedReport {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly spans: ReceivedSpan[];
}

export interface ZipkinCollector {
  readonly port: number;
  readonly reports: ReceivedReport[];
  /** Every span of every report, in arrival order. */
  spans(): ReceivedSpan[];
  /** Resolves once `n` reports arrived in total. */
  waitForReports(n: number): Promise<void>;
  /** The status to answer with; 0 = never answer. */
  status: number;
  close(): Promise<void>;
}

export async function startZipkinCollector(): Promise<ZipkinCollector> {
  const reports: ReceivedReport[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const hanging: ServerResponse[] = [];
  const sockets = new Set<Socket>();
  const collector = {
    port: 0,
    reports,
    status: 202,
    spans: () => reports.flatMap((r) => r.spans),
    waitForReports: (n: number) => new Promise<void>((resolve) => {
      if (reports.length >= n) resolve();
      else waiters.push({ n, resolve });
    }),
    close: () => new Promise<void>((resolve) => {
      for (const res of hanging) res.destroy();
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      reports.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, spans: JSON.parse(Buffer.concat(chunks).toString() || '[]') as ReceivedSpan[] });
      for (const w of waiters.filter((x) => reports.length >= x.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      if (collector.status === 0) {
        hanging.push(res);
        return;
      }
      res.writeHead(collector.status);
      res.end();
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  collector.port = typeof addr === 'object' && addr ? addr.port : 0;
  return collector;
}
