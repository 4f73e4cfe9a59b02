// The RBAC filter through a real proxy and real sockets: requests that try to get in where a policy
// says no get Envoy's 403 `RBAC: access denied` and never reach the upstream, while allowed ones pass;
// the access log shows the details (and no response flag), the counters land under http.<prefix>.rbac.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request as httpRequest } from 'node:http';
import type { Server } from '../../proxy/server/server.ts';
import { bootstrapYaml, indent, send, startProxy, staticCluster, type SimpleResponse } from '../support/proxy.ts';
import { startUpstream, type TestUpstream } from '../support/upstream.ts';

const RBAC_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
const PER_ROUTE_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const ROUTES = `- match: { prefix: / }
  route: { cluster: web }`;

interface Setup {
  readonly server: Server;
  readonly up: TestUpstream;
  get(path: string, init?: Parameters<typeof send>[2]): Promise<SimpleResponse>;
  counter(name: string): number;
  /** Access-log lines `<code> <flags> <details> <path> <shadow result>` (closes the proxy to flush). */
  logLines(): Promise<string[]>;
}

async function setup(filter: string, opts: { routes?: string; hcmExtra?: string } = {}): Promise<Setup> {
  const up = await startUpstream('web');
  cleanups.push(() => up.close());
  const logPath = join(mkdtempSync(join(tmpdir(), 'nodevoy-rbac-')), 'access.log');
  const server = await startProxy(bootstrapYaml({
    routes: opts.routes ?? ROUTES,
    clusters: staticCluster('web', [up.port]),
    httpFilters: `- name: envoy.filters.http.rbac
  typed_config:
    "@type": ${RBAC_TYPE}
${indent(filter, 4)}`,
    accessLogPath: logPath,
    accessLogFormat: '%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %REQ(:PATH)% %DYNAMIC_METADATA(envoy.filters.http.rbac:shadow_engine_result)%\n',
    ...(opts.hcmExtra === undefined ? {} : { hcmExtra: opts.hcmExtra }),
  }));
  let closed = false;
  const close = async (): Promise<void> => {
    if (!closed) await server.close();
    closed = true;
  };
  cleanups.push(close);
  return {
    server, up,
    get: (path, init) => send(server.listenerPort('main'), path, init),
    counter: (name) => server.stats.counters.get(name)?.value() ?? 0,
    logLines: async () => {
      await close();
      return readFileSync(logPath, 'utf8').trim().split('\n');
    },
  };
}

function adminGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve(body));
    }).on('error', reject).end();
  });
}

function expectDenied(r: SimpleResponse): void {
  expect([r.status, r.body]).toEqual([403, 'RBAC: access denied']);
  expect(r.headers['content-type']).toBe('text/plain');
  expect(r.headers['content-length']).toBe('19');
}

const DENY_ADMIN = `rules:
  action: DENY
  policies:
    deny-admin:
      permissions:
      - url_path: { path: { prefix: /admin } }
      principals:
      - any: true`;

describe('a policy that denies one path while another stays allowed', () => {
  it('DENY /admin: /admin (with or without a query) gets 403 and never reaches the upstream; /public passes', async () => {
    const s = await setup(DENY_ADMIN);
    expectDenied(await s.get('/admin'));
    expectDenied(await s.get('/admin/users?as=root'));
    const ok = await s.get('/public?x=1');
    expect([ok.status, ok.body]).toEqual([200, 'web']);
    expect(s.up.received.map((r) => r.url)).toEqual(['/public?x=1']);
    expect([s.counter('http.ingress.rbac.denied'), s.counter('http.ingress.rbac.allowed')]).toEqual([2, 1]);
    expect(s.counter('http.ingress.downstream_rq_4xx')).toBe(2);
    const stats = await adminGet(s.server.adminPort!, '/stats?filter=rbac');
    expect(stats).toContain('http.ingress.rbac.denied: 2');
    // Envoy sets no response flag for RBAC denials: the details name the policy.
    const lines = await s.logLines();
    expect(lines.slice(0, 2)).toEqual([
      '403 - rbac_access_denied_matched_policy[deny-admin] /admin -',
      '403 - rbac_access_denied_matched_policy[deny-admin] /admin/users?as=root -',
    ]);
    expect(lines[2]).toMatch(/^200 - \S+ \/public\?x=1 -$/);
  });

  it('ALLOW GET on /api only: a POST and another path are refused with [none]', async () => {
    const s = await setup(`rules:
  policies:
    read-api:
      permissions:
      - and_rules:
          rules:
          - header: { name: ":method", string_match: { exact: GET } }
          - url_path: { path: { prefix: /api/ } }
      principals:
      - any: true`);
    expect((await s.get('/api/items')).status).toBe(200);
    expectDenied(await s.get('/api/items', { method: 'POST', body: 'x' }));
    expectDenied(await s.get('/other'));
    // :path with a query does not fool url_path into another path.
    expectDenied(await s.get('/other?/api/'));
    expect(s.up.received.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /api/items']);
    const lines = await s.logLines();
    expect(lines.slice(1).every((l) => l.startsWith('403 - rbac_access_denied_matched_policy[none] '))).toBe(true);
  });

  it('empty rules deny everything', async () => {
    const s = await setup('rules: {}');
    expectDenied(await s.get('/'));
    expect(s.up.received).toEqual([]);
  });
});

describe('principals of the connection', () => {
  it('direct_remote_ip: the loopback peer gets in; a policy for another network keeps it out, whatever XFF says', async () => {
    const allowed = await setup(`rules:
  policies:
    loopback: { permissions: [{ any: true }], principals: [{ direct_remote_ip: { address_prefix: 127.0.0.0, prefix_len: 8 } }] }`);
    expect((await allowed.get('/')).status).toBe(200);
    const other = await setup(`rules:
  policies:
    office: { permissions: [{ any: true }], principals: [{ direct_remote_ip: { address_prefix: 203.0.113.0, prefix_len: 24 } }] }`);
    expectDenied(await other.get('/', { headers: { 'x-forwarded-for': '203.0.113.9' } }));
  });

  it('remote_ip follows the HCM trusted client address (xff_num_trusted_hops: 1 trusts the last XFF entry)', async () => {
    const s = await setup(`rules:
  policies:
    office: { permissions: [{ any: true }], principals: [{ remote_ip: { address_prefix: 203.0.113.0, prefix_len: 24 } }] }`,
    { hcmExtra: 'xff_num_trusted_hops: 1\nuse_remote_address: true' });
    expect((await s.get('/', { headers: { 'x-forwarded-for': '203.0.113.9' } })).status).toBe(200);
    expectDenied(await s.get('/'));
    expectDenied(await s.get('/', { headers: { 'x-forwarded-for': '198.51.100.1' } }));
  });

  it('authenticated never matches a plaintext connection, even with a forged client-cert header', async () => {
    const s = await setup(`rules:
  policies:
    sleep:
      permissions: [{ any: true }]
      principals: [{ authenticated: { principal_name: { exact: "spiffe://cluster.local/ns/default/sa/sleep" } } }]`);
    expectDenied(await s.get('/', { headers: { 'x-forwarded-client-cert': 'URI=spiffe://cluster.local/ns/default/sa/sleep' } }));
    expect(s.up.received).toEqual([]);
  });
});

describe('shadow_rules', () => {
  it('a shadow deny-all blocks nothing; it counts and writes shadow_engine_result for the access log', async () => {
    const s = await setup('shadow_rules: {}');
    expect((await s.get('/admin')).status).toBe(200);
    expect(s.counter('http.ingress.rbac.shadow_denied')).toBe(1);
    expect(await s.logLines()).toEqual([expect.stringMatching(/^200 - \S+ \/admin denied$/)]);
  });
});

describe('RBACPerRoute', () => {
  const routes = `- match: { prefix: /open }
  route: { cluster: web }
  typed_per_filter_config:
    envoy.filters.http.rbac:
      "@type": ${PER_ROUTE_TYPE}
- match: { prefix: /stricter }
  route: { cluster: web }
  typed_per_filter_config:
    envoy.filters.http.rbac:
      "@type": ${PER_ROUTE_TYPE}
      rbac:
        rules:
          action: DENY
          policies:
            no-get:
              permissions: [{ header: { name: ":method", string_match: { exact: GET } } }]
              principals: [{ any: true }]
- match: { prefix: / }
  route: { cluster: web }`;

  it('an empty RBACPerRoute disables the filter on its route; another replaces the rules on its own', async () => {
    const s = await setup('rules: {}', { routes });
    expect((await s.get('/open/anything')).status).toBe(200);
    expectDenied(await s.get('/elsewhere'));
    expectDenied(await s.get('/stricter'));
    expect((await s.get('/stricter', { method: 'POST', body: 'x' })).status).toBe(200);
    expect(s.up.received.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /open/anything', 'POST /stricter']);
    const lines = await s.logLines();
    expect(lines[2]).toBe('403 - rbac_access_denied_matched_policy[no-get] /stricter -');
  });
});

describe('examples/rbac.yaml', () => {
  it('does what its comments promise', async () => {
    const up = await startUpstream('app');
    cleanups.push(() => up.close());
    const yaml = readFileSync(fileURLToPath(new URL('../../examples/rbac.yaml', import.meta.url)), 'utf8')
      .replace('port_value: 9907', 'port_value: 0').replace('port_value: 10070', 'port_value: 0')
      .replace('port_value: 9131', `port_value: ${up.port}`);
    const stdout: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
    cleanups.push(async () => { spy.mockRestore(); });
    const server = await startProxy(yaml);
    cleanups.push(() => server.close());
    const get = (path: string, init?: Parameters<typeof send>[2]): Promise<SimpleResponse> => send(server.listenerPort('app'), path, init);
    expect((await get('/')).status).toBe(200);
    expectDenied(await get('/', { method: 'POST', body: 'x' }));
    expectDenied(await get('/admin/users'));
    expect((await get('/products')).status).toBe(200);
    expect((await get('/admin/users', { headers: { 'x-role': 'admin' } })).status).toBe(200);
    expect((await get('/healthz', { method: 'POST', body: 'x' })).status).toBe(200);
    const counter = (n: string): number => server.stats.counters.get(n)?.value() ?? 0;
    expect([counter('http.app.rbac.allowed'), counter('http.app.rbac.denied'), counter('http.app.rbac.dry_run_.shadow_denied')]).toEqual([3, 2, 1]);
    await server.close();
    const log = stdout.join('');
    expect(log).toContain('POST / 403 rbac_access_denied_matched_policy[none] dry_run=denied\n');
    expect(log).toContain('GET /products 200');
  });
});
