// Workload certificates end to end: the proxy's agent gets its SVID from the control plane's real CA service
// (CSR + bootstrap token), writes CERT_DIR, and the `default` / `ROOTCA` static secrets serve it on an mTLS
// listener. Rotation at half the lifetime under steady traffic: zero failed requests, new handshakes present
// the new serial, an open keep-alive connection keeps working. A proxy whose agent cannot get a certificate
// retries with back-off and never goes LIVE. No key material in /certs, /config_dump or the logs.

import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateTokenSecret, issueBootstrapToken } from '../../certs/bootstrap-token.ts';
import { createCa, type CertificateAuthority } from '../../certs/ca.ts';
import { issueWorkloadCertificate } from '../../certs/local-issuer.ts';
import { createCaService } from '../../control-plane/server/ca-service.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/server/control-plane.ts';
import { ISTIO_TRANSLATION } from '../../control-plane/server/istio-source.ts';
import { createLogger } from '../../proxy/common/logger.ts';
import { validateBootstrap } from '../../proxy/config/bootstrap.ts';
import { parseConfigText } from '../../proxy/config/load.ts';
import { Server } from '../../proxy/server/server.ts';
import { RETRY_BASE_MS, type TokenSource } from '../../proxy/agent/workload-agent.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { indent, staticCluster } from '../support/proxy.ts';
import { testScope } from '../support/scope.ts';

const scope = testScope();
const WEB = { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'web' };
const SLEEP = { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'sleep' };
const TTL_S = 60;

let dir: string;
let certDir: string;
let clock: FakeClock;
let ca: CertificateAuthority;
let tokenSecret: Buffer;
let cp: ControlPlane;
let logLines: string[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nodevoy-rotation-'));
  certDir = join(dir, 'certs');
  // Certificates are checked by OpenSSL against real time: the fake clock starts now.
  clock = new FakeClock(Date.now());
  ca = createCa({ trustDomain: 'cluster.local', clock });
  tokenSecret = generateTokenSecret();
  logLines = [];
  cp = await startControlPlane({
    configDir: dir, host: '127.0.0.1', port: 0, clock, translation: ISTIO_TRANSLATION,
    caService: createCaService({ ca, tokenSecret, clock }),
  });
});

afterEach(async () => {
  await cp.close();
  rmSync(dir, { recursive: true, force: true });
});

function bootstrap(upstreamPort: number, caAddress: string): string {
  return `
node:
  id: sidecar~127.0.0.1~web.default~default.svc.cluster.local
  cluster: web.default
  metadata: { CA_ADDRESS: "${caAddress}", CERT_DIR: "${certDir}", NAMESPACE: default, SERVICE_ACCOUNT: web, SECRET_TTL: ${TTL_S}s }
admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
static_resources:
  secrets:
  - name: default
    tls_certificate:
      certificate_chain: { filename: "${certDir}/cert-chain.pem" }
      private_key: { filename: "${certDir}/key.pem" }
      watched_directory: { path: "${certDir}" }
  - name: ROOTCA
    validation_context:
      trusted_ca: { filename: "${certDir}/root-cert.pem" }
      watched_directory: { path: "${certDir}" }
  listeners:
  - name: inbound
    stat_prefix: inbound
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: true
          common_tls_context:
            tls_certificate_sds_secret_configs: [{ name: default }]
            combined_validation_context:
              default_validation_context:
                match_typed_subject_alt_names: [{ san_type: URI, matcher: { prefix: "spiffe://cluster.local/" } }]
              validation_context_sds_secret_config: { name: ROOTCA }
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: inbound
          route_config:
            virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: / }, route: { cluster: web } }] }]
          http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]
  clusters:
${indent(staticCluster('web', [upstreamPort]), 2)}
`;
}

/** Builds the proxy (not started: init waits for the agent's certificate). */
function createProxy(yaml: string, token: TokenSource): Server {
  const parsed = parseConfigText(yaml, 'rotation.yaml');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  const validated = validateBootstrap(parsed.value);
  if (!validated.ok) throw new Error(JSON.stringify(validated.errors));
  const logger = createLogger('debug', { sink: (l) => logLines.push(l), clock });
  const server = Server.create({ bootstrap: validated.value, clock, logger, caToken: token });
  scope.defer(() => server.close());
  return server;
}

interface Answer {
  readonly status: number;
  readonly serial: string;
}

interface ClientTls {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  readonly checkServerIdentity: () => undefined;
}

/** A client with sleep's certificate from the same CA (issued locally, as `nodevoy certs issue` would). */
function client(): ClientTls {
  const issued = issueWorkloadCertificate(ca, SLEEP, { clock });
  if (!issued.ok) throw new Error(issued.reason);
  // The server's SVID has only a URI SAN: the test checks its serial rather than a host name.
  return { cert: issued.value.certChainPem, key: issued.value.keyPem, ca: ca.root.toString(), checkServerIdentity: () => undefined };
}

/** One request on a new connection (a new handshake). */
function get(port: number, tls: ClientTls): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, ...tls }, (res) => {
      const serial = (res.socket as TLSSocket).getPeerX509Certificate()?.serialNumber.toLowerCase() ?? '';
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, serial }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A keep-alive mTLS connection sending HTTP/1.1 requests one at a time: its status lines, and the server's serial. */
async function keepAliveConnection(port: number, tls: ClientTls): Promise<{ serial: string; ask(): Promise<number>; close(): void }> {
  const socket = connect({ host: '127.0.0.1', port, ...tls });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  let buffered = '';
  let waiting: ((status: number) => void) | null = null;
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('latin1');
    // The upstream answers chunked: a response ends with the last chunk.
    const end = buffered.indexOf('\r\n0\r\n\r\n');
    if (end < 0 || !waiting) return;
    const status = Number(buffered.slice(9, 12));
    buffered = buffered.slice(end + 7);
    const w = waiting;
    waiting = null;
    w(status);
  });
  return {
    serial: socket.getPeerX509Certificate()!.serialNumber.toLowerCase(),
    ask: () => new Promise((resolve, reject) => {
      if (socket.destroyed) return reject(new Error('connection closed'));
      waiting = resolve;
      socket.write('GET / HTTP/1.1\r\nhost: web\r\n\r\n');
    }),
    close: () => socket.destroy(),
  };
}

async function admin(server: Server, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${server.adminPort}${path}`);
  return { status: res.status, text: await res.text() };
}

describe('workload certificate rotation', () => {
  it('serves the agent\'s certificate, rotates it at half-life under steady traffic without a failed request', async () => {
    const up = await scope.upstream('web');
    const token = issueBootstrapToken(WEB, tokenSecret, clock);
    const server = createProxy(bootstrap(up.port, cp.server.url), token);
    const first = server.agent!.nextCertificate();
    await server.start();
    expect(server.serverState).toBe('LIVE');
    const issued1 = await first;
    expect(statSync(join(certDir, 'key.pem')).mode & 0o777).toBe(0o600);

    const port = server.listenerPort('inbound');
    const tls = client();
    const keepAlive = await keepAliveConnection(port, tls);
    scope.defer(async () => keepAlive.close());
    expect(keepAlive.serial).toBe(issued1.serialNumber);
    expect(await keepAlive.ask()).toBe(200);
    expect(await get(port, tls)).toEqual({ status: 200, serial: issued1.serialNumber });

    // Steady traffic: new handshakes, one after another, until the rotation is done.
    let failures = 0;
    let served = 0;
    let rotating = true;
    const traffic = (async () => {
      while (rotating) {
        try {
          const r = await get(port, tls);
          if (r.status === 200) served++;
          else failures++;
        } catch {
          failures++;
        }
      }
    })();

    const second = server.agent!.nextCertificate();
    clock.advance(issued1.renewAtMs - clock.now());
    const issued2 = await second;
    rotating = false;
    await traffic;
    expect(issued2.serialNumber).not.toBe(issued1.serialNumber);
    expect(failures).toBe(0);
    expect(served).toBeGreaterThan(0);

    // New handshakes present the new certificate; the open keep-alive connection keeps its own.
    expect(await get(port, tls)).toEqual({ status: 200, serial: issued2.serialNumber });
    expect(await keepAlive.ask()).toBe(200);
    expect(keepAlive.serial).toBe(issued1.serialNumber);
    expect(server.stats.counter('sds.default.update_success').value()).toBeGreaterThanOrEqual(2);

    // /certs in Envoy's shape, with the new certificate; no key material anywhere.
    const certs = JSON.parse((await admin(server, '/certs')).text) as { certificates: { ca_cert: { serial_number: string }[]; cert_chain: { serial_number: string; subject_alt_names: unknown[]; path: string }[] }[] };
    expect(certs.certificates[0]!.cert_chain[0]).toMatchObject({ serial_number: issued2.serialNumber, subject_alt_names: [{ uri: 'spiffe://cluster.local/ns/default/sa/web' }], path: `${certDir}/cert-chain.pem` });
    expect(certs.certificates[1]!.ca_cert[0]!.serial_number).toBe(ca.root.serialNumber.toLowerCase());
    const key = readFileSync(join(certDir, 'key.pem'), 'utf8');
    const keyBody = key.split('\n')[1]!;
    const dump = (await admin(server, '/config_dump')).text;
    expect(dump).toContain('SecretsConfigDump');
    expect(dump).toContain('"name": "default"');
    for (const text of [JSON.stringify(certs), dump, logLines.join('')]) {
      expect(text).not.toContain('PRIVATE KEY');
      expect(text).not.toContain(keyBody);
      expect(text).not.toContain(token);
    }
  });

  it('keeps the old certificate when the directory holds a half-written set', async () => {
    const up = await scope.upstream('web');
    const server = createProxy(bootstrap(up.port, cp.server.url), issueBootstrapToken(WEB, tokenSecret, clock));
    const first = server.agent!.nextCertificate();
    await server.start();
    const issued = await first;
    // Someone else's certificate with our key: the pair does not match.
    const other = issueWorkloadCertificate(ca, SLEEP, { clock });
    if (!other.ok) throw new Error(other.reason);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(certDir, 'cert-chain.pem'), other.value.certChainPem);
    server.bootstrap.secrets.reloadDirectory(certDir);
    expect(server.stats.counter('sds.default.key_rotation_failed').value()).toBe(1);
    expect(await get(server.listenerPort('inbound'), client())).toEqual({ status: 200, serial: issued.serialNumber });
    expect(logLines.some((l) => l.includes('secret default: reload failed, keeping the current one'))).toBe(true);
  });

  it('does not go LIVE without a certificate: a refused agent retries with back-off', async () => {
    const up = await scope.upstream('web');
    const wrongToken = issueBootstrapToken(WEB, generateTokenSecret(), clock);
    const server = createProxy(bootstrap(up.port, cp.server.url), wrongToken);
    const starting = server.start();
    const failures = (): number => server.stats.counter('workload_agent.csr_failure').value();
    const until = async (n: number): Promise<void> => {
      while (failures() < n) await new Promise((r) => setImmediate(r));
    };
    await until(1);
    expect(server.serverState).toBe('INITIALIZING');
    expect((await admin(server, '/ready')).status).toBe(503);
    // Back-off: the next attempt waits at least half the base delay (jitter), not immediately.
    clock.advance(400);
    await new Promise((r) => setImmediate(r));
    expect(failures()).toBe(1);
    clock.advance(1_000);
    await until(2);
    clock.advance(2_000);
    await until(3);
    expect(server.serverState).toBe('INITIALIZING');
    expect(logLines.some((l) => l.includes('certificate request failed (attempt 3)') && l.includes('401'))).toBe(true);
    expect(logLines.join('')).not.toContain(wrongToken);
    await server.close();
    await starting;
  });

  it('reads a token source again for every request: a token replaced after a refusal (a rotated ServiceAccount token) gets the certificate', async () => {
    const up = await scope.upstream('web');
    let token = issueBootstrapToken(WEB, generateTokenSecret(), clock); // not this CA's: refused
    const server = createProxy(bootstrap(up.port, cp.server.url), () => token);
    const first = server.agent!.nextCertificate();
    const starting = server.start();
    while (server.stats.counter('workload_agent.csr_failure').value() < 1) await new Promise((r) => setImmediate(r));
    token = issueBootstrapToken(WEB, tokenSecret, clock);
    clock.advance(RETRY_BASE_MS); // the first retry waits 50-100 % of the base delay
    await first;
    await starting;
    expect(server.serverState).toBe('LIVE');
    expect(server.stats.counter('workload_agent.csr_success').value()).toBe(1);
  });
});
