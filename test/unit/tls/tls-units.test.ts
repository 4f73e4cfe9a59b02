// Unit tests of the TLS building blocks: ClientHello parsing (on real ClientHellos from node:tls), filter
// chain selection in Envoy's order, SAN parsing and matching (SPIFFE URIs, RFC 6125 DNS wildcards), TLS
// context config errors with their paths, and /config_dump redaction.

import { createServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { redactSensitive } from '../../../proxy/admin/config-dump.ts';
import { parseWith } from '../../../proxy/config/schema-kit.ts';
import { compileFilterChainSelector, type ConnectionFacts } from '../../../proxy/listener/filter-chain-selector.ts';
import type { FilterChainMatchWire } from '../../../proxy/listener/listener-schema.ts';
import { parseClientHello } from '../../../proxy/tls/client-hello.ts';
import { compileSanCheck, dnsNameMatch, parseSubjectAltName } from '../../../proxy/tls/san-matcher.ts';
import { DownstreamTransportSocketSchema, type CertificateValidationContextWire } from '../../../proxy/tls/tls-schema.ts';
import { validateEnvoyJson } from '../../support/envoy-proto.ts';

/** The first bytes a node:tls client sends (its ClientHello). */
async function clientHello(opts: { servername?: string; ALPNProtocols?: string[] }): Promise<Buffer> {
  const server = createServer();
  const first = new Promise<Buffer>((resolve) => server.once('connection', (s) => s.once('data', (b: Buffer) => {
    resolve(b);
    s.destroy();
  })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = tlsConnect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, rejectUnauthorized: false, ...opts });
  client.on('error', () => undefined);
  const bytes = await first;
  client.destroy();
  server.close();
  return bytes;
}

describe('parseClientHello (tls_inspector)', () => {
  it('reads SNI and ALPN from a real ClientHello, and asks for more when it is cut short', async () => {
    const hello = await clientHello({ servername: 'Reviews.Default.svc', ALPNProtocols: ['istio-peer-exchange', 'h2', 'http/1.1'] });
    expect(parseClientHello(hello)).toEqual({ kind: 'tls', serverName: 'reviews.default.svc', alpn: ['istio-peer-exchange', 'h2', 'http/1.1'] });
    for (const cut of [1, 3, 5, 40, hello.length - 1]) expect(parseClientHello(hello.subarray(0, cut)).kind).toBe('need-more');
  });

  it('a ClientHello without SNI or ALPN is still TLS', async () => {
    expect(parseClientHello(await clientHello({}))).toEqual({ kind: 'tls', serverName: '', alpn: [] });
  });

  it.each([
    ['plaintext HTTP', Buffer.from('GET / HTTP/1.1\r\n')],
    ['a handshake record that is not a ClientHello', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00])],
    ['an SSLv2-looking first byte', Buffer.from([0x80, 0x2e, 0x01])],
    ['a TLS record of another content type', Buffer.from([0x17, 0x03, 0x03, 0x00, 0x01, 0x00])],
  ])('%s is not TLS', (_name, bytes) => {
    expect(parseClientHello(bytes).kind).toBe('not-tls');
  });

  it('a ClientHello larger than the limit is too large', async () => {
    const hello = await clientHello({ servername: 'a.example' });
    expect(parseClientHello(hello, 64).kind).toBe('too-large');
  });
});

describe('filter chain selection (Envoy order, most specific wins, no backtracking)', () => {
  const facts = (over: Partial<ConnectionFacts>): ConnectionFacts => ({
    destinationIp: '10.0.0.1', destinationPort: 15006, sourceIp: '10.0.0.9', sourcePort: 40000,
    serverName: '', transportProtocol: 'raw_buffer', applicationProtocols: [], ...over,
  });
  const select = (matches: (FilterChainMatchWire | undefined)[], over: Partial<ConnectionFacts>): number =>
    compileFilterChainSelector(matches).select(facts(over));

  it.each<[string, (FilterChainMatchWire | undefined)[], Partial<ConnectionFacts>, number]>([
    ['PERMISSIVE: TLS goes to the tls chain', [{ transport_protocol: 'tls' }, { transport_protocol: 'raw_buffer' }], { transportProtocol: 'tls' }, 0],
    ['PERMISSIVE: plaintext goes to the raw_buffer chain', [{ transport_protocol: 'tls' }, { transport_protocol: 'raw_buffer' }], {}, 1],
    ['STRICT: plaintext matches nothing', [{ transport_protocol: 'tls' }], {}, -1],
    ['an exact port beats no port', [{}, { destination_port: 15006 }], {}, 1],
    ['a port match is final: no fallback to the portless chain when deeper criteria fail', [{ transport_protocol: 'raw_buffer' }, { destination_port: 15006, transport_protocol: 'tls' }], {}, -1],
    ['the longest destination prefix wins', [{ prefix_ranges: [{ address_prefix: '10.0.0.0', prefix_len: 8 }] }, { prefix_ranges: [{ address_prefix: '10.0.0.0', prefix_len: 24 }] }], {}, 1],
    ['an exact server name beats a wildcard', [{ server_names: ['*.example.com'] }, { server_names: ['api.example.com'] }], { serverName: 'api.example.com' }, 1],
    ['a longer wildcard beats a shorter one', [{ server_names: ['*.com'] }, { server_names: ['*.example.com'] }], { serverName: 'api.example.com' }, 1],
    ['a wildcard does not match its bare suffix', [{ server_names: ['*.example.com'] }], { serverName: 'example.com' }, -1],
    ['no SNI matches only chains without server_names', [{ server_names: ['a.example'] }, {}], {}, 1],
    ['server name is decided before transport protocol', [{ server_names: ['a.example'] }, { transport_protocol: 'tls' }], { serverName: 'a.example', transportProtocol: 'tls' }, 0],
    ['the ALPN protocol the client lists first wins', [{ application_protocols: ['http/1.1'] }, { application_protocols: ['h2'] }], { applicationProtocols: ['h2', 'http/1.1'] }, 1],
    ['source type SAME_IP_OR_LOOPBACK', [{ source_type: 'EXTERNAL' }, { source_type: 'SAME_IP_OR_LOOPBACK' }], { sourceIp: '127.0.0.1' }, 1],
    ['source ports', [{}, { source_ports: [40000] }], {}, 1],
  ])('%s', (_name, matches, over, expected) => {
    expect(select(matches, over)).toBe(expected);
  });
});

describe('SAN parsing and matching', () => {
  it('parses Node\'s subjectAltName, JSON-quoted values included (a crafted SAN cannot add an entry)', () => {
    expect(parseSubjectAltName('DNS:a.example, URI:spiffe://td/ns/a/sa/b, IP Address:10.0.0.1, email:x@y')).toEqual({
      DNS: ['a.example'], URI: ['spiffe://td/ns/a/sa/b'], IP_ADDRESS: ['10.0.0.1'], EMAIL: ['x@y'],
    });
    expect(parseSubjectAltName('URI:"spiffe://td/ns/a/sa/x, URI:spiffe://td/ns/a/sa/admin", DNS:b')).toEqual({
      DNS: ['b'], URI: ['spiffe://td/ns/a/sa/x, URI:spiffe://td/ns/a/sa/admin'], IP_ADDRESS: [], EMAIL: [],
    });
    expect(parseSubjectAltName(undefined).URI).toEqual([]);
  });

  it.each([
    ['api.example.com', '*.example.com', true],
    ['a.b.example.com', '*.example.com', false],
    ['example.com', '*.example.com', false],
    ['API.example.com', 'api.EXAMPLE.com', true],
  ])('dnsNameMatch(%s, %s) = %s (RFC 6125: one label)', (name, san, expected) => {
    expect(dnsNameMatch(name, san)).toBe(expected);
  });

  const check = (v: CertificateValidationContextWire) => compileSanCheck(v)!;
  const sans = (over: Partial<Record<'URI' | 'DNS' | 'EMAIL' | 'IP_ADDRESS', string[]>>) => ({ URI: [], DNS: [], EMAIL: [], IP_ADDRESS: [], ...over });

  it('URI matchers see only URI SANs; ANY of the matchers is enough', () => {
    const c = check({ match_typed_subject_alt_names: [
      { san_type: 'URI', matcher: { exact: 'spiffe://cluster.local/ns/default/sa/frontend' } },
      { san_type: 'URI', matcher: { prefix: 'spiffe://cluster.local/ns/admin/' } },
    ] });
    expect(c(sans({ URI: ['spiffe://cluster.local/ns/default/sa/frontend'] }))).toBe(true);
    expect(c(sans({ URI: ['spiffe://cluster.local/ns/admin/sa/x'] }))).toBe(true);
    expect(c(sans({ URI: ['spiffe://cluster.local/ns/default/sa/frontend2'] }))).toBe(false);
    expect(c(sans({ DNS: ['spiffe://cluster.local/ns/default/sa/frontend'] }))).toBe(false);
  });

  it('a DNS exact matcher accepts a wildcard certificate covering the name', () => {
    const c = check({ match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'api.example.com' } }] });
    expect(c(sans({ DNS: ['*.example.com'] }))).toBe(true);
    expect(c(sans({ DNS: ['*.other.com'] }))).toBe(false);
  });

  it('the deprecated match_subject_alt_names checks every SAN type, and is ignored when the typed list is set', () => {
    expect(check({ match_subject_alt_names: [{ exact: 'x@y' }] })(sans({ EMAIL: ['x@y'] }))).toBe(true);
    const both = check({ match_subject_alt_names: [{ exact: 'x@y' }], match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: 'u' } }] });
    expect(both(sans({ EMAIL: ['x@y'] }))).toBe(false);
    expect(compileSanCheck({})).toBeNull();
  });
});

describe('TLS transport socket config', () => {
  const socket = (context: Record<string, unknown>) => ({
    name: 'envoy.transport_sockets.tls',
    typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext', ...context },
  });
  const errorsOf = (context: Record<string, unknown>) => {
    const r = parseWith(DownstreamTransportSocketSchema, socket(context), 'ts');
    return r.ok ? [] : r.errors.map((e) => ({ path: e.path, kind: e.kind }));
  };
  const certs = (key: Record<string, unknown>) => ({ common_tls_context: { tls_certificates: [{ certificate_chain: { inline_string: 'x' }, private_key: key }] } });

  it.each<[string, Record<string, unknown>, { path: string; kind: string }[]]>([
    ['an unreadable key file', certs({ filename: '/nonexistent/key.pem' }), [{ path: 'ts.typed_config.common_tls_context.tls_certificates[0].private_key.filename', kind: 'invalid' }]],
    ['PEM that is not a key', certs({ inline_string: 'not a key' }), [{ path: 'ts.typed_config.common_tls_context', kind: 'invalid' }]],
    ['no server certificate', { common_tls_context: {} }, [{ path: 'ts.typed_config.common_tls_context.tls_certificates', kind: 'invalid' }]],
    ['a SAN matcher without san_type', { ...certs({ inline_string: 'k' }), common_tls_context: { ...certs({ inline_string: 'k' }).common_tls_context, validation_context: { match_typed_subject_alt_names: [{ matcher: { exact: 'x' } }] } } },
      [{ path: 'ts.typed_config.common_tls_context.validation_context.match_typed_subject_alt_names[0].san_type', kind: 'invalid' }]],
    ['a secret name that is no static secret', { common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 'default' }] } },
      [{ path: 'ts.typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].name', kind: 'invalid' }]],
    ['a secret fetched over SDS (sds_config)', { common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: { api_config_source: { api_type: 'REST', cluster_names: ['sds'], refresh_delay: '1s' } } }] } },
      [{ path: 'ts.typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].sds_config', kind: 'not-implemented' }]],
    ['require_sni', { ...certs({ inline_string: 'k' }), require_sni: true }, [{ path: 'ts.typed_config.require_sni', kind: 'not-implemented' }]],
  ])('%s is reported at its path', (_name, context, expected) => {
    expect(errorsOf(context)).toEqual(expected);
  });

  it('errors never quote the key', () => {
    const r = parseWith(DownstreamTransportSocketSchema, socket(certs({ inline_string: '-----BEGIN PRIVATE KEY-----\nSECRETSECRET\n-----END PRIVATE KEY-----' })), 'ts');
    expect(r.ok).toBe(false);
    expect(JSON.stringify(r)).not.toContain('SECRETSECRET');
  });
});

describe('/config_dump redaction', () => {
  it('redacts every string under private_key and password, keeps certificates', () => {
    const dump = redactSensitive({ tls_certificates: [{
      certificate_chain: { inline_string: 'CERT' },
      private_key: { inline_string: 'KEY' },
      password: { inline_bytes: 'cGFzcw==' },
    }], privateKey: { filename: '/etc/key.pem' } });
    expect(dump).toEqual({ tls_certificates: [{
      certificate_chain: { inline_string: 'CERT' },
      private_key: { inline_string: '[redacted]' },
      password: { inline_bytes: Buffer.from('[redacted]').toString('base64') },
    }], privateKey: { filename: '[redacted]' } });
  });
});

describe('the TLS config shapes nodevoy documents load in real Envoy', () => {
  const tlsContext = (type: string, extra: Record<string, unknown>) => ({
    '@type': `type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.${type}`,
    common_tls_context: {
      tls_params: { tls_minimum_protocol_version: 'TLSv1_2', cipher_suites: ['[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]'], ecdh_curves: ['X25519', 'P-256'] },
      tls_certificates: [{ certificate_chain: { filename: '/etc/certs/cert-chain.pem' }, private_key: { filename: '/etc/certs/key.pem' } }],
      validation_context: {
        trusted_ca: { filename: '/etc/certs/root-cert.pem' },
        match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { prefix: 'spiffe://cluster.local/' } }],
      },
      alpn_protocols: ['h2', 'http/1.1'],
    },
    ...extra,
  });
  const hcm = { name: 'envoy.filters.network.http_connection_manager', typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    stat_prefix: 'in', route_config: {}, http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
  } };

  it('a PERMISSIVE listener (tls_inspector, a TLS chain, a plaintext chain)', () => {
    expect(validateEnvoyJson('envoy.config.listener.v3.Listener', {
      name: 'virtualInbound',
      address: { socket_address: { address: '0.0.0.0', port_value: 15006 } },
      listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } }],
      listener_filters_timeout: '1s',
      filter_chains: [
        { filter_chain_match: { transport_protocol: 'tls', application_protocols: ['istio-peer-exchange', 'istio'] }, filters: [hcm],
          transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: tlsContext('DownstreamTlsContext', { require_client_certificate: true }) } },
        { filter_chain_match: { transport_protocol: 'raw_buffer', destination_port: 15006, server_names: ['*.example.com'] }, filters: [hcm] },
      ],
      default_filter_chain: { filters: [hcm] },
    })).toEqual([]);
  });

  it('a cluster originating mTLS', () => {
    expect(validateEnvoyJson('envoy.config.cluster.v3.Cluster', {
      name: 'outbound|9080||reviews', connect_timeout: '1s',
      transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: tlsContext('UpstreamTlsContext', { sni: 'outbound_.9080_._.reviews.default.svc.cluster.local' }) },
    })).toEqual([]);
  });
});
