// Failure paths over real sockets: stream idle and request timeouts (fake clock), upstream resets before
// and after response headers, and the access log lines (with %RESPONSE_FLAGS%) they produce.

import { describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import type { Server } from '../../proxy/server/server.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { bootstrapYaml, send, startProxy, staticCluster } from '../support/proxy.ts';
import { closedPort } from '../support/upstream.ts';
import { testScope } from '../support/scope.ts';

const scope = testScope();
const upstream = scope.upstream;
const proxy = (yaml: string, clock?: FakeClock): Promise<Server> => scope.proxy(yaml, clock ? { clock } : {});

const route = (cluster: string, extra = ''): string => `- match: { prefix: / }\n  route: { cluster: ${cluster}${extra} }`;

describe('timeouts', () => {
  it('stream_idle_timeout answers 408 "stream timeout" when nothing happens on the stream', async () => {
    const clock = new FakeClock();
    let arrived!: () => void;
    const reached = new Promise<void>((r) => { arrived = r; });
    const up = await upstream('silent', () => arrived());
    const s = await proxy(bootstrapYaml({ hcmExtra: 'stream_idle_timeout: 1s', routes: route('silent', ', timeout: 0s'), clusters: staticCluster('silent', [up.port]) }), clock);
    const pending = send(s.listenerPort('main'), '/');
    await reached;
    clock.advance(999);
    clock.advance(1);
    const r = await pending;
    expect([r.status, r.body]).toEqual([408, 'stream timeout']);
    expect(s.stats.counters.get('http.ingress.downstream_rq_idle_timeout')?.value()).toBe(1);
  });

  it('request_timeout answers 408 when the request body does not arrive in time', async () => {
    const clock = new FakeClock();
    const up = await upstream('web');
    const s = await proxy(bootstrapYaml({ hcmExtra: 'request_timeout: 2s', routes: route('web'), clusters: staticCluster('web', [up.port]) }), clock);
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: s.listenerPort('main'), path: '/', method: 'POST', agent: false, headers: { 'content-length': '10' } }, (r) => {
        let body = '';
        r.on('data', (c: Buffer) => { body += c.toString(); });
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write('abc'); // 3 of 10 bytes, then silence
    });
    await vi.waitFor(() => expect(s.activeRequests()).toBe(1));
    clock.advance(2000);
    const res = await response;
    expect([res.status, res.body]).toEqual([408, 'request timeout']);
    expect(s.stats.counters.get('http.ingress.downstream_rq_timeout')?.value()).toBe(1);
  });
});

describe('upstream resets', () => {
  it('a reset before response headers is a 503 local reply, never a crash', async () => {
    const up = await upstream('resetter', (req) => req.socket.destroy());
    const s = await proxy(bootstrapYaml({ routes: route('resetter'), clusters: staticCluster('resetter', [up.port]) }));
    const r = await send(s.listenerPort('main'), '/');
    expect(r.status).toBe(503);
    expect(r.body).toMatch(/^upstream connect error or disconnect\/reset before headers\. reset reason: (connection termination|remote reset)$/);
    expect(s.stats.counters.get('cluster.resetter.upstream_rq_rx_reset')?.value()).toBe(1);
  });

  it('a reset after response headers resets the downstream connection', async () => {
    let calls = 0;
    const up = await upstream('half', (req, res) => {
      if (++calls > 1) {
        res.end('whole');
        return;
      }
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setImmediate(() => req.socket.destroy());
    });
    const s = await proxy(bootstrapYaml({ routes: route('half'), clusters: staticCluster('half', [up.port]) }));
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: s.listenerPort('main'), path: '/', agent: false }, (res) => {
        res.on('data', () => undefined);
        res.on('end', () => resolve('ended'));
        res.on('error', () => resolve('reset'));
        res.on('aborted', () => resolve('reset'));
      });
      req.on('error', () => resolve('reset'));
      req.end();
    });
    expect(outcome).toBe('reset');
    expect(s.stats.counters.get('http.ingress.rq_reset_after_downstream_response_started')?.value()).toBe(1);
    // The proxy keeps serving.
    expect((await send(s.listenerPort('main'), '/')).body).toBe('whole');
  });
});

describe('access log', () => {
  it('writes Envoy-format lines with response flags to a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nodevoy-al-'));
    const path = join(dir, 'access.log');
    const up = await upstream('web');
    const dead = await closedPort();
    const accessLog = `access_log:
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${path}`;
    const s = await startProxy(bootstrapYaml({
      hcmExtra: accessLog,
      routes: `- match: { prefix: /dead }\n  route: { cluster: dead }\n${route('web')}`,
      clusters: `${staticCluster('web', [up.port])}\n${staticCluster('dead', [dead])}`,
    }));
    await send(s.listenerPort('main'), '/ok', { headers: { 'user-agent': 'test-agent', 'x-request-id': 'rid-1' } });
    await send(s.listenerPort('main'), '/dead');
    await send(s.listenerPort('main'), '/ok', { headers: { host: 'x' }, method: 'HEAD' });
    await s.close(); // flushes the file
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^\\[\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\] "GET /ok HTTP/1\\.1" 200 - 0 3 \\d+ \\d+ "-" "test-agent" "rid-1" "127\\.0\\.0\\.1:\\d+" "127\\.0\\.0\\.1:${up.port}"$`));
    expect(lines[1]).toMatch(new RegExp(`"GET /dead HTTP/1\\.1" 503 UF 0 91 \\d+ - "-" "-" "[0-9a-f-]{36}" "127\\.0\\.0\\.1:\\d+" "127\\.0\\.0\\.1:${dead}"$`));
    expect(lines[2]).toMatch(/"HEAD \/ok HTTP\/1\.1" 200 - 0 0 /);
  });
});

describe('requests undici refuses to send', () => {
  it('OPTIONS * gets a 503 and leaves no route timer behind', async () => {
    const clock = new FakeClock();
    const up = await upstream('web');
    const s = await proxy(bootstrapYaml({
      routes: '- match: { safe_regex: { regex: ".*" } }\n  route: { cluster: web, timeout: 1s }',
      clusters: staticCluster('web', [up.port]),
    }), clock);
    const out = await new Promise<string>((resolve, reject) => {
      const sock = connect(s.listenerPort('main'), '127.0.0.1', () => sock.write('OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'));
      let data = '';
      sock.on('data', (c) => { data += c.toString(); });
      sock.on('close', () => resolve(data));
      sock.on('error', reject);
    });
    expect(out).toMatch(/^HTTP\/1\.1 503 /);
    clock.advance(5000);
    expect(s.stats.counters.get('cluster.web.upstream_rq_timeout')?.value() ?? 0).toBe(0);
    expect(s.stats.counters.get('http.ingress.rq_reset_after_downstream_response_started')?.value() ?? 0).toBe(0);
    expect(up.received).toHaveLength(0);
  });
});
