// Real upstream servers for integration tests: node:http on 127.0.0.1 port 0 with a per-test handler,
// recording what they received, and tracking open sockets so tests can assert nothing leaked.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export interface TestUpstream {
  readonly port: number;
  readonly name: string;
  readonly received: ReceivedRequest[];
  /** Sockets currently open to this upstream. */
  openSockets(): number;
  /** Total TCP connections accepted. */
  connectionsAccepted(): number;
  close(): Promise<void>;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** An upstream that answers `200 <name>` (or runs `handler`) after reading the whole request body. */
export async function startUpstream(name: string, handler?: UpstreamHandler): Promise<TestUpstream> {
  const received: ReceivedRequest[] = [];
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (handler) {
        handler(req, res, body);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': name });
      res.end(name);
    });
  });
  server.on('connection', (s: Socket) => {
    accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port, name, received,
    openSockets: () => sockets.size,
    connectionsAccepted: () => accepted,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A port that refuses connections (bound then closed). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
