// The seed articles' VirtualService, DestinationRule and EnvoyFilter YAML (/work/shared/seeds/yaml), loaded
// unchanged by the real control plane next to a registry of the articles' services, and the behaviour each
// article describes observed through real nodevoy sidecars. Timeouts too long to wait for are read from the
// caller's /config_dump; where an article's claim is not what Envoy does with its YAML, Envoy wins (said inline).

import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { TestMesh, type WorkloadSpec } from '../support/mesh.ts';
import { send, type SimpleResponse } from '../support/proxy.ts';
import type { UpstreamHandler } from '../support/upstream.ts';

type Json = Record<string, unknown>;

/** The port the articles call their services on (`curl payment-service:8080/health`). */
const PORT = 8080;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function mesh(workloads: readonly WorkloadSpec[], files: Record<string, string>): Promise<TestMesh> {
  const m = await TestMesh.start({ workloads, files, servicePort: PORT });
  cleanups.push(() => m.close());
  return m;
}

function seed(file: string): Promise<string> {
  return readFile(new URL(`../../../shared/seeds/yaml/${file}`, import.meta.url), 'utf8');
}

/** The documents of a seed file, each exactly as written, with the kind and name it declares. */
function documents(text: string): { text: string; kind: string; name: string }[] {
  return text.split(/^---\n/m).map((doc) => {
    const [parsed] = parseAllDocuments(doc);
    const js = (parsed?.toJS() ?? {}) as { kind?: string; metadata?: { name?: string } };
    return { text: doc, kind: js.kind ?? '', name: js.metadata?.name ?? '' };
  });
}

/** One section of an article: the seed file without the documents `drop` names (the others unchanged). */
function without(text: string, drop: (d: { kind: string; name: string }) => boolean): string {
  return documents(text).filter((d) => !drop(d)).map((d) => d.text).join('---\n');
}

/**
 * Applications that answer the statuses queued in `queue`, one per request in arrival order whichever
 * workload gets it, then `200 <workload name>` once it is empty.
 */
class ScriptedApps {
  readonly queue: number[] = [];

  handler(name: string): UpstreamHandler {
    return (_req, res) => {
      const status = this.queue.shift() ?? 200;
      res.writeHead(status);
      res.end(status === 200 ? name : `${name} failed`);
    };
  }
}

const answering = (status: number): UpstreamHandler => (_req, res) => {
  res.writeHead(status);
  res.end(`status ${status}`);
};

/** Requests the applications of `names` received. */
function received(m: TestMesh, ...names: string[]): number {
  return names.reduce((n, name) => n + m.workload(name).app.received.length, 0);
}

/** `n` calls `batch` at a time (each on its own connection); the responses with how long each took. */
async function callConcurrently(m: TestMesh, n: number, batch: number, from: string, host: string): Promise<{ r: SimpleResponse; ms: number }[]> {
  const out: { r: SimpleResponse; ms: number }[] = [];
  for (let done = 0; done < n; done += batch) {
    out.push(...await Promise.all(Array.from({ length: Math.min(batch, n - done) }, async () => {
      const start = performance.now();
      const r = await m.call(from, host);
      return { r, ms: performance.now() - start };
    })));
  }
  return out;
}

/** Calls until workload `target` has received `count` requests (at most `max` calls); the responses. */
async function callUntilReceived(m: TestMesh, from: string, host: string, target: string, count: number, headers: Record<string, string> = {}, max = 400): Promise<SimpleResponse[]> {
  const responses: SimpleResponse[] = [];
  while (received(m, target) < count) {
    if (responses.length >= max) throw new Error(`${target} received ${received(m, target)} of ${count} requests after ${max} calls`);
    responses.push(await m.call(from, host, '/', headers));
  }
  return responses;
}

async function configDump(m: TestMesh, from: string, type: string): Promise<Json> {
  const dump = JSON.parse((await m.admin(from, '/config_dump')).body) as { configs: Json[] };
  const section = dump.configs.find((c) => String(c['@type']).endsWith(`.${type}`));
  if (section === undefined) throw new Error(`no ${type} in ${from}'s config_dump`);
  return section;
}

/** The routes of virtual host `<host>:<port>` in the RDS table `outbound_http` workload `from`'s sidecar runs. */
async function routesOf(m: TestMesh, from: string, virtualHost: string): Promise<Json[]> {
  const routes = await configDump(m, from, 'RoutesConfigDump');
  const table = (routes['dynamic_route_configs'] as { route_config: Json }[]).map((r) => r.route_config).find((rc) => rc['name'] === 'outbound_http');
  const vh = (table?.['virtual_hosts'] as Json[] | undefined)?.find((v) => v['name'] === virtualHost);
  if (vh === undefined) throw new Error(`${from} has no virtual host ${virtualHost}`);
  return vh['routes'] as Json[];
}

/** The active CDS cluster `name` in workload `from`'s sidecar. */
async function clusterOf(m: TestMesh, from: string, name: string): Promise<Json> {
  const clusters = await configDump(m, from, 'ClustersConfigDump');
  const c = (clusters['dynamic_active_clusters'] as { cluster: Json }[]).map((x) => x.cluster).find((x) => x['name'] === name);
  if (c === undefined) throw new Error(`${from} has no cluster ${name}`);
  return c;
}

/** The circuit breaker thresholds /clusters prints for `cluster` (default priority). */
async function thresholds(m: TestMesh, from: string, cluster: string): Promise<Record<string, number>> {
  const { body } = await m.admin(from, '/clusters');
  const prefix = `${cluster}::default_priority::`;
  return Object.fromEntries(body.split('\n').filter((l) => l.startsWith(prefix)).map((l) => {
    const [k, v] = l.slice(prefix.length).split('::');
    return [k!, Number(v)];
  }));
}

/** The clusters a route sends to: its `cluster`, or the names of its `weighted_clusters`. */
function clustersOf(route: Json): string[] {
  const action = route['route'] as { cluster?: string; weighted_clusters?: { clusters: { name: string }[] } };
  return action.cluster !== undefined ? [action.cluster] : (action.weighted_clusters?.clusters ?? []).map((c) => c.name);
}

const clusterStat = (m: TestMesh, from: string, cluster: string, stat: string) => m.stat(from, `cluster.${cluster}.${stat}`);

/** The control plane's report for `file`: its errors and its warnings, one line each. */
async function reportFor(m: TestMesh, file: string): Promise<{ errors: string[]; warnings: string[] }> {
  const entries = (await m.configErrors()).errors.filter((e) => e.file.endsWith(file));
  return {
    errors: entries.filter((e) => e.severity === 'error').map((e) => e.text),
    warnings: entries.filter((e) => e.severity === 'warning').map((e) => e.text),
  };
}

/** The 503s the fault filter answered itself, and the requests it delayed, from the caller's outbound HCM. */
const faultStat = (m: TestMesh, from: string, stat: 'aborts_injected' | 'delays_injected') => m.stat(from, `http.outbound_http.fault.${stat}`);

function spec(name: string, app: string, version: string, extra: Partial<WorkloadSpec> = {}): WorkloadSpec {
  return { name, app, version, ...extra };
}

// ---------------------------------------------------------------------------------------------------------
describe('000-product-service: canary by header and weight, retries, timeout, outlier detection', () => {
  const FILE = '000-product-service.yaml';
  const HOST = 'product-service:8080';
  const VHOST = 'product-service.default.svc.cluster.local:8080';
  const cluster = (subset: string) => `outbound|8080|${subset}|product-service.default.svc.cluster.local`;

  it('accepts the file (h2UpgradePolicy only warned about); x-canary: "true" always reaches the canary, the rest splits 90/10', async () => {
    const m = await mesh([
      spec('frontend-v1', 'frontend', 'v1'), spec('product-service-v1', 'product-service', 'v1'), spec('product-service-v2', 'product-service', 'v2'),
    ], { [FILE]: await seed(FILE) });
    const report = await reportFor(m, FILE);
    expect(report.errors).toEqual([]);
    expect(report.warnings).toEqual([expect.stringContaining('h2UpgradePolicy')]);

    expect(await m.answeredBy('frontend-v1', HOST, 10, { 'x-canary': 'true' })).toEqual(new Map([['product-service-v2', 10]]));
    const split = await m.answeredBy('frontend-v1', HOST, 100);
    expect((split.get('product-service-v1') ?? 0) + (split.get('product-service-v2') ?? 0)).toBe(100);
    // 90/10 over 100 requests: the canary's share falls outside [2, 25] with probability < 1e-4.
    expect(split.get('product-service-v2') ?? 0).toBeGreaterThanOrEqual(2);
    expect(split.get('product-service-v2') ?? 0).toBeLessThanOrEqual(25);
  });

  it('the split route retries a 503 three times (attempts: 3) within a 10 s timeout, 2 s per try; the canary route keeps Istio\'s default 2 retries', async () => {
    const apps = new ScriptedApps();
    const m = await mesh([
      spec('frontend-v1', 'frontend', 'v1'),
      spec('product-service-v1', 'product-service', 'v1', { handler: apps.handler('product-service-v1') }),
      spec('product-service-v2', 'product-service', 'v2', { handler: apps.handler('product-service-v2') }),
    ], { [FILE]: await seed(FILE) });
    const both = ['product-service-v1', 'product-service-v2'];

    // retryOn is not given, so Istio's default conditions apply, which retry a 503 (retriable-status-codes).
    // Each subset has one endpoint, which 3 consecutive 503s cannot eject (Envoy's default max_ejection_percent
    // is 10 %, see the ejection tests below), so the 4th try still finds it.
    apps.queue.push(503, 503, 503);
    const ok = await m.call('frontend-v1', HOST);
    expect(ok.status).toBe(200);
    expect(received(m, ...both)).toBe(4);

    // The x-canary route sets no retries: Istio's default policy, 2 retries.
    const canaryBefore = received(m, 'product-service-v2');
    apps.queue.push(503, 503, 503, 503);
    const failed = await m.call('frontend-v1', HOST, '/', { 'x-canary': 'true' });
    expect(failed.status).toBe(503);
    expect(received(m, 'product-service-v2') - canaryBefore).toBe(3);
    apps.queue.length = 0;

    const [canary, split] = await routesOf(m, 'frontend-v1', VHOST);
    expect(canary!['route']).toMatchObject({ cluster: cluster('canary'), timeout: '0s', retry_policy: { num_retries: 2, retriable_status_codes: [503] } });
    expect(split!['route']).toMatchObject({ timeout: '10s', retry_policy: { num_retries: 3, per_try_timeout: '2s', retriable_status_codes: [503] } });
  });

  it('ejects a canary endpoint after 3 consecutive 5xx when the canary has 10 endpoints (Envoy\'s default max_ejection_percent is 10 %)', async () => {
    const canaries = Array.from({ length: 10 }, (_, i) => spec(`product-service-v2-${i}`, 'product-service', 'v2', i === 0 ? { handler: answering(500) } : {}));
    const m = await mesh([spec('frontend-v1', 'frontend', 'v1'), spec('product-service-v1', 'product-service', 'v1'), ...canaries], { [FILE]: await seed(FILE) });
    const canary = { 'x-canary': 'true' };

    // A 500 is not among the default retry conditions: each one reaches the caller.
    const before = await callUntilReceived(m, 'frontend-v1', HOST, 'product-service-v2-0', 3, canary);
    expect(before.filter((r) => r.status === 500)).toHaveLength(3);
    const after = await m.answeredBy('frontend-v1', HOST, 20, canary);
    expect(after.get('status 500')).toBeUndefined();
    expect(received(m, 'product-service-v2-0')).toBe(3);
    expect(await clusterStat(m, 'frontend-v1', cluster('canary'), 'outlier_detection.ejections_enforced_consecutive_5xx')).toBe(1);
    expect(await clusterOf(m, 'frontend-v1', cluster('canary'))).toMatchObject({ outlier_detection: { consecutive_5xx: 3, interval: '30s', base_ejection_time: '60s' } });
  });

  it('keeps a failing endpoint in a pool of 2: without maxEjectionPercent, Envoy ejects at most 10 % of a cluster (ejections_overflow)', async () => {
    // The article says failed instances stop receiving traffic; with this YAML Envoy does so only for
    // subsets of 10 or more endpoints, since ejecting 1 of 2 would exceed the default 10 %.
    const m = await mesh([
      spec('frontend-v1', 'frontend', 'v1'), spec('product-service-v1', 'product-service', 'v1'),
      spec('product-service-v2-0', 'product-service', 'v2', { handler: answering(500) }), spec('product-service-v2-1', 'product-service', 'v2'),
    ], { [FILE]: await seed(FILE) });
    await callUntilReceived(m, 'frontend-v1', HOST, 'product-service-v2-0', 4, { 'x-canary': 'true' });
    expect(await clusterStat(m, 'frontend-v1', cluster('canary'), 'outlier_detection.ejections_overflow')).toBeGreaterThanOrEqual(1);
    expect(await clusterStat(m, 'frontend-v1', cluster('canary'), 'outlier_detection.ejections_enforced_consecutive_5xx')).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------------------
describe('001-payment-service (namespace production): beta header, 90/10, retries, pool limits, gateway-error ejection', () => {
  const FILE = '001-payment-service.yaml';
  const HOST = 'payment-service:8080';
  const VHOST = 'payment-service.production.svc.cluster.local:8080';
  const cluster = (subset: string) => `outbound|8080|${subset}|payment-service.production.svc.cluster.local`;
  const prod = { namespace: 'production' };
  const beta = { 'x-canary': 'true' };
  // The article's traffic section: its security section (tested below) allows checkout-service only POST
  // /charge and /refund on payment-service, which would turn these GETs into 403s.
  const trafficSection = async () => without(await seed(FILE), (d) => d.kind === 'AuthorizationPolicy');

  it('accepts the file; beta users reach v2, the rest splits 90/10; the gateway-bound techoral-api is not applied to sidecars', async () => {
    const m = await mesh([
      spec('checkout-service-v1', 'checkout-service', 'v1', prod), spec('payment-service-v1', 'payment-service', 'v1', prod), spec('payment-service-v2', 'payment-service', 'v2', prod),
    ], { [FILE]: await trafficSection() });
    const report = await reportFor(m, FILE);
    expect(report.errors).toEqual([]);
    expect(report.warnings).toEqual([expect.stringContaining('h2UpgradePolicy'), expect.stringContaining('techoral-gateway')]);

    expect(await m.answeredBy('checkout-service-v1', HOST, 10, beta)).toEqual(new Map([['payment-service-v2', 10]]));
    const split = await m.answeredBy('checkout-service-v1', HOST, 100);
    expect((split.get('payment-service-v1') ?? 0) + (split.get('payment-service-v2') ?? 0)).toBe(100);
    expect(split.get('payment-service-v2') ?? 0).toBeGreaterThanOrEqual(2);
    expect(split.get('payment-service-v2') ?? 0).toBeLessThanOrEqual(25);
    // techoral-api binds only istio-system/techoral-gateway (no "mesh"): sidecars do not route its host.
    expect((await m.call('checkout-service-v1', 'api.techoral.com')).status).toBe(404);
  });

  it('the beta route retries 5xx 3 times (retryOn 5xx,reset,connect-failure), 10 s timeout, 3 s per try; the split keeps Istio\'s default policy', async () => {
    const apps = new ScriptedApps();
    const m = await mesh([
      spec('checkout-service-v1', 'checkout-service', 'v1', prod),
      spec('payment-service-v1', 'payment-service', 'v1', { ...prod, handler: apps.handler('payment-service-v1') }),
      spec('payment-service-v2', 'payment-service', 'v2', { ...prod, handler: apps.handler('payment-service-v2') }),
    ], { [FILE]: await trafficSection() });
    const both = ['payment-service-v1', 'payment-service-v2'];

    apps.queue.push(500, 502, 500);
    expect((await m.call('checkout-service-v1', HOST, '/', beta)).status).toBe(200);
    expect(received(m, 'payment-service-v2')).toBe(4);
    apps.queue.push(500, 500, 500, 500);
    expect((await m.call('checkout-service-v1', HOST, '/', beta)).status).toBe(500);
    expect(received(m, 'payment-service-v2')).toBe(8);

    // The 90/10 route sets no retries: Istio's default retries a 503 but not a 500.
    apps.queue.push(500);
    expect((await m.call('checkout-service-v1', HOST)).status).toBe(500);
    expect(received(m, ...both)).toBe(9);
    apps.queue.push(503);
    expect((await m.call('checkout-service-v1', HOST)).status).toBe(200);
    expect(received(m, ...both)).toBe(11);

    const [canary, split] = await routesOf(m, 'checkout-service-v1', VHOST);
    expect(canary!['route']).toMatchObject({ cluster: cluster('v2'), timeout: '10s', retry_policy: { num_retries: 3, per_try_timeout: '3s', retry_on: '5xx,reset,connect-failure' } });
    expect((canary!['route'] as Json)['retry_policy']).not.toHaveProperty('retriable_status_codes');
    expect(split!['route']).toMatchObject({ timeout: '10s', retry_policy: { num_retries: 2, retriable_status_codes: [503] } });
  });

  it('consecutiveGatewayErrors: 5 ejects a v2 endpoint answering 503, which the beta route\'s retries hide from callers', async () => {
    const m = await mesh([
      spec('checkout-service-v1', 'checkout-service', 'v1', prod), spec('payment-service-v1', 'payment-service', 'v1', prod),
      spec('payment-service-v2-0', 'payment-service', 'v2', { ...prod, handler: answering(503) }), spec('payment-service-v2-1', 'payment-service', 'v2', prod),
    ], { [FILE]: await trafficSection() });
    const before = await callUntilReceived(m, 'checkout-service-v1', HOST, 'payment-service-v2-0', 5, beta);
    expect(before.map((r) => r.status)).toEqual(before.map(() => 200));
    expect(await m.answeredBy('checkout-service-v1', HOST, 10, beta)).toEqual(new Map([['payment-service-v2-1', 10]]));
    expect(received(m, 'payment-service-v2-0')).toBe(5);
    expect(await clusterStat(m, 'checkout-service-v1', cluster('v2'), 'outlier_detection.ejections_enforced_consecutive_gateway_failure')).toBe(1);
    // maxEjectionPercent 50 allows 1 of 2; minHealthPercent 30 is the panic threshold.
    expect(await clusterOf(m, 'checkout-service-v1', cluster('v2'))).toMatchObject({
      outlier_detection: { consecutive_gateway_failure: 5, interval: '10s', base_ejection_time: '30s', max_ejection_percent: 50 },
      common_lb_config: { healthy_panic_threshold: { value: 30 } },
    });
  });

  it('v1 reuses an upstream connection for at most 10 requests, the canary opens one per request; pool limits and the 30 ms connect timeout are in force', async () => {
    const m = await mesh([
      spec('checkout-service-v1', 'checkout-service', 'v1', prod), spec('payment-service-v1', 'payment-service', 'v1', prod), spec('payment-service-v2', 'payment-service', 'v2', prod),
    ], { [FILE]: await trafficSection() });
    await m.answeredBy('checkout-service-v1', HOST, 10, beta);
    expect(await clusterStat(m, 'checkout-service-v1', cluster('v2'), 'upstream_rq_total')).toBe(10);
    expect(await clusterStat(m, 'checkout-service-v1', cluster('v2'), 'upstream_cx_total')).toBe(10);

    await m.answeredBy('checkout-service-v1', HOST, 40);
    const requests = (await clusterStat(m, 'checkout-service-v1', cluster('v1'), 'upstream_rq_total'))!;
    const connections = (await clusterStat(m, 'checkout-service-v1', cluster('v1'), 'upstream_cx_total'))!;
    expect(requests).toBeGreaterThanOrEqual(20);
    expect(connections).toBeGreaterThanOrEqual(Math.ceil(requests / 10));
    expect(connections).toBeLessThan(requests);

    expect(await thresholds(m, 'checkout-service-v1', cluster('v1'))).toMatchObject({ max_connections: 100, max_pending_requests: 100 });
    // The canary's own connectionPool replaces the rule's whole connectionPool (Istio's MergeTrafficPolicy), so
    // v2 has Istio's unlimited defaults and a 10 s connect timeout, not the article's "tighter limit" on top of v1's.
    expect(await thresholds(m, 'checkout-service-v1', cluster('v2'))).toMatchObject({ max_connections: 4294967295, max_pending_requests: 4294967295 });
    expect(await clusterOf(m, 'checkout-service-v1', cluster('v1'))).toMatchObject({ connect_timeout: '0.03s', lb_policy: 'LEAST_REQUEST' });
    expect(await clusterOf(m, 'checkout-service-v1', cluster('v2'))).toMatchObject({ connect_timeout: '10s' });
  });
});

// ---------------------------------------------------------------------------------------------------------
describe('001-payment-service security section: mesh-wide STRICT, a PERMISSIVE legacy workload, deny-all and one ALLOW', () => {
  const FILE = '001-payment-service.yaml';
  const HOST = 'payment-service:8080';
  const prod = { namespace: 'production' };
  const WORKLOADS = [
    spec('checkout-service-v1', 'checkout-service', 'v1', prod), spec('payment-service-v1', 'payment-service', 'v1', prod),
    spec('payment-service-v2', 'payment-service', 'v2', prod), spec('legacy-service-v1', 'legacy-service', 'v1', prod),
  ];
  const payment = ['payment-service-v1', 'payment-service-v2'];

  it('only checkout-service may POST /charge and /refund on payment-service, over mTLS; everything else is 403 RBAC: access denied', async () => {
    const m = await mesh(WORKLOADS, { [FILE]: await seed(FILE) });
    expect((await reportFor(m, FILE)).errors).toEqual([]);
    for (const path of ['/charge', '/refund']) {
      const r = await m.call('checkout-service-v1', HOST, path, {}, 'POST');
      expect([r.status, payment.includes(r.body)]).toEqual([200, true]);
    }
    const denied = [
      await m.call('checkout-service-v1', HOST, '/charge'), // GET
      await m.call('checkout-service-v1', HOST, '/admin', {}, 'POST'),
      await m.call('legacy-service-v1', HOST, '/charge', {}, 'POST'), // another identity
    ];
    expect(denied.map((r) => [r.status, r.body])).toEqual(denied.map(() => [403, 'RBAC: access denied']));
    // deny-all (spec: {}) covers the namespace's other workloads: nobody may call legacy-service.
    expect((await m.call('checkout-service-v1', 'legacy-service:8080', '/', {}, 'POST')).status).toBe(403);
    expect(received(m, ...payment)).toBe(2);
    expect(received(m, 'legacy-service-v1')).toBe(0);
    // The application learns who called: the inbound sidecar appends the caller's SPIFFE ID (XFCC, APPEND_FORWARD).
    const xfcc = payment.flatMap((name) => m.workload(name).app.received.map((r) => r.headers['x-forwarded-client-cert']));
    expect(xfcc).toEqual([expect.stringMatching(/;URI=spiffe:\/\/cluster\.local\/ns\/production\/sa\/checkout-service$/), expect.anything()]);
    for (const x of xfcc) expect(x).toMatch(/^By=spiffe:\/\/cluster\.local\/ns\/production\/sa\/payment-service;Hash=[0-9a-f]{64};Subject="";URI=spiffe:\/\/cluster\.local\/ns\/production\/sa\/checkout-service$/);
    // Every call between sidecars was mTLS, and the caller's identity reached the RBAC filters.
    const sum = async (stat: (name: string) => string) => {
      let n = 0;
      for (const name of payment) n += (await m.stat(name, stat(name))) ?? 0;
      return n;
    };
    expect(await sum((name) => `listener.${m.workload(name).ip}_8080.ssl.handshake`)).toBeGreaterThanOrEqual(2);
    expect(await sum(() => 'http.inbound_0.0.0.0_8080.rbac.allowed')).toBe(2);
    expect(await sum(() => 'http.inbound_0.0.0.0_8080.rbac.denied')).toBe(3);
  });

  it('STRICT refuses plaintext at payment-service\'s inbound port; legacy-service (PERMISSIVE) takes it, and deny-all answers it', async () => {
    const m = await mesh(WORKLOADS, { [FILE]: await seed(FILE) });
    const plaintext = (name: string) => send(8080, '/charge', { host: m.workload(name).ip, method: 'POST', headers: { host: HOST } });
    await expect(plaintext('payment-service-v1')).rejects.toThrow(/ECONNRESET|socket hang up/);
    expect((await plaintext('legacy-service-v1')).status).toBe(403);
    expect(received(m, ...payment, 'legacy-service-v1')).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------------------
describe('002-production-mesh: 95/5 with retries, circuit breaking, fault injection, local rate limit', () => {
  const FILE = '002-production-mesh.yaml';
  const HOST = 'payment-service:8080';
  const VHOST = 'payment-service.default.svc.cluster.local:8080';
  const cluster = (subset: string) => `outbound|8080|${subset}|payment-service.default.svc.cluster.local`;
  // The file's VirtualService and DestinationRule have no namespace: they are `default`'s.
  const WORKLOADS = [spec('api-gateway-v1', 'api-gateway', 'v1'), spec('payment-service-v1', 'payment-service', 'v1'), spec('payment-service-v2', 'payment-service', 'v2')];

  it('as written: the fault section loses payment-service to the canary section (IST0109); traffic splits 95/5 without faults', async () => {
    const m = await mesh(WORKLOADS, { [FILE]: await seed(FILE) });
    const report = await reportFor(m, FILE);
    expect(report.errors).toEqual([expect.stringMatching(/VirtualService default\/payment-fault-test: spec\.hosts\[0\]: .*IST0109/)]);
    expect(report.warnings).toEqual([expect.stringContaining('filter_enabled')]);

    const split = await m.answeredBy('api-gateway-v1', HOST, 200);
    expect((split.get('payment-service-v1') ?? 0) + (split.get('payment-service-v2') ?? 0)).toBe(200);
    // 95/5 over 200 requests: v2's share falls outside [1, 30] with probability < 1e-4.
    expect(split.get('payment-service-v2') ?? 0).toBeGreaterThanOrEqual(1);
    expect(split.get('payment-service-v2') ?? 0).toBeLessThanOrEqual(30);
    expect(await faultStat(m, 'api-gateway-v1', 'aborts_injected')).toBe(0);
  });

  it('retries 5xx twice (attempts: 2, retryOn 5xx,reset,connect-failure) under a 10 s timeout', async () => {
    const apps = new ScriptedApps();
    const m = await mesh(WORKLOADS.map((w) => (w.app === 'payment-service' ? { ...w, handler: apps.handler(w.name) } : w)), { [FILE]: await seed(FILE) });
    const both = ['payment-service-v1', 'payment-service-v2'];
    apps.queue.push(500, 504);
    expect((await m.call('api-gateway-v1', HOST)).status).toBe(200);
    expect(received(m, ...both)).toBe(3);
    apps.queue.push(500, 500, 500);
    expect((await m.call('api-gateway-v1', HOST)).status).toBe(500);
    expect(received(m, ...both)).toBe(6);
    const [route] = await routesOf(m, 'api-gateway-v1', VHOST);
    expect(route!['route']).toMatchObject({ timeout: '10s', retry_policy: { num_retries: 2, retry_on: '5xx,reset,connect-failure' } });
  });

  it('ejects an instance after 5 consecutive 5xx (its 500s retried on the other instance meanwhile); the pool limits are the thresholds', async () => {
    const m = await mesh([
      spec('api-gateway-v1', 'api-gateway', 'v1'), spec('payment-service-v1-0', 'payment-service', 'v1', { handler: answering(500) }),
      spec('payment-service-v1-1', 'payment-service', 'v1'), spec('payment-service-v2', 'payment-service', 'v2'),
    ], { [FILE]: await seed(FILE) });
    const before = await callUntilReceived(m, 'api-gateway-v1', HOST, 'payment-service-v1-0', 5);
    expect(before.map((r) => r.status)).toEqual(before.map(() => 200));
    const after = await m.answeredBy('api-gateway-v1', HOST, 20);
    expect(after.get('status 500')).toBeUndefined();
    expect(received(m, 'payment-service-v1-0')).toBe(5);
    expect(await clusterStat(m, 'api-gateway-v1', cluster('v1'), 'outlier_detection.ejections_enforced_consecutive_5xx')).toBe(1);
    for (const subset of ['v1', 'v2']) {
      expect(await thresholds(m, 'api-gateway-v1', cluster(subset))).toMatchObject({ max_connections: 100, max_pending_requests: 100, max_requests: 1000 });
    }
  });

  it('refuses with 503 x-envoy-overloaded once 100 connections (maxConnections) and 100 queued requests (http1MaxPendingRequests) are in use', async () => {
    // The applications hold every request until released: the caller's v1 pool fills its 100 connections,
    // queues 100 more requests, and refuses the rest at once (Envoy's pending overflow, never retried).
    let holding = true;
    const held: ServerResponse[] = [];
    const hold = (name: string): UpstreamHandler => (_req, res) => {
      if (holding) held.push(res);
      else res.end(name);
    };
    const m = await mesh(WORKLOADS.map((w) => (w.app === 'payment-service' ? { ...w, handler: hold(w.name) } : w)), { [FILE]: await seed(FILE) });
    const N = 250;
    let answered = 0;
    const calls = Array.from({ length: N }, () => m.call('api-gateway-v1', HOST).then((r) => {
      answered++;
      return r;
    }));
    const queued = async () => {
      let n = 0;
      for (const subset of ['v1', 'v2']) {
        const t = await thresholds(m, 'api-gateway-v1', cluster(subset));
        n += t['max_pending_requests']! - t['remaining_pending']!;
      }
      return n;
    };
    const inQueue = await m.until('every request to be at an application, queued or refused', async () => {
      const q = await queued();
      return held.length + q + answered === N ? q : undefined;
    });
    const refused = answered;
    // 95/5 of 250: v1 gets more than 200 with probability > 1 - 1e-6, so some are refused.
    const v1 = await thresholds(m, 'api-gateway-v1', cluster('v1'));
    expect(v1).toMatchObject({ max_connections: 100, remaining_cx: 0, max_pending_requests: 100, remaining_pending: 0 });
    expect(inQueue).toBeGreaterThanOrEqual(100);
    expect(refused).toBeGreaterThan(0);
    expect(await clusterStat(m, 'api-gateway-v1', cluster('v1'), 'upstream_rq_pending_overflow')).toBe(refused);

    holding = false;
    for (const res of held.splice(0)) res.end('released');
    const results = await Promise.all(calls);
    const overloaded = results.filter((r) => r.status === 503);
    expect(overloaded).toHaveLength(refused);
    for (const r of overloaded) expect(r.headers['x-envoy-overloaded']).toBe('true');
    expect(results.filter((r) => r.status === 200)).toHaveLength(N - refused);
  });

  it('the fault-injection section: 5 % aborted with 503, 10 % delayed by 500 ms', async () => {
    // The article's fault section on its own (its canary VirtualService, which claims the same host, left out).
    const m = await mesh(WORKLOADS, { [FILE]: without(await seed(FILE), (d) => d.kind === 'VirtualService' && d.name === 'payment-service') });
    expect((await reportFor(m, FILE)).errors).toEqual([]);
    const results = await callConcurrently(m, 300, 100, 'api-gateway-v1', HOST);
    const aborted = results.filter(({ r }) => r.status === 503);
    expect(results.filter(({ r }) => r.status !== 200 && r.status !== 503)).toEqual([]);
    for (const { r } of aborted) expect(r.body).toBe('fault filter abort');
    const aborts = (await faultStat(m, 'api-gateway-v1', 'aborts_injected'))!;
    const delays = (await faultStat(m, 'api-gateway-v1', 'delays_injected'))!;
    expect(aborts).toBe(aborted.length);
    // 5 % and 10 % of 300: outside these bounds with probability < 1e-4.
    expect(aborts).toBeGreaterThanOrEqual(3);
    expect(aborts).toBeLessThanOrEqual(35);
    expect(delays).toBeGreaterThanOrEqual(8);
    expect(delays).toBeLessThanOrEqual(60);
    // Every delayed request took the 500 ms (less a timer's millisecond of rounding) on top of its round trip.
    expect(results.filter(({ ms }) => ms >= 499).length).toBeGreaterThanOrEqual(delays);
    const [route] = await routesOf(m, 'api-gateway-v1', VHOST);
    expect(route!['typed_per_filter_config']).toMatchObject({
      'envoy.filters.http.fault': {
        delay: { fixed_delay: '0.5s', percentage: { numerator: 100000, denominator: 'MILLION' } },
        abort: { http_status: 503, percentage: { numerator: 50000, denominator: 'MILLION' } },
      },
    });
  });

  describe('the EnvoyFilter local rate limit on production\'s payment-service', () => {
    const RL_WORKLOADS = [
      spec('prod-api-gateway-v1', 'api-gateway', 'v1', { namespace: 'production' }),
      spec('prod-payment-service-v1', 'payment-service', 'v1', { namespace: 'production' }),
    ];
    const RL = 'http_local_rate_limiter.http_local_rate_limit';
    const ALWAYS = '{default_value: {numerator: 100, denominator: HUNDRED}}';
    // This mesh registers production's services only: the file's default-namespace resources are warned about
    // as not in the registry (IST0101); the EnvoyFilter's own warnings are the ones that matter here.
    const envoyFilterWarnings = async (m: TestMesh) => (await reportFor(m, FILE)).warnings.filter((w) => w.includes(' EnvoyFilter '));

    it('as written it is installed before the router but, without filter_enabled, runs for 0 % of requests: nothing counted, nothing limited', async () => {
      // The article says the 101st request in a minute gets 429. Envoy's LocalRateLimit without
      // filter_enabled/filter_enforced is enabled for 0 % of requests, so it neither counts nor rejects;
      // the control plane warns about it.
      const m = await mesh(RL_WORKLOADS, { [FILE]: await seed(FILE) });
      expect(await envoyFilterWarnings(m)).toEqual([expect.stringMatching(/EnvoyFilter production\/payment-ratelimit: warning: .*filter_enabled/)]);
      const listeners = await configDump(m, 'prod-payment-service-v1', 'ListenersConfigDump');
      const inbound = (listeners['dynamic_listeners'] as { name: string; active_state: { listener: Json } }[]).find((l) => l.name === 'inbound|8080')!;
      const hcm = ((inbound.active_state.listener['filter_chains'] as Json[])[0]!['filters'] as { typed_config: Json }[])[0]!.typed_config;
      // The file's payment-access policy (only api-gateway may call) is the RBAC filter, after Istio's peer metadata exchange.
      expect((hcm['http_filters'] as Json[]).map((f) => f['name'])).toEqual(['istio.metadata_exchange', 'istio.authorization.allow', 'istio.stats',
        'envoy.filters.http.local_ratelimit', 'envoy.filters.http.router']);

      const results = await callConcurrently(m, 110, 25, 'prod-api-gateway-v1', HOST);
      expect(results.map(({ r }) => r.status)).toEqual(results.map(() => 200));
      expect(await m.stat('prod-payment-service-v1', `${RL}.enabled`)).toBe(0);
      expect(await m.stat('prod-payment-service-v1', `${RL}.rate_limited`)).toBe(0);
    });

    it('with filter_enabled and filter_enforced at 100 % added, the 101st request within the 60 s fill interval gets 429', async () => {
      const text = (await seed(FILE)).replace('              fill_interval: 60s\n',
        `              fill_interval: 60s\n            filter_enabled: ${ALWAYS}\n            filter_enforced: ${ALWAYS}\n`);
      const m = await mesh(RL_WORKLOADS, { [FILE]: text });
      expect(await envoyFilterWarnings(m)).toEqual([]);
      const results = await callConcurrently(m, 110, 25, 'prod-api-gateway-v1', HOST);
      const limited = results.filter(({ r }) => r.status === 429);
      expect(results.filter(({ r }) => r.status === 200)).toHaveLength(100);
      expect(limited).toHaveLength(10);
      for (const { r } of limited) {
        expect(r.body).toBe('local_rate_limited');
        expect(r.headers['x-envoy-ratelimited']).toBe('true');
      }
      expect(await m.stat('prod-payment-service-v1', `${RL}.enabled`)).toBe(110);
      expect(await m.stat('prod-payment-service-v1', `${RL}.enforced`)).toBe(10);
      expect(received(m, 'prod-payment-service-v1')).toBe(100);
    });
  });
});

// ---------------------------------------------------------------------------------------------------------
describe('the security sections of 002, 003 and 004 (namespace production, STRICT)', () => {
  const prod = { namespace: 'production' };
  const HOST = 'payment-service:8080';
  const WORKLOADS = [
    spec('prod-api-gateway-v1', 'api-gateway', 'v1', prod), spec('prod-order-service-v1', 'order-service', 'v1', prod),
    spec('prod-payment-service-v1', 'payment-service', 'v1', prod),
  ];
  const security = async (file: string) => without(await seed(file), (d) => d.kind !== 'PeerAuthentication' && d.kind !== 'AuthorizationPolicy');
  const statusOf = async (m: TestMesh, from: string, path = '/', method = 'GET') => (await m.call(from, HOST, path, {}, method)).status;

  it('002: only the API gateway may call payment-service', async () => {
    const m = await mesh(WORKLOADS, { '002.yaml': await security('002-production-mesh.yaml') });
    expect(await statusOf(m, 'prod-api-gateway-v1')).toBe(200);
    expect(await statusOf(m, 'prod-api-gateway-v1', '/anything', 'DELETE')).toBe(200);
    expect(await statusOf(m, 'prod-order-service-v1')).toBe(403);
    expect(received(m, 'prod-payment-service-v1')).toBe(2);
  });

  it('003: only order-service may POST /api/v1/payments and below', async () => {
    const m = await mesh(WORKLOADS, { '003.yaml': await security('003-order-payment.yaml') });
    expect(await statusOf(m, 'prod-order-service-v1', '/api/v1/payments', 'POST')).toBe(200);
    expect(await statusOf(m, 'prod-order-service-v1', '/api/v1/payments/42', 'POST')).toBe(200);
    expect(await statusOf(m, 'prod-order-service-v1', '/api/v1/payments/42')).toBe(403); // GET
    expect(await statusOf(m, 'prod-order-service-v1', '/api/v1/paymentsX', 'POST')).toBe(403);
    expect(await statusOf(m, 'prod-api-gateway-v1', '/api/v1/payments', 'POST')).toBe(403);
    expect(received(m, 'prod-payment-service-v1')).toBe(2);
  });

  it('004: production is STRICT: sidecars talk mTLS, a plaintext client is closed', async () => {
    const m = await mesh(WORKLOADS, { '004.yaml': await security('004-reviews.yaml') });
    expect(await statusOf(m, 'prod-order-service-v1')).toBe(200);
    const payment = m.workload('prod-payment-service-v1');
    await expect(send(PORT, '/', { host: payment.ip, headers: { host: HOST } })).rejects.toThrow(/ECONNRESET|socket hang up/);
    expect(await m.stat('prod-payment-service-v1', `listener.${payment.ip}_${PORT}.ssl.handshake`)).toBe(1);
    expect(received(m, 'prod-payment-service-v1')).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------------------
describe('003-order-payment: order-service canary and rollout patch, payment-service retries and circuit breaking', () => {
  const FILE = '003-order-payment.yaml';
  const order = (subset: string) => `outbound|8080|${subset}|order-service.default.svc.cluster.local`;
  const PAYMENT = 'outbound|8080||payment-service.default.svc.cluster.local';

  it('accepts the file; x-canary: "true" reaches v2, the rest splits 95/5; the kubectl merge patch moves everything to v2 live', async () => {
    const text = await seed(FILE);
    const m = await mesh([
      spec('frontend-v1', 'frontend', 'v1'), spec('order-service-v1', 'order-service', 'v1'), spec('order-service-v2', 'order-service', 'v2'),
      spec('payment-service-v1', 'payment-service', 'v1'),
    ], { [FILE]: text });
    const report = await reportFor(m, FILE);
    expect(report.errors).toEqual([]);
    expect(report.warnings).toEqual([expect.stringContaining('h2UpgradePolicy'), expect.stringContaining('api-gateway')]);

    expect(await m.answeredBy('frontend-v1', 'order-service:8080', 10, { 'x-canary': 'true' })).toEqual(new Map([['order-service-v2', 10]]));
    const split = await m.answeredBy('frontend-v1', 'order-service:8080', 200);
    expect((split.get('order-service-v1') ?? 0) + (split.get('order-service-v2') ?? 0)).toBe(200);
    expect(split.get('order-service-v2') ?? 0).toBeGreaterThanOrEqual(1);
    expect(split.get('order-service-v2') ?? 0).toBeLessThanOrEqual(30);
    // The gateway-bound api-routing VirtualService is not applied to sidecars.
    expect((await m.call('frontend-v1', 'api.example.com')).status).toBe(404);
    // Only v2 has the subset-level connectionPool.
    expect(await thresholds(m, 'frontend-v1', order('v2'))).toMatchObject({ max_connections: 100 });
    expect(await thresholds(m, 'frontend-v1', order('v1'))).toMatchObject({ max_connections: 4294967295 });

    // `kubectl patch --type=merge` is a JSON merge patch (RFC 7386): `spec.http` is replaced as a whole, so
    // the x-canary rule goes too and one 0/100 route remains (weight 0 is dropped).
    const patch = JSON.parse(await seed('003-progressive-rollout-patch.json')) as { spec: { http: unknown } };
    const patched = documents(text).map((d) => {
      if (d.kind !== 'VirtualService' || d.name !== 'order-service') return d.text;
      const vs = parseAllDocuments(d.text)[0]!.toJS() as { spec: Json };
      return stringify({ ...vs, spec: { ...vs.spec, http: patch.spec.http } });
    }).join('---\n');
    await m.write(FILE, patched);
    await m.until('the 0/100 patch to reach the frontend', async () => {
      const counts = await m.answeredBy('frontend-v1', 'order-service:8080', 10);
      return counts.get('order-service-v2') === 10 ? true : undefined;
    });
    const routes = await routesOf(m, 'frontend-v1', 'order-service.default.svc.cluster.local:8080');
    expect(routes).toHaveLength(1);
    // Istio writes `cluster` when one destination is left; nodevoy keeps a one-entry weighted_clusters (same traffic).
    expect(clustersOf(routes[0]!)).toEqual([order('v2')]);
  });

  it('payment-service retries gateway-error, retriable-4xx (3 attempts, 2 s each) under a 5 s timeout; not a 500; 10 requests per connection', async () => {
    const apps = new ScriptedApps();
    const m = await mesh([spec('order-service-v1', 'order-service', 'v1'), spec('payment-service-v1', 'payment-service', 'v1', { handler: apps.handler('payment-service-v1') })],
      { [FILE]: await seed(FILE) });
    const HOST = 'payment-service:8080';

    await m.answeredBy('order-service-v1', HOST, 30);
    const connections = (await clusterStat(m, 'order-service-v1', PAYMENT, 'upstream_cx_total'))!;
    expect(connections).toBeGreaterThanOrEqual(3);
    expect(connections).toBeLessThan(30);
    expect(await thresholds(m, 'order-service-v1', PAYMENT)).toMatchObject({ max_pending_requests: 100 });

    const cases: [number[], number, number][] = [
      // queued statuses, the caller's status, the attempts made
      [[502, 503], 200, 3],
      [[409], 200, 2],
      [[500], 500, 1],
      [[504, 504, 504, 504], 504, 4],
    ];
    for (const [statuses, status, attempts] of cases) {
      const before = received(m, 'payment-service-v1');
      apps.queue.push(...statuses);
      expect((await m.call('order-service-v1', HOST)).status, String(statuses)).toBe(status);
      expect(received(m, 'payment-service-v1') - before, String(statuses)).toBe(attempts);
      apps.queue.length = 0;
    }
    // The article: a caller waits at most 5 s, not 3 × 2 s, because the route timeout caps all tries — as in Envoy.
    const [route] = await routesOf(m, 'order-service-v1', 'payment-service.default.svc.cluster.local:8080');
    expect(route!['route']).toMatchObject({ cluster: PAYMENT, timeout: '5s', retry_policy: { num_retries: 3, per_try_timeout: '2s', retry_on: 'gateway-error,connect-failure,retriable-4xx' } });
  });

  it('ejects a payment-service instance after 5 consecutive 5xx (maxEjectionPercent 50 allows 1 of 2)', async () => {
    const m = await mesh([
      spec('order-service-v1', 'order-service', 'v1'), spec('payment-service-v1', 'payment-service', 'v1', { handler: answering(500) }), spec('payment-service-v2', 'payment-service', 'v2'),
    ], { [FILE]: await seed(FILE) });
    const before = await callUntilReceived(m, 'order-service-v1', 'payment-service:8080', 'payment-service-v1', 5);
    expect(before.filter((r) => r.status === 500)).toHaveLength(5);
    expect(await m.answeredBy('order-service-v1', 'payment-service:8080', 10)).toEqual(new Map([['payment-service-v2', 10]]));
    expect(await clusterStat(m, 'order-service-v1', PAYMENT, 'outlier_detection.ejections_enforced_consecutive_5xx')).toBe(1);
    expect(await clusterOf(m, 'order-service-v1', PAYMENT)).toMatchObject({ outlier_detection: { consecutive_5xx: 5, interval: '30s', base_ejection_time: '30s', max_ejection_percent: 50 } });
  });
});
