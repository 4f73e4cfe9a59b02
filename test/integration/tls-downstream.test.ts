// Downstream TLS through a real nodevoy listener, with real TLS clients on 127.0.0.1: mTLS round trip,
// and every way in that must fail (no client certificate, another CA, expired, a SPIFFE ID the SAN
// matcher refuses, plaintext against a TLS-only listener), each with its ssl.* stat; PERMISSIVE
// (tls_inspector + a tls chain + a plaintext chain on one port); no key material in /config_dump.

import { request as httpRequest } from 'node:http';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../proxy/server/server.ts';
import { staticCluster, indent } from '../support/proxy.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { testScope } from '../support/scope.ts';
import { createTestCa, expired, spiffeId, type TestCa, type TestCert } from '../support/test-pki.ts';

const scope = testScope();
const FRONTEND = spiffeId('default', 'frontend');
const LISTENER_STATS = 'listener.in.';

let ca: TestCa;
let otherCa: TestCa;
let server: TestCert;
let frontend: TestCert;

beforeAll(() => {
  ca = createTestCa('mesh root');
  otherCa = createTestCa('someone else');
  server = ca.issue({ uris: [spiffeId('default', 'reviews')], dnsNames: ['reviews.default.svc'] });
  frontend = ca.issue({ uris: [FRONTEND] });
});

const pem = (text: string): string => `{ inline_string: ${JSON.stringify(text)} }`;

/** A DownstreamTlsContext transport socket requiring a client certificate from `ca` with an allowed SAN. */
function tlsTransportSocket(allowedUris: readonly string[] = [FRONTEND]): string {
  const sans = allowedUris.map((u) => `    - { san_type: URI, matcher: { exact: ${JSON.stringify(u)} } }`).join('\n');
  return `transport_socket:
  name: envoy.transport_sockets.tls
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
    require_client_certificate: true
    common_tls_context:
      tls_certificates: [{ certificate_chain: ${pem(server.certPem)}, private_key: ${pem(server.keyPem)} }]
      validation_context:
        trusted_ca: ${pem(ca.certPem)}
        match_typed_subject_alt_names:
${indent(sans, 4)}`;
}

function chain(statPrefix: string, extra: string, httpFilters = ''): string {
  return `- ${indent(extra, 2).trimStart()}
  filters:
  - name: envoy.filters.network.http_connection_manager
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      stat_prefix: ${statPrefix}
      route_config:
        virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: / }, route: { cluster: web } }] }]
      http_filters: [${httpFilters}{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]`;
}

function bootstrap(listenerExtra: string, chains: string, upstreamPort: number): string {
  return `
admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
static_resources:
  listeners:
  - name: in
    stat_prefix: in
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
${indent(listenerExtra, 4)}
    filter_chains:
${indent(chains, 4)}
  clusters:
${indent(staticCluster('web', [upstreamPort]), 2)}
`;
}

/** STRICT: one chain, TLS only. */
async function strictProxy(allowedUris?: readonly string[]): Promise<Server> {
  const up = await scope.upstream('web');
  return scope.proxy(bootstrap('', chain('mtls', tlsTransportSocket(allowedUris)), up.port));
}

/** PERMISSIVE: tls_inspector, a chain for TLS and a plaintext chain, as Istio builds its inbound listener. */
async function permissiveProxy(): Promise<Server> {
  const up = await scope.upstream('web');
  const inspector = `listener_filters:
- name: envoy.filters.listener.tls_inspector
  typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector }`;
  const chains = [
    chain('mtls', `filter_chain_match: { transport_protocol: tls }\n${tlsTransportSocket()}`),
    chain('plaintext', 'filter_chain_match: { transport_protocol: raw_buffer }'),
  ].join('\n');
  return scope.proxy(bootstrap(inspector, chains, up.port));
}

type Outcome = { status: number; body: string } | { refused: string };

/** One HTTPS request over a fresh TLS connection presenting `client` (or no certificate). */
function httpsGet(port: number, client: TestCert | null, trust: string = ca.certPem): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket: TLSSocket = tlsConnect({
      host: '127.0.0.1', port, ca: trust, servername: 'reviews.default.svc',
      ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
    });
    let settled = false;
    const done = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(o);
    };
    socket.on('error', (err: Error & { code?: string }) => done({ refused: err.code ?? err.message }));
    socket.on('close', () => done({ refused: 'closed' }));
    socket.on('secureConnect', () => {
      const req = httpRequest({ createConnection: () => socket, path: '/', headers: { host: 'reviews' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c.toString(); });
        res.on('end', () => done({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', (err: Error & { code?: string }) => done({ refused: err.code ?? err.message }));
      req.end();
    });
  });
}

/** Plaintext HTTP/1.1 on a raw socket: what comes back before the connection closes. */
function plaintextGet(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = netConnect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nhost: reviews\r\n\r\n'));
    let received = '';
    socket.on('data', (c: Buffer) => {
      received += c.toString('latin1');
      if (received.includes('\r\n\r\n')) socket.end();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(received));
  });
}

const counter = (s: Server, name: string): number => s.stats.counter(name).value();

describe('downstream mTLS (STRICT: one TLS chain)', () => {
  it('a client with a certificate from the trusted CA and an allowed SPIFFE ID gets through', async () => {
    const s = await strictProxy();
    const r = await httpsGet(s.listenerPort('in'), frontend);
    expect(r).toEqual({ status: 200, body: 'web' });
    expect(counter(s, `${LISTENER_STATS}ssl.handshake`)).toBe(1);
    expect(s.stats.counter('http.mtls.downstream_cx_ssl_total').value()).toBe(1);
  });

  it.each([
    ['no client certificate', 'fail_verify_no_cert', () => null],
    ['a certificate from another CA', 'fail_verify_error', () => otherCa.issue({ uris: [FRONTEND] })],
    ['an expired certificate', 'fail_verify_error', () => expired(ca, { uris: [FRONTEND] })],
    ['a SPIFFE ID the SAN matcher does not allow', 'fail_verify_san', () => ca.issue({ uris: [spiffeId('default', 'attacker')] })],
    ['a certificate without any SAN', 'fail_verify_san', () => ca.issue({ commonName: FRONTEND })],
    ['a lookalike SPIFFE ID (prefix of an allowed one)', 'fail_verify_san', () => ca.issue({ uris: [`${FRONTEND}-evil`] })],
  ])('%s is refused: no HTTP response, ssl.%s counted', async (_name, stat, client) => {
    const s = await strictProxy();
    const web = s.clusterManager.get('web');
    const r = await httpsGet(s.listenerPort('in'), client());
    expect(r).toHaveProperty('refused');
    expect(counter(s, `${LISTENER_STATS}ssl.${stat}`)).toBe(1);
    expect(counter(s, `${LISTENER_STATS}ssl.handshake`)).toBe(0);
    expect(web?.stats.upstream_rq_total.value()).toBe(0);
  });

  it('plaintext HTTP against the TLS-only listener gets no HTTP response and reaches no upstream', async () => {
    const s = await strictProxy();
    expect(await plaintextGet(s.listenerPort('in'))).toBe('');
    expect(counter(s, `${LISTENER_STATS}ssl.connection_error`)).toBe(1);
    expect(s.clusterManager.get('web')?.stats.upstream_rq_total.value()).toBe(0);
  });

  it('a client that does not trust the server CA does not send its request', async () => {
    const s = await strictProxy();
    const r = await httpsGet(s.listenerPort('in'), frontend, otherCa.certPem);
    expect(r).toHaveProperty('refused');
    expect(s.clusterManager.get('web')?.stats.upstream_rq_total.value()).toBe(0);
  });
});

describe('PERMISSIVE (tls_inspector, a TLS chain and a plaintext chain on one port)', () => {
  it('serves plaintext and mTLS on the same port, each on its own chain', async () => {
    const s = await permissiveProxy();
    const port = s.listenerPort('in');
    expect(await httpsGet(port, frontend)).toEqual({ status: 200, body: 'web' });
    expect(await plaintextGet(port)).toMatch(/^HTTP\/1\.1 200 /);
    expect(s.stats.counter('http.mtls.downstream_cx_total').value()).toBe(1);
    expect(s.stats.counter('http.plaintext.downstream_cx_total').value()).toBe(1);
    expect(counter(s, 'tls_inspector.tls_found')).toBe(1);
    expect(counter(s, 'tls_inspector.tls_not_found')).toBe(1);
    expect(counter(s, 'tls_inspector.sni_found')).toBe(1);
  });

  it('still verifies the client certificate on the TLS chain', async () => {
    const s = await permissiveProxy();
    const r = await httpsGet(s.listenerPort('in'), ca.issue({ uris: [spiffeId('default', 'attacker')] }));
    expect(r).toHaveProperty('refused');
    expect(counter(s, `${LISTENER_STATS}ssl.fail_verify_san`)).toBe(1);
  });
});

describe('filter chain matching', () => {
  it('closes a connection no chain matches (no default_filter_chain): no_filter_chain_match', async () => {
    const up = await scope.upstream('web');
    const inspector = 'listener_filters: [{ name: envoy.filters.listener.tls_inspector, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector } }]';
    const s = await scope.proxy(bootstrap(inspector, chain('mtls', `filter_chain_match: { transport_protocol: tls }\n${tlsTransportSocket()}`), up.port));
    expect(await plaintextGet(s.listenerPort('in'))).toBe('');
    expect(counter(s, `${LISTENER_STATS}no_filter_chain_match`)).toBe(1);
    expect(up.received).toHaveLength(0);
  });

  it('sends an unmatched connection to default_filter_chain', async () => {
    const up = await scope.upstream('web');
    const inspector = `listener_filters: [{ name: envoy.filters.listener.tls_inspector, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector } }]
default_filter_chain:
${indent(chain('fallback', 'name: fallback').replace(/^- /, '  '), 2)}`;
    const s = await scope.proxy(bootstrap(inspector, chain('mtls', `filter_chain_match: { transport_protocol: tls }\n${tlsTransportSocket()}`), up.port));
    expect(await plaintextGet(s.listenerPort('in'))).toMatch(/^HTTP\/1\.1 200 /);
    expect(s.stats.counter('http.fallback.downstream_cx_total').value()).toBe(1);
  });
});

describe('listener_filters_timeout', () => {
  it('closes a connection that sends nothing within the timeout (tls_inspector waits for the ClientHello)', async () => {
    const clock = new FakeClock();
    const up = await scope.upstream('web');
    const inspector = 'listener_filters: [{ name: envoy.filters.listener.tls_inspector, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector } }]\nlistener_filters_timeout: 2s';
    const s = await scope.proxy(bootstrap(inspector, chain('plaintext', 'filter_chain_match: { transport_protocol: raw_buffer }'), up.port), { clock });
    const socket = netConnect(s.listenerPort('in'), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // The proxy's side of the connection is accepted (its timer armed) once the listener counts it.
    while (s.stats.gauge(`${LISTENER_STATS}downstream_cx_active`).value() === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    clock.advance(1_999);
    expect(socket.destroyed).toBe(false);
    clock.advance(1);
    await closed;
    expect(up.received).toHaveLength(0);
  });
});

describe('the peer identity reaches HTTP filters', () => {
  it('RBAC authenticated.principal_name sees the client SPIFFE ID: an identity TLS lets in can still be denied', async () => {
    const up = await scope.upstream('web');
    const rbac = `{ name: envoy.filters.http.rbac, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC, rules: { action: ALLOW, policies: { frontend: { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: ${JSON.stringify(FRONTEND)} } } }] } } } } }, `;
    const other = spiffeId('default', 'ratings');
    const s = await scope.proxy(bootstrap('', chain('mtls', tlsTransportSocket([FRONTEND, other]), rbac), up.port));
    expect(await httpsGet(s.listenerPort('in'), frontend)).toEqual({ status: 200, body: 'web' });
    expect(await httpsGet(s.listenerPort('in'), ca.issue({ uris: [other] }))).toEqual({ status: 403, body: 'RBAC: access denied' });
  });
});

describe('key material', () => {
  it('is redacted from /config_dump', async () => {
    const s = await strictProxy();
    const dump = await new Promise<string>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port: s.adminPort, path: '/config_dump' }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c.toString(); });
        res.on('end', () => resolve(body));
      }).on('error', reject).end();
    });
    expect(dump).toContain('[redacted]');
    expect(dump).not.toContain('PRIVATE KEY');
    expect(dump).not.toContain(server.keyPem.split(/\r?\n/)[1]!);
    // Certificates are public and stay visible.
    expect(dump).toContain(server.certPem.split(/\r?\n/)[1]!);
  });
});
