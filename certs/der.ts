// DER building and reading on top of node-forge's asn1 module: the primitives the certificate and CSR
// code is written in, the OIDs it uses, PEM armour, and a strict decoder (no BER lengths, no trailing bytes).

import forge from 'node-forge';
import { accept, refuse, type CertResult } from './cert-result.ts';

const { asn1 } = forge;
export type Asn1 = forge.asn1.Asn1;

export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  sha256WithRsaEncryption: '1.2.840.113549.1.1.11',
  extensionRequest: '1.2.840.113549.1.9.14',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

const U = asn1.Class.UNIVERSAL;
const T = asn1.Type;

// forge works on "binary strings" (one char per byte); these two convert at the boundary.
export const toBinary = (bytes: Buffer): string => bytes.toString('latin1');
export const fromBinary = (bytes: string): Buffer => Buffer.from(bytes, 'latin1');

export const sequence = (items: Asn1[]): Asn1 => asn1.create(U, T.SEQUENCE, true, items);
export const set = (items: Asn1[]): Asn1 => asn1.create(U, T.SET, true, items);
export const oid = (id: string): Asn1 => asn1.create(U, T.OID, false, asn1.oidToDer(id).getBytes());
export const boolean = (value: boolean): Asn1 => asn1.create(U, T.BOOLEAN, false, value ? '\xff' : '\x00');
export const nullValue = (): Asn1 => asn1.create(U, T.NULL, false, '');
export const utf8 = (text: string): Asn1 => asn1.create(U, T.UTF8, false, forge.util.encodeUtf8(text));
export const smallInteger = (n: number): Asn1 => asn1.create(U, T.INTEGER, false, asn1.integerToDer(n).getBytes());
export const octetString = (bytes: Buffer): Asn1 => asn1.create(U, T.OCTETSTRING, false, toBinary(bytes));
/** A BIT STRING of whole bytes (signatures, public keys). */
export const bitString = (bytes: Buffer, unusedBits = 0): Asn1 =>
  asn1.create(U, T.BITSTRING, false, String.fromCharCode(unusedBits) + toBinary(bytes));
/** A context-specific tag: [n] IMPLICIT (primitive) or [n] EXPLICIT / constructed. */
export const tagged = (n: number, value: string | Asn1[]): Asn1 =>
  asn1.create(asn1.Class.CONTEXT_SPECIFIC, n as forge.asn1.Type, typeof value !== 'string', value);

/** A non-negative INTEGER from big-endian bytes, minimally encoded (serial numbers). */
export function unsignedInteger(bytes: Buffer): Asn1 {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const body = bytes.subarray(start);
  const padded = (body[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.of(0), body]) : body;
  return asn1.create(U, T.INTEGER, false, toBinary(padded));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds. */
export function time(ms: number): Asn1 {
  const date = new Date(Math.floor(ms / 1000) * 1000);
  return date.getUTCFullYear() < 2050
    ? asn1.create(U, T.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(U, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

export const encode = (node: Asn1): Buffer => fromBinary(asn1.toDer(node).getBytes());

// @types/node-forge declares only the boolean form of fromDer's options.
const fromDer = asn1.fromDer as unknown as (bytes: string, options: {
  strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean;
}) => Asn1;

/**
 * Decodes DER, refusing trailing bytes and anything that does not re-encode to exactly the input (BER
 * length forms), so a signature checked over a re-encoded part covers the bytes that were actually sent.
 */
export function decode(der: Buffer, what: string): CertResult<Asn1> {
  let node: Asn1;
  try {
    node = fromDer(toBinary(der), { strict: true, parseAllBytes: true, decodeBitStrings: false });
  } catch (e) {
    return refuse(`${what} is not valid DER (${(e as Error).message})`);
  }
  if (!encode(node).equals(der)) return refuse(`${what} is not DER (it does not re-encode to the same bytes)`);
  return accept(node);
}

// Reading: each helper returns undefined when the node is not what the caller expected, so callers can
// turn a malformed structure into one refusal instead of a thrown TypeError.

export function childrenOf(node: Asn1 | undefined, type: forge.asn1.Type = T.SEQUENCE): Asn1[] | undefined {
  if (node === undefined || node.tagClass !== U || node.type !== type || !Array.isArray(node.value)) return undefined;
  return node.value;
}

export function taggedChildren(node: Asn1 | undefined, n: number): Asn1[] | undefined {
  if (node === undefined || node.tagClass !== asn1.Class.CONTEXT_SPECIFIC || node.type !== n || !Array.isArray(node.value)) return undefined;
  return node.value;
}

export function bytesOf(node: Asn1 | undefined, type: forge.asn1.Type): Buffer | undefined {
  if (node === undefined || node.tagClass !== U || node.type !== type || typeof node.value !== 'string') return undefined;
  return fromBinary(node.value);
}

export function oidOf(node: Asn1 | undefined): string | undefined {
  const bytes = bytesOf(node, T.OID);
  return bytes === undefined ? undefined : asn1.derToOid(toBinary(bytes));
}

export function booleanOf(node: Asn1 | undefined): boolean | undefined {
  const bytes = bytesOf(node, T.BOOLEAN);
  return bytes === undefined || bytes.length !== 1 ? undefined : bytes[0] !== 0;
}

/** The bytes of a BIT STRING with no unused bits (signatures, public keys); undefined otherwise. */
export function bitStringBytes(node: Asn1 | undefined): Buffer | undefined {
  const bytes = bytesOf(node, T.BITSTRING);
  return bytes === undefined || bytes[0] !== 0 ? undefined : bytes.subarray(1);
}

export const ASN1_TYPE = T;

/** PEM with the given label (`CERTIFICATE`, `CERTIFICATE REQUEST`). */
export function toPem(label: string, der: Buffer): string {
  return forge.pem.encode({ type: label, body: toBinary(der) }, { maxline: 64 }).replace(/\r\n/g, '\n');
}

/** The DER of the first PEM block with `label`, or the input itself when it is already DER. */
export function fromPem(input: string | Buffer, label: string): CertResult<Buffer> {
  const text = typeof input === 'string' ? input : input.toString('latin1');
  if (!text.includes('-----BEGIN')) return typeof input === 'string' ? refuse(`no PEM ${label} block`) : accept(input);
  let blocks;
  try {
    blocks = forge.pem.decode(text);
  } catch (e) {
    return refuse(`malformed PEM (${(e as Error).message})`);
  }
  const block = blocks.find((b) => b.type === label);
  return block === undefined ? refuse(`no PEM ${label} block`) : accept(fromBinary(block.body));
}
