// Certificates over SDS end to end: a standalone workload agent (as `nodevoy agent`) gets its SVID from the
// control plane's real CA service and serves it on its loopback SDS endpoint; the sidecar of
// examples/envoy-sds-sidecar.yaml takes `default` and `ROOTCA` from it for its mTLS listener and its mTLS
// upstream cluster. Rotation under steady traffic: zero failed requests, new handshakes (both ways) present the
// new serial. A proxy whose SDS secret has no version yet is not LIVE. No key material in /certs, /config_dump
// or the logs.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateTokenSecret, issueBootstrapToken } from '../../certs/bootstrap-token.ts';
import { createCa, type CertificateAuthority } from '../../certs/ca.ts';
import { issueWorkloadCertificate } from '../../certs/local-issuer.ts';
import type { WorkloadIdentity } from '../../certs/spiffe-id.ts';
import { createCaService } from '../../control-plane/server/ca-service.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/server/control-plane.ts';
import { ISTIO_TRANSLATION } from '../../control-plane/server/istio-source.ts';
import { isLoopback, startSdsServer, type SdsServer, type WorkloadSecrets, type WorkloadSecretSet } from '../../proxy/agent/sds-server.ts';
import { WorkloadAgent } from '../../proxy/agent/workload-agent.ts';
import { createLogger, type Logger } from '../../proxy/common/logger.ts';
import type { Server } from '../../proxy/server/server.ts';
import { StatsStore } from '../../proxy/stats/store.ts';
import { eventually } from '../unit/control-client/fake-xds-server.ts';
import { FakeClock, SeededRandom } from '../support/fake-clock.ts';
import { send } from '../support/proxy.ts';
import { testScope } from '../support/scope.ts';
import { INBOUND, mtlsGet, OUTBOUND, sdsSidecarBootstrap, tlsUpstream, type PeerTls } from '../support/sds-sidecar.ts';
import { createServer } from '../support/xds-resources.ts';

const scope = testScope();
const identity = (serviceAccount: string): WorkloadIdentity => ({ trustDomain: 'cluster.local', namespace: 'default', serviceAccount });
const WEB = identity('web');
const TTL_S = 60;

let clock: FakeClock;
let ca: CertificateAuthority;
let logLines: string[];
let logger: Logger;

beforeEach(() => {
  // Certificates are checked by OpenSSL against real time: the fake clock starts now.
  clock = new FakeClock(Date.now());
  ca = createCa({ trustDomain: 'cluster.local', clock });
  logLines = [];
  logger = createLogger('debug', { sink: (l) => logLines.push(l), clock });
});

/** A workload's PEMs from the CA, issued locally (as `nodevoy certs issue`). */
function peer(serviceAccount: string): PeerTls {
  const issued = issueWorkloadCertificate(ca, identity(serviceAccount), { clock });
  if (!issued.ok) throw new Error(issued.reason);
  return { cert: issued.value.certChainPem, key: issued.value.keyPem, ca: issued.value.rootCertPem };
}

async function sdsServer(secrets: WorkloadSecrets): Promise<SdsServer> {
  const sds = await startSdsServer({ host: '127.0.0.1', port: 0, clock, secrets, log: logger.get('secret') });
  scope.defer(() => sds.close());
  return sds;
}

/** The example's sidecar against `sds`, the local app and a reviews sidecar (built, not started). */
async function sidecar(sds: SdsServer): Promise<{ proxy: Server; reviews: Awaited<ReturnType<typeof tlsUpstream>> }> {
  const app = await scope.upstream('app');
  const reviews = await tlsUpstream(scope, peer('reviews'), 'reviews');
  // request_timeout: a held long-poll (30 s) is not timed out while the test moves the clock to the renewal.
  const bootstrap = sdsSidecarBootstrap({ sds: sds.port, app: app.port, reviews: reviews.port }, { request_timeout: '60s' });
  const proxy = createServer(bootstrap, { clock, random: new SeededRandom(3), logger });
  scope.defer(() => proxy.close());
  return { proxy, reviews };
}

async function admin(proxy: Server, path: string): Promise<{ status: number; text: string }> {
  const r = await send(proxy.adminPort!, path);
  return { status: r.status, text: r.body };
}

describe('certificates from the workload agent over SDS', () => {
  let cp: ControlPlane;
  let tokenSecret: Buffer;
  let configDir: string;

  beforeEach(async () => {
    tokenSecret = generateTokenSecret();
    configDir = mkdtempSync(join(tmpdir(), 'nodevoy-sds-'));
    cp = await startControlPlane({
      configDir, host: '127.0.0.1', port: 0, clock, translation: ISTIO_TRANSLATION,
      caService: createCaService({ ca, tokenSecret, clock }),
    });
  });

  afterEach(async () => {
    await cp.close();
    rmSync(configDir, { recursive: true, force: true });
  });

  it('serves the SVID on the mTLS listener and cluster, and rotates it under steady traffic without a failed request', async () => {
    const token = issueBootstrapToken(WEB, tokenSecret, clock);
    const agent = new WorkloadAgent({ caAddress: cp.server.url, certDir: null, identity: WEB, ttlSeconds: TTL_S }, token, {
      clock, random: new SeededRandom(1), log: logger.get('secret'), stats: new StatsStore(),
    });
    scope.defer(async () => agent.stop());
    const sds = await sdsServer(agent);
    const { proxy, reviews } = await sidecar(sds);
    const first = agent.nextCertificate();
    agent.start();
    await proxy.start();
    expect(proxy.serverState).toBe('LIVE');
    const issued1 = await first;

    const sleep = peer('sleep');
    const inbound = proxy.listenerPort(INBOUND);
    expect(await mtlsGet(inbound, '/', sleep)).toEqual({ status: 200, body: 'app', serial: issued1.serialNumber });
    const out = await send(proxy.listenerPort(OUTBOUND), '/');
    expect([out.status, out.body]).toEqual([200, 'reviews']);
    expect(reviews.clientSerials).toEqual([issued1.serialNumber]);

    // Steady traffic, new handshakes one after another both ways, until the proxy runs the new version.
    let failures = 0;
    let served = 0;
    let rotating = true;
    const traffic = (async () => {
      while (rotating) {
        const [a, b] = await Promise.all([mtlsGet(inbound, '/', sleep).catch(() => null), send(proxy.listenerPort(OUTBOUND), '/').catch(() => null)]);
        for (const r of [a, b]) {
          if (r?.status === 200) served++;
          else failures++;
        }
      }
    })();
    const second = agent.nextCertificate();
    clock.advance(issued1.renewAtMs - clock.now());
    const issued2 = await second;
    // Pushed over the held long-poll: no clock step needed.
    await eventually(() => proxy.stats.counter('sds.default.update_success').value() === 2, 'the second version of default', 10_000);
    rotating = false;
    await traffic;
    expect(issued2.serialNumber).not.toBe(issued1.serialNumber);
    expect(failures).toBe(0);
    expect(served).toBeGreaterThan(0);

    // New handshakes present the new certificate, downstream and upstream.
    expect(await mtlsGet(inbound, '/', sleep)).toEqual({ status: 200, body: 'app', serial: issued2.serialNumber });
    expect((await send(proxy.listenerPort(OUTBOUND), '/')).status).toBe(200);
    expect(reviews.clientSerials.at(-1)).toBe(issued2.serialNumber);
    expect(proxy.stats.counter('sds.ROOTCA.update_success').value()).toBeGreaterThanOrEqual(1);

    // /certs and /config_dump show the SDS secrets, without key material; nor do the logs.
    const certs = JSON.parse((await admin(proxy, '/certs')).text) as { certificates: { cert_chain: { serial_number: string; path: string }[]; ca_cert: unknown[] }[] };
    expect(certs.certificates.flatMap((c) => c.cert_chain.map((d) => d.serial_number))).toContain(issued2.serialNumber);
    expect(certs.certificates.flatMap((c) => c.cert_chain.map((d) => d.path))).toContain('<inline>');
    const dumpText = (await admin(proxy, '/config_dump')).text;
    const dump = JSON.parse(dumpText) as { configs: Record<string, unknown>[] };
    const secrets = dump.configs.find((c) => c['@type'] === 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump') as {
      dynamic_active_secrets: { name: string; version_info: string; secret: { tls_certificate?: { private_key: { inline_bytes: string } } } }[];
      dynamic_warming_secrets: unknown[];
    };
    // ROOTCA did not change with the rotation: it keeps the version that brought it.
    expect(secrets.dynamic_active_secrets.map((s) => [s.name, s.version_info]).sort()).toEqual([['ROOTCA', issued1.serialNumber], ['default', issued2.serialNumber]]);
    expect(secrets.dynamic_warming_secrets).toEqual([]);
    const dumped = secrets.dynamic_active_secrets.find((s) => s.name === 'default')!.secret.tls_certificate!;
    expect(Buffer.from(dumped.private_key.inline_bytes, 'base64').toString()).toBe('[redacted]');
    const keyPem = agent.current()!.files.keyPem;
    const secretTexts = [keyPem.split('\n')[1]!, Buffer.from(keyPem).toString('base64').slice(0, 40), token];
    for (const text of [JSON.stringify(certs), dumpText, logLines.join('')]) {
      expect(text).not.toContain('PRIVATE KEY');
      for (const secret of secretTexts) expect(text).not.toContain(secret);
    }
  });
});

/** Certificate sets handed out by hand: none until `set`. */
function handFedSecrets(): WorkloadSecrets & { set(files: WorkloadSecretSet): void } {
  let current: WorkloadSecretSet | undefined;
  const listeners = new Set<() => void>();
  return {
    current: () => current,
    onChange: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    set(next) {
      current = next;
      for (const l of listeners) l();
    },
  };
}

describe('a pending SDS secret', () => {
  it('keeps the proxy INITIALIZING (/ready 503) until the first version arrives', async () => {
    const secrets = handFedSecrets();
    const sds = await sdsServer(secrets);
    const { proxy } = await sidecar(sds);
    const starting = proxy.start();
    // The first poll finds nothing (304 advertising long-poll); the next one is held.
    await eventually(() => sds.heldRequests() === 1, 'a held SDS request');
    expect(proxy.serverState).toBe('INITIALIZING');
    expect((await admin(proxy, '/ready')).status).toBe(503);
    const dump = JSON.parse((await admin(proxy, '/config_dump')).text) as { configs: Record<string, unknown>[] };
    const warming = dump.configs.find((c) => c['@type'] === 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump')!['dynamic_warming_secrets'] as { name: string }[];
    expect(warming.map((w) => w.name).sort()).toEqual(['ROOTCA', 'default']);
    expect(logLines.some((l) => l.includes('waiting for secrets default (SDS from cluster sds-agent)'))).toBe(true);

    const web = issueWorkloadCertificate(ca, WEB, { clock });
    if (!web.ok) throw new Error(web.reason);
    secrets.set({ version: 'v1', files: web.value });
    await starting;
    expect(proxy.serverState).toBe('LIVE');
    expect((await admin(proxy, '/ready')).status).toBe(200);
    expect((await mtlsGet(proxy.listenerPort(INBOUND), '/', peer('sleep'))).serial).toBe(web.value.svid.certificate.serialNumber.toLowerCase());
  });
});

describe('the agent\'s SDS endpoint', () => {
  it.each(['0.0.0.0', '::', '10.1.2.3', 'example.com'])('refuses to bind %s: it serves a private key', async (host) => {
    await expect(startSdsServer({ host, port: 0, clock, secrets: handFedSecrets() })).rejects.toThrow(/loopback address only/);
  });

  it('answers loopback peers only', () => {
    expect(['127.0.0.1', '127.9.8.7', '::1', '::ffff:127.0.0.1', 'localhost'].filter(isLoopback)).toHaveLength(5);
    expect(['10.0.0.1', '::ffff:10.0.0.1', '0.0.0.0', '::', '1270.0.0.1', ''].filter(isLoopback)).toEqual([]);
  });

  it('binds loopback, answers 304 until a certificate exists, then both Secrets with their PEMs inline', async () => {
    const secrets = handFedSecrets();
    const sds = await sdsServer(secrets);
    expect(sds.host).toBe('127.0.0.1');
    const discover = (body: unknown): Promise<Response> => fetch(`${sds.url}/v3/discovery:secrets`, { method: 'POST', body: JSON.stringify(body) });
    const request = { node: { id: 'sidecar~127.0.0.1~web.default~default.svc.cluster.local' }, resource_names: ['default'], version_info: '' };
    const before = await discover(request);
    expect([before.status, before.headers.get('x-nodevoy-long-poll')]).toEqual([304, '60']);
    const web = issueWorkloadCertificate(ca, WEB, { clock });
    if (!web.ok) throw new Error(web.reason);
    secrets.set({ version: 'v1', files: web.value });
    const answer = await (await discover(request)).json() as { version_info: string; resources: { name: string; tls_certificate: { private_key: { inline_bytes: string } } }[]; nonce: string };
    expect(answer.version_info).toBe('v1');
    expect(answer.resources.map((r) => r.name)).toEqual(['default']);
    expect(Buffer.from(answer.resources[0]!.tls_certificate.private_key.inline_bytes, 'base64').toString()).toBe(web.value.keyPem);
    // ACKed: nothing new; NACKed: not sent again.
    expect((await discover({ ...request, version_info: 'v1', response_nonce: answer.nonce })).status).toBe(304);
    expect((await discover({ ...request, response_nonce: answer.nonce, error_detail: { code: 3, message: 'no' } })).status).toBe(304);
    expect((await discover({ resource_names: [] })).status).toBe(400);
    expect((await fetch(`${sds.url}/v3/discovery:clusters`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect(logLines.join('')).not.toContain(web.value.keyPem.split('\n')[1]!);
  });
});
