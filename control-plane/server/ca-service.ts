// The control plane's CA service: `POST /v1/certificates` signs a workload's CSR for the identity its
// bearer token proves: a Kubernetes ServiceAccount token (TokenReview, token-review.ts) or a nodevoy bootstrap
// token, one CallerVerifier per kind → authorizeCsr → issueSvid (certs/). Refusals answer 401 (no or bad
// token) or 403 (CSR not allowed for that caller) with the reason, and are logged — never the token.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { verifyBootstrapToken } from '../../certs/bootstrap-token.ts';
import type { CertificateAuthority } from '../../certs/ca.ts';
import type { CertResult } from '../../certs/cert-result.ts';
import { readCaDirectory, readTokenSecret } from '../../certs/files.ts';
import { authorizeCsr } from '../../certs/signing-policy.ts';
import { workloadSpiffeId, type WorkloadIdentity } from '../../certs/spiffe-id.ts';
import { issueSvid } from '../../certs/svid.ts';
import type { Clock } from '../../proxy/common/clock.ts';
import { text } from './debug-endpoints.ts';
import type { ServerLogger } from './xds-server.ts';

export const CERTIFICATES_PATH = '/v1/certificates';

export interface CaServiceOptions {
  readonly ca: CertificateAuthority;
  /** The HMAC secret bootstrap tokens are checked with (the CA directory's bootstrap-token-secret). */
  readonly tokenSecret: Buffer;
  readonly clock: Clock;
  readonly logger?: ServerLogger;
  /** Kubernetes ServiceAccount tokens (createTokenReviewVerifier); without it only bootstrap tokens prove anything. */
  readonly serviceAccountTokens?: CallerVerifier;
}

/**
 * One kind of bearer token a caller proves its identity with. The CA service gives each token to the first
 * verifier that claims it; the bootstrap-token verifier claims whatever the others do not.
 */
export interface CallerVerifier {
  /** What the token is, for refusals: "bootstrap token". */
  readonly kind: string;
  /** Whether `token` is of this kind, by its shape alone (no I/O). */
  claims(token: string): boolean;
  /** The identity the token proves, or why it proves none. Never rejects; reasons never contain the token. */
  verify(token: string): Promise<CertResult<WorkloadIdentity>>;
}

/** Tokens of `nodevoy certs token`, checked with the CA directory's secret. */
export function bootstrapTokenVerifier(tokenSecret: Buffer, clock: Clock): CallerVerifier {
  return { kind: 'bootstrap token', claims: () => true, verify: async (token) => verifyBootstrapToken(token, tokenSecret, clock) };
}

export interface CaService {
  /** The trust domain the CA signs SPIFFE IDs in. */
  readonly trustDomain: string;
  /** Answers a request to CERTIFICATES_PATH (`body` already read). */
  handle(req: IncomingMessage, res: ServerResponse, body: string): void;
}

/** The CA directory of `nodevoy certs init`, loaded into a CA service's options (or why it cannot be). */
export function loadCaDirectory(dir: string): { ok: true; value: Pick<CaServiceOptions, 'ca' | 'tokenSecret'> } | { ok: false; reason: string } {
  const ca = readCaDirectory(dir);
  if (!ca.ok) return { ok: false, reason: `CA directory ${dir}: ${ca.reason}` };
  const tokenSecret = readTokenSecret(dir);
  if (!tokenSecret.ok) return { ok: false, reason: `CA directory ${dir}: ${tokenSecret.reason}` };
  return { ok: true, value: { ca: ca.value, tokenSecret: tokenSecret.value } };
}

const json = (res: ServerResponse, status: number, value: unknown): void =>
  void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));

export function createCaService(options: CaServiceOptions): CaService {
  const { ca, clock, logger } = options;
  const verifiers = [...(options.serviceAccountTokens ? [options.serviceAccountTokens] : []), bootstrapTokenVerifier(options.tokenSecret, clock)];
  const required = `authorization: Bearer <${verifiers.map((v) => v.kind).join(' or ')}> is required`;
  const refuse = (req: IncomingMessage, res: ServerResponse, status: number, who: string, reason: string): void => {
    logger?.warning(`CA: refused certificate for ${who} from ${req.socket.remoteAddress ?? '?'}: ${status} ${reason}`);
    text(res, status, `${reason}\n`);
  };

  async function answer(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const auth = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!auth) return refuse(req, res, 401, 'an unauthenticated caller', required);
    const token = auth[1]!;
    const verifier = verifiers.find((v) => v.claims(token))!;
    const proven = await verifier.verify(token);
    // Belt and braces: whatever a verifier (or the API server behind it) says, the token is not repeated.
    if (!proven.ok) return refuse(req, res, 401, 'an unauthenticated caller', proven.reason.replaceAll(token, '<token>'));
    const caller = workloadSpiffeId(proven.value);
    let request: { csr?: unknown; validity_seconds?: unknown };
    try {
      request = JSON.parse(body) as typeof request;
    } catch {
      return text(res, 400, 'the body must be JSON {csr, validity_seconds?}\n');
    }
    if (typeof request?.csr !== 'string') return text(res, 400, 'csr (PEM string) is required\n');
    const validity = request.validity_seconds;
    if (validity !== undefined && (typeof validity !== 'number' || !Number.isInteger(validity) || validity <= 0)) {
      return text(res, 400, 'validity_seconds must be a positive integer\n');
    }
    const authorized = authorizeCsr({ csr: request.csr, provenIdentity: proven.value, trustDomain: ca.trustDomain });
    if (!authorized.ok) return refuse(req, res, 403, caller, authorized.reason);
    const svid = issueSvid(ca, authorized.value, { clock, ...(validity === undefined ? {} : { ttlMs: validity * 1000 }) });
    if (!svid.ok) return refuse(req, res, 400, caller, svid.reason);
    logger?.info(`CA: issued ${caller} (${verifier.kind}) serial ${svid.value.certificate.serialNumber.toLowerCase()} until ${new Date(svid.value.notAfter).toISOString()}`);
    json(res, 200, { cert_chain: splitPem(svid.value.certChainPem), root_cert: svid.value.rootCertPem });
  }

  return {
    trustDomain: ca.trustDomain,
    handle(req, res, body) {
      if (req.method !== 'POST') return text(res, 405, `${CERTIFICATES_PATH} takes POST with JSON {csr, validity_seconds?}\n`, { allow: 'POST' });
      // The server's own catch covers synchronous handlers only: an asynchronous failure is answered here.
      answer(req, res, body).catch((e: unknown) => {
        logger?.warning(`CA: ${CERTIFICATES_PATH}: ${(e as Error).message}`);
        if (res.headersSent) res.destroy();
        else text(res, 500, `internal error: ${(e as Error).message}\n`);
      });
    },
  };
}

/** The PEM blocks of a bundle, one string each (Istio's IstioCertificateResponse.cert_chain). */
function splitPem(bundle: string): string[] {
  return (bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? []).map((b) => (b.endsWith('\n') ? b : `${b}\n`));
}
