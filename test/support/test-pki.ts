// Test certificates for the TLS tests: a CA, leaf certificates (SVIDs with URI SANs, DNS/IP SANs) signed by
// it, expired ones, and CAs that nothing trusts. RSA 2048 keys from node:crypto, X.509 built and signed
// with node-forge. To be replaced by certs/ (the project's CA) once its API settles.

import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';

export interface TestCert {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface LeafOptions {
  readonly commonName?: string;
  /** URI SANs, e.g. spiffe://cluster.local/ns/default/sa/frontend. */
  readonly uris?: readonly string[];
  readonly dnsNames?: readonly string[];
  readonly ips?: readonly string[];
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

export interface TestCa extends TestCert {
  issue(opts: LeafOptions): TestCert;
}

const DAY_MS = 86_400_000;

/** One RSA key per process: generating keys dominates the cost, and tests do not need distinct keys per leaf. */
let sharedLeafKey: { pem: string; forge: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } | null = null;

function rsaKey(): { pem: string; forge: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const key = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { pem, forge: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e) };
}

let serial = 1;

function build(subject: string, issuer: forge.pki.CertificateField[] | null, publicKey: forge.pki.PublicKey, signingKey: forge.pki.rsa.PrivateKey,
  extensions: object[], notBefore: Date, notAfter: Date): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = (serial++).toString(16).padStart(2, '0');
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  const name = [{ name: 'commonName', value: subject }];
  cert.setSubject(name);
  cert.setIssuer(issuer ?? name);
  cert.setExtensions(extensions);
  cert.sign(signingKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** A self-signed root CA (valid from yesterday for ten days) that issues leaf certificates. */
export function createTestCa(name: string): TestCa {
  const key = rsaKey();
  const now = Date.now();
  const certPem = build(name, null, key.publicKey, key.forge, [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ], new Date(now - DAY_MS), new Date(now + 10 * DAY_MS));
  return signingAs({ certPem, keyPem: key.pem });
}

/**
 * Leaf certificates signed by `issuer`'s key under its subject. With a CA that is createTestCa; with a
 * workload's own (RSA) certificate it forges what an attacker holding that workload's key could sign.
 */
export function signingAs(issuer: TestCert): TestCa {
  const signingKey = forge.pki.privateKeyFromPem(issuer.keyPem) as forge.pki.rsa.PrivateKey;
  const issuerName = forge.pki.certificateFromPem(issuer.certPem).subject.attributes;
  return {
    ...issuer,
    issue(opts: LeafOptions): TestCert {
      const now = Date.now();
      sharedLeafKey ??= rsaKey();
      const altNames = [
        ...(opts.uris ?? []).map((value) => ({ type: 6, value })),
        ...(opts.dnsNames ?? []).map((value) => ({ type: 2, value })),
        ...(opts.ips ?? []).map((ip) => ({ type: 7, ip })),
      ];
      const pem = build(opts.commonName ?? 'workload', issuerName, sharedLeafKey.publicKey, signingKey, [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
        ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }] : []),
      ], opts.notBefore ?? new Date(now - DAY_MS), opts.notAfter ?? new Date(now + DAY_MS));
      return { certPem: pem, keyPem: sharedLeafKey.pem };
    },
  };
}

/** Istio's SPIFFE identity of a workload's service account. */
export function spiffeId(namespace: string, serviceAccount: string, trustDomain = 'cluster.local'): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** A certificate that expired yesterday (valid the two days before). */
export function expired(ca: TestCa, opts: LeafOptions): TestCert {
  const now = Date.now();
  return ca.issue({ ...opts, notBefore: new Date(now - 3 * DAY_MS), notAfter: new Date(now - DAY_MS) });
}
