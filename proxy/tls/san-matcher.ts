// Subject Alternative Name checks of a peer certificate (CertificateValidationContext
// match_typed_subject_alt_names / match_subject_alt_names), compiled once per TLS context. Node's own
// identity check ignores URI SANs, so SPIFFE IDs (spiffe://<trust-domain>/ns/<ns>/sa/<sa>) are matched here.

import type { X509Certificate } from 'node:crypto';
import { compileStringMatcher, type StringMatch } from '../matchers/string-matcher.ts';
import type { StringMatcherWire } from '../matchers/string-matcher.ts';
import type { CertificateValidationContextWire, SanType } from './tls-schema.ts';

/** A certificate's SANs by type, as Envoy's SAN matchers see them. */
export interface PeerSans {
  readonly URI: readonly string[];
  readonly DNS: readonly string[];
  readonly EMAIL: readonly string[];
  readonly IP_ADDRESS: readonly string[];
}

/** Node's GeneralName labels in X509Certificate.subjectAltName → Envoy's san_type. */
const NODE_LABELS: Readonly<Record<string, SanType>> = { URI: 'URI', DNS: 'DNS', email: 'EMAIL', 'IP Address': 'IP_ADDRESS' };

/**
 * Parses Node's subjectAltName string (`DNS:a.example, URI:spiffe://td/ns/x/sa/y, IP Address:10.0.0.1`).
 * Node writes a value that contains `,`, quotes or control characters as a JSON string literal, so a
 * crafted SAN cannot smuggle in a second entry.
 */
export function parseSubjectAltName(text: string | undefined): PeerSans {
  const sans: Record<SanType, string[]> = { URI: [], DNS: [], EMAIL: [], IP_ADDRESS: [] };
  let i = 0;
  const s = text ?? '';
  while (i < s.length) {
    const colon = s.indexOf(':', i);
    if (colon < 0) break;
    const label = s.slice(i, colon);
    let value: string;
    let next: number;
    if (s[colon + 1] === '"') {
      // A JSON string literal: find its closing quote (skipping escapes).
      let j = colon + 2;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      value = JSON.parse(s.slice(colon + 1, j + 1)) as string;
      next = j + 1;
    } else {
      const end = s.indexOf(', ', colon + 1);
      next = end < 0 ? s.length : end;
      value = s.slice(colon + 1, next);
    }
    const type = NODE_LABELS[label];
    if (type) sans[type].push(value);
    i = s.startsWith(', ', next) ? next + 2 : next + 1;
  }
  return sans;
}

export function peerSans(cert: X509Certificate): PeerSans {
  return parseSubjectAltName(cert.subjectAltName);
}

/** A compiled SAN check: true when any SAN of the certificate matches any matcher (Envoy's ANY-of). */
export type SanCheck = (sans: PeerSans) => boolean;

/**
 * RFC 6125 wildcard match of a certificate DNS SAN against a name: `*.example.com` covers exactly one
 * label (`a.example.com`, not `a.b.example.com` nor `example.com`). Envoy's Utility::dnsNameMatch.
 */
export function dnsNameMatch(name: string, san: string): boolean {
  const n = name.toLowerCase();
  const p = san.toLowerCase();
  if (n === p) return true;
  if (!p.startsWith('*.')) return false;
  const dot = n.indexOf('.');
  return dot > 0 && n.slice(dot) === p.slice(1);
}

interface TypedMatch {
  readonly type: SanType;
  readonly match: StringMatch;
}

function typedMatch(type: SanType, matcher: StringMatcherWire): TypedMatch {
  // A DNS `exact` matcher also accepts a wildcard certificate SAN covering the name.
  if (type === 'DNS' && matcher.exact !== undefined && matcher.ignore_case !== true) {
    const exact = matcher.exact;
    return { type, match: (san) => dnsNameMatch(exact, san) };
  }
  return { type, match: compileStringMatcher(matcher) };
}

/**
 * The SAN check of a validation context, or null when it configures none. The deprecated
 * match_subject_alt_names (ignored when the typed list is set) checks DNS, URI, EMAIL and IP SANs alike.
 */
export function compileSanCheck(v: CertificateValidationContextWire | undefined): SanCheck | null {
  const typed = v?.match_typed_subject_alt_names ?? [];
  const legacy = v?.match_subject_alt_names ?? [];
  const matchers: TypedMatch[] = typed.length > 0
    ? typed.map((m) => typedMatch(m.san_type, m.matcher))
    : legacy.flatMap((m) => (['DNS', 'URI', 'EMAIL', 'IP_ADDRESS'] as const).map((t) => typedMatch(t, m)));
  if (matchers.length === 0) return null;
  return (sans) => matchers.some((m) => sans[m.type].some(m.match));
}
