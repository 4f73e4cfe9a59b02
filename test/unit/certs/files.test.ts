// CA and workload directories with Istio's file names: what is written (and with which modes), that a
// written CA loads back and signs, that an existing CA is not replaced without force, and that a broken
// or foreign directory is refused with a reason that never shows key material.

import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateTokenSecret } from '../../../certs/bootstrap-token.ts';
import { CA_FILES, readCaDirectory, readTokenSecret, writeCaDirectory, writeWorkloadFiles } from '../../../certs/files.ts';
import { identity, newCa, workloadCert } from './fixtures.ts';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'nodevoy-certs-'));
  dirs.push(d);
  return d;
}

const mode = (path: string): number => statSync(path).mode & 0o777;
const pemCount = (path: string): number => (readFileSync(path, 'utf8').match(/BEGIN CERTIFICATE/g) ?? []).length;

function load(dir: string, options: { trustDomain?: string } = {}) {
  const r = readCaDirectory(dir, options);
  if (!r.ok) throw new Error(r.reason);
  return r.value;
}

describe('CA directory', () => {
  it.each([false, true])('writes Istio\'s plugin-CA files (intermediate %s) and loads them back', (intermediate) => {
    const dir = join(tempDir(), 'cacerts');
    const ca = newCa({ intermediate, trustDomain: 'example.org' });
    const secret = generateTokenSecret();
    const written = writeCaDirectory(dir, ca, secret, { force: false });
    expect(written).toEqual({ ok: true, value: ['root-cert.pem', 'ca-cert.pem', 'cert-chain.pem', 'ca-key.pem', 'bootstrap-token-secret'].map((f) => join(dir, f)) });
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, CA_FILES.caKey))).toBe(0o600);
    expect(mode(join(dir, CA_FILES.tokenSecret))).toBe(0o600);
    expect(mode(join(dir, CA_FILES.rootCert)) & 0o622).toBe(0o600); // owner-writable, nobody else may write
    expect(pemCount(join(dir, CA_FILES.certChain))).toBe(intermediate ? 2 : 1);
    const loaded = load(dir);
    expect(loaded.trustDomain).toBe('example.org');
    expect(loaded.root.fingerprint256).toBe(ca.root.fingerprint256);
    expect(loaded.signingCert.fingerprint256).toBe(ca.signingCert.fingerprint256);
    expect(loaded.intermediates.map((c) => c.fingerprint256)).toEqual(ca.intermediates.map((c) => c.fingerprint256));
    expect(loaded.signingCert.checkPrivateKey(loaded.signingKey)).toBe(true);
    expect(readTokenSecret(dir)).toEqual({ ok: true, value: secret });
    // The loaded CA issues certificates that chain to the root.
    const cert = workloadCert(loaded, identity('default', 'sleep', 'example.org')).svid.certificate;
    expect(cert.verify(ca.signingCert.publicKey)).toBe(true);
  });

  it('refuses to replace an existing CA unless forced', () => {
    const dir = tempDir();
    const first = newCa();
    writeCaDirectory(dir, first, generateTokenSecret(), { force: false });
    const again = writeCaDirectory(dir, newCa(), generateTokenSecret(), { force: false });
    expect(again).toEqual({ ok: false, reason: `${dir} already holds a CA (ca-cert.pem, ca-key.pem, root-cert.pem); use --force to replace it` });
    expect(load(dir).root.fingerprint256).toBe(first.root.fingerprint256);
    const second = newCa();
    expect(writeCaDirectory(dir, second, generateTokenSecret(), { force: true }).ok).toBe(true);
    expect(load(dir).root.fingerprint256).toBe(second.root.fingerprint256);
    expect(mode(join(dir, CA_FILES.caKey))).toBe(0o600);
  });

  it('accepts Istio\'s layout where the root signs and cert-chain.pem is empty or missing', () => {
    const dir = tempDir();
    writeCaDirectory(dir, newCa(), generateTokenSecret(), { force: false });
    writeFileSync(join(dir, CA_FILES.certChain), '');
    expect(load(dir).intermediates).toEqual([]);
    rmSync(join(dir, CA_FILES.certChain));
    expect(load(dir).intermediates).toEqual([]);
  });

  it('takes the trust domain from the root, and refuses a different one', () => {
    const dir = tempDir();
    writeCaDirectory(dir, newCa({ trustDomain: 'example.org' }), generateTokenSecret(), { force: false });
    expect(load(dir, { trustDomain: 'example.org' }).trustDomain).toBe('example.org');
    expect(readCaDirectory(dir, { trustDomain: 'cluster.local' })).toEqual({ ok: false, reason: 'the CA is for trust domain "example.org", not "cluster.local"' });
  });

  it.each([
    ['a missing ca-key.pem', (dir: string) => rmSync(join(dir, CA_FILES.caKey)), /cannot read .*ca-key.pem: ENOENT/],
    ['a ca-key.pem that is not a key', (dir: string) => writeFileSync(join(dir, CA_FILES.caKey), 'secret-ish text'), /^ca-key.pem is not a PEM private key$/],
    ['a key of another CA', (dir: string) => writeFileSync(join(dir, CA_FILES.caKey), newCa().signingKey.export({ type: 'pkcs8', format: 'pem' })), /ca-key.pem does not match ca-cert.pem/],
    ['a root that did not issue ca-cert.pem', (dir: string) => {
      const other = newCa();
      writeFileSync(join(dir, CA_FILES.rootCert), other.root.toString());
      writeFileSync(join(dir, CA_FILES.certChain), '');
    }, /does not chain to root-cert.pem/],
    ['a root-cert.pem that is not a certificate', (dir: string) => writeFileSync(join(dir, CA_FILES.rootCert), 'nope'), /root-cert.pem holds no certificate/],
    ['a workload certificate as the signing CA', (dir: string) => {
      const ca = newCa();
      const leaf = workloadCert(ca, identity('default', 'sleep'));
      writeFileSync(join(dir, CA_FILES.rootCert), ca.root.toString());
      writeFileSync(join(dir, CA_FILES.caCert), leaf.svid.certificate.toString());
      writeFileSync(join(dir, CA_FILES.caKey), leaf.keyPem);
      writeFileSync(join(dir, CA_FILES.certChain), '');
    }, /^ca-cert.pem is not a CA certificate$/],
  ])('refuses %s', (_, breakIt, reason) => {
    const dir = tempDir();
    writeCaDirectory(dir, newCa({ intermediate: true }), generateTokenSecret(), { force: false });
    breakIt(dir);
    const r = readCaDirectory(dir);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toMatch(reason);
      expect(r.reason).not.toMatch(/PRIVATE KEY|secret-ish/);
    }
  });

  it('refuses a missing or short bootstrap-token secret', () => {
    const dir = tempDir();
    writeCaDirectory(dir, newCa(), generateTokenSecret(), { force: false });
    writeFileSync(join(dir, CA_FILES.tokenSecret), Buffer.alloc(8).toString('base64'));
    expect(readTokenSecret(dir)).toEqual({ ok: false, reason: 'bootstrap-token-secret holds fewer than 32 bytes' });
    rmSync(join(dir, CA_FILES.tokenSecret));
    expect(readTokenSecret(dir).ok).toBe(false);
  });
});

describe('workload directory', () => {
  it('writes cert-chain.pem, key.pem (0600) and root-cert.pem', () => {
    const dir = join(tempDir(), 'etc-certs');
    const cert = workloadCert(newCa({ intermediate: true }), identity('default', 'sleep'));
    expect(writeWorkloadFiles(dir, cert)).toEqual(['cert-chain.pem', 'key.pem', 'root-cert.pem'].map((f) => join(dir, f)));
    expect(mode(join(dir, 'key.pem'))).toBe(0o600);
    expect(readFileSync(join(dir, 'key.pem'), 'utf8')).toBe(cert.keyPem);
    expect(pemCount(join(dir, 'cert-chain.pem'))).toBe(2);
    expect(readFileSync(join(dir, 'root-cert.pem'), 'utf8')).toBe(cert.rootCertPem);
  });
});
