// X.509 v3 extensions (RFC 5280 §4.2) the CA writes and the CSR policy reads: basicConstraints, keyUsage,
// extKeyUsage, subjectAltName (GeneralNames) and the subject/authority key identifiers.

import { createHash, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { accept, refuse, type CertResult } from './cert-result.ts';
import {
  ASN1_TYPE, OID, bitStringBytes, booleanOf, bytesOf, childrenOf, decode, encode, octetString, oid, oidOf,
  sequence, smallInteger, tagged, toBinary, boolean as booleanAsn1, type Asn1,
} from './der.ts';
import { spkiDer } from './keys.ts';

/** One extension: its OID, criticality and the DER of its extnValue. */
export interface Extension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Buffer;
}

export type GeneralNameType = 'URI' | 'DNS' | 'EMAIL' | 'IP' | 'OTHER';

/** A subjectAltName entry; OTHER covers otherName, directoryName, registeredID and the rest. */
export interface GeneralName {
  readonly type: GeneralNameType;
  readonly value: string;
}

// GeneralName CHOICE tags (RFC 5280 §4.2.1.6).
const TAG_OF: Readonly<Record<Exclude<GeneralNameType, 'OTHER'>, number>> = { EMAIL: 1, DNS: 2, URI: 6, IP: 7 };
const TYPE_OF: Readonly<Record<number, GeneralNameType>> = { 1: 'EMAIL', 2: 'DNS', 6: 'URI', 7: 'IP' };

export type KeyUsage = 'digitalSignature' | 'nonRepudiation' | 'keyEncipherment' | 'dataEncipherment' | 'keyAgreement'
  | 'keyCertSign' | 'cRLSign' | 'encipherOnly' | 'decipherOnly';
/** KeyUsage bit positions, bit 0 first (RFC 5280 §4.2.1.3). */
const KEY_USAGE_BITS: readonly KeyUsage[] = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment',
  'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];

// node-forge has IP <-> bytes helpers that @types/node-forge does not declare.
const ipBytes = forge.util as unknown as { bytesFromIP(ip: string): string | null; bytesToIP(bytes: string): string | null };

const extension = (id: string, critical: boolean, value: Asn1): Extension => ({ oid: id, critical, value: encode(value) });

/** basicConstraints, always critical (RFC 5280 §4.2.1.9 requires it on CA certificates; Go and Istio mark leaves too). */
export function basicConstraints(ca: boolean, pathLen?: number): Extension {
  const fields = ca ? [booleanAsn1(true), ...(pathLen === undefined ? [] : [smallInteger(pathLen)])] : [];
  return extension(OID.basicConstraints, true, sequence(fields));
}

/** keyUsage as a DER BIT STRING (trailing zero bits dropped), critical. */
export function keyUsage(usages: readonly KeyUsage[]): Extension {
  const bits = usages.map((u) => KEY_USAGE_BITS.indexOf(u));
  const length = Math.max(...bits) + 1;
  const bytes = Buffer.alloc(Math.ceil(length / 8));
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  const value = forge.asn1.create(forge.asn1.Class.UNIVERSAL, ASN1_TYPE.BITSTRING, false,
    String.fromCharCode(bytes.length * 8 - length) + toBinary(bytes));
  return extension(OID.keyUsage, true, value);
}

export const extKeyUsage = (purposes: readonly string[]): Extension =>
  extension(OID.extKeyUsage, false, sequence(purposes.map(oid)));

/**
 * subjectAltName. RFC 5280 §4.2.1.6: when the subject is empty the extension MUST be critical, which is
 * the case for SVIDs (their identity is the URI SAN alone).
 */
export function subjectAltName(names: readonly GeneralName[], critical: boolean): Extension {
  return extension(OID.subjectAltName, critical, sequence(names.map((n) => {
    if (n.type === 'OTHER') throw new Error('only URI, DNS, EMAIL and IP names can be written');
    const value = n.type === 'IP' ? ipBytes.bytesFromIP(n.value) : n.value;
    if (value === null) throw new Error(`"${n.value}" is not an IP address`);
    return tagged(TAG_OF[n.type], value);
  })));
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING. */
export function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = decode(spkiDer(publicKey), 'public key');
  const bits = spki.ok ? bitStringBytes(childrenOf(spki.value)?.[1]) : undefined;
  if (bits === undefined) throw new Error('node:crypto exported an unreadable public key'); // cannot happen
  return createHash('sha1').update(bits).digest();
}

export const subjectKeyIdentifier = (id: Buffer): Extension => extension(OID.subjectKeyIdentifier, false, octetString(id));
export const authorityKeyIdentifier = (id: Buffer): Extension =>
  extension(OID.authorityKeyIdentifier, false, sequence([tagged(0, toBinary(id))]));

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }. */
export const extensionAsn1 = (e: Extension): Asn1 =>
  sequence([oid(e.oid), ...(e.critical ? [booleanAsn1(true)] : []), octetString(e.value)]);

/** Reads a SEQUENCE OF Extension, refusing a repeated extension (RFC 5280 §4.2: at most one of each). */
export function readExtensions(nodes: readonly Asn1[], what: string): CertResult<Extension[]> {
  const out: Extension[] = [];
  for (const node of nodes) {
    const fields = childrenOf(node);
    const id = oidOf(fields?.[0]);
    const critical = fields?.length === 3 ? booleanOf(fields[1]) : false;
    const value = bytesOf(fields?.[fields.length - 1], ASN1_TYPE.OCTETSTRING);
    if (fields === undefined || fields.length < 2 || fields.length > 3 || id === undefined || critical === undefined || value === undefined) {
      return refuse(`${what} has a malformed extension`);
    }
    if (out.some((e) => e.oid === id)) return refuse(`${what} repeats extension ${id}`);
    out.push({ oid: id, critical, value });
  }
  return accept(out);
}

/** The names of a subjectAltName value. */
export function readGeneralNames(value: Buffer): CertResult<GeneralName[]> {
  const decoded = decode(value, 'subjectAltName');
  if (!decoded.ok) return decoded;
  const names = childrenOf(decoded.value);
  if (names === undefined || names.length === 0) return refuse('subjectAltName is not a non-empty SEQUENCE of GeneralName');
  return accept(names.map((n): GeneralName => {
    const type = n.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && typeof n.value === 'string' ? TYPE_OF[n.type] : undefined;
    if (type === undefined) return { type: 'OTHER', value: `[${n.type}]` };
    const raw = n.value as string;
    return { type, value: type === 'IP' ? ipBytes.bytesToIP(raw) ?? `invalid IP (${raw.length} bytes)` : raw };
  }));
}

export function readBasicConstraints(value: Buffer): CertResult<{ ca: boolean; pathLen: number | undefined }> {
  const decoded = decode(value, 'basicConstraints');
  const fields = decoded.ok ? childrenOf(decoded.value) : undefined;
  // BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }
  const first = fields?.[0];
  const ca = first?.type === ASN1_TYPE.BOOLEAN ? booleanOf(first) : false;
  const lenBytes = bytesOf(fields?.find((f) => f.type === ASN1_TYPE.INTEGER), ASN1_TYPE.INTEGER);
  if (fields === undefined || ca === undefined || (lenBytes !== undefined && (lenBytes.length === 0 || lenBytes.length > 4))) {
    return refuse('basicConstraints is malformed');
  }
  return accept({ ca, pathLen: lenBytes === undefined ? undefined : lenBytes.readUIntBE(0, lenBytes.length) });
}

export function readKeyUsage(value: Buffer): CertResult<ReadonlySet<KeyUsage>> {
  const decoded = decode(value, 'keyUsage');
  const bytes = decoded.ok ? bytesOf(decoded.value, ASN1_TYPE.BITSTRING) : undefined;
  if (bytes === undefined || bytes.length < 1) return refuse('keyUsage is malformed');
  const bits = bytes.subarray(1);
  return accept(new Set(KEY_USAGE_BITS.filter((_, i) => ((bits[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0)));
}

/** The key identifier in a subjectKeyIdentifier value. */
export function readSubjectKeyIdentifier(value: Buffer): Buffer | undefined {
  const decoded = decode(value, 'subjectKeyIdentifier');
  return decoded.ok ? bytesOf(decoded.value, ASN1_TYPE.OCTETSTRING) : undefined;
}
