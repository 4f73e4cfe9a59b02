// GET /certs in Envoy's shape (envoy.admin.v3.Certificates): one entry per secret (static, or SDS in use), its certificates
// as CertificateDetails (path, serial_number, subject_alt_names, days_until_expiration, valid_from,
// expiration_time) under cert_chain (tls_certificate) or ca_cert (validation_context). Never key material.

import type { X509Certificate } from 'node:crypto';
import { parseSubjectAltName } from '../tls/san-matcher.ts';
import type { TlsSecret } from '../secrets/secret-scope.ts';

const DAY_MS = 86_400_000;

/** envoy.admin.v3.SubjectAlternateName: one of uri, dns, ip_address. */
type SubjectAlternateName = { uri: string } | { dns: string } | { ip_address: string };

export interface CertificateDetails {
  readonly path: string;
  /** Lower-case hex, as Envoy prints it. */
  readonly serial_number: string;
  readonly subject_alt_names: readonly SubjectAlternateName[];
  /** uint64 in proto3 JSON: a string. */
  readonly days_until_expiration: string;
  readonly valid_from: string;
  readonly expiration_time: string;
}

export interface Certificates {
  readonly certificates: readonly { readonly ca_cert: readonly CertificateDetails[]; readonly cert_chain: readonly CertificateDetails[] }[];
}

function details(cert: X509Certificate, path: string, nowMs: number): CertificateDetails {
  const sans = parseSubjectAltName(cert.subjectAltName);
  const expiresMs = Date.parse(cert.validTo);
  return {
    path,
    serial_number: cert.serialNumber.toLowerCase(),
    subject_alt_names: [...sans.URI.map((uri) => ({ uri })), ...sans.DNS.map((dns) => ({ dns })), ...sans.IP_ADDRESS.map((ip_address) => ({ ip_address }))],
    days_until_expiration: String(Math.max(0, Math.floor((expiresMs - nowMs) / DAY_MS))),
    valid_from: new Date(Date.parse(cert.validFrom)).toISOString(),
    expiration_time: new Date(expiresMs).toISOString(),
  };
}

/** The loaded certificates of `secrets` (a secret not loaded yet is listed empty). */
export function renderCertificates(secrets: readonly Pick<TlsSecret, 'current'>[], nowMs: number): Certificates {
  return {
    certificates: secrets.map((s) => {
      const m = s.current;
      if (m?.kind === 'tls_certificate') return { ca_cert: [], cert_chain: m.chain.map((c) => details(c, m.chainPath, nowMs)) };
      if (m?.kind === 'validation_context') return { ca_cert: m.cas.map((c) => details(c, m.caPath, nowMs)), cert_chain: [] };
      return { ca_cert: [], cert_chain: [] };
    }),
  };
}
