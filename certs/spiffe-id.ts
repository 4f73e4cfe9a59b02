// SPIFFE IDs (spiffe://<trust-domain>/<path>, the SPIFFE-ID spec as go-spiffe enforces it), Istio's workload
// form spiffe://<td>/ns/<namespace>/sa/<service-account>, and spiffeIdOf(): the URI SAN of a peer
// certificate, read from its DER. Node's TLS identity check ignores URI SANs, so SPIFFE matching uses this.

import { accept, refuse, type CertResult } from './cert-result.ts';
import { extensionValue, readCertificate } from './certificate.ts';
import { OID } from './der.ts';
import { readGeneralNames } from './extensions.ts';

export const SPIFFE_SCHEME = 'spiffe://';
/** Istio's default trust domain (MeshConfig trustDomain). */
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

export interface SpiffeId {
  readonly trustDomain: string;
  /** '' for the trust domain's own ID, otherwise '/seg/seg...'. */
  readonly path: string;
}

/** An Istio workload identity: the Kubernetes ServiceAccount a workload runs as. */
export interface WorkloadIdentity {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

const TRUST_DOMAIN_CHARS = /^[a-z0-9._-]+$/;
const PATH_SEGMENT_CHARS = /^[a-zA-Z0-9._-]+$/;
const MAX_ID_BYTES = 2048;
const MAX_TRUST_DOMAIN = 255;

/** Why `text` is not a valid trust domain name, if it is not. */
export function trustDomainProblem(text: string): string | undefined {
  if (text === '') return 'trust domain is empty';
  if (text.length > MAX_TRUST_DOMAIN) return `trust domain is longer than ${MAX_TRUST_DOMAIN} characters`;
  if (text.includes('@')) return 'userinfo is not allowed in a SPIFFE ID';
  if (text.includes(':')) return 'a port is not allowed in a SPIFFE ID';
  if (!TRUST_DOMAIN_CHARS.test(text)) return 'trust domain characters are limited to lowercase letters, digits, ".", "-" and "_"';
  return undefined;
}

/** Parses a SPIFFE ID, refusing anything the SPIFFE-ID spec does not allow. */
export function parseSpiffeId(text: string): CertResult<SpiffeId> {
  const problem = (reason: string): CertResult<SpiffeId> => refuse(`"${text.slice(0, 100)}" is not a SPIFFE ID: ${reason}`);
  if (!text.startsWith(SPIFFE_SCHEME)) return problem('the scheme must be "spiffe://" (lowercase)');
  if (Buffer.byteLength(text) > MAX_ID_BYTES) return problem(`longer than ${MAX_ID_BYTES} bytes`);
  if (text.includes('?')) return problem('a query is not allowed');
  if (text.includes('#')) return problem('a fragment is not allowed');
  const rest = text.slice(SPIFFE_SCHEME.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  const tdProblem = trustDomainProblem(trustDomain);
  if (tdProblem !== undefined) return problem(tdProblem);
  if (path !== '') {
    const segments = path.slice(1).split('/');
    if (segments.at(-1) === '') return problem(path === '/' ? 'an empty path must not be "/"' : 'the path must not end with "/"');
    for (const segment of segments) {
      if (segment === '') return problem('path segments must not be empty');
      if (segment === '.' || segment === '..') return problem('path segments must not be "." or ".."');
      if (!PATH_SEGMENT_CHARS.test(segment)) return problem('path characters are limited to letters, digits, ".", "-" and "_"');
    }
  }
  return accept({ trustDomain, path });
}

export const formatSpiffeId = (id: SpiffeId): string => `${SPIFFE_SCHEME}${id.trustDomain}${id.path}`;

// Kubernetes names: a namespace is a DNS-1123 label, a ServiceAccount name a DNS-1123 subdomain.
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why an identity cannot be certified (bad trust domain, namespace or ServiceAccount name), if it cannot. */
export function workloadIdentityProblem(identity: WorkloadIdentity): string | undefined {
  const td = trustDomainProblem(identity.trustDomain);
  if (td !== undefined) return td;
  if (identity.namespace.length > 63 || !DNS1123_LABEL.test(identity.namespace)) {
    return `namespace "${identity.namespace}" is not a Kubernetes namespace name (DNS-1123 label)`;
  }
  if (identity.serviceAccount.length > 253 || !DNS1123_SUBDOMAIN.test(identity.serviceAccount)) {
    return `service account "${identity.serviceAccount}" is not a Kubernetes name (DNS-1123 subdomain)`;
  }
  return undefined;
}

/** spiffe://<td>/ns/<namespace>/sa/<service-account>. */
export const workloadSpiffeId = (identity: WorkloadIdentity): string =>
  `${SPIFFE_SCHEME}${identity.trustDomain}/ns/${identity.namespace}/sa/${identity.serviceAccount}`;

/** Parses Istio's workload form; any other path is refused. */
export function parseWorkloadSpiffeId(text: string): CertResult<WorkloadIdentity> {
  const id = parseSpiffeId(text);
  if (!id.ok) return id;
  const [ns, namespace, sa, serviceAccount, ...extra] = id.value.path.split('/').slice(1);
  if (ns !== 'ns' || sa !== 'sa' || namespace === undefined || serviceAccount === undefined || extra.length > 0) {
    return refuse(`"${text}" is not a workload identity (spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>)`);
  }
  const identity = { trustDomain: id.value.trustDomain, namespace, serviceAccount };
  const problem = workloadIdentityProblem(identity);
  return problem === undefined ? accept(identity) : refuse(`"${text}": ${problem}`);
}

/**
 * The SPIFFE ID of a certificate (node's X509Certificate, or the PeerCertificate of
 * TLSSocket.getPeerCertificate(), through its raw DER): its URI SAN when it has exactly one URI SAN and
 * that URI is a valid SPIFFE ID (X509-SVID spec §2), otherwise undefined.
 */
export function spiffeIdOf(certificate: { readonly raw: Buffer }): string | undefined {
  const uris = uriSansOf(certificate);
  if (uris === undefined || uris.length !== 1) return undefined;
  return parseSpiffeId(uris[0]!).ok ? uris[0] : undefined;
}

/** Every URI SAN of a certificate, in order; undefined when the DER cannot be read. */
export function uriSansOf(certificate: { readonly raw: Buffer }): string[] | undefined {
  const parts = readCertificate(certificate.raw);
  if (!parts.ok) return undefined;
  const san = extensionValue(parts.value, OID.subjectAltName);
  if (san === undefined) return [];
  const names = readGeneralNames(san);
  return names.ok ? names.value.filter((n) => n.type === 'URI').map((n) => n.value) : undefined;
}
