// The CA's CSR signing policy: a workload gets its own identity signed, and every other request is refused
// with a reason for the refusal log: someone else's identity, an unknown trust domain, extra or non-URI
// SANs, several URIs, a CA certificate, a forged or tampered CSR, a weak key, garbage.

import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildCsr, buildWorkloadCsr } from '../../../certs/csr.ts';
import { fromPem, toPem } from '../../../certs/der.ts';
import { basicConstraints, keyUsage, subjectAltName, type GeneralName } from '../../../certs/extensions.ts';
import { generateKeyPair, spkiDer, type KeyPair } from '../../../certs/keys.ts';
import { authorizeCsr } from '../../../certs/signing-policy.ts';
import { identity, TD } from './fixtures.ts';

const SLEEP = identity('default', 'sleep');
const SLEEP_ID = 'spiffe://cluster.local/ns/default/sa/sleep';

const csrWith = (names: GeneralName[], extra = [] as ReturnType<typeof basicConstraints>[], keys: KeyPair = generateKeyPair()): string =>
  buildCsr({ keys, extensions: [...(names.length === 0 ? [] : [subjectAltName(names, true)]), ...extra] });

function tampered(pem: string): string {
  const r = fromPem(pem, 'CERTIFICATE REQUEST');
  if (!r.ok) throw new Error(r.reason);
  const bytes = Buffer.from(r.value);
  const at = bytes.indexOf('sa/sleep');
  bytes[at + 3] = 'k'.charCodeAt(0);
  return toPem('CERTIFICATE REQUEST', bytes);
}

describe('authorizeCsr', () => {
  it.each(['ec', 'rsa'] as const)('signs the identity the caller proved (%s key)', (keyType) => {
    const keys = generateKeyPair(keyType);
    const r = authorizeCsr({ csr: buildWorkloadCsr(SLEEP_ID, keys), provenIdentity: SLEEP, trustDomain: TD });
    if (!r.ok) throw new Error(r.reason);
    expect(r.value.spiffeId).toBe(SLEEP_ID);
    expect(r.value.identity).toEqual(SLEEP);
    expect(spkiDer(r.value.publicKey).equals(spkiDer(keys.publicKey))).toBe(true);
  });

  it('ignores the requested subject (the certificate\'s subject is always empty)', () => {
    const csr = buildCsr({ keys: generateKeyPair(), subject: [{ oid: '2.5.4.3', value: 'admin' }], extensions: [subjectAltName([{ type: 'URI', value: SLEEP_ID }], true)] });
    expect(authorizeCsr({ csr, provenIdentity: SLEEP, trustDomain: TD }).ok).toBe(true);
  });

  it.each([
    ['another service account', () => buildWorkloadCsr('spiffe://cluster.local/ns/default/sa/admin', generateKeyPair()),
      'CSR asks for spiffe://cluster.local/ns/default/sa/admin but the caller proved spiffe://cluster.local/ns/default/sa/sleep'],
    ['another namespace', () => buildWorkloadCsr('spiffe://cluster.local/ns/kube-system/sa/sleep', generateKeyPair()),
      'CSR asks for spiffe://cluster.local/ns/kube-system/sa/sleep but the caller proved'],
    ['an unknown trust domain', () => buildWorkloadCsr('spiffe://evil.org/ns/default/sa/sleep', generateKeyPair()),
      'CSR asks for trust domain "evil.org", unknown to this CA ("cluster.local")'],
    ['a non-workload SPIFFE ID', () => buildWorkloadCsr('spiffe://cluster.local/admin', generateKeyPair()), 'is not a workload identity'],
    ['the trust domain itself', () => buildWorkloadCsr('spiffe://cluster.local', generateKeyPair()), 'is not a workload identity'],
    ['a URI that is not a SPIFFE ID', () => csrWith([{ type: 'URI', value: 'https://cluster.local/ns/default/sa/sleep' }]), 'is not a SPIFFE ID'],
    ['an extra DNS SAN', () => csrWith([{ type: 'URI', value: SLEEP_ID }, { type: 'DNS', value: 'api.example.com' }]), 'non-URI SANs (DNS:api.example.com)'],
    ['an extra IP SAN', () => csrWith([{ type: 'URI', value: SLEEP_ID }, { type: 'IP', value: '10.0.0.1' }]), 'non-URI SANs (IP:10.0.0.1)'],
    ['an extra email SAN', () => csrWith([{ type: 'URI', value: SLEEP_ID }, { type: 'EMAIL', value: 'root@example.com' }]), 'non-URI SANs (EMAIL:root@example.com)'],
    ['a DNS SAN only', () => csrWith([{ type: 'DNS', value: 'sleep.default.svc' }]), 'non-URI SANs (DNS:sleep.default.svc)'],
    ['two URI SANs', () => csrWith([{ type: 'URI', value: SLEEP_ID }, { type: 'URI', value: 'spiffe://cluster.local/ns/default/sa/admin' }]), 'requests 2 URI SANs'],
    ['the same URI SAN twice', () => csrWith([{ type: 'URI', value: SLEEP_ID }, { type: 'URI', value: SLEEP_ID }]), 'requests 2 URI SANs'],
    ['no SAN', () => csrWith([]), 'CSR has no URI SAN'],
    ['a CA certificate (basicConstraints cA)', () => csrWith([{ type: 'URI', value: SLEEP_ID }], [basicConstraints(true, 0)]), 'requests a CA certificate'],
    ['certificate signing (keyUsage keyCertSign)', () => csrWith([{ type: 'URI', value: SLEEP_ID }], [keyUsage(['digitalSignature', 'keyCertSign'])]), 'requests a CA certificate'],
    ['a tampered CSR (invalid signature)', () => tampered(buildWorkloadCsr(SLEEP_ID, generateKeyPair())), 'CSR signature does not verify'],
    ['a CSR signed by another key', () => {
      const a = generateKeyPair();
      return buildWorkloadCsr(SLEEP_ID, { privateKey: a.privateKey, publicKey: generateKeyPair().publicKey });
    }, 'CSR signature does not verify'],
    ['a weak RSA 1024 key', () => buildWorkloadCsr(SLEEP_ID, generateKeyPairSync('rsa', { modulusLength: 1024 })), 'RSA key of 1024 bits'],
    ['garbage', () => 'not a CSR', 'no PEM CERTIFICATE REQUEST block'],
  ])('refuses %s', (_, csr, reason) => {
    const r = authorizeCsr({ csr: csr(), provenIdentity: SLEEP, trustDomain: TD });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
  });

  it('refuses a caller whose proven identity is in another trust domain, even for a matching CSR', () => {
    const other = identity('default', 'sleep', 'other.org');
    const r = authorizeCsr({ csr: buildWorkloadCsr('spiffe://other.org/ns/default/sa/sleep', generateKeyPair()), provenIdentity: other, trustDomain: TD });
    expect(r).toEqual({ ok: false, reason: 'caller\'s trust domain "other.org" is unknown to this CA ("cluster.local")' });
  });

  it('never puts key material in a reason', () => {
    const keys = generateKeyPair();
    const r = authorizeCsr({ csr: buildWorkloadCsr('spiffe://cluster.local/ns/default/sa/admin', keys), provenIdentity: SLEEP, trustDomain: TD });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).not.toMatch(/BEGIN|PRIVATE|[A-Za-z0-9+/]{40}/);
  });
});
