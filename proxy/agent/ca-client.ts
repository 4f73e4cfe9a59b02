// The agent's side of the CA service: POST /v1/certificates with the CSR and the bootstrap token
// (`authorization: Bearer`), answering the certificate chain and root, or why not. Never logs or returns
// the token.

import type { Clock } from '../common/clock.ts';

export interface CaAnswer {
  /** The workload certificate then any intermediates. */
  readonly certChain: readonly string[];
  readonly rootCert: string;
}

export type CaResult = { readonly ok: true; readonly value: CaAnswer } | { readonly ok: false; readonly reason: string };

export const CERTIFICATES_PATH = '/v1/certificates';
/** How long one signing request may take. */
export const CA_REQUEST_TIMEOUT_MS = 10_000;

/** One signing request; network errors and refusals come back as reasons. */
export async function requestCertificate(caAddress: string, token: string, csrPem: string, validitySeconds: number | undefined, clock: Clock): Promise<CaResult> {
  const abort = new AbortController();
  const timer = clock.setTimer(() => abort.abort(new Error(`no answer within ${CA_REQUEST_TIMEOUT_MS} ms`)), CA_REQUEST_TIMEOUT_MS);
  try {
    return await exchange(caAddress, token, csrPem, validitySeconds, abort.signal);
  } finally {
    timer.cancel();
  }
}

async function exchange(caAddress: string, token: string, csrPem: string, validitySeconds: number | undefined, signal: AbortSignal): Promise<CaResult> {
  let res: Response;
  let body: string;
  try {
    res = await fetch(`${caAddress}${CERTIFICATES_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ csr: csrPem, ...(validitySeconds === undefined ? {} : { validity_seconds: validitySeconds }) }),
      signal,
    });
    body = await res.text();
  } catch (err) {
    const cause = (err as Error & { cause?: { code?: string } }).cause?.code;
    return { ok: false, reason: `CA ${caAddress} unreachable: ${cause ?? (err as Error).message}` };
  }
  if (res.status !== 200) return { ok: false, reason: `CA answered ${res.status}: ${body.trim().slice(0, 300)}` };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'CA answer is not JSON' };
  }
  const j = json as { cert_chain?: unknown; root_cert?: unknown };
  if (!Array.isArray(j.cert_chain) || j.cert_chain.length === 0 || !j.cert_chain.every((c) => typeof c === 'string') || typeof j.root_cert !== 'string') {
    return { ok: false, reason: 'CA answer lacks cert_chain or root_cert' };
  }
  return { ok: true, value: { certChain: j.cert_chain as string[], rootCert: j.root_cert } };
}
