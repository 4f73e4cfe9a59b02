// The CA's CSR signing policy (pure): a CSR is signed only for the identity its caller proved (ServiceAccount
// token in Kubernetes, bootstrap token locally), in this CA's trust domain, with exactly one SAN (the SPIFFE
// URI) and no CA request. Every refusal has one reason for the CA service's refusal log.

import type { KeyObject } from 'node:crypto';
import { accept, refuse, type CertResult } from './cert-result.ts';
import { parseCsr } from './csr.ts';
import { keyStrengthProblem } from './keys.ts';
import { parseWorkloadSpiffeId, workloadSpiffeId, type WorkloadIdentity } from './spiffe-id.ts';

export interface AuthorizeCsrRequest {
  /** The CSR as sent (PEM, or DER). */
  readonly csr: string | Buffer;
  /** Who the caller proved to be. */
  readonly provenIdentity: WorkloadIdentity;
  /** The CA's trust domain. */
  readonly trustDomain: string;
}

/** What the CA may sign: the caller's own SPIFFE ID and the key the CSR proved possession of. */
export interface AuthorizedCsr {
  readonly spiffeId: string;
  readonly identity: WorkloadIdentity;
  readonly publicKey: KeyObject;
}

/**
 * Decides whether to sign. The CSR's subject is ignored (the certificate's subject is always empty, like
 * Istio's), and so are extensions other than subjectAltName, basicConstraints and keyUsage: the CA writes
 * its own profile rather than copying requested extensions.
 */
export function authorizeCsr(request: AuthorizeCsrRequest): CertResult<AuthorizedCsr> {
  const { provenIdentity, trustDomain } = request;
  if (provenIdentity.trustDomain !== trustDomain) {
    return refuse(`caller's trust domain "${provenIdentity.trustDomain}" is unknown to this CA ("${trustDomain}")`);
  }
  const parsed = parseCsr(request.csr);
  if (!parsed.ok) return parsed;
  const csr = parsed.value;
  if (csr.requestsCa) return refuse('CSR requests a CA certificate (basicConstraints cA or keyUsage keyCertSign/cRLSign)');
  const others = csr.subjectAltNames.filter((n) => n.type !== 'URI');
  if (others.length > 0) {
    return refuse(`CSR requests non-URI SANs (${others.map((n) => `${n.type}:${n.value}`).join(', ')}); only the SPIFFE ID is allowed`);
  }
  if (csr.subjectAltNames.length === 0) return refuse('CSR has no URI SAN (the SPIFFE ID)');
  if (csr.subjectAltNames.length > 1) {
    return refuse(`CSR requests ${csr.subjectAltNames.length} URI SANs (${csr.subjectAltNames.map((n) => n.value).join(', ')}); exactly one is allowed`);
  }
  const requested = csr.subjectAltNames[0]!.value;
  const identity = parseWorkloadSpiffeId(requested);
  if (!identity.ok) return refuse(`CSR URI SAN: ${identity.reason}`);
  if (identity.value.trustDomain !== trustDomain) {
    return refuse(`CSR asks for trust domain "${identity.value.trustDomain}", unknown to this CA ("${trustDomain}")`);
  }
  const proven = workloadSpiffeId(provenIdentity);
  if (requested !== proven) return refuse(`CSR asks for ${requested} but the caller proved ${proven}`);
  const weak = keyStrengthProblem(csr.publicKey);
  if (weak !== undefined) return refuse(`CSR key refused: ${weak}`);
  return accept({ spiffeId: requested, identity: identity.value, publicKey: csr.publicKey });
}
