// The admin server over a real socket on 127.0.0.1:0: status codes and bodies of every endpoint, the
// POST-only rule for mutating endpoints, /ready per server state, /logging level changes, 404 index.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAdminServer, type AdminServer } from '../../../proxy/admin/admin-server.ts';
import type { AdminContext, ServerState } from '../../../proxy/admin/types.ts';
import { createLogger } from '../../../proxy/common/logger.ts';
import { StatsStore } from '../../../proxy/stats/store.ts';
import { fakeCluster, fakeClusterManager, fakeHost } from './fake-cluster.ts';

interface Harness {
  server: AdminServer;
  ctx: AdminContext;
  state: { value: ServerState; quits: number; hcFailing: boolean };
  get(path: string, method?: string): Promise<{ status: number; body: string; type: string | null }>;
}

async function start(): Promise<Harness> {
  const state = { value: 'LIVE' as ServerState, quits: 0, hcFailing: false };
  const stats = new StatsStore();
  stats.counter('cluster.web.upstream_rq_total').inc(4);
  stats.counter('cluster.web.upstream_rq_200').inc(4);
  stats.counter('http.ingress.downstream_rq_total');
  stats.gauge('server.live').set(1);
  const ctx: AdminContext = {
    stats,
    clusterManager: fakeClusterManager([fakeCluster('web', [fakeHost('10.0.0.1', 80)])]),
    listeners: () => [{ name: 'ingress', address: '0.0.0.0:10000' }, { name: 'v6', address: ':::9000' }],
    configDump: () => ({ configs: [{ '@type': 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump' }] }),
    serverInfo: () => ({ version: 'nodevoy/0.1.0/Clean/RELEASE/OpenSSL', node: { id: 'n1', cluster: 'c1' }, commandLineOptions: { concurrency: 1 }, uptimeSeconds: 6 }),
    state: () => state.value,
    quit: () => { state.quits++; },
    setHealthCheckFailing: (f) => { state.hcFailing = f; },
    logger: createLogger('info', { sink: () => {} }),
  };
  const server = await startAdminServer({ host: '127.0.0.1', port: 0 }, ctx);
  return {
    server, ctx, state,
    async get(path, method = 'GET') {
      const res = await fetch(`http://127.0.0.1:${server.port}${path}`, { method });
      return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
    },
  };
}

let h: Harness;
beforeEach(async () => { h = await start(); });
afterEach(async () => { await h.server.close(); });

describe('admin server', () => {
  it('binds an ephemeral port', () => {
    expect(h.server.port).toBeGreaterThan(0);
  });

  it('/ready follows the server state', async () => {
    expect(await h.get('/ready')).toMatchObject({ status: 200, body: 'LIVE\n' });
    for (const s of ['PRE_INITIALIZING', 'INITIALIZING', 'DRAINING'] as const) {
      h.state.value = s;
      expect(await h.get('/ready')).toMatchObject({ status: 503, body: `${s}\n` });
    }
  });

  it('/server_info has Envoy\'s ServerInfo shape', async () => {
    const r = await h.get('/server_info');
    expect(r.status).toBe(200);
    expect(r.type).toBe('application/json');
    expect(JSON.parse(r.body)).toEqual({
      version: 'nodevoy/0.1.0/Clean/RELEASE/OpenSSL', state: 'LIVE', hot_restart_version: 'disabled',
      command_line_options: { concurrency: 1 }, node: { id: 'n1', cluster: 'c1' },
      uptime_current_epoch: '6s', uptime_all_epochs: '6s',
    });
  });

  it('/stats in text, json and prometheus forms', async () => {
    const text = await h.get('/stats?usedonly');
    expect(text).toMatchObject({ status: 200, type: 'text/plain; charset=UTF-8' });
    expect(text.body).toBe('cluster.web.upstream_rq_200: 4\ncluster.web.upstream_rq_total: 4\nserver.live: 1\n');
    expect(JSON.parse((await h.get('/stats?format=json&filter=rq_total')).body)).toEqual({
      stats: [{ name: 'cluster.web.upstream_rq_total', value: 4 }, { name: 'http.ingress.downstream_rq_total', value: 0 }],
    });
    for (const path of ['/stats/prometheus?filter=upstream_rq_200', '/stats?format=prometheus&filter=upstream_rq_200']) {
      const prom = await h.get(path);
      expect(prom.status).toBe(200);
      expect(prom.type).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(prom.body).toContain('# TYPE envoy_cluster_upstream_rq counter\nenvoy_cluster_upstream_rq{envoy_response_code="200",envoy_cluster_name="web"} 4\n');
      expect(prom.body).not.toContain('rq_total');
    }
  });

  it('/stats rejects a bad filter, type or format with 400', async () => {
    expect(await h.get('/stats?filter=(')).toMatchObject({ status: 400, body: 'Invalid re2 regex\n' });
    expect((await h.get('/stats/prometheus?filter=[')).status).toBe(400);
    expect((await h.get('/stats?type=Nope')).status).toBe(400);
    expect((await h.get('/stats?format=xml')).status).toBe(400);
  });

  it('/clusters, /listeners and /config_dump', async () => {
    expect((await h.get('/clusters')).body).toContain('web::10.0.0.1:80::health_flags::healthy\n');
    expect(JSON.parse((await h.get('/clusters?format=json')).body).cluster_statuses[0].name).toBe('web');
    expect(await h.get('/listeners')).toMatchObject({ status: 200, body: 'ingress::0.0.0.0:10000\nv6:::::9000\n' });
    expect(JSON.parse((await h.get('/listeners?format=json')).body)).toEqual({
      listener_statuses: [
        { name: 'ingress', local_address: { socket_address: { address: '0.0.0.0', port_value: 10000 } } },
        { name: 'v6', local_address: { socket_address: { address: '::', port_value: 9000 } } },
      ],
    });
    const dump = await h.get('/config_dump');
    expect(dump.type).toBe('application/json');
    expect(JSON.parse(dump.body).configs[0]['@type']).toContain('BootstrapConfigDump');
  });

  it('mutating endpoints refuse GET with 405 and change nothing', async () => {
    for (const path of ['/quitquitquit', '/healthcheck/fail', '/healthcheck/ok', '/logging', '/reset_counters']) {
      expect(await h.get(path)).toMatchObject({ status: 405, body: 'Method GET not allowed, POST required.' });
    }
    expect(h.state.quits).toBe(0);
    expect(h.ctx.stats.counter('cluster.web.upstream_rq_total').value()).toBe(4);
  });

  it('POST /quitquitquit answers OK then quits', async () => {
    expect(await h.get('/quitquitquit', 'POST')).toMatchObject({ status: 200, body: 'OK\n' });
    expect(h.state.quits).toBe(1);
  });

  it('POST /healthcheck/fail and /healthcheck/ok toggle the health check state', async () => {
    expect(await h.get('/healthcheck/fail', 'POST')).toMatchObject({ status: 200, body: 'OK\n' });
    expect(h.state.hcFailing).toBe(true);
    await h.get('/healthcheck/ok', 'POST');
    expect(h.state.hcFailing).toBe(false);
  });

  it('POST /reset_counters zeroes counters', async () => {
    expect(await h.get('/reset_counters', 'POST')).toMatchObject({ status: 200, body: 'OK\n' });
    expect(h.ctx.stats.counter('cluster.web.upstream_rq_total').value()).toBe(0);
    expect(h.ctx.stats.gauge('server.live').value()).toBe(1);
  });

  it('POST /logging lists and changes levels', async () => {
    const list = await h.get('/logging', 'POST');
    expect(list.status).toBe(200);
    expect(list.body).toMatch(/^active loggers:\n {2}admin: info\n/);
    expect(list.body).toContain('  upstream: info\n');

    await h.get('/logging?level=debug', 'POST');
    expect(h.ctx.logger.levels().every(([, l]) => l === 'debug')).toBe(true);
    await h.get('/logging?upstream=trace', 'POST');
    expect(h.ctx.logger.get('upstream').enabled('trace')).toBe(true);
    expect(h.ctx.logger.get('main').enabled('trace')).toBe(false);
    await h.get('/logging?paths=main:error,router=warning', 'POST');
    expect(Object.fromEntries(h.ctx.logger.levels())).toMatchObject({ main: 'error', router: 'warning' });

    for (const bad of ['/logging?level=loud', '/logging?nosuchlogger=info', '/logging?a=info&b=info', '/logging?paths=main:error,zzz:info']) {
      const r = await h.get(bad, 'POST');
      expect(r.status).toBe(404);
      expect(r.body).toMatch(/^error: .*\n\nusage: \/logging\?<name>=<level>/);
    }
    expect(Object.fromEntries(h.ctx.logger.levels())).toMatchObject({ main: 'error' });
  });

  it('/help lists every command, POST ones marked', async () => {
    const r = await h.get('/help');
    expect(r.body).toMatch(/^admin commands are:\n {2}\/: Admin home page\n/);
    expect(r.body).toContain('  /quitquitquit (POST): exit the server\n');
    expect(r.body).toContain('  /stats/prometheus: print server stats in prometheus format\n');
  });

  it('/ is an HTML index and unknown paths get 404 with the command list', async () => {
    const home = await h.get('/');
    expect(home.type).toBe('text/html; charset=UTF-8');
    expect(home.body).toContain('<a href="/clusters">/clusters</a>');
    expect(home.body).toContain('<form action="/quitquitquit" method="post">');
    const missing = await h.get('/nope');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatch(/^invalid path. admin commands are:\n/);
  });
});
