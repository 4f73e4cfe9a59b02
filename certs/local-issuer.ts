// One-process issuance of a workload certificate (key pair, CSR, signing policy, SVID) for `nodevoy certs
// issue`, demos and tests. In the mesh the key stays in the proxy and only the CSR goes to the CA service.

import type { Clock } from '../proxy/common/clock.ts';
import type { CertificateAuthority } from './ca.ts';
import { accept, type CertResult } from './cert-result.ts';
import { buildWorkloadCsr } from './csr.ts';
import type { WorkloadFiles } from './files.ts';
import { generateKeyPair, privateKeyPem, type KeyType } from './keys.ts';
import { authorizeCsr } from './signing-policy.ts';
import { workloadSpiffeId, type WorkloadIdentity } from './spiffe-id.ts';
import { issueSvid, type Svid } from './svid.ts';

export interface LocalIssueOptions {
  readonly clock: Clock;
  readonly keyType?: KeyType;
  readonly ttlMs?: number;
}

export interface WorkloadCertificate extends WorkloadFiles {
  readonly svid: Svid;
}

/** Issues `identity` a certificate through the same CSR and policy path the CA service uses. */
export function issueWorkloadCertificate(ca: CertificateAuthority, identity: WorkloadIdentity, options: LocalIssueOptions): CertResult<WorkloadCertificate> {
  const keys = generateKeyPair(options.keyType ?? 'ec');
  const authorized = authorizeCsr({
    csr: buildWorkloadCsr(workloadSpiffeId(identity), keys), provenIdentity: identity, trustDomain: ca.trustDomain,
  });
  if (!authorized.ok) return authorized;
  const svid = issueSvid(ca, authorized.value, options);
  if (!svid.ok) return svid;
  return accept({ svid: svid.value, certChainPem: svid.value.certChainPem, keyPem: privateKeyPem(keys.privateKey), rootCertPem: svid.value.rootCertPem });
}
