// The mesh CA in memory: a self-signed root (CA:true, keyCertSign, pathlen) and, optionally, an
// intermediate that signs workload certificates, as Istio's plugin-CA layout has them (ca-cert signs,
// root-cert anchors). Validity comes from the injected Clock.

import { randomBytes, type KeyObject, type X509Certificate } from 'node:crypto';
import type { Clock } from '../proxy/common/clock.ts';
import { nameDer, signCertificate, type NameAttribute } from './certificate.ts';
import { OID } from './der.ts';
import {
  authorityKeyIdentifier, basicConstraints, keyIdentifier, keyUsage, subjectAltName, subjectKeyIdentifier,
} from './extensions.ts';
import { generateKeyPair, type KeyPair, type KeyType } from './keys.ts';
import { SPIFFE_SCHEME } from './spiffe-id.ts';

export interface CertificateAuthority {
  readonly trustDomain: string;
  /** The trust anchor every workload gets as root-cert.pem. */
  readonly root: X509Certificate;
  /** The certificate that signs workload certificates (ca-cert.pem): the root itself or an intermediate. */
  readonly signingCert: X509Certificate;
  readonly signingKey: KeyObject;
  /** The chain from signingCert up to, not including, the root; [] when the root signs. */
  readonly intermediates: readonly X509Certificate[];
}

const DAY_MS = 86_400_000;
/** Istio's self-signed root lives 10 years (Makefile.selfsigned.mk ROOTCA_DAYS=3650). */
export const ROOT_CA_TTL_MS = 3650 * DAY_MS;
/** Istio's sample intermediate lives 2 years (INTERMEDIATE_DAYS=730). */
export const INTERMEDIATE_CA_TTL_MS = 730 * DAY_MS;

export interface CreateCaOptions {
  readonly trustDomain: string;
  readonly keyType?: KeyType;
  /** Sign workloads with an intermediate under the root (the root key is then not kept). */
  readonly intermediate?: boolean;
  readonly clock: Clock;
}

/** A random positive 128-bit serial number (Istio's genSerialNum uses 128 bits). */
export function randomSerial(): Buffer {
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  serial[0]! |= 0x01; // never zero, never negative, always 16 octets
  return serial;
}

/**
 * A new CA. The root's subject is O=<trust domain> like Istio's self-signed root, and CA certificates carry
 * the trust domain's own SPIFFE ID (spiffe://<td>) as a URI SAN, which is how a CA directory records it.
 */
export function createCa(options: CreateCaOptions): CertificateAuthority {
  const keyType = options.keyType ?? 'ec';
  const rootKeys = generateKeyPair(keyType);
  const rootSubject = caSubject(options.trustDomain, 'nodevoy root CA');
  const root = caCertificate(options, {
    subject: rootSubject, keys: rootKeys, issuerName: nameDer(rootSubject), issuerKey: rootKeys.privateKey,
    ttlMs: ROOT_CA_TTL_MS, pathLen: options.intermediate === true ? 1 : 0,
  });
  if (options.intermediate !== true) {
    return { trustDomain: options.trustDomain, root, signingCert: root, signingKey: rootKeys.privateKey, intermediates: [] };
  }
  const keys = generateKeyPair(keyType);
  const intermediate = caCertificate(options, {
    subject: caSubject(options.trustDomain, 'nodevoy intermediate CA'), keys, issuerName: nameDer(rootSubject),
    issuerKey: rootKeys.privateKey, authorityKeyId: keyIdentifier(rootKeys.publicKey), ttlMs: INTERMEDIATE_CA_TTL_MS, pathLen: 0,
  });
  return { trustDomain: options.trustDomain, root, signingCert: intermediate, signingKey: keys.privateKey, intermediates: [intermediate] };
}

const caSubject = (trustDomain: string, commonName: string): NameAttribute[] =>
  [{ oid: OID.organization, value: trustDomain }, { oid: OID.commonName, value: commonName }];

interface CaCertificateFields {
  readonly subject: readonly NameAttribute[];
  readonly keys: KeyPair;
  readonly issuerName: Buffer;
  readonly issuerKey: KeyObject;
  /** The issuer's key identifier; absent for the self-signed root. */
  readonly authorityKeyId?: Buffer;
  readonly ttlMs: number;
  /** basicConstraints pathLenConstraint: how many intermediates may follow. */
  readonly pathLen: number;
}

function caCertificate(options: CreateCaOptions, fields: CaCertificateFields): X509Certificate {
  const now = options.clock.now();
  return signCertificate({
    serial: randomSerial(), issuerName: fields.issuerName, subject: fields.subject,
    notBefore: now, notAfter: now + fields.ttlMs, publicKey: fields.keys.publicKey, signingKey: fields.issuerKey,
    extensions: [
      basicConstraints(true, fields.pathLen),
      keyUsage(['keyCertSign', 'cRLSign']),
      subjectKeyIdentifier(keyIdentifier(fields.keys.publicKey)),
      ...(fields.authorityKeyId === undefined ? [] : [authorityKeyIdentifier(fields.authorityKeyId)]),
      subjectAltName([{ type: 'URI', value: `${SPIFFE_SCHEME}${options.trustDomain}` }], false),
    ],
  });
}
