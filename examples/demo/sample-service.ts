// A tiny sample service for the demo and the examples: answers every request with JSON naming the
// service and version, so a learner can see which backend the proxy picked. A service given `calls`
// first calls another service through its own sidecar (like bookinfo's productpage calls reviews),
// forwarding the headers Istio asks applications to propagate, and nests that answer in its own.

import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';

export interface SampleService {
  readonly name: string;
  readonly version: string;
  readonly port: number;
  close(): Promise<void>;
}

/** A call to another mesh service: sent to the sidecar's outbound listener with the service's host. */
export interface DownstreamCall {
  /** Host header naming the service, e.g. `reviews:9080`. */
  readonly host: string;
  /** The caller's sidecar outbound listener, e.g. `http://127.0.10.1:15001`. */
  readonly via: string;
}

export interface SampleServiceOptions {
  readonly host?: string;
  readonly calls?: DownstreamCall;
}

/** Headers an application must copy from its inbound request to its outbound calls (Istio's list). */
const PROPAGATED = ['x-request-id', 'end-user', 'traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid',
  'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags'];

interface CallResult {
  readonly status: number;
  readonly body: unknown;
}

function callDownstream(call: DownstreamCall, path: string, inbound: IncomingHttpHeaders): Promise<CallResult> {
  const headers: Record<string, string> = { host: call.host };
  for (const name of PROPAGATED) {
    const v = inbound[name];
    if (typeof v === 'string') headers[name] = v;
  }
  return new Promise((resolve) => {
    const req = request(`${call.via}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text.trim();
        try {
          body = JSON.parse(text);
        } catch { /* a local reply from the proxy is plain text: keep it as is */ }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', (err) => resolve({ status: 0, body: err.message }));
    });
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
    req.end();
  });
}

export async function startSampleService(name: string, version: string, port: number, options: SampleServiceOptions = {}): Promise<SampleService> {
  const server: Server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    req.resume();
    req.on('end', () => {
      void (async () => {
        const downstream = options.calls ? await callDownstream(options.calls, req.url ?? '/', req.headers) : undefined;
        const body = JSON.stringify({
          service: name, version, method: req.method, path: req.url,
          'x-request-id': req.headers['x-request-id'] ?? null, 'end-user': req.headers['end-user'] ?? null,
          ...(downstream && options.calls ? { [options.calls.host.split(':')[0]!]: downstream } : {}),
        });
        // A failed downstream call fails this request too, so the caller sees the error.
        const status = downstream && downstream.status !== 200 ? 502 : 200;
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) + 1 });
        res.end(`${body}\n`);
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, options.host ?? '127.0.0.1', () => resolve());
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
