// On-disk layouts with Istio's file names: the CA directory (the plugin-CA `cacerts` layout: ca-cert.pem,
// ca-key.pem, root-cert.pem, cert-chain.pem; plus nodevoy's bootstrap-token-secret) and a workload's
// certificate directory (/etc/certs: cert-chain.pem, key.pem, root-cert.pem). Secrets are written 0600.

import { createPrivateKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CertificateAuthority } from './ca.ts';
import { accept, refuse, type CertResult } from './cert-result.ts';
import { DEFAULT_TRUST_DOMAIN, parseSpiffeId, trustDomainProblem, uriSansOf } from './spiffe-id.ts';

export const CA_FILES = {
  /** The trust anchor. */
  rootCert: 'root-cert.pem',
  /** The certificate that signs workload certificates (the root, or an intermediate). */
  caCert: 'ca-cert.pem',
  caKey: 'ca-key.pem',
  /** ca-cert.pem and every certificate above it up to and including the root (Istio's Makefile order). */
  certChain: 'cert-chain.pem',
  /** nodevoy: the HMAC secret of bootstrap tokens. */
  tokenSecret: 'bootstrap-token-secret',
} as const;

export const WORKLOAD_FILES = { certChain: 'cert-chain.pem', key: 'key.pem', rootCert: 'root-cert.pem' } as const;

const PUBLIC_MODE = 0o644;
const SECRET_MODE = 0o600;

/** Writes `data` atomically with `mode` (a fresh temporary file renamed over the target). */
function writeFileWithMode(path: string, data: string, mode: number): void {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, data, { mode, flag: 'wx' });
  renameSync(tmp, path);
}

/** Writes a CA directory; refuses to replace an existing CA unless `force`. Returns the paths written. */
export function writeCaDirectory(dir: string, ca: CertificateAuthority, tokenSecret: Buffer, options: { force: boolean }): CertResult<string[]> {
  const existing = [CA_FILES.caCert, CA_FILES.caKey, CA_FILES.rootCert].filter((f) => existsSync(join(dir, f)));
  if (existing.length > 0 && !options.force) {
    return refuse(`${dir} already holds a CA (${existing.join(', ')}); use --force to replace it`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files: [string, string, number][] = [
    [CA_FILES.rootCert, ca.root.toString(), PUBLIC_MODE],
    [CA_FILES.caCert, ca.signingCert.toString(), PUBLIC_MODE],
    [CA_FILES.certChain, [...ca.intermediates, ca.root].map((c) => c.toString()).join(''), PUBLIC_MODE],
    [CA_FILES.caKey, ca.signingKey.export({ type: 'pkcs8', format: 'pem' }).toString(), SECRET_MODE],
    [CA_FILES.tokenSecret, `${tokenSecret.toString('base64')}\n`, SECRET_MODE],
  ];
  for (const [name, data, mode] of files) writeFileWithMode(join(dir, name), data, mode);
  return accept(files.map(([name]) => join(dir, name)));
}

/** The certificates of a PEM bundle, in order. */
export function readPemCertificates(text: string): CertResult<X509Certificate[]> {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  try {
    return accept(blocks.map((b) => new X509Certificate(b)));
  } catch (e) {
    return refuse(`unreadable certificate (${(e as Error).message})`);
  }
}

function readText(dir: string, name: string): CertResult<string> {
  try {
    return accept(readFileSync(join(dir, name), 'utf8'));
  } catch (e) {
    return refuse(`cannot read ${join(dir, name)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function readOneCertificate(dir: string, name: string): CertResult<X509Certificate> {
  const text = readText(dir, name);
  if (!text.ok) return text;
  const certs = readPemCertificates(text.value);
  if (!certs.ok) return refuse(`${name}: ${certs.reason}`);
  return certs.value.length === 0 ? refuse(`${name} holds no certificate`) : accept(certs.value[0]!);
}

/**
 * Loads and checks a CA directory: the key matches ca-cert.pem, each certificate of the chain is a CA
 * issued by the next one, and the chain ends at the self-signed root. The trust domain is the one the root
 * records (its spiffe://<td> URI SAN), else `trustDomain`, else cluster.local (an Istio plugin CA records
 * none); the first two must agree when both exist.
 */
export function readCaDirectory(dir: string, options: { trustDomain?: string } = {}): CertResult<CertificateAuthority> {
  const root = readOneCertificate(dir, CA_FILES.rootCert);
  if (!root.ok) return root;
  const signingCert = readOneCertificate(dir, CA_FILES.caCert);
  if (!signingCert.ok) return signingCert;
  const keyText = readText(dir, CA_FILES.caKey);
  if (!keyText.ok) return keyText;
  let signingKey: KeyObject;
  try {
    signingKey = createPrivateKey(keyText.value);
  } catch {
    return refuse(`${CA_FILES.caKey} is not a PEM private key`); // never echo the file's content
  }
  if (!signingCert.value.checkPrivateKey(signingKey)) return refuse(`${CA_FILES.caKey} does not match ${CA_FILES.caCert}`);
  // Istio's layout: cert-chain.pem may be empty (or missing) when the root signs.
  const chainText = existsSync(join(dir, CA_FILES.certChain)) ? readText(dir, CA_FILES.certChain) : accept('');
  if (!chainText.ok) return chainText;
  const chain = readPemCertificates(chainText.value);
  if (!chain.ok) return refuse(`${CA_FILES.certChain}: ${chain.reason}`);
  const chainProblem = checkChain(signingCert.value, chain.value, root.value);
  if (chainProblem !== undefined) return refuse(chainProblem);
  const intermediates = chainToRoot(signingCert.value, chain.value, root.value);
  const trustDomain = trustDomainOf(root.value, options.trustDomain);
  if (!trustDomain.ok) return trustDomain;
  return accept({ trustDomain: trustDomain.value, root: root.value, signingCert: signingCert.value, signingKey, intermediates });
}

/** The signing certificate and the certificates above it, without the root. */
function chainToRoot(signingCert: X509Certificate, chain: readonly X509Certificate[], root: X509Certificate): X509Certificate[] {
  const above = chain.filter((c) => c.fingerprint256 !== root.fingerprint256 && c.fingerprint256 !== signingCert.fingerprint256);
  return signingCert.fingerprint256 === root.fingerprint256 ? [] : [signingCert, ...above];
}

function checkChain(signingCert: X509Certificate, chain: readonly X509Certificate[], root: X509Certificate): string | undefined {
  if (!root.ca || root.checkIssued(root) !== true || !root.verify(root.publicKey)) return `${CA_FILES.rootCert} is not a self-signed CA certificate`;
  const path = [...chainToRoot(signingCert, chain, root), root];
  for (let i = 0; i < path.length - 1; i++) {
    const cert = path[i]!;
    const issuer = path[i + 1]!;
    if (!cert.ca) return `${i === 0 ? CA_FILES.caCert : `an intermediate in ${CA_FILES.certChain}`} is not a CA certificate`;
    if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) {
      return `${CA_FILES.caCert} does not chain to ${CA_FILES.rootCert} (through ${CA_FILES.certChain})`;
    }
  }
  return undefined;
}

function trustDomainOf(root: X509Certificate, requested: string | undefined): CertResult<string> {
  const recorded = (uriSansOf(root) ?? []).map(parseSpiffeId).find((id) => id.ok && id.value.path === '');
  const fromRoot = recorded?.ok ? recorded.value.trustDomain : undefined;
  if (fromRoot !== undefined && requested !== undefined && fromRoot !== requested) {
    return refuse(`the CA is for trust domain "${fromRoot}", not "${requested}"`);
  }
  const trustDomain = fromRoot ?? requested ?? DEFAULT_TRUST_DOMAIN;
  const problem = trustDomainProblem(trustDomain);
  return problem === undefined ? accept(trustDomain) : refuse(problem);
}

/** The bootstrap-token HMAC secret of a CA directory. */
export function readTokenSecret(dir: string): CertResult<Buffer> {
  const text = readText(dir, CA_FILES.tokenSecret);
  if (!text.ok) return text;
  const secret = Buffer.from(text.value.trim(), 'base64');
  return secret.length >= 32 ? accept(secret) : refuse(`${CA_FILES.tokenSecret} holds fewer than 32 bytes`);
}

export interface WorkloadFiles {
  readonly certChainPem: string;
  readonly keyPem: string;
  readonly rootCertPem: string;
}

/** Writes a workload's certificate directory (key.pem 0600). Returns the paths written. */
export function writeWorkloadFiles(dir: string, files: WorkloadFiles): string[] {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const written: [string, string, number][] = [
    [WORKLOAD_FILES.certChain, files.certChainPem, PUBLIC_MODE],
    [WORKLOAD_FILES.key, files.keyPem, SECRET_MODE],
    [WORKLOAD_FILES.rootCert, files.rootCertPem, PUBLIC_MODE],
  ];
  for (const [name, data, mode] of written) writeFileWithMode(join(dir, name), data, mode);
  return written.map(([name]) => join(dir, name));
}
