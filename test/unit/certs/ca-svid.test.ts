// The CA and SVID issuance, checked with node's X509Certificate: root and intermediate constraints,
// signatures and issuer links, validity from the injected clock (Istio's 2 min backdate, 24 h default,
// capped by the CA's expiry), the exact URI SAN and Istio's workload extension profile, and refusals.

import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCa, INTERMEDIATE_CA_TTL_MS, ROOT_CA_TTL_MS } from '../../../certs/ca.ts';
import { extensionValue, readCertificate } from '../../../certs/certificate.ts';
import { OID } from '../../../certs/der.ts';
import { readBasicConstraints, readGeneralNames, readKeyUsage, readSubjectKeyIdentifier } from '../../../certs/extensions.ts';
import { generateKeyPair } from '../../../certs/keys.ts';
import { spiffeIdOf } from '../../../certs/spiffe-id.ts';
import { CLOCK_SKEW_GRACE_MS, DEFAULT_SVID_TTL_MS, issueSvid, MAX_SVID_TTL_MS } from '../../../certs/svid.ts';
import { FakeClock } from '../../support/fake-clock.ts';

const START = Date.UTC(2026, 2, 1, 12, 0, 0);
const ID = 'spiffe://cluster.local/ns/default/sa/sleep';

function extensions(cert: X509Certificate) {
  const parts = readCertificate(cert.raw);
  if (!parts.ok) throw new Error(parts.reason);
  const get = (id: string) => parts.value.extensions.find((e) => e.oid === id);
  const value = (id: string) => extensionValue(parts.value, id)!;
  const unwrap = <T>(r: { ok: true; value: T } | { ok: false; reason: string }): T => { if (!r.ok) throw new Error(r.reason); return r.value; };
  return {
    critical: (id: string) => get(id)?.critical,
    basic: () => unwrap(readBasicConstraints(value(OID.basicConstraints))),
    keyUsage: () => [...unwrap(readKeyUsage(value(OID.keyUsage)))].sort(),
    sans: () => unwrap(readGeneralNames(value(OID.subjectAltName))),
    ski: () => readSubjectKeyIdentifier(value(OID.subjectKeyIdentifier))?.toString('hex'),
    aki: () => value(OID.authorityKeyIdentifier).subarray(4).toString('hex'), // SEQUENCE { [0] 20 bytes }
    oids: () => parts.value.extensions.map((e) => e.oid),
  };
}

describe('createCa', () => {
  it.each(['ec', 'rsa'] as const)('makes a self-signed %s root that signs workloads (CA:true, pathlen 0, keyCertSign)', (keyType) => {
    const clock = new FakeClock(START);
    const ca = createCa({ trustDomain: 'cluster.local', keyType, clock });
    expect(ca.signingCert).toBe(ca.root);
    expect(ca.intermediates).toEqual([]);
    expect(ca.root.ca).toBe(true);
    expect(ca.root.checkIssued(ca.root)).toBe(true);
    expect(ca.root.verify(ca.root.publicKey)).toBe(true);
    expect(ca.root.checkPrivateKey(ca.signingKey)).toBe(true);
    expect(ca.root.publicKey.asymmetricKeyType).toBe(keyType);
    expect(ca.root.subject).toBe('O=cluster.local\nCN=nodevoy root CA');
    expect(Date.parse(ca.root.validFrom)).toBe(START);
    expect(Date.parse(ca.root.validTo)).toBe(START + ROOT_CA_TTL_MS);
    const ext = extensions(ca.root);
    expect(ext.basic()).toEqual({ ca: true, pathLen: 0 });
    expect(ext.critical(OID.basicConstraints)).toBe(true);
    expect(ext.keyUsage()).toEqual(['cRLSign', 'keyCertSign']);
    expect(ext.sans()).toEqual([{ type: 'URI', value: 'spiffe://cluster.local' }]);
  });

  it('makes a root (pathlen 1) and an intermediate (pathlen 0) it signed; the intermediate signs workloads', () => {
    const ca = createCa({ trustDomain: 'example.org', intermediate: true, clock: new FakeClock(START) });
    const [intermediate] = ca.intermediates;
    expect(intermediate).toBe(ca.signingCert);
    expect(ca.signingCert.ca).toBe(true);
    expect(ca.signingCert.checkIssued(ca.root)).toBe(true);
    expect(ca.signingCert.verify(ca.root.publicKey)).toBe(true);
    expect(ca.signingCert.checkPrivateKey(ca.signingKey)).toBe(true);
    expect(ca.root.checkPrivateKey(ca.signingKey)).toBe(false);
    expect(Date.parse(ca.signingCert.validTo)).toBe(START + INTERMEDIATE_CA_TTL_MS);
    expect(extensions(ca.root).basic()).toEqual({ ca: true, pathLen: 1 });
    const ext = extensions(ca.signingCert);
    expect(ext.basic()).toEqual({ ca: true, pathLen: 0 });
    expect(ext.aki()).toBe(extensions(ca.root).ski());
  });
});

describe('issueSvid', () => {
  it.each([false, true])('signs a 24 h SVID with Istio\'s workload profile (intermediate %s)', (intermediate) => {
    const clock = new FakeClock(START);
    const ca = createCa({ trustDomain: 'cluster.local', intermediate, clock });
    clock.advance(5_000);
    const keys = generateKeyPair();
    const issued = issueSvid(ca, { spiffeId: ID, publicKey: keys.publicKey }, { clock });
    if (!issued.ok) throw new Error(issued.reason);
    const svid = issued.value;
    const cert = svid.certificate;
    expect(cert.verify(ca.signingCert.publicKey)).toBe(true);
    expect(cert.checkIssued(ca.signingCert)).toBe(true);
    expect(cert.checkPrivateKey(keys.privateKey)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.subject ?? '').toBe('');
    expect(cert.subjectAltName).toBe(`URI:${ID}`);
    expect(spiffeIdOf(cert)).toBe(ID);
    expect(Date.parse(cert.validFrom)).toBe(START + 5_000 - CLOCK_SKEW_GRACE_MS);
    expect(Date.parse(cert.validTo)).toBe(START + 5_000 + DEFAULT_SVID_TTL_MS);
    expect([svid.notBefore, svid.notAfter]).toEqual([Date.parse(cert.validFrom), Date.parse(cert.validTo)]);
    expect(cert.keyUsage?.sort()).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']); // serverAuth, clientAuth
    const ext = extensions(cert);
    expect(ext.basic()).toEqual({ ca: false, pathLen: undefined });
    expect(ext.critical(OID.basicConstraints)).toBe(true);
    expect(ext.keyUsage()).toEqual(['digitalSignature', 'keyEncipherment']);
    expect(ext.sans()).toEqual([{ type: 'URI', value: ID }]);
    expect(ext.critical(OID.subjectAltName)).toBe(true); // RFC 5280: empty subject
    expect(ext.aki()).toBe(extensions(ca.signingCert).ski());
    expect(ext.ski()).toHaveLength(40);
    expect(svid.rootCertPem).toBe(ca.root.toString());
    const chain = svid.certChainPem.match(/-----BEGIN CERTIFICATE-----/g) ?? [];
    expect(chain).toHaveLength(intermediate ? 2 : 1);
    expect(svid.certChainPem.startsWith(cert.toString())).toBe(true);
  });

  it('gives each certificate a fresh random positive serial', () => {
    const clock = new FakeClock(START);
    const ca = createCa({ trustDomain: 'cluster.local', clock });
    const serials = new Set(Array.from({ length: 20 }, () => {
      const r = issueSvid(ca, { spiffeId: ID, publicKey: generateKeyPair().publicKey }, { clock });
      if (!r.ok) throw new Error(r.reason);
      return r.value.certificate.serialNumber;
    }));
    expect(serials.size).toBe(20);
    for (const s of serials) expect(s).toMatch(/^[0-7][0-9A-F]{31}$/);
  });

  it('uses the requested lifetime and cuts it at the CA certificate\'s expiry', () => {
    const clock = new FakeClock(START);
    const ca = createCa({ trustDomain: 'cluster.local', intermediate: true, clock });
    const short = issueSvid(ca, { spiffeId: ID, publicKey: generateKeyPair().publicKey }, { clock, ttlMs: 60_000 });
    expect(short.ok && short.value.notAfter).toBe(START + 60_000);
    clock.advance(INTERMEDIATE_CA_TTL_MS - 3_600_000);
    const capped = issueSvid(ca, { spiffeId: ID, publicKey: generateKeyPair().publicKey }, { clock });
    expect(capped.ok && capped.value.notAfter).toBe(Date.parse(ca.signingCert.validTo));
    clock.advance(3_600_000);
    expect(issueSvid(ca, { spiffeId: ID, publicKey: generateKeyPair().publicKey }, { clock }))
      .toEqual({ ok: false, reason: expect.stringContaining('CA certificate expired') });
  });

  it.each([
    ['a lifetime over 90 days', ID, generateKeyPair().publicKey, MAX_SVID_TTL_MS + 1, 'lifetime'],
    ['a lifetime under 1 s', ID, generateKeyPair().publicKey, 999, 'lifetime'],
    ['another trust domain', 'spiffe://evil.org/ns/default/sa/sleep', generateKeyPair().publicKey, undefined, 'trust domain "evil.org"'],
    ['an invalid SPIFFE ID', 'spiffe://cluster.local/ns/../sa/x', generateKeyPair().publicKey, undefined, 'not a SPIFFE ID'],
    ['an RSA 1024 key', ID, generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey, undefined, 'RSA key of 1024 bits'],
    ['a secp256k1 key', ID, generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey, undefined, 'curve secp256k1'],
    ['an Ed25519 key', ID, generateKeyPairSync('ed25519').publicKey, undefined, 'ed25519 keys are not supported'],
  ])('refuses %s', (_, spiffeId, publicKey, ttlMs, reason) => {
    const clock = new FakeClock(START);
    const ca = createCa({ trustDomain: 'cluster.local', clock });
    const r = issueSvid(ca, { spiffeId, publicKey }, { clock, ...(ttlMs === undefined ? {} : { ttlMs }) });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
  });

  it('writes GeneralizedTime for dates from 2050 (RFC 5280 §4.1.2.5)', () => {
    const clock = new FakeClock(Date.UTC(2049, 11, 31, 12));
    const ca = createCa({ trustDomain: 'cluster.local', clock });
    const r = issueSvid(ca, { spiffeId: ID, publicKey: generateKeyPair().publicKey }, { clock, ttlMs: 2 * 86_400_000 });
    if (!r.ok) throw new Error(r.reason);
    expect(Date.parse(r.value.certificate.validTo)).toBe(Date.UTC(2050, 0, 2, 12));
    expect(r.value.certificate.raw.includes(Buffer.from('20500102120000Z'))).toBe(true);
  });
});
