// Per-workload bootstrap tokens: the local stand-in for a Kubernetes ServiceAccount token + TokenReview.
// `nbt1.<base64url(JSON {td, ns, sa, exp})>.<base64url(HMAC-SHA256)>` with the CA directory's secret;
// expiry from the injected Clock; the MAC is compared in constant time.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../proxy/common/clock.ts';
import { accept, refuse, type CertResult } from './cert-result.ts';
import { workloadIdentityProblem, type WorkloadIdentity } from './spiffe-id.ts';

const PREFIX = 'nbt1';
/** Istio's sidecar injector asks for a 12 h ServiceAccount token (istio-token expirationSeconds: 43200). */
export const DEFAULT_BOOTSTRAP_TOKEN_TTL_MS = 12 * 3_600_000;
const SECRET_BYTES = 32;

/** A new random HMAC secret (kept in the CA directory, mode 0600). */
export const generateTokenSecret = (): Buffer => randomBytes(SECRET_BYTES);

const mac = (signed: string, secret: Buffer): Buffer => createHmac('sha256', secret).update(signed).digest();

/** A token proving `identity` until clock.now() + ttlMs. */
export function issueBootstrapToken(identity: WorkloadIdentity, secret: Buffer, clock: Clock, ttlMs = DEFAULT_BOOTSTRAP_TOKEN_TTL_MS): string {
  const problem = workloadIdentityProblem(identity);
  if (problem !== undefined) throw new Error(problem); // callers validate user input first
  const payload = { td: identity.trustDomain, ns: identity.namespace, sa: identity.serviceAccount, exp: Math.floor((clock.now() + ttlMs) / 1000) };
  const signed = `${PREFIX}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${signed}.${mac(signed, secret).toString('base64url')}`;
}

/** The identity a token proves, or why it proves nothing (malformed, forged/tampered, expired). */
export function verifyBootstrapToken(token: string, secret: Buffer, clock: Clock): CertResult<WorkloadIdentity> {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== PREFIX) return refuse('bootstrap token is malformed');
  const signed = `${parts[0]}.${parts[1]}`;
  // Compare the MAC's text, not its lenient base64url decoding, so no other spelling of a token is accepted.
  const given = Buffer.from(parts[2]!);
  const expected = Buffer.from(mac(signed, secret).toString('base64url'));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return refuse('bootstrap token signature is invalid');
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    return refuse('bootstrap token payload is malformed');
  }
  const p = payload as { td?: unknown; ns?: unknown; sa?: unknown; exp?: unknown };
  if (typeof p.td !== 'string' || typeof p.ns !== 'string' || typeof p.sa !== 'string' || typeof p.exp !== 'number') {
    return refuse('bootstrap token payload is malformed');
  }
  if (clock.now() >= p.exp * 1000) return refuse(`bootstrap token expired at ${new Date(p.exp * 1000).toISOString()}`);
  const identity = { trustDomain: p.td, namespace: p.ns, serviceAccount: p.sa };
  const problem = workloadIdentityProblem(identity);
  return problem === undefined ? accept(identity) : refuse(`bootstrap token identity: ${problem}`);
}
