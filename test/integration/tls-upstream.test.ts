// Upstream TLS through a real nodevoy cluster to real TLS upstreams on 127.0.0.1: mTLS with a client
// certificate and SPIFFE SAN verification of the server; a server presenting the wrong SPIFFE ID, a
// certificate from another CA, or refusing our certificate gets 503 UF with the TLS reason, and the
// request never reaches it.

import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server as HttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { bootstrapYaml, send, startProxy, staticCluster } from '../support/proxy.ts';
import { testScope } from '../support/scope.ts';
import { createTestCa, spiffeId, type TestCa, type TestCert } from '../support/test-pki.ts';

const scope = testScope();
const REVIEWS = spiffeId('default', 'reviews');
const FRONTEND = spiffeId('default', 'frontend');

let ca: TestCa;
let otherCa: TestCa;
let frontend: TestCert;

beforeAll(() => {
  ca = createTestCa('mesh root');
  otherCa = createTestCa('someone else');
  frontend = ca.issue({ uris: [FRONTEND] });
});

interface TlsUpstream {
  readonly port: number;
  /** The client SPIFFE IDs the upstream saw on requests it served. */
  readonly peers: string[];
}

/** An HTTPS upstream presenting `cert`, requiring a client certificate from the mesh CA. */
async function tlsUpstream(cert: TestCert, closeEach = false): Promise<TlsUpstream> {
  const peers: string[] = [];
  const server: HttpsServer = createServer({ cert: cert.certPem, key: cert.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    peers.push((req.socket as TLSSocket).getPeerX509Certificate()?.subjectAltName ?? '');
    if (closeEach) res.setHeader('connection', 'close');
    res.end('reviews');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  scope.defer(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const addr = server.address();
  return { port: typeof addr === 'object' && addr ? addr.port : 0, peers };
}

const pem = (text: string): string => `{ inline_string: ${JSON.stringify(text)} }`;

/** A cluster whose UpstreamTlsContext presents `client` and accepts only a server with SPIFFE ID `expected`. */
function tlsCluster(port: number, client: TestCert | null, expected = REVIEWS): string {
  const certificates = client ? `tls_certificates: [{ certificate_chain: ${pem(client.certPem)}, private_key: ${pem(client.keyPem)} }]` : '';
  return staticCluster('reviews', [port], `transport_socket:
  name: envoy.transport_sockets.tls
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
    sni: outbound_.9080_._.reviews.default.svc.cluster.local
    common_tls_context:
      ${certificates}
      validation_context:
        trusted_ca: ${pem(ca.certPem)}
        match_typed_subject_alt_names: [{ san_type: URI, matcher: { exact: ${JSON.stringify(expected)} } }]`);
}

async function proxyTo(cluster: string) {
  return scope.proxy(bootstrapYaml({ routes: '- match: { prefix: / }\n  route: { cluster: reviews }', clusters: cluster }));
}

describe('upstream TLS', () => {
  it('originates mTLS: the upstream sees our SPIFFE ID, we verified its own', async () => {
    const up = await tlsUpstream(ca.issue({ uris: [REVIEWS] }));
    const s = await proxyTo(tlsCluster(up.port, frontend));
    const r = await send(s.listenerPort('main'), '/');
    expect([r.status, r.body]).toEqual([200, 'reviews']);
    expect(up.peers).toEqual([`URI:${FRONTEND}`]);
    expect(s.stats.counter('cluster.reviews.ssl.handshake').value()).toBe(1);
    // Keep-alive: a second request reuses the verified connection.
    await send(s.listenerPort('main'), '/');
    expect(s.stats.counter('cluster.reviews.ssl.handshake').value()).toBe(1);
  });

  it('verifies the server on every new connection: TLS sessions are not resumed (a resumed one shows no certificate)', async () => {
    const up = await tlsUpstream(ca.issue({ uris: [REVIEWS] }), true);
    const s = await proxyTo(tlsCluster(up.port, frontend));
    for (let i = 0; i < 3; i++) expect((await send(s.listenerPort('main'), '/')).status).toBe(200);
    expect(s.stats.counter('cluster.reviews.ssl.handshake').value()).toBe(3);
    expect(s.stats.counter('cluster.reviews.ssl.fail_verify_no_cert').value()).toBe(0);
    expect(up.peers).toEqual([1, 2, 3].map(() => `URI:${FRONTEND}`));
  });

  it.each([
    ['presents the wrong SPIFFE ID', 'fail_verify_san', () => ca.issue({ uris: [spiffeId('default', 'impostor')] })],
    ['presents a certificate from another CA', 'fail_verify_error', () => otherCa.issue({ uris: [REVIEWS] })],
  ])('an upstream that %s gets no request: 503 UF, ssl.%s', async (_name, stat, cert) => {
    const up = await tlsUpstream(cert());
    const logPath = join(mkdtempSync(join(tmpdir(), 'nodevoy-tls-')), 'access.log');
    const s = await startProxy(bootstrapYaml({
      routes: '- match: { prefix: / }\n  route: { cluster: reviews }', clusters: tlsCluster(up.port, frontend),
      accessLogPath: logPath, accessLogFormat: '%RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_TRANSPORT_FAILURE_REASON%\n',
    }));
    const r = await send(s.listenerPort('main'), '/');
    expect(r.status).toBe(503);
    expect(r.body).toContain('reset reason: connection failure');
    expect(up.peers).toEqual([]);
    expect(s.stats.counter(`cluster.reviews.ssl.${stat}`).value()).toBe(1);
    expect(s.stats.counter('cluster.reviews.upstream_cx_connect_fail').value()).toBe(1);
    await s.close(); // flushes the access log
    expect(readFileSync(logPath, 'utf8')).toMatch(/^503 UF TLS_error: certificate (SAN )?verify failed/);
  });

  it('an upstream requiring mTLS refuses a cluster without a client certificate: 503', async () => {
    const up = await tlsUpstream(ca.issue({ uris: [REVIEWS] }));
    const s = await proxyTo(tlsCluster(up.port, null));
    const r = await send(s.listenerPort('main'), '/');
    expect(r.status).toBe(503);
    expect(up.peers).toEqual([]);
  });

  it('a plaintext cluster against a TLS upstream gets no answer from it', async () => {
    const up = await tlsUpstream(ca.issue({ uris: [REVIEWS] }));
    const s = await proxyTo(staticCluster('reviews', [up.port]));
    const r = await send(s.listenerPort('main'), '/');
    expect(r.status).toBe(503);
    expect(up.peers).toEqual([]);
  });
});
