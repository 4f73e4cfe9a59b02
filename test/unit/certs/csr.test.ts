// PKCS#10 CSRs: what a workload builds (checked by parsing it back, and OpenSSL's own CSR parsed too), and
// the parser's refusals: bad signatures, tampering, another key, non-DER, repeated extensions, CA requests.

import { describe, expect, it } from 'vitest';
import { OID, fromPem } from '../../../certs/der.ts';
import { buildCsr, buildWorkloadCsr, parseCsr } from '../../../certs/csr.ts';
import { basicConstraints, keyUsage, subjectAltName } from '../../../certs/extensions.ts';
import { generateKeyPair, spkiDer } from '../../../certs/keys.ts';

const ID = 'spiffe://cluster.local/ns/default/sa/sleep';

/** `openssl req -new -newkey ec ... -subj /O=cluster.local -addext subjectAltName=critical,URI:... -addext basicConstraints=critical,CA:FALSE` */
const OPENSSL_CSR = `-----BEGIN CERTIFICATE REQUEST-----
MIIBLjCB1QIBADAYMRYwFAYDVQQKDA1jbHVzdGVyLmxvY2FsMFkwEwYHKoZIzj0C
AQYIKoZIzj0DAQcDQgAE4NPZoD4mQzbpfVmpogCi7utb9U6ATmc11ItcWiqFxGPk
41WC0KUV2n8wEQ/cLZSKv5nBwt4Lh001W8zZJbAuWaBbMFkGCSqGSIb3DQEJDjFM
MEowOgYDVR0RAQH/BDAwLoYsc3BpZmZlOi8vY2x1c3Rlci5sb2NhbC9ucy9kZWZh
dWx0L3NhL2h0dHBiaW4wDAYDVR0TAQH/BAIwADAKBggqhkjOPQQDAgNIADBFAiBw
ib/lHOLZDKHuT+1VWXtcCmmVO3S0z/FtVA377NRLYQIhAN5NAiwWQ8O0iP/OGNnM
sErr2FYps208muOoQznx+pKW
-----END CERTIFICATE REQUEST-----
`;

const der = (pem: string): Buffer => {
  const r = fromPem(pem, 'CERTIFICATE REQUEST');
  if (!r.ok) throw new Error(r.reason);
  return r.value;
};

function refusal(input: string | Buffer): string {
  const r = parseCsr(input);
  if (r.ok) throw new Error('expected a refusal');
  return r.reason;
}

describe('buildWorkloadCsr → parseCsr', () => {
  it.each(['ec', 'rsa'] as const)('round-trips a %s workload CSR: empty subject, one URI SAN, no CA request', (keyType) => {
    const keys = generateKeyPair(keyType);
    const pem = buildWorkloadCsr(ID, keys);
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE REQUEST-----\n$/);
    const parsed = parseCsr(pem);
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(parsed.value.subject).toEqual([]);
    expect(parsed.value.subjectAltNames).toEqual([{ type: 'URI', value: ID }]);
    expect(parsed.value.requestsCa).toBe(false);
    expect(parsed.value.extensions.map((e) => [e.oid, e.critical])).toEqual([[OID.subjectAltName, true]]);
    expect(spkiDer(parsed.value.publicKey).equals(spkiDer(keys.publicKey))).toBe(true);
    expect(parseCsr(der(pem)).ok).toBe(true); // DER accepted too
  });

  it('parses a CSR made by OpenSSL', () => {
    const parsed = parseCsr(OPENSSL_CSR);
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(parsed.value.subject).toEqual([{ oid: OID.organization, value: 'cluster.local' }]);
    expect(parsed.value.subjectAltNames).toEqual([{ type: 'URI', value: 'spiffe://cluster.local/ns/default/sa/httpbin' }]);
    expect(parsed.value.requestsCa).toBe(false);
    expect(parsed.value.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('reads every SAN type and CA requests', () => {
    const keys = generateKeyPair();
    const csr = buildCsr({ keys, extensions: [
      subjectAltName([{ type: 'URI', value: ID }, { type: 'DNS', value: 'a.example' }, { type: 'IP', value: '10.0.0.1' }, { type: 'EMAIL', value: 'a@b.c' }], false),
      basicConstraints(true),
    ] });
    const parsed = parseCsr(csr);
    expect(parsed.ok && parsed.value.subjectAltNames).toEqual([
      { type: 'URI', value: ID }, { type: 'DNS', value: 'a.example' }, { type: 'IP', value: '10.0.0.1' }, { type: 'EMAIL', value: 'a@b.c' },
    ]);
    expect(parsed.ok && parsed.value.requestsCa).toBe(true);
    expect(parseCsr(buildCsr({ keys, extensions: [keyUsage(['digitalSignature', 'keyCertSign'])] })))
      .toMatchObject({ ok: true, value: { requestsCa: true } });
  });
});

describe('parseCsr refuses', () => {
  it('a CSR whose signed content was altered (one byte of the SAN)', () => {
    const bytes = Buffer.from(der(buildWorkloadCsr(ID, generateKeyPair())));
    const at = bytes.indexOf('sa/sleep');
    bytes[at + 3] = 'k'.charCodeAt(0); // sa/kleep
    expect(refusal(bytes)).toBe('CSR signature does not verify with the public key it carries');
  });

  it('a CSR signed by a key other than the one it carries', () => {
    const a = generateKeyPair();
    const b = generateKeyPair();
    const csr = buildCsr({ keys: { privateKey: a.privateKey, publicKey: b.publicKey }, extensions: [subjectAltName([{ type: 'URI', value: ID }], true)] });
    expect(refusal(csr)).toBe('CSR signature does not verify with the public key it carries');
  });

  it.each(['ec', 'rsa'] as const)('a %s CSR whose signature bits were flipped', (keyType) => {
    const bytes = Buffer.from(der(buildWorkloadCsr(ID, generateKeyPair(keyType))));
    bytes[bytes.length - 5]! ^= 0x01;
    expect(refusal(bytes)).toMatch(/signature does not verify|not valid DER/);
  });

  it.each([
    ['text that is not PEM', 'hello', 'no PEM CERTIFICATE REQUEST block'],
    ['a PEM certificate instead of a CSR', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'no PEM CERTIFICATE REQUEST block'],
    ['bytes that are not DER', Buffer.from('garbage bytes'), 'not valid DER'],
    ['DER with trailing bytes', Buffer.concat([der(buildWorkloadCsr(ID, generateKeyPair())), Buffer.of(0)]), 'not valid DER'],
    ['an empty SEQUENCE', Buffer.of(0x30, 0x00), 'not a PKCS#10 CertificationRequest'],
  ])('%s', (_, input, reason) => {
    expect(refusal(input)).toContain(reason);
  });

  it('BER (a long-form length where DER needs the short form)', () => {
    const bytes = der(buildWorkloadCsr(ID, generateKeyPair()));
    // 30 82 LL LL → 30 83 00 LL LL: the same length, not minimally encoded.
    expect(bytes[1]).toBe(0x82);
    const ber = Buffer.concat([Buffer.of(0x30, 0x83, 0x00), bytes.subarray(2)]);
    expect(refusal(ber)).toBe("CSR is not DER (it does not re-encode to the same bytes)");
  });

  it('a repeated extension', () => {
    const san = subjectAltName([{ type: 'URI', value: ID }], true);
    expect(refusal(buildCsr({ keys: generateKeyPair(), extensions: [san, san] }))).toContain(`repeats extension ${OID.subjectAltName}`);
  });

  it('an unsupported signature algorithm (ecdsa-with-SHA512)', () => {
    const bytes = Buffer.from(der(buildWorkloadCsr(ID, generateKeyPair())));
    const sha256Oid = Buffer.from('06082a8648ce3d040302', 'hex');
    bytes[bytes.lastIndexOf(sha256Oid) + sha256Oid.length - 1] = 0x04;
    expect(refusal(bytes)).toBe('CSR signature algorithm 1.2.840.10045.4.3.4 is not supported');
  });

  it('a CSR declaring another hash than it was signed with (ecdsa-with-SHA384 over a SHA-256 signature)', () => {
    const bytes = Buffer.from(der(buildWorkloadCsr(ID, generateKeyPair('ec'))));
    const sha256Oid = Buffer.from('06082a8648ce3d040302', 'hex');
    bytes[bytes.lastIndexOf(sha256Oid) + sha256Oid.length - 1] = 0x03;
    expect(refusal(bytes)).toBe('CSR signature does not verify with the public key it carries');
  });
});
