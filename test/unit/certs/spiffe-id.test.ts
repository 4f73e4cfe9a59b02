// SPIFFE ID syntax (the SPIFFE-ID spec rules go-spiffe enforces), Istio's workload form, and spiffeIdOf():
// the URI SAN read from a certificate's DER (node's X509Certificate and TLS PeerCertificate alike).

import { describe, expect, it } from 'vitest';
import { signCertificate, nameDer } from '../../../certs/certificate.ts';
import { basicConstraints, subjectAltName, type GeneralName } from '../../../certs/extensions.ts';
import { generateKeyPair } from '../../../certs/keys.ts';
import {
  formatSpiffeId, parseSpiffeId, parseWorkloadSpiffeId, spiffeIdOf, uriSansOf, workloadIdentityProblem, workloadSpiffeId,
} from '../../../certs/spiffe-id.ts';
import { identity, newCa, workloadCert } from './fixtures.ts';

describe('parseSpiffeId', () => {
  it.each([
    ['spiffe://cluster.local/ns/default/sa/sleep', 'cluster.local', '/ns/default/sa/sleep'],
    ['spiffe://example.org', 'example.org', ''],
    ['spiffe://td-1_x.io/a/B.c-d_e', 'td-1_x.io', '/a/B.c-d_e'],
    ['spiffe://td/...a', 'td', '/...a'],
  ])('accepts %s', (text, trustDomain, path) => {
    expect(parseSpiffeId(text)).toEqual({ ok: true, value: { trustDomain, path } });
    expect(formatSpiffeId({ trustDomain, path })).toBe(text);
  });

  it.each([
    ['http://cluster.local/ns/a/sa/b', 'scheme'],
    ['SPIFFE://cluster.local/ns/a/sa/b', 'scheme'],
    ['spiffe:cluster.local/ns/a', 'scheme'],
    ['spiffe://', 'trust domain is empty'],
    ['spiffe:///ns/a/sa/b', 'trust domain is empty'],
    ['spiffe://Cluster.local/ns/a/sa/b', 'lowercase'],
    ['spiffe://cluster.local:8080/ns/a/sa/b', 'port'],
    ['spiffe://user@cluster.local/ns/a/sa/b', 'userinfo'],
    ['spiffe://user:pw@cluster.local/x', 'userinfo'],
    ['spiffe://cluster.local/ns/a/sa/b?x=1', 'query'],
    ['spiffe://cluster.local/ns/a/sa/b#frag', 'fragment'],
    ['spiffe://cluster.local/', 'must not be "/"'],
    ['spiffe://cluster.local/ns/a/', 'must not end with "/"'],
    ['spiffe://cluster.local//ns/a', 'must not be empty'],
    ['spiffe://cluster.local/ns/../sa/b', '"." or ".."'],
    ['spiffe://cluster.local/./x', '"." or ".."'],
    ['spiffe://cluster.local/ns/a%2Fb', 'path characters'],
    ['spiffe://cluster.local/ns/a b', 'path characters'],
    ['spiffe://cluster.local/ns/ä', 'path characters'],
    ['spiffe://clüster.local/x', 'trust domain characters'],
    [`spiffe://${'a'.repeat(256)}/x`, 'longer than 255'],
    [`spiffe://td/${'a'.repeat(2048)}`, 'longer than 2048 bytes'],
  ])('refuses %s (%s)', (text, reason) => {
    const parsed = parseSpiffeId(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(reason);
  });
});

describe('workload identities', () => {
  it('formats and parses spiffe://<td>/ns/<ns>/sa/<sa>', () => {
    const who = identity('bookinfo', 'reviews-v1.sa');
    expect(workloadSpiffeId(who)).toBe('spiffe://cluster.local/ns/bookinfo/sa/reviews-v1.sa');
    expect(parseWorkloadSpiffeId(workloadSpiffeId(who))).toEqual({ ok: true, value: who });
  });

  it.each([
    'spiffe://cluster.local/ns/default',
    'spiffe://cluster.local/ns/default/sa/x/extra',
    'spiffe://cluster.local/sa/x/ns/default',
    'spiffe://cluster.local',
    'spiffe://cluster.local/ns/Default/sa/x',
    'spiffe://cluster.local/ns/default/sa/-x',
  ])('refuses %s as a workload identity', (text) => {
    expect(parseWorkloadSpiffeId(text).ok).toBe(false);
  });

  it.each([
    [identity('default', 'sleep'), undefined],
    [identity('a'.repeat(63), 'sleep'), undefined],
    [identity('a'.repeat(64), 'sleep'), 'namespace'],
    [identity('my_ns', 'sleep'), 'namespace'],
    [identity('default', 'Sleep'), 'service account'],
    [identity('default', 'sleep', 'Cluster.Local'), 'lowercase'],
  ])('checks Kubernetes names: %o', (who, problem) => {
    const found = workloadIdentityProblem(who);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });
});

/** A self-signed certificate with exactly these SANs (or none), to feed spiffeIdOf. */
function certWithSans(names: GeneralName[] | undefined) {
  const keys = generateKeyPair();
  return signCertificate({
    serial: Buffer.of(1), issuerName: nameDer([]), subject: [], notBefore: Date.UTC(2026, 0, 1), notAfter: Date.UTC(2027, 0, 1),
    publicKey: keys.publicKey, signingKey: keys.privateKey,
    extensions: [basicConstraints(false), ...(names === undefined ? [] : [subjectAltName(names, true)])],
  });
}

describe('spiffeIdOf', () => {
  it('reads the URI SAN of an issued SVID, from an X509Certificate and from its raw DER', () => {
    const cert = workloadCert(newCa(), identity('default', 'sleep')).svid.certificate;
    expect(spiffeIdOf(cert)).toBe('spiffe://cluster.local/ns/default/sa/sleep');
    expect(spiffeIdOf({ raw: cert.raw })).toBe('spiffe://cluster.local/ns/default/sa/sleep');
  });

  it.each([
    ['no SAN extension', undefined, undefined],
    ['DNS SAN only', [{ type: 'DNS', value: 'spiffe.example' }], undefined],
    ['a non-SPIFFE URI', [{ type: 'URI', value: 'https://cluster.local/ns/a/sa/b' }], undefined],
    ['an invalid SPIFFE URI', [{ type: 'URI', value: 'spiffe://Cluster.local/ns/a/sa/b' }], undefined],
    ['two URI SANs (X509-SVID allows exactly one)', [{ type: 'URI', value: 'spiffe://td/ns/a/sa/b' }, { type: 'URI', value: 'spiffe://td/ns/c/sa/d' }], undefined],
    ['one SPIFFE URI among DNS names', [{ type: 'DNS', value: 'a.example' }, { type: 'URI', value: 'spiffe://td/ns/a/sa/b' }], 'spiffe://td/ns/a/sa/b'],
    // Node quotes SAN text with ", " in subjectAltName; the DER reader cannot be fooled by a crafted DNS name.
    ['a DNS name that spells a URI SAN', [{ type: 'DNS', value: 'x, URI:spiffe://td/ns/admin/sa/root' }], undefined],
  ] as [string, GeneralName[] | undefined, string | undefined][])('%s → %s', (_, names, expected) => {
    expect(spiffeIdOf(certWithSans(names))).toBe(expected);
  });

  it('lists every URI SAN and gives undefined for unreadable DER', () => {
    const two: GeneralName[] = [{ type: 'URI', value: 'spiffe://td/a' }, { type: 'URI', value: 'spiffe://td/b' }];
    expect(uriSansOf(certWithSans(two))).toEqual(['spiffe://td/a', 'spiffe://td/b']);
    expect(uriSansOf({ raw: Buffer.from('not a certificate') })).toBeUndefined();
    expect(spiffeIdOf({ raw: Buffer.alloc(0) })).toBeUndefined();
  });
});
