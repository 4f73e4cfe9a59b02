// Host connection pools against real servers on port 0: keep-alive reuse, connect failures, h2c.

import { createServer as createH2Server, type Http2Server, type ServerHttp2Session } from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import type { HostImpl } from '../../../proxy/upstream/host.ts';
import { closedPort, startUpstream, type TestUpstream } from '../../support/upstream.ts';
import { flush, harness, staticCluster, type Harness } from './helpers.ts';

const H2 = {
  typed_extension_protocol_options: {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      explicit_http_config: { http2_protocol_options: {} },
    },
  },
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function track(h: Harness): Harness {
  cleanups.push(() => h.cm.close());
  return h;
}

async function get(h: Harness, path = '/'): Promise<{ status: number; body: string }> {
  const host = h.cluster.chooseHost({})!;
  const res = await host.dispatcher().request({ path, method: 'GET', headers: { host: 'svc' } });
  return { status: res.statusCode, body: await res.body.text() };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setImmediate(r));
  expect(cond()).toBe(true);
}

describe('host connection pool (HTTP/1.1)', () => {
  let upstream: TestUpstream;
  afterEach(async () => upstream?.close());

  it('reuses one keep-alive connection for sequential requests and counts it', async () => {
    upstream = await startUpstream('u1');
    const h = track(harness(staticCluster([[{ ip: '127.0.0.1', port: upstream.port }]])));
    expect(await get(h)).toEqual({ status: 200, body: 'u1' });
    // undici frees the connection for reuse on the next turn of the event loop; a proxied request
    // always arrives on a later I/O event, so let that turn pass as it would in production.
    await flush();
    expect(await get(h)).toEqual({ status: 200, body: 'u1' });
    expect(upstream.connectionsAccepted()).toBe(1);
    const host = h.cluster.hosts()[0]!;
    expect(h.stats.counter('cluster.c.upstream_cx_total').value()).toBe(1);
    expect(h.stats.gauge('cluster.c.upstream_cx_active').value()).toBe(1);
    expect(host.stats).toMatchObject({ cx_total: 1, cx_active: 1, cx_connect_fail: 0 });

    await h.cm.close();
    expect(h.stats.gauge('cluster.c.upstream_cx_active').value()).toBe(0);
    expect(h.stats.counter('cluster.c.upstream_cx_destroy').value()).toBe(1);
    await until(() => upstream.openSockets() === 0);
  });

  it('opens a new connection per request with max_requests_per_connection 1', async () => {
    upstream = await startUpstream('u2');
    const h = track(harness(staticCluster([[{ ip: '127.0.0.1', port: upstream.port }]], {
      typed_extension_protocol_options: {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
          common_http_protocol_options: { max_requests_per_connection: 1 },
          explicit_http_config: { http_protocol_options: {} },
        },
      },
    })));
    await get(h);
    await flush();
    await get(h);
    expect(upstream.connectionsAccepted()).toBe(2);
    expect(h.stats.counter('cluster.c.upstream_cx_total').value()).toBe(2);
  });

  it('serves a request that picked a host after it was drained on a one-off pool, then closes its connection', async () => {
    upstream = await startUpstream('u3');
    const h = track(harness(staticCluster([[{ ip: '127.0.0.1', port: upstream.port }]])));
    const host = h.cluster.hosts()[0] as HostImpl;
    await host.drain(); // discovery removed the host after the request picked it
    const res = await host.dispatcher().request({ path: '/', method: 'GET', headers: { host: 'svc' } });
    expect(await res.body.text()).toBe('u3');
    // The pool does not outlive the request: its keep-alive connection closes without cm.close().
    await until(() => upstream.openSockets() === 0);
    expect(h.stats.gauge('cluster.c.upstream_cx_active').value()).toBe(0);
  });

  it('counts a refused connection in upstream_cx_connect_fail', async () => {
    const port = await closedPort();
    const h = track(harness(staticCluster([[{ ip: '127.0.0.1', port }]])));
    await expect(get(h)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(h.stats.counter('cluster.c.upstream_cx_connect_fail').value()).toBe(1);
    expect(h.stats.counter('cluster.c.upstream_cx_total').value()).toBe(1);
    expect(h.stats.gauge('cluster.c.upstream_cx_active').value()).toBe(0);
    expect(h.cluster.hosts()[0]!.stats).toMatchObject({ cx_connect_fail: 1, cx_active: 0 });
  });
});

describe('host connection pool (HTTP/2 prior knowledge)', () => {
  let server: Http2Server | undefined;
  afterEach(async () => {
    const s = server;
    server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  });

  it('speaks h2c to a plaintext HTTP/2 server and multiplexes requests on one session', async () => {
    const sessions = new Set<ServerHttp2Session>();
    server = createH2Server((req, res) => {
      res.setHeader('x-http-version', req.httpVersion);
      res.end(`h2 ${req.headers[':authority']}`);
    });
    server.on('session', (s) => sessions.add(s));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;

    const h = track(harness(staticCluster([[{ ip: '127.0.0.1', port }]], H2)));
    const host = h.cluster.chooseHost({})!;
    const send = async () => {
      const res = await host.dispatcher().request({ path: '/', method: 'GET', headers: { host: 'reviews' } });
      return { version: res.headers['x-http-version'], body: await res.body.text() };
    };
    // Concurrent requests share one session (Envoy: one HTTP/2 connection per host by default).
    const responses = await Promise.all([send(), send(), send()]);
    expect(responses).toEqual(Array.from({ length: 3 }, () => ({ version: '2.0', body: 'h2 reviews' })));
    expect(sessions.size).toBe(1);
    expect(h.stats.counter('cluster.c.upstream_cx_total').value()).toBe(1);

    await h.cm.close();
    expect(h.stats.gauge('cluster.c.upstream_cx_active').value()).toBe(0);
    expect(h.stats.counter('cluster.c.upstream_cx_destroy').value()).toBe(1);
  });
});
