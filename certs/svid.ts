// X.509 SVID issuance: the CA signs a workload certificate for an already-authorized SPIFFE ID and public
// key (see signing-policy.ts), with Istio's workload certificate profile and lifetime rules.

import type { KeyObject, X509Certificate } from 'node:crypto';
import type { Clock } from '../proxy/common/clock.ts';
import { randomSerial, type CertificateAuthority } from './ca.ts';
import { accept, refuse, type CertResult } from './cert-result.ts';
import { extensionValue, readCertificate, signCertificate } from './certificate.ts';
import { OID } from './der.ts';
import {
  authorityKeyIdentifier, basicConstraints, extKeyUsage, keyIdentifier, keyUsage, readSubjectKeyIdentifier,
  subjectAltName, subjectKeyIdentifier,
} from './extensions.ts';
import { keyStrengthProblem } from './keys.ts';
import { parseSpiffeId } from './spiffe-id.ts';

/** Istio's workload certificate lifetime (istiod DEFAULT_WORKLOAD_CERT_TTL, agent SECRET_TTL): 24 h. */
export const DEFAULT_SVID_TTL_MS = 24 * 3_600_000;
/** Istio's upper bound on a requested lifetime (istiod MAX_WORKLOAD_CERT_TTL): 90 days. */
export const MAX_SVID_TTL_MS = 90 * 86_400_000;
/** Istio backdates notBefore by this much (pki/util ClockSkewGracePeriod) for clock skew with workloads. */
export const CLOCK_SKEW_GRACE_MS = 2 * 60_000;

export interface SvidRequest {
  readonly spiffeId: string;
  readonly publicKey: KeyObject;
}

export interface IssueSvidOptions {
  readonly clock: Clock;
  /** Lifetime from now; DEFAULT_SVID_TTL_MS when absent. Cut short to the CA certificate's own expiry. */
  readonly ttlMs?: number;
}

export interface Svid {
  readonly certificate: X509Certificate;
  readonly spiffeId: string;
  /** The workload certificate then the intermediates (Istio's cert-chain.pem); not the root. */
  readonly certChainPem: string;
  readonly rootCertPem: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

/** Signs an SVID for `request`, or says why it cannot (bad lifetime, foreign trust domain, weak key, expired CA). */
export function issueSvid(ca: CertificateAuthority, request: SvidRequest, options: IssueSvidOptions): CertResult<Svid> {
  const ttlMs = options.ttlMs ?? DEFAULT_SVID_TTL_MS;
  if (!Number.isFinite(ttlMs) || ttlMs < 1000 || ttlMs > MAX_SVID_TTL_MS) {
    return refuse(`certificate lifetime ${ttlMs} ms is outside 1 s .. ${MAX_SVID_TTL_MS / 86_400_000} days`);
  }
  const id = parseSpiffeId(request.spiffeId);
  if (!id.ok) return id;
  if (id.value.trustDomain !== ca.trustDomain) {
    return refuse(`trust domain "${id.value.trustDomain}" is not this CA's ("${ca.trustDomain}")`);
  }
  const weak = keyStrengthProblem(request.publicKey);
  if (weak !== undefined) return refuse(`key refused: ${weak}`);
  const issuer = readCertificate(ca.signingCert.raw);
  if (!issuer.ok) return refuse(`CA certificate: ${issuer.reason}`);

  const now = options.clock.now();
  const caNotAfter = Date.parse(ca.signingCert.validTo);
  if (now >= caNotAfter) return refuse(`CA certificate expired at ${ca.signingCert.validTo}`);
  const notBefore = now - CLOCK_SKEW_GRACE_MS;
  const notAfter = Math.min(now + ttlMs, caNotAfter);
  const skiValue = extensionValue(issuer.value, OID.subjectKeyIdentifier);
  const authorityKeyId = (skiValue && readSubjectKeyIdentifier(skiValue)) ?? keyIdentifier(ca.signingCert.publicKey);

  const certificate = signCertificate({
    serial: randomSerial(), issuerName: issuer.value.subjectName, subject: [],
    notBefore, notAfter, publicKey: request.publicKey, signingKey: ca.signingKey,
    extensions: [
      // Istio's workload profile (pki/util genCertTemplateFromCSR): not a CA, digitalSignature +
      // keyEncipherment, serverAuth + clientAuth; the identity is the URI SAN alone (empty subject → critical).
      basicConstraints(false),
      keyUsage(['digitalSignature', 'keyEncipherment']),
      extKeyUsage([OID.serverAuth, OID.clientAuth]),
      subjectKeyIdentifier(keyIdentifier(request.publicKey)),
      authorityKeyIdentifier(authorityKeyId),
      subjectAltName([{ type: 'URI', value: request.spiffeId }], true),
    ],
  });
  return accept({
    certificate, spiffeId: request.spiffeId,
    certChainPem: [certificate, ...ca.intermediates].map((c) => c.toString()).join(''),
    rootCertPem: ca.root.toString(),
    notBefore: Date.parse(certificate.validFrom), notAfter: Date.parse(certificate.validTo),
  });
}
