// Loads and checks what a Secret holds (its DataSources read from files or inline): a certificate chain
// whose first certificate matches the private key, or trusted CA certificates. Used at config time and on
// every rotation, so a half-written directory is refused rather than served. Errors never quote key material.

import { createPrivateKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { readPemCertificates } from '../../certs/files.ts';
import { fail, ok, type Result } from '../common/result.ts';
import type { DataSourceWire } from '../config/core-schema.ts';
import { readDataSource } from '../tls/data-source.ts';
import type { SecretWire } from './secret-schema.ts';

export interface TlsCertificateMaterial {
  readonly kind: 'tls_certificate';
  /** PEM, as read (workload certificate first). */
  readonly certificateChain: Buffer;
  /** PEM; only ever handed to node:tls. */
  readonly privateKey: Buffer;
  readonly chain: readonly X509Certificate[];
  /** certificate_chain's filename, or '<inline>' (for /certs). */
  readonly chainPath: string;
}

export interface ValidationContextMaterial {
  readonly kind: 'validation_context';
  readonly trustedCa: Buffer;
  readonly cas: readonly X509Certificate[];
  /** trusted_ca's filename, or '<inline>'. */
  readonly caPath: string;
}

export type SecretMaterial = TlsCertificateMaterial | ValidationContextMaterial;

const pathOf = (source: DataSourceWire): string => source.filename ?? '<inline>';

function certificates(pem: Buffer, path: string): Result<X509Certificate[]> {
  const certs = readPemCertificates(pem.toString('utf8'));
  if (!certs.ok) return fail([{ path, kind: 'invalid', message: certs.reason }]);
  if (certs.value.length === 0) return fail([{ path, kind: 'invalid', message: 'holds no PEM certificate' }]);
  return ok(certs.value);
}

/** Reads the secret's sources now; `path` is the secret's config path for errors. */
export function loadSecretMaterial(secret: SecretWire, path: string): Result<SecretMaterial> {
  if (secret.tls_certificate) {
    const at = `${path}.tls_certificate`;
    const { certificate_chain: chainSource, private_key: keySource } = secret.tls_certificate;
    const chainPem = readDataSource(chainSource, `${at}.certificate_chain`);
    const keyPem = readDataSource(keySource, `${at}.private_key`);
    if (!chainPem.ok || !keyPem.ok) return fail([...(chainPem.ok ? [] : chainPem.errors), ...(keyPem.ok ? [] : keyPem.errors)]);
    const chain = certificates(chainPem.value, `${at}.certificate_chain`);
    if (!chain.ok) return chain;
    let key: KeyObject;
    try {
      key = createPrivateKey(keyPem.value);
    } catch {
      return fail([{ path: `${at}.private_key`, kind: 'invalid', message: 'is not a readable PEM private key' }]);
    }
    if (!chain.value[0]!.checkPrivateKey(key)) {
      return fail([{ path: `${at}.private_key`, kind: 'invalid', message: 'does not match the first certificate of certificate_chain' }]);
    }
    return ok({ kind: 'tls_certificate', certificateChain: chainPem.value, privateKey: keyPem.value, chain: chain.value, chainPath: pathOf(chainSource) });
  }
  const at = `${path}.validation_context`;
  const source = secret.validation_context?.trusted_ca;
  if (!source) return fail([{ path: `${at}.trusted_ca`, kind: 'not-implemented', message: 'a validation_context secret needs trusted_ca (nodevoy has no system roots)' }]);
  const pem = readDataSource(source, `${at}.trusted_ca`);
  if (!pem.ok) return pem;
  const cas = certificates(pem.value, `${at}.trusted_ca`);
  if (!cas.ok) return cas;
  return ok({ kind: 'validation_context', trustedCa: pem.value, cas: cas.value, caPath: pathOf(source) });
}

/** Whether two loads hold the same PEMs (a reload or an SDS version that changes nothing rotates nothing). */
export function sameMaterial(a: SecretMaterial, b: SecretMaterial): boolean {
  if (a.kind === 'tls_certificate' && b.kind === 'tls_certificate') return a.certificateChain.equals(b.certificateChain) && a.privateKey.equals(b.privateKey);
  if (a.kind === 'validation_context' && b.kind === 'validation_context') return a.trustedCa.equals(b.trustedCa);
  return false;
}
