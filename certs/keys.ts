// Key pairs and signatures with node:crypto (node-forge cannot sign with ECDSA): ECDSA P-256 by default,
// RSA 2048 on request; the X.509 signature algorithm for a key; the key-strength rule a CSR must meet.
// Private keys are only ever turned into PEM for a 0600 file, never into a message or log line.

import { createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { OID, decode, nullValue, oid, sequence, type Asn1 } from './der.ts';

export type KeyType = 'ec' | 'rsa';
export const KEY_TYPES: readonly KeyType[] = ['ec', 'rsa'];

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** A fresh key pair: ECDSA on P-256 (Istio's ECC option) or RSA 2048 (Istio's default size). */
export function generateKeyPair(type: KeyType = 'ec'): KeyPair {
  return type === 'ec'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
}

/** PKCS#8 PEM, for writing to a 0600 file. */
export const privateKeyPem = (key: KeyObject): string => key.export({ type: 'pkcs8', format: 'pem' }).toString();

export const spkiDer = (key: KeyObject): Buffer => key.export({ type: 'spki', format: 'der' });

/** The public key of a DER SubjectPublicKeyInfo, or undefined if node:crypto cannot read it. */
export function publicKeyFromSpki(der: Buffer): KeyObject | undefined {
  try {
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
}

/** The SubjectPublicKeyInfo of a key as an ASN.1 node, for embedding in a TBSCertificate or CSR. */
export function spkiAsn1(key: KeyObject): Asn1 {
  const decoded = decode(spkiDer(key), 'public key');
  if (!decoded.ok) throw new Error(decoded.reason); // node:crypto's own export: cannot happen
  return decoded.value;
}

interface SignatureAlgorithm {
  readonly oid: string;
  readonly hash: 'sha256' | 'sha384';
  readonly keyType: 'ec' | 'rsa';
}

// RFC 5758 §3.2: ecdsa-with-SHA* carry no parameters; RFC 4055 §5: sha256WithRSAEncryption carries NULL.
const SIGNATURE_ALGORITHMS: readonly SignatureAlgorithm[] = [
  { oid: OID.ecdsaWithSha256, hash: 'sha256', keyType: 'ec' },
  { oid: OID.ecdsaWithSha384, hash: 'sha384', keyType: 'ec' },
  { oid: OID.sha256WithRsaEncryption, hash: 'sha256', keyType: 'rsa' },
];

function algorithmFor(key: KeyObject): SignatureAlgorithm {
  const alg = SIGNATURE_ALGORITHMS.find((a) => a.keyType === key.asymmetricKeyType && a.hash === 'sha256');
  if (alg === undefined) throw new Error(`unsupported signing key type ${key.asymmetricKeyType}`);
  return alg;
}

/** The AlgorithmIdentifier a signature by `signingKey` is declared with. */
export function signatureAlgorithmAsn1(signingKey: KeyObject): Asn1 {
  const alg = algorithmFor(signingKey);
  return sequence(alg.keyType === 'rsa' ? [oid(alg.oid), nullValue()] : [oid(alg.oid)]);
}

/** Signs DER bytes (a TBSCertificate or CertificationRequestInfo); ECDSA signatures are DER (r, s). */
export function signDer(data: Buffer, signingKey: KeyObject): Buffer {
  return sign(algorithmFor(signingKey).hash, data, signingKey);
}

export const isSupportedSignatureAlgorithm = (algorithmOid: string): boolean =>
  SIGNATURE_ALGORITHMS.some((a) => a.oid === algorithmOid);

/** Checks a signature declared with `algorithmOid`; false for an unknown algorithm or a key of another type. */
export function verifyDer(algorithmOid: string, data: Buffer, signature: Buffer, publicKey: KeyObject): boolean {
  const alg = SIGNATURE_ALGORITHMS.find((a) => a.oid === algorithmOid);
  if (alg === undefined || alg.keyType !== publicKey.asymmetricKeyType) return false;
  try {
    return verify(alg.hash, data, publicKey, signature);
  } catch {
    return false;
  }
}

const ALLOWED_CURVES = new Set(['prime256v1', 'secp384r1']);

/** Why a workload key is too weak to certify (RSA under 2048 bits, a curve other than P-256/P-384), if it is. */
export function keyStrengthProblem(key: KeyObject): string | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    return (details.modulusLength ?? 0) >= 2048 ? undefined : `RSA key of ${details.modulusLength} bits (at least 2048 required)`;
  }
  if (key.asymmetricKeyType === 'ec') {
    return ALLOWED_CURVES.has(details.namedCurve ?? '') ? undefined : `EC key on curve ${details.namedCurve} (P-256 or P-384 required)`;
  }
  return `${key.asymmetricKeyType} keys are not supported (ECDSA P-256 or RSA 2048 expected)`;
}
