// X.509 v3 certificate structure (RFC 5280 §4.1): builds and signs a TBSCertificate (node-forge asn1 for
// the structure, node:crypto for the signature) and reads back the parts node's X509Certificate does not
// expose (the subject Name's DER, the extensions).

import { X509Certificate, type KeyObject } from 'node:crypto';
import { accept, refuse, type CertResult } from './cert-result.ts';
import {
  ASN1_TYPE, bitString, childrenOf, decode, encode, oid, oidOf, sequence, set, smallInteger, tagged,
  taggedChildren, time, unsignedInteger, utf8, type Asn1,
} from './der.ts';
import { extensionAsn1, readExtensions, type Extension } from './extensions.ts';
import { signDer, signatureAlgorithmAsn1, spkiAsn1 } from './keys.ts';

/** One attribute of a distinguished name, e.g. {oid: OID.organization, value: 'cluster.local'}. */
export interface NameAttribute {
  readonly oid: string;
  readonly value: string;
}

/** A Name (RDNSequence) with one attribute per RDN, values as UTF8String, as DER. */
export const nameDer = (attributes: readonly NameAttribute[]): Buffer =>
  encode(sequence(attributes.map((a) => set([sequence([oid(a.oid), utf8(a.value)])]))));

/** The attributes of a Name, in order; undefined when it is not an RDNSequence. */
export function readName(node: Asn1 | undefined): NameAttribute[] | undefined {
  const rdns = childrenOf(node);
  if (rdns === undefined) return undefined;
  const out: NameAttribute[] = [];
  for (const rdn of rdns) {
    for (const atv of childrenOf(rdn, ASN1_TYPE.SET) ?? [undefined]) {
      const [type, value] = childrenOf(atv) ?? [];
      const id = oidOf(type);
      if (id === undefined || value === undefined || typeof value.value !== 'string') return undefined;
      out.push({ oid: id, value: Buffer.from(value.value, 'latin1').toString(value.type === ASN1_TYPE.UTF8 ? 'utf8' : 'latin1') });
    }
  }
  return out;
}

export interface CertificateFields {
  /** Positive serial number, big-endian (RFC 5280 §4.1.2.2: at most 20 octets). */
  readonly serial: Buffer;
  /** The issuer's subject Name, byte for byte (nameDer(...) for a self-signed certificate). */
  readonly issuerName: Buffer;
  readonly subject: readonly NameAttribute[];
  readonly notBefore: number;
  readonly notAfter: number;
  readonly publicKey: KeyObject;
  readonly extensions: readonly Extension[];
  /** The issuer's private key (the certificate's own key when self-signed). */
  readonly signingKey: KeyObject;
}

/** Builds the TBSCertificate, signs it and returns the certificate. */
export function signCertificate(fields: CertificateFields): X509Certificate {
  const issuer = decode(fields.issuerName, 'issuer name');
  if (!issuer.ok) throw new Error(issuer.reason); // the caller passes a Name read from a parsed certificate
  const algorithm = signatureAlgorithmAsn1(fields.signingKey);
  const tbs = encode(sequence([
    tagged(0, [smallInteger(2)]), // version v3
    unsignedInteger(fields.serial),
    algorithm,
    issuer.value,
    sequence([time(fields.notBefore), time(fields.notAfter)]),
    decodeOwn(nameDer(fields.subject)),
    spkiAsn1(fields.publicKey),
    tagged(3, [sequence(fields.extensions.map(extensionAsn1))]),
  ]));
  const signature = signDer(tbs, fields.signingKey);
  return new X509Certificate(encode(sequence([decodeOwn(tbs), algorithm, bitString(signature)])));
}

function decodeOwn(der: Buffer): Asn1 {
  const node = decode(der, 'certificate part');
  if (!node.ok) throw new Error(node.reason); // DER this module just encoded: cannot happen
  return node.value;
}

/** What the CA and the SPIFFE reader need from a certificate beyond node's X509Certificate. */
export interface CertificateParts {
  readonly subjectName: Buffer;
  readonly extensions: readonly Extension[];
}

/** Reads a DER certificate's subject Name and extensions. */
export function readCertificate(der: Buffer): CertResult<CertificateParts> {
  const decoded = decode(der, 'certificate');
  if (!decoded.ok) return decoded;
  const tbs = childrenOf(childrenOf(decoded.value)?.[0]);
  if (tbs === undefined) return refuse('certificate is not a SEQUENCE { TBSCertificate, ... }');
  // [0] version is absent in v1 certificates, shifting the fields after it.
  const at = taggedChildren(tbs[0], 0) === undefined ? 0 : 1;
  const subject = tbs[at + 4];
  if (subject === undefined || readName(subject) === undefined) return refuse('certificate has no readable subject');
  const extensionsNode = tbs.slice(at + 6).find((n) => taggedChildren(n, 3) !== undefined);
  const extensions = readExtensions(childrenOf(taggedChildren(extensionsNode, 3)?.[0]) ?? [], 'certificate');
  if (!extensions.ok) return extensions;
  return accept({ subjectName: encode(subject), extensions: extensions.value });
}

/** The value of extension `id`, if the certificate has it. */
export const extensionValue = (parts: CertificateParts, id: string): Buffer | undefined =>
  parts.extensions.find((e) => e.oid === id)?.value;
