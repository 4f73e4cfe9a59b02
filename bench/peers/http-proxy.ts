// The http-proxy benchmark peer: the Node reverse proxy most people reach for, given a keep-alive agent
// (without one it opens a connection per request and loses ~50x). Standalone: `--port P --target PORT`.

import { Agent, createServer } from 'node:http';
import { parseArgs } from 'node:util';
import httpProxy from 'http-proxy';

const { values } = parseArgs({ options: { port: { type: 'string' }, target: { type: 'string' } } });
if (values.port === undefined || values.target === undefined) {
  process.stderr.write('usage: node bench/peers/http-proxy.ts --port LISTEN_PORT --target UPSTREAM_PORT\n');
  process.exit(1);
}

const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 });
const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${values.target}`, agent });
proxy.on('error', (_err, _req, res) => {
  if ('writeHead' in res && !res.headersSent) res.writeHead(502);
  res.end();
});

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => proxy.web(req, res));
server.listen(Number(values.port), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
