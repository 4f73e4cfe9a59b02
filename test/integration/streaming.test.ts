// Streaming with backpressure both ways, and clean release of upstream work when clients abort:
// 1,000 requests aborted mid-response leave no open sockets and no active requests behind.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { createServer, request as httpRequest, type ServerResponse } from 'node:http';
import type { Server } from '../../proxy/server/server.ts';
import { bootstrapYaml, startProxy, staticCluster } from '../support/proxy.ts';
import { startUpstream } from '../support/upstream.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function setup(handler: Parameters<typeof startUpstream>[1]) {
  const up = await startUpstream('stream', handler);
  cleanups.push(() => up.close());
  const proxy: Server = await startProxy(bootstrapYaml({
    routes: '- match: { prefix: / }\n  route: { cluster: stream, timeout: 0s }',
    clusters: staticCluster('stream', [up.port]),
  }));
  cleanups.push(() => proxy.close());
  return { up, proxy, port: proxy.listenerPort('main') };
}

/** Writes `total` bytes in 64 KiB chunks honouring backpressure; reports progress. */
function writeBig(res: ServerResponse, total: number, progress: { written: number; blocked: boolean }): void {
  const chunk = Buffer.alloc(64 * 1024, 'a');
  const pump = (): void => {
    while (progress.written < total) {
      progress.written += chunk.length;
      if (!res.write(chunk)) {
        progress.blocked = true;
        res.once('drain', () => { progress.blocked = false; pump(); });
        return;
      }
    }
    res.end();
  };
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  pump();
}

describe('streaming', () => {
  it('propagates response backpressure: a paused client stops the upstream', async () => {
    const total = 64 * 1024 * 1024;
    const progress = { written: 0, blocked: false };
    const { port } = await setup((_req, res) => writeBig(res, total, progress));
    let received = 0;
    const done = new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/big', agent: false }, (res) => {
        res.pause();
        // While the client reads nothing, the upstream must end up blocked far below the body size.
        void vi.waitFor(() => expect(progress.blocked).toBe(true), { timeout: 10_000, interval: 20 }).then(() => {
          expect(progress.written).toBeLessThan(16 * 1024 * 1024);
          res.on('data', (c: Buffer) => { received += c.length; });
          res.on('end', resolve);
          res.resume();
        }, reject);
      });
      req.on('error', reject);
      req.end();
    });
    await done;
    expect(received).toBe(total);
  });

  it('propagates request backpressure: an upstream that does not read stops the client upload', async () => {
    // An upstream that leaves the request body unread until the test lets it go.
    let release!: () => void;
    const released = new Promise<void>((r) => { release = r; });
    let upstreamRead = 0;
    const up = createServer((req, res) => {
      req.pause();
      void released.then(() => {
        req.on('data', (c: Buffer) => { upstreamRead += c.length; });
        req.on('end', () => res.end('done'));
        req.resume();
      });
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => { up.closeAllConnections(); up.close(() => r()); }));
    const upPort = (up.address() as { port: number }).port;
    const proxy = await startProxy(bootstrapYaml({
      routes: '- match: { prefix: / }\n  route: { cluster: sink, timeout: 0s }', clusters: staticCluster('sink', [upPort]),
    }));
    cleanups.push(() => proxy.close());

    const total = 64 * 1024 * 1024;
    let written = 0;
    let drains = 0;
    let body = '';
    const finished = new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: proxy.listenerPort('main'), path: '/upload', method: 'POST', agent: false,
        headers: { 'content-length': String(total) } }, (res) => {
        res.on('data', (c: Buffer) => { body += c.toString(); });
        res.on('end', resolve);
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 'b');
      const pump = (): void => {
        while (written < total) {
          written += chunk.length;
          if (!req.write(chunk)) {
            req.once('drain', () => { drains++; pump(); });
            return;
          }
        }
        req.end();
      };
      pump();
    });
    // Wait until the upload has stalled (no drain across several polls) while the upstream reads nothing.
    let seen = -1;
    let stable = 0;
    await vi.waitFor(() => {
      if (drains === seen) stable++;
      else { seen = drains; stable = 0; }
      if (stable < 3) throw new Error('upload still moving');
    }, { timeout: 15_000, interval: 100 });
    expect(written).toBeLessThan(16 * 1024 * 1024);
    release();
    await finished;
    expect(upstreamRead).toBe(total);
    expect(body).toBe('done');
  });

  it('releases upstream requests and sockets when 1,000 clients abort mid-response', async () => {
    const { up, proxy, port } = await setup((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first chunk\n'); // then never finish: the client aborts
    });
    const baselineSockets = up.openSockets();
    const total = 1000;
    const concurrency = 50;
    let started = 0;
    let aborted = 0;
    const one = (): Promise<void> => new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: `/abort/${started}`, agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          aborted++;
          resolve();
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve() : reject(err)));
      req.end();
    });
    const worker = async (): Promise<void> => {
      while (started < total) {
        started++;
        await one();
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    expect(aborted).toBe(total);
    await vi.waitFor(() => {
      expect(proxy.activeRequests()).toBe(0);
      expect(proxy.downstreamConnections()).toBe(0);
      expect(up.openSockets()).toBeLessThanOrEqual(baselineSockets);
    }, { timeout: 15_000, interval: 50 });
    expect(proxy.stats.gauges.get('cluster.stream.upstream_rq_active')?.value()).toBe(0);
    expect(proxy.stats.counters.get('http.ingress.downstream_rq_rx_reset')?.value()).toBe(total);
  });
});
