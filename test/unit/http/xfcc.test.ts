// x-forwarded-client-cert as Envoy's mutateXfccRequestHeader sets it: every forward_client_cert_details mode
// on plaintext, TLS without a client certificate and mTLS; the element's keys, order and quoting; Envoy's
// URL encoding of Cert/Chain; and the HCM fields that configure it. TLS facts come from connection-info.ts
// reading real certificates from the test CA.

import { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileCidrs } from '../../../proxy/http/cidr.ts';
import { mutateRequestHeaders } from '../../../proxy/http/conn-manager-utility.ts';
import { HttpConnectionManagerSchema, toHcmConfig } from '../../../proxy/http/hcm-schema.ts';
import type { HeaderMap } from '../../../proxy/http/headers.ts';
import {
  currentClientCertElement, mutateXfccRequestHeader, urlEncode, XFCC_HEADER,
  type ClientCertDetail, type ForwardClientCertDetails,
} from '../../../proxy/http/xfcc.ts';
import { downstreamTlsInfo, type DownstreamTlsInfo } from '../../../proxy/tls/connection-info.ts';
import { createTestCa, spiffeId, type TestCert } from '../../support/test-pki.ts';

const WEB = spiffeId('default', 'web');
const SLEEP = spiffeId('default', 'sleep');
const FORWARDED = `By=${spiffeId('default', 'gateway')};Hash=0123abcd;URI=${spiffeId('default', 'edge')}`;
const ISTIO: readonly ClientCertDetail[] = ['Subject', 'URI', 'DNS'];

let webCert: TestCert;
let sleepCert: TestCert;

beforeAll(() => {
  const ca = createTestCa('xfcc unit root');
  webCert = ca.issue({ commonName: 'web', uris: [WEB], dnsNames: ['web.default.svc'] });
  sleepCert = ca.issue({ commonName: 'sleep', uris: [SLEEP], dnsNames: ['sleep.default.svc', 'sleep'] });
});

/**
 * The TLS facts of a connection whose local certificate is `local` and whose client presented `peer`
 * (null: none), read by the real downstreamTlsInfo from a socket stand-in.
 */
function tlsInfo(peer: string | null, local: string = webCert.certPem): DownstreamTlsInfo {
  const socket = {
    encrypted: true,
    servername: 'web.default.svc',
    getPeerX509Certificate: () => (peer === null ? undefined : new X509Certificate(peer)),
    getX509Certificate: () => new X509Certificate(local),
  } as unknown as Socket;
  return downstreamTlsInfo(socket)!;
}

/** Hex SHA-256 of the certificate's DER, from node's fingerprint (an API the code under test does not use). */
const sha256Of = (pem: string): string => new X509Certificate(pem).fingerprint256.replaceAll(':', '').toLowerCase();

function xfccAfter(mode: ForwardClientCertDetails, tls: DownstreamTlsInfo | undefined, incoming: string | string[] | undefined,
  details: readonly ClientCertDetail[] = ISTIO): string | string[] | undefined {
  const headers: HeaderMap = incoming === undefined ? {} : { [XFCC_HEADER]: incoming };
  mutateXfccRequestHeader(headers, tls, { forwardClientCertDetails: mode, setCurrentClientCertDetails: details });
  return headers[XFCC_HEADER];
}

describe('forward_client_cert_details modes', () => {
  const istioElement = (): string =>
    `By=${WEB};Hash=${sha256Of(sleepCert.certPem)};Subject="CN=sleep";URI=${SLEEP};DNS=sleep.default.svc;DNS=sleep`;
  type Expect = 'removed' | 'kept' | 'appended' | 'set';
  const connections: { name: string; tls: () => DownstreamTlsInfo | undefined }[] = [
    { name: 'plaintext', tls: () => undefined },
    { name: 'TLS without a client certificate', tls: () => tlsInfo(null) },
    { name: 'mTLS', tls: () => tlsInfo(sleepCert.certPem) },
  ];
  const table: [ForwardClientCertDetails, Expect, Expect, Expect][] = [
    ['SANITIZE', 'removed', 'removed', 'removed'],
    ['FORWARD_ONLY', 'removed', 'removed', 'kept'],
    ['APPEND_FORWARD', 'removed', 'removed', 'appended'],
    ['SANITIZE_SET', 'removed', 'removed', 'set'],
    ['ALWAYS_FORWARD_ONLY', 'kept', 'kept', 'kept'],
  ];
  const cases = table.flatMap(([mode, ...outcomes]) => outcomes.map((outcome, i) => ({ mode, outcome, connection: connections[i]! })));

  it.each(cases)('$mode on $connection.name: $outcome', ({ mode, outcome, connection }) => {
    const expected = {
      removed: undefined, kept: FORWARDED, appended: `${FORWARDED},${istioElement()}`, set: istioElement(),
    }[outcome];
    expect(xfccAfter(mode, connection.tls(), FORWARDED)).toBe(expected);
  });

  it('APPEND_FORWARD without an incoming header sets just this element (no leading comma)', () => {
    expect(xfccAfter('APPEND_FORWARD', tlsInfo(sleepCert.certPem), undefined)).toBe(istioElement());
    expect(xfccAfter('APPEND_FORWARD', tlsInfo(sleepCert.certPem), '')).toBe(istioElement());
  });

  it('APPEND_FORWARD joins repeated incoming headers into one comma-separated list', () => {
    expect(xfccAfter('APPEND_FORWARD', tlsInfo(sleepCert.certPem), ['By=a;Hash=1', 'By=b;Hash=2']))
      .toBe(`By=a;Hash=1,By=b;Hash=2,${istioElement()}`);
  });

  it('SANITIZE_SET and APPEND_FORWARD add the header on mTLS even when the client sent none', () => {
    expect(xfccAfter('SANITIZE_SET', tlsInfo(sleepCert.certPem), undefined)).toBe(istioElement());
  });

  it('removing an absent header leaves the map without the key', () => {
    const headers: HeaderMap = { host: 'web' };
    mutateXfccRequestHeader(headers, undefined, { forwardClientCertDetails: 'SANITIZE', setCurrentClientCertDetails: [] });
    expect(headers).toEqual({ host: 'web' });
  });
});

describe('the current element', () => {
  it('is By (local URI SAN) and Hash only when no details are requested', () => {
    expect(currentClientCertElement(tlsInfo(sleepCert.certPem), [])).toBe(`By=${WEB};Hash=${sha256Of(sleepCert.certPem)}`);
  });

  it('Hash is the lower-case hex SHA-256 of the client certificate DER', () => {
    const element = currentClientCertElement(tlsInfo(sleepCert.certPem), []);
    const hash = /Hash=([0-9a-f]{64})$/.exec(element)?.[1];
    expect(hash).toBe(sha256Of(sleepCert.certPem));
    expect(hash).not.toBe(sha256Of(webCert.certPem));
  });

  it('omits By when this proxy\'s certificate has no URI SAN (a DNS SAN does not stand in)', () => {
    const dnsOnly = createTestCa('dns only').issue({ dnsNames: ['web.default.svc'] });
    expect(currentClientCertElement(tlsInfo(sleepCert.certPem, dnsOnly.certPem), [])).toBe(`Hash=${sha256Of(sleepCert.certPem)}`);
  });

  it('writes one By per URI SAN of this proxy\'s certificate, in certificate order', () => {
    const twoUris = createTestCa('two uris').issue({ uris: [WEB, 'spiffe://cluster.local/ns/default/sa/web-alt'] });
    expect(currentClientCertElement(tlsInfo(sleepCert.certPem, twoUris.certPem), []))
      .toMatch(new RegExp(`^By=${WEB};By=spiffe://cluster.local/ns/default/sa/web-alt;Hash=[0-9a-f]{64}$`));
  });

  it('emits the details in Envoy\'s order Cert, Chain, Subject, URI, DNS whatever order they are listed in', () => {
    const element = currentClientCertElement(tlsInfo(sleepCert.certPem), ['Cert', 'Chain', 'Subject', 'URI', 'DNS']);
    expect(element.split(';').map((kv) => kv.slice(0, kv.indexOf('='))))
      .toEqual(['By', 'Hash', 'Cert', 'Chain', 'Subject', 'URI', 'DNS', 'DNS']);
  });

  it('keeps Subject="" and URI= when the client certificate has no subject or URI SAN; no DNS without DNS SANs', () => {
    const bare = createTestCa('bare').issue({ commonName: '', dnsNames: [] });
    const tls = tlsInfo(bare.certPem);
    expect(tls.ssl.subjectPeerCertificate).toBe('CN=');
    const noSubject = { ...tls, ssl: { ...tls.ssl, subjectPeerCertificate: '' } };
    expect(currentClientCertElement(noSubject, ['Subject', 'URI', 'DNS'])).toBe(`By=${WEB};Hash=${sha256Of(bare.certPem)};Subject="";URI=`);
  });

  it('writes one URI pair per client URI SAN and one DNS pair per client DNS SAN', () => {
    const multi = createTestCa('multi').issue({ commonName: 'multi', uris: [SLEEP, 'spiffe://other.td/ns/x/sa/y'], dnsNames: ['a.example', '*.b.example'] });
    expect(currentClientCertElement(tlsInfo(multi.certPem), ['URI', 'DNS']))
      .toBe(`By=${WEB};Hash=${sha256Of(multi.certPem)};URI=${SLEEP};URI=spiffe://other.td/ns/x/sa/y;DNS=a.example;DNS=*.b.example`);
  });

  it('Cert is the quoted, URL-encoded PEM of the client certificate', () => {
    const element = currentClientCertElement(tlsInfo(sleepCert.certPem), ['Cert']);
    const cert = /;Cert="([^"]*)"$/.exec(element)?.[1];
    expect(cert).toBeDefined();
    expect(cert).toMatch(/^-----BEGIN%20CERTIFICATE-----%0A/);
    expect(cert).toMatch(/-----END%20CERTIFICATE-----%0A$/);
    expect(cert).not.toMatch(/[\n /+=]/);
    expect(decodeURIComponent(cert!)).toBe(new X509Certificate(sleepCert.certPem).toString());
    // Envoy's older encoder replaced exactly these five characters; for a PEM both agree.
    const legacy = new X509Certificate(sleepCert.certPem).toString()
      .replaceAll('\n', '%0A').replaceAll(' ', '%20').replaceAll('+', '%2B').replaceAll('/', '%2F').replaceAll('=', '%3D');
    expect(cert).toBe(legacy);
  });

  it('Chain is the URL-encoded PEM of every certificate the client sent; a lone leaf equals Cert', () => {
    const element = currentClientCertElement(tlsInfo(sleepCert.certPem), ['Cert', 'Chain']);
    const [, cert, chain] = /Cert="([^"]*)";Chain="([^"]*)"$/.exec(element) ?? [];
    expect(chain).toBe(cert);
  });
});

describe('urlEncode (Envoy PercentEncoding::urlEncode)', () => {
  it('keeps ALPHA, DIGIT and *-._ and encodes everything else as upper-case %XX', () => {
    expect(urlEncode('Az09*-._')).toBe('Az09*-._');
    expect(urlEncode("a b+c/d=e\nf~g!h'i(j)k,l;m\"n%o")).toBe('a%20b%2Bc%2Fd%3De%0Af%7Eg%21h%27i%28j%29k%2Cl%3Bm%22n%25o');
  });

  it('encodes non-ASCII as its UTF-8 bytes', () => {
    expect(urlEncode('São')).toBe('S%C3%A3o');
  });
});

describe('connection TLS facts', () => {
  it('a client without a certificate has no peer certificate, yet this proxy\'s URI SAN is known', () => {
    const tls = tlsInfo(null);
    expect(tls.peerCertificate).toBeUndefined();
    expect(tls.uriSanLocalCertificate).toEqual([WEB]);
  });

  it('the peer certificate gives its digest, PEM and (without intermediates) a one-certificate chain', () => {
    const peer = tlsInfo(sleepCert.certPem).peerCertificate!;
    expect(peer.sha256Digest).toBe(sha256Of(sleepCert.certPem));
    expect(peer.pem).toBe(new X509Certificate(sleepCert.certPem).toString());
    expect(peer.chainPem).toEqual([peer.pem]);
  });
});

describe('mutateRequestHeaders runs XFCC last', () => {
  const policy = {
    useRemoteAddress: false, xffNumTrustedHops: 0, skipXffAppend: false, internalAddresses: compileCidrs([]),
    generateRequestId: true, preserveExternalRequestId: false, internalOnlyHeaders: [],
  };

  it('sanitizes XFCC when the policy says nothing (SANITIZE is Envoy\'s default)', () => {
    const headers: HeaderMap = { [XFCC_HEADER]: FORWARDED };
    mutateRequestHeaders(headers, '192.0.2.7', true, policy, tlsInfo(sleepCert.certPem));
    expect(headers[XFCC_HEADER]).toBeUndefined();
  });

  it('applies the configured mode with the connection\'s TLS facts', () => {
    const headers: HeaderMap = { [XFCC_HEADER]: FORWARDED };
    mutateRequestHeaders(headers, '192.0.2.7', true,
      { ...policy, xfcc: { forwardClientCertDetails: 'SANITIZE_SET', setCurrentClientCertDetails: ['URI'] } }, tlsInfo(sleepCert.certPem));
    expect(headers[XFCC_HEADER]).toBe(`By=${WEB};Hash=${sha256Of(sleepCert.certPem)};URI=${SLEEP}`);
  });
});

describe('HCM forward_client_cert_details / set_current_client_cert_details', () => {
  const hcm = (extra: Record<string, unknown>): unknown => ({
    stat_prefix: 'in',
    route_config: { virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'web' } }] }] },
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
    ...extra,
  });
  const parse = (extra: Record<string, unknown>) => {
    const r = HttpConnectionManagerSchema.safeParse(hcm(extra));
    return r.success ? { config: toHcmConfig(r.data, undefined), messages: [] } : { config: undefined, messages: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) };
  };

  it('defaults to SANITIZE with no details', () => {
    const { config } = parse({});
    expect(config?.forwardClientCertDetails).toBe('SANITIZE');
    expect(config?.setCurrentClientCertDetails).toEqual([]);
  });

  it('reads Istio\'s inbound settings, listing the details in Envoy\'s order', () => {
    const { config } = parse({ forward_client_cert_details: 'APPEND_FORWARD', set_current_client_cert_details: { dns: true, uri: true, subject: true } });
    expect(config?.forwardClientCertDetails).toBe('APPEND_FORWARD');
    expect(config?.setCurrentClientCertDetails).toEqual(['Subject', 'URI', 'DNS']);
  });

  it('accepts lowerCamelCase names, enum numbers and false details', () => {
    const { config } = parse({ forwardClientCertDetails: 3, setCurrentClientCertDetails: { uri: true, cert: true, chain: false } });
    expect(config?.forwardClientCertDetails).toBe('SANITIZE_SET');
    expect(config?.setCurrentClientCertDetails).toEqual(['Cert', 'URI']);
  });

  it('rejects an unknown mode, an unknown detail and forward_client_cert_matcher (not implemented)', () => {
    expect(parse({ forward_client_cert_details: 'FORWARD_ALL' }).messages.join('\n')).toMatch(/^forward_client_cert_details: /m);
    expect(parse({ set_current_client_cert_details: { san: true } }).messages.join('\n')).toMatch(/set_current_client_cert_details\.san: unknown field "san"/);
    expect(parse({ forward_client_cert_matcher: {} }).messages.join('\n')).toMatch(/forward_client_cert_matcher.*does not implement it/);
  });
});
