// A tiny sample service for the demo and the examples: answers every request with JSON naming the
// service and version, so a learner can see which backend the proxy picked.

import { createServer, type Server } from 'node:http';

export interface SampleService {
  readonly name: string;
  readonly version: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startSampleService(name: string, version: string, port: number, host = '127.0.0.1'): Promise<SampleService> {
  const server: Server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({
        service: name, version, method: req.method, path: req.url,
        'x-request-id': req.headers['x-request-id'] ?? null, 'end-user': req.headers['end-user'] ?? null,
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) + 1 });
      res.end(`${body}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return {
    name, version, port: typeof addr === 'object' && addr ? addr.port : port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
