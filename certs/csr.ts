// PKCS#10 certificate signing requests (RFC 2986): a workload builds one with its SPIFFE ID as the URI SAN
// in the extensionRequest attribute, signed by its own key (the key never leaves the workload); the CA
// parses one, checks its signature and reads the subject, SANs and any CA request.

import type { KeyObject } from 'node:crypto';
import { accept, refuse, type CertResult } from './cert-result.ts';
import { nameDer, readName, type NameAttribute } from './certificate.ts';
import {
  ASN1_TYPE, OID, bitString, bitStringBytes, bytesOf, childrenOf, decode, encode, fromPem, oid, oidOf, sequence, set,
  smallInteger, tagged, taggedChildren, toPem, type Asn1,
} from './der.ts';
import {
  extensionAsn1, readBasicConstraints, readExtensions, readGeneralNames, readKeyUsage, subjectAltName,
  type Extension, type GeneralName,
} from './extensions.ts';
import { isSupportedSignatureAlgorithm, publicKeyFromSpki, signDer, signatureAlgorithmAsn1, spkiAsn1, verifyDer, type KeyPair } from './keys.ts';

export const CSR_PEM_LABEL = 'CERTIFICATE REQUEST';

export interface CsrFields {
  readonly keys: KeyPair;
  readonly subject?: readonly NameAttribute[];
  readonly extensions: readonly Extension[];
}

/** A CSR in PEM, signed by `keys.privateKey`. */
export function buildCsr(fields: CsrFields): string {
  const subject = decode(nameDer(fields.subject ?? []), 'subject');
  if (!subject.ok) throw new Error(subject.reason); // DER nameDer just encoded: cannot happen
  const info = encode(sequence([
    smallInteger(0), // version v1
    subject.value,
    spkiAsn1(fields.keys.publicKey),
    tagged(0, fields.extensions.length === 0 ? [] : [
      sequence([oid(OID.extensionRequest), set([sequence(fields.extensions.map(extensionAsn1))])]),
    ]),
  ]));
  const signature = signDer(info, fields.keys.privateKey);
  const infoNode = decode(info, 'CertificationRequestInfo');
  if (!infoNode.ok) throw new Error(infoNode.reason); // cannot happen, as above
  return toPem(CSR_PEM_LABEL, encode(sequence([infoNode.value, signatureAlgorithmAsn1(fields.keys.privateKey), bitString(signature)])));
}

/**
 * The CSR a workload sends for `spiffeId`: empty subject and the ID as the only, critical, URI SAN (what
 * Istio's agent sends; RFC 5280 §4.2.1.6 makes the SAN critical when the subject is empty).
 */
export const buildWorkloadCsr = (spiffeId: string, keys: KeyPair): string =>
  buildCsr({ keys, extensions: [subjectAltName([{ type: 'URI', value: spiffeId }], true)] });

export interface ParsedCsr {
  readonly subject: readonly NameAttribute[];
  readonly publicKey: KeyObject;
  /** Every SAN requested, URI or not. */
  readonly subjectAltNames: readonly GeneralName[];
  /** The CSR asks for a CA certificate: basicConstraints cA=TRUE, or keyUsage keyCertSign/cRLSign. */
  readonly requestsCa: boolean;
  readonly extensions: readonly Extension[];
}

/** Parses a PEM (or DER) CSR and checks its signature with the key it carries (proof of possession). */
export function parseCsr(input: string | Buffer): CertResult<ParsedCsr> {
  const der = fromPem(input, CSR_PEM_LABEL);
  if (!der.ok) return refuse(`CSR: ${der.reason}`);
  const decoded = decode(der.value, 'CSR');
  if (!decoded.ok) return decoded;
  const [infoNode, algorithmNode, signatureNode, ...extra] = childrenOf(decoded.value) ?? [];
  const info = childrenOf(infoNode);
  const [version, subjectNode, spkiNode, attributesNode] = info ?? [];
  const algorithm = oidOf(childrenOf(algorithmNode)?.[0]);
  const signature = bitStringBytes(signatureNode);
  const subject = readName(subjectNode);
  const attributes = taggedChildren(attributesNode, 0);
  if (infoNode === undefined || info === undefined || info.length !== 4 || extra.length > 0 || algorithm === undefined
    || signature === undefined || subject === undefined || spkiNode === undefined || attributes === undefined) {
    return refuse('CSR is not a PKCS#10 CertificationRequest');
  }
  if (bytesOf(version, ASN1_TYPE.INTEGER)?.equals(Buffer.of(0)) !== true) return refuse('CSR version is not v1 (0)');
  const publicKey = publicKeyFromSpki(encode(spkiNode));
  if (publicKey === undefined) return refuse('CSR public key cannot be read');
  if (!isSupportedSignatureAlgorithm(algorithm)) return refuse(`CSR signature algorithm ${algorithm} is not supported`);
  if (!verifyDer(algorithm, encode(infoNode), signature, publicKey)) {
    return refuse('CSR signature does not verify with the public key it carries');
  }
  const extensions = readRequestedExtensions(attributes);
  if (!extensions.ok) return extensions;
  return readRequest(subject, publicKey, extensions.value);
}

/** The Extensions of the extensionRequest attribute (PKCS#9); other attributes are ignored. */
function readRequestedExtensions(attributes: readonly Asn1[]): CertResult<Extension[]> {
  const requests = attributes.filter((a) => oidOf(childrenOf(a)?.[0]) === OID.extensionRequest);
  if (requests.length === 0) return accept([]);
  if (requests.length > 1) return refuse('CSR has more than one extensionRequest attribute');
  const values = childrenOf(childrenOf(requests[0])?.[1], ASN1_TYPE.SET);
  const extensions = values?.length === 1 ? childrenOf(values[0]) : undefined;
  if (extensions === undefined) return refuse('CSR extensionRequest is malformed');
  return readExtensions(extensions, 'CSR');
}

function readRequest(subject: NameAttribute[], publicKey: KeyObject, extensions: Extension[]): CertResult<ParsedCsr> {
  let subjectAltNames: GeneralName[] = [];
  let requestsCa = false;
  for (const e of extensions) {
    if (e.oid === OID.subjectAltName) {
      const names = readGeneralNames(e.value);
      if (!names.ok) return refuse(`CSR ${names.reason}`);
      subjectAltNames = names.value;
    } else if (e.oid === OID.basicConstraints) {
      const bc = readBasicConstraints(e.value);
      if (!bc.ok) return refuse(`CSR ${bc.reason}`);
      requestsCa ||= bc.value.ca;
    } else if (e.oid === OID.keyUsage) {
      const usage = readKeyUsage(e.value);
      if (!usage.ok) return refuse(`CSR ${usage.reason}`);
      requestsCa ||= usage.value.has('keyCertSign') || usage.value.has('cRLSign');
    }
  }
  return accept({ subject, publicKey, subjectAltNames, requestsCa, extensions });
}
