// End-to-end behaviour of the data plane over real sockets: proxying, Envoy's local replies and response
// flags, headers the HCM and router add, stats, and the route timeout driven by a fake clock.

import { describe, expect, it } from 'vitest';
import type { Server } from '../../proxy/server/server.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { bootstrapYaml, send, sendRaw, staticCluster } from '../support/proxy.ts';
import { closedPort } from '../support/upstream.ts';
import { testScope } from '../support/scope.ts';

const scope = testScope();
const upstream = scope.upstream;
const proxy = (yaml: string, clock?: FakeClock): Promise<Server> => scope.proxy(yaml, clock ? { clock } : {});

function counter(s: Server, name: string): number {
  return s.stats.counters.get(name)?.value() ?? 0;
}

describe('proxying', () => {
  it('forwards a request and returns the upstream response with Envoy headers and stats', async () => {
    const up = await upstream('web');
    const s = await proxy(bootstrapYaml({ routes: '- match: { prefix: / }\n  route: { cluster: web }', clusters: staticCluster('web', [up.port]) }));
    const r = await send(s.listenerPort('main'), '/hello?x=1', { headers: { 'x-custom': 'a' } });
    expect(r.status).toBe(200);
    expect(r.body).toBe('web');
    expect(r.headers.server).toBe('envoy');
    expect(r.headers['x-envoy-upstream-service-time']).toMatch(/^\d+$/);
    const got = up.received[0]!;
    expect(got.url).toBe('/hello?x=1');
    expect(got.headers['x-custom']).toBe('a');
    expect(got.headers['x-forwarded-proto']).toBe('http');
    expect(got.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(got.headers['x-envoy-expected-rq-timeout-ms']).toBe('15000');
    expect(counter(s, 'cluster.web.upstream_rq_total')).toBe(1);
    expect(counter(s, 'cluster.web.upstream_rq_200')).toBe(1);
    expect(counter(s, 'cluster.web.upstream_rq_2xx')).toBe(1);
    expect(counter(s, 'http.ingress.downstream_rq_total')).toBe(1);
    expect(counter(s, 'http.ingress.downstream_rq_2xx')).toBe(1);
  });

  it('streams a POST body up and the response back', async () => {
    const up = await upstream('echo', (req, res, body) => {
      res.writeHead(201, { 'content-type': 'text/plain' });
      res.end(`got:${body.length}:${req.headers['content-type']}`);
    });
    const s = await proxy(bootstrapYaml({ routes: '- match: { prefix: / }\n  route: { cluster: echo }', clusters: staticCluster('echo', [up.port]) }));
    const body = 'x'.repeat(200_000);
    const r = await send(s.listenerPort('main'), '/upload', { method: 'POST', body, headers: { 'content-type': 'text/plain' } });
    expect(r.status).toBe(201);
    expect(r.body).toBe('got:200000:text/plain');
    expect(up.received[0]!.body).toBe(body);
  });

  it('reuses one upstream connection for sequential requests (keep-alive pool)', async () => {
    const up = await upstream('web');
    const s = await proxy(bootstrapYaml({ routes: '- match: { prefix: / }\n  route: { cluster: web }', clusters: staticCluster('web', [up.port]) }));
    for (let i = 0; i < 5; i++) expect((await send(s.listenerPort('main'), '/')).status).toBe(200);
    expect(up.connectionsAccepted()).toBe(1);
  });
});

describe('local replies', () => {
  it('404 with an empty body when no virtual host or route matches (NR)', async () => {
    const up = await upstream('web');
    const s = await proxy(bootstrapYaml({ domains: '["example.com"]', routes: '- match: { prefix: /api }\n  route: { cluster: web }', clusters: staticCluster('web', [up.port]) }));
    const noVhost = await send(s.listenerPort('main'), '/api', { headers: { host: 'other.com' } });
    expect([noVhost.status, noVhost.body]).toEqual([404, '']);
    const noRoute = await send(s.listenerPort('main'), '/other', { headers: { host: 'example.com' } });
    expect([noRoute.status, noRoute.body]).toEqual([404, '']);
    expect(counter(s, 'http.ingress.no_route')).toBe(2);
    expect(up.received).toHaveLength(0);
  });

  it('503 with connect-failure body when the upstream refuses (UF)', async () => {
    const port = await closedPort();
    const s = await proxy(bootstrapYaml({ routes: '- match: { prefix: / }\n  route: { cluster: dead }', clusters: staticCluster('dead', [port]) }));
    const r = await send(s.listenerPort('main'), '/');
    expect(r.status).toBe(503);
    expect(r.body).toBe('upstream connect error or disconnect/reset before headers. reset reason: connection failure');
    expect(r.headers['content-type']).toBe('text/plain');
  });

  it('503 no healthy upstream when every endpoint is unhealthy (UH)', async () => {
    const up = await upstream('web');
    const cluster = `- name: web
  type: STATIC
  load_assignment:
    cluster_name: web
    endpoints:
    - lb_endpoints:
      - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${up.port} } } }
        health_status: UNHEALTHY
  common_lb_config: { healthy_panic_threshold: { value: 0 } }`;
    const s = await proxy(bootstrapYaml({ routes: '- match: { prefix: / }\n  route: { cluster: web }', clusters: cluster }));
    const r = await send(s.listenerPort('main'), '/');
    expect([r.status, r.body]).toEqual([503, 'no healthy upstream']);
  });

  it('cluster_header naming an unknown cluster gives cluster_not_found_response_code (NC)', async () => {
    const up = await upstream('web');
    const s = await proxy(bootstrapYaml({
      routes: '- match: { prefix: / }\n  route: { cluster_header: x-cluster, cluster_not_found_response_code: NOT_FOUND }',
      clusters: staticCluster('web', [up.port]),
    }));
    expect((await send(s.listenerPort('main'), '/', { headers: { 'x-cluster': 'nope' } })).status).toBe(404);
    expect((await send(s.listenerPort('main'), '/', { headers: { 'x-cluster': 'web' } })).body).toBe('web');
    expect(counter(s, 'http.ingress.no_cluster')).toBe(1);
  });

  it('direct_response and redirect answer without an upstream', async () => {
    const up = await upstream('web');
    const s = await proxy(bootstrapYaml({
      routes: `- match: { path: /health }
  direct_response: { status: 200, body: { inline_string: "ok" } }
- match: { prefix: /old }
  redirect: { path_redirect: /new, response_code: FOUND }`,
      clusters: staticCluster('web', [up.port]),
    }));
    const d = await send(s.listenerPort('main'), '/health');
    expect([d.status, d.body]).toEqual([200, 'ok']);
    const r = await send(s.listenerPort('main'), '/old', { headers: { host: 'a.test' } });
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe('http://a.test/new');
    expect(up.received).toHaveLength(0);
  });

  it('504 upstream request timeout when the route timeout fires (UT), driven by the clock', async () => {
    const clock = new FakeClock();
    let arrived!: () => void;
    const reached = new Promise<void>((r) => { arrived = r; });
    const up = await upstream('slow', () => arrived());
    const s = await proxy(bootstrapYaml({ routes: '- match: { prefix: / }\n  route: { cluster: slow, timeout: 2s }', clusters: staticCluster('slow', [up.port]) }), clock);
    const pending = send(s.listenerPort('main'), '/');
    await reached;
    clock.advance(1999);
    clock.advance(1);
    const r = await pending;
    expect([r.status, r.body]).toEqual([504, 'upstream request timeout']);
    expect(counter(s, 'cluster.slow.upstream_rq_timeout')).toBe(1);
  });
});

describe('bad input', () => {
  it('malformed HTTP gets 400 and the connection closes', async () => {
    const up = await upstream('web');
    const s = await proxy(bootstrapYaml({ routes: '- match: { prefix: / }\n  route: { cluster: web }', clusters: staticCluster('web', [up.port]) }));
    const out = await sendRaw(s.listenerPort('main'), 'GET / HTTP/1.1\r\nHost: a\r\nBroken header line\r\n\r\n');
    expect(out).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(out).toContain('connection: close');
  });

  it('headers over max_request_headers_kb get 431', async () => {
    const up = await upstream('web');
    const s = await proxy(bootstrapYaml({ hcmExtra: 'max_request_headers_kb: 1', routes: '- match: { prefix: / }\n  route: { cluster: web }', clusters: staticCluster('web', [up.port]) }));
    const out = await sendRaw(s.listenerPort('main'), `GET / HTTP/1.1\r\nHost: a\r\nx-big: ${'a'.repeat(2000)}\r\n\r\n`);
    expect(out).toMatch(/^HTTP\/1\.1 431 /);
    expect(up.received).toHaveLength(0);
  });

  it('headers_with_underscores_action REJECT_REQUEST answers 400; DROP_HEADER removes the header', async () => {
    const up = await upstream('web');
    const route = '- match: { prefix: / }\n  route: { cluster: web }';
    const reject = await proxy(bootstrapYaml({ hcmExtra: 'common_http_protocol_options: { headers_with_underscores_action: REJECT_REQUEST }', routes: route, clusters: staticCluster('web', [up.port]) }));
    expect((await send(reject.listenerPort('main'), '/', { headers: { x_bad: '1' } })).status).toBe(400);
    expect(up.received).toHaveLength(0);
    const drop = await proxy(bootstrapYaml({ hcmExtra: 'common_http_protocol_options: { headers_with_underscores_action: DROP_HEADER }', routes: route, clusters: staticCluster('web', [up.port]) }));
    expect((await send(drop.listenerPort('main'), '/', { headers: { x_bad: '1', 'x-good': '2' } })).status).toBe(200);
    expect(up.received[0]!.headers).not.toHaveProperty('x_bad');
    expect(up.received[0]!.headers['x-good']).toBe('2');
  });

  it('more request headers than max_headers_count get 431', async () => {
    const up = await upstream('web');
    const s = await proxy(bootstrapYaml({ hcmExtra: 'common_http_protocol_options: { max_headers_count: 5 }', routes: '- match: { prefix: / }\n  route: { cluster: web }', clusters: staticCluster('web', [up.port]) }));
    const headers: Record<string, string> = {};
    for (let i = 0; i < 6; i++) headers[`x-h${i}`] = String(i);
    expect((await send(s.listenerPort('main'), '/', { headers })).status).toBe(431);
    expect(up.received).toHaveLength(0);
  });
});

describe('admin', () => {
  it('/config_dump has Envoy\'s shape and POST /healthcheck/fail drains connections', async () => {
    const up = await upstream('web');
    const s = await proxy(bootstrapYaml({ routes: '- match: { prefix: / }\n  route: { cluster: web }', clusters: staticCluster('web', [up.port]) }));
    const dump = JSON.parse((await send(s.adminPort!, '/config_dump')).body) as { configs: Record<string, unknown>[] };
    expect(dump.configs.map((c) => c['@type'])).toEqual([
      'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump', 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
      'type.googleapis.com/envoy.admin.v3.ListenersConfigDump', 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
      'type.googleapis.com/envoy.admin.v3.SecretsConfigDump',
    ]);
    const clusters = dump.configs[1] as { static_clusters: { cluster: { name: string } }[] };
    expect(clusters.static_clusters.map((c) => c.cluster.name)).toEqual(['web']);
    const routes = dump.configs[3] as { static_route_configs: { route_config: { name: string } }[] };
    expect(routes.static_route_configs.map((r) => r.route_config.name)).toEqual(['local']);

    const keepAlive = { headers: { connection: 'keep-alive' } };
    expect((await send(s.listenerPort('main'), '/', keepAlive)).headers.connection).toBe('keep-alive');
    expect((await send(s.adminPort!, '/healthcheck/fail', { method: 'POST' })).status).toBe(200);
    expect((await send(s.listenerPort('main'), '/', keepAlive)).headers.connection).toBe('close');
    expect(s.stats.gauges.get('server.live')?.value()).toBe(0);
    await send(s.adminPort!, '/healthcheck/ok', { method: 'POST' });
    expect((await send(s.listenerPort('main'), '/', keepAlive)).headers.connection).toBe('keep-alive');
  });

  it('a filter= regex that could backtrack catastrophically is refused', async () => {
    const up = await upstream('web');
    const s = await proxy(bootstrapYaml({ routes: '- match: { prefix: / }\n  route: { cluster: web }', clusters: staticCluster('web', [up.port]) }));
    expect((await send(s.adminPort!, `/stats?filter=${encodeURIComponent('^([a-z_.]+)+Z$')}`)).status).toBe(400);
    expect((await send(s.adminPort!, `/stats?filter=${encodeURIComponent('^cluster\\.web\\.')}`)).status).toBe(200);
  });
});
