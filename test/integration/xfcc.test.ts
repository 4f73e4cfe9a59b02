// x-forwarded-client-cert through a real nodevoy listener: mTLS with workload certificates from the project's
// CA (certs/, a root and an intermediate, as Istio issues them) presented by a real TLS client, and a real
// upstream recording the XFCC it received. Checks each mode on mTLS, TLS without a client certificate and
// plaintext, and that Hash, Cert and Chain are those of the certificates the client actually presented.

import { X509Certificate } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCa, type CertificateAuthority } from '../../certs/ca.ts';
import { issueWorkloadCertificate, type WorkloadCertificate } from '../../certs/local-issuer.ts';
import { realClock } from '../../proxy/common/clock.ts';
import { indent, send, staticCluster } from '../support/proxy.ts';
import { testScope } from '../support/scope.ts';
import { createTestCa, spiffeId } from '../support/test-pki.ts';
import type { TestUpstream } from '../support/upstream.ts';

const scope = testScope();
const XFCC = 'x-forwarded-client-cert';
const WEB_ID = spiffeId('default', 'web');
const SLEEP_ID = spiffeId('default', 'sleep');
const FORGED = `By=${spiffeId('istio-system', 'ingressgateway')};Hash=${'ab'.repeat(32)};URI=${spiffeId('default', 'admin')}`;

/** The certificates a listener serves and trusts, and whether it demands a client certificate. */
interface ListenerTls {
  readonly certChainPem: string;
  readonly keyPem: string;
  readonly trustedCaPem: string;
  readonly requireClientCertificate: boolean;
}

/** What the client presents: its certificate chain (leaf first) and key. */
interface ClientCredentials {
  readonly certChainPem: string;
  readonly keyPem: string;
}

let ca: CertificateAuthority;
let web: WorkloadCertificate;
let sleep: WorkloadCertificate;

function workload(serviceAccount: string): WorkloadCertificate {
  const issued = issueWorkloadCertificate(ca, { trustDomain: 'cluster.local', namespace: 'default', serviceAccount }, { clock: realClock });
  if (!issued.ok) throw new Error(issued.reason);
  return issued.value;
}

beforeAll(() => {
  // Certificates are checked by OpenSSL against real time, so the CA runs on the real clock.
  ca = createCa({ trustDomain: 'cluster.local', clock: realClock, intermediate: true });
  web = workload('web');
  sleep = workload('sleep');
});

const sidecarTls = (requireClientCertificate = true): ListenerTls =>
  ({ certChainPem: web.certChainPem, keyPem: web.keyPem, trustedCaPem: web.rootCertPem, requireClientCertificate });

const inline = (text: string): string => `{ inline_string: ${JSON.stringify(text)} }`;

/** One listener (mTLS with `tls`, plaintext without) whose HCM carries `xfccFields` and routes to `upstream`. */
function proxyYaml(upstream: TestUpstream, xfccFields: string, tls?: ListenerTls): string {
  const transportSocket = tls === undefined ? '' : `
transport_socket:
  name: envoy.transport_sockets.tls
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
    require_client_certificate: ${tls.requireClientCertificate}
    common_tls_context:
      tls_certificates: [{ certificate_chain: ${inline(tls.certChainPem)}, private_key: ${inline(tls.keyPem)} }]
      validation_context: { trusted_ca: ${inline(tls.trustedCaPem)} }`;
  return `
admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
static_resources:
  listeners:
  - name: inbound
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - ${indent(transportSocket.trim(), 6).trimStart()}
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: inbound
${indent(xfccFields, 10)}
          route_config:
            virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: / }, route: { cluster: app } }] }]
          http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]
  clusters:
${indent(staticCluster('app', [upstream.port]), 2)}
`;
}

/** A proxy in front of a recording upstream; returns the port to call and the upstream. */
async function start(xfccFields: string, tls?: ListenerTls): Promise<{ port: number; app: TestUpstream }> {
  const app = await scope.upstream('app');
  const proxy = await scope.proxy(proxyYaml(app, xfccFields, tls));
  return { port: proxy.listenerPort('inbound'), app };
}

/** One HTTPS GET on a new connection, presenting `client` (or no certificate); trusts `trustedCaPem`. */
function httpsGet(port: number, client: ClientCredentials | null, headers: Record<string, string>, trustedCaPem = web.rootCertPem): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1', port, path: '/', agent: false, headers: { host: 'web', ...headers }, ca: trustedCaPem,
      ...(client ? { cert: client.certChainPem, key: client.keyPem } : {}),
      // The server's SVID names a SPIFFE ID, not a host name.
      checkServerIdentity: () => undefined,
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The XFCC the upstream received on its last request. */
async function xfccReceived(app: TestUpstream, status: Promise<number>): Promise<string | string[] | undefined> {
  expect(await status).toBe(200);
  return app.received.at(-1)?.headers[XFCC];
}

const sha256Hex = (cert: X509Certificate): string => cert.fingerprint256.replaceAll(':', '').toLowerCase();
/** The PEM blocks of a quoted, URL-encoded Cert/Chain value. */
const pemBlocks = (encoded: string): string[] => decodeURIComponent(encoded).match(/-----BEGIN CERTIFICATE-----\n[^-]+-----END CERTIFICATE-----\n/g) ?? [];

describe('XFCC on an mTLS sidecar listener (certificates from the project CA)', () => {
  it('Istio inbound (APPEND_FORWARD; subject, uri, dns) sets By, Hash of the presented certificate, Subject and URI', async () => {
    const { port, app } = await start(
      'forward_client_cert_details: APPEND_FORWARD\nset_current_client_cert_details: { subject: true, dns: true, uri: true }', sidecarTls());
    const element = `By=${WEB_ID};Hash=${sha256Hex(sleep.svid.certificate)};Subject="";URI=${SLEEP_ID}`;
    expect(await xfccReceived(app, httpsGet(port, sleep, {}))).toBe(element);
    // A caller that already carries XFCC (e.g. through a gateway) gets this hop appended.
    expect(await xfccReceived(app, httpsGet(port, sleep, { [XFCC]: FORGED }))).toBe(`${FORGED},${element}`);
  });

  it('Hash follows the certificate each connection presents', async () => {
    const { port, app } = await start('forward_client_cert_details: SANITIZE_SET', sidecarTls());
    const other = workload('reviews');
    expect(await xfccReceived(app, httpsGet(port, sleep, {}))).toBe(`By=${WEB_ID};Hash=${sha256Hex(sleep.svid.certificate)}`);
    expect(await xfccReceived(app, httpsGet(port, other, {}))).toBe(`By=${WEB_ID};Hash=${sha256Hex(other.svid.certificate)}`);
    expect(sha256Hex(other.svid.certificate)).not.toBe(sha256Hex(sleep.svid.certificate));
  });

  it('SANITIZE_SET with cert and chain replaces a forged header with the URL-encoded certificate and the chain sent', async () => {
    const { port, app } = await start(
      'forward_client_cert_details: SANITIZE_SET\nset_current_client_cert_details: { chain: true, cert: true, uri: true }', sidecarTls());
    const xfcc = await xfccReceived(app, httpsGet(port, sleep, { [XFCC]: FORGED }));
    expect(typeof xfcc).toBe('string');
    const match = /^By=([^;]+);Hash=([0-9a-f]{64});Cert="([^"]+)";Chain="([^"]+)";URI=(.+)$/.exec(xfcc as string);
    expect(match).not.toBeNull();
    const [, by, hash, cert, chain, uri] = match!;
    expect([by, hash, uri]).toEqual([WEB_ID, sha256Hex(sleep.svid.certificate), SLEEP_ID]);
    expect(cert).not.toMatch(/[\n /+=]/);
    expect(pemBlocks(cert!)).toEqual([sleep.svid.certificate.toString()]);
    // The leaf then the intermediate, as the client sent them; the root stays out (it was not sent).
    const intermediate = ca.intermediates[0]!;
    expect(pemBlocks(chain!)).toEqual([sleep.svid.certificate.toString(), intermediate.toString()]);
    expect(new X509Certificate(pemBlocks(chain!)[1]!).fingerprint256).toBe(intermediate.fingerprint256);
    expect(decodeURIComponent(chain!)).not.toContain(ca.root.toString());
  });

  it.each([
    ['SANITIZE (the default)', '', 'removed'],
    ['SANITIZE', 'forward_client_cert_details: SANITIZE', 'removed'],
    ['FORWARD_ONLY', 'forward_client_cert_details: FORWARD_ONLY', 'forwarded unchanged'],
    ['ALWAYS_FORWARD_ONLY', 'forward_client_cert_details: ALWAYS_FORWARD_ONLY', 'forwarded unchanged'],
  ])('%s: the incoming header is %s', async (_name, fields, outcome) => {
    const { port, app } = await start(fields, sidecarTls());
    expect(await xfccReceived(app, httpsGet(port, sleep, { [XFCC]: FORGED }))).toBe(outcome === 'removed' ? undefined : FORGED);
  });

  it('TLS without a client certificate counts as no mTLS: APPEND_FORWARD, FORWARD_ONLY and SANITIZE_SET remove the header', async () => {
    for (const mode of ['APPEND_FORWARD', 'FORWARD_ONLY', 'SANITIZE_SET']) {
      const { port, app } = await start(`forward_client_cert_details: ${mode}`, sidecarTls(false));
      expect(await xfccReceived(app, httpsGet(port, null, { [XFCC]: FORGED }))).toBeUndefined();
    }
  });
});

describe('XFCC on a plaintext listener', () => {
  it.each([
    ['SANITIZE', 'removed'], ['FORWARD_ONLY', 'removed'], ['APPEND_FORWARD', 'removed'], ['SANITIZE_SET', 'removed'],
    ['ALWAYS_FORWARD_ONLY', 'forwarded unchanged'],
  ])('%s: the incoming header is %s', async (mode, outcome) => {
    const { port, app } = await start(`forward_client_cert_details: ${mode}\nset_current_client_cert_details: { uri: true }`);
    const res = await send(port, '/', { headers: { [XFCC]: FORGED } });
    expect(res.status).toBe(200);
    expect(app.received.at(-1)?.headers[XFCC]).toBe(outcome === 'removed' ? undefined : FORGED);
  });
});

describe('XFCC with DNS identities', () => {
  it('omits By when the listener certificate has no URI SAN, and lists the client\'s subject and DNS SANs', async () => {
    const pki = createTestCa('dns pki');
    const server = pki.issue({ commonName: 'web', dnsNames: ['web.default.svc'] });
    const client = pki.issue({ commonName: 'sleep', dnsNames: ['sleep.default.svc', 'sleep.default'] });
    const { port, app } = await start(
      'forward_client_cert_details: SANITIZE_SET\nset_current_client_cert_details: { subject: true, uri: true, dns: true }',
      { certChainPem: server.certPem, keyPem: server.keyPem, trustedCaPem: pki.certPem, requireClientCertificate: true });
    const xfcc = await xfccReceived(app, httpsGet(port, { certChainPem: client.certPem, keyPem: client.keyPem }, {}, pki.certPem));
    expect(xfcc).toBe(`Hash=${sha256Hex(new X509Certificate(client.certPem))};Subject="CN=sleep";URI=;DNS=sleep.default.svc;DNS=sleep.default`);
  });
});
