// Kubernetes ServiceAccount tokens as a CA caller's proof of identity: one `authentication.k8s.io/v1` TokenReview
// POSTed to the API server per token (undici, bounded by the injected clock, never retried), and its answer read
// as Istio's istiod reads it. Never logs, returns or stores the token it reviews.

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import { Agent, request } from 'undici';
import { accept, refuse, type CertResult } from '../../certs/cert-result.ts';
import { readPemCertificates } from '../../certs/files.ts';
import { workloadIdentityProblem, type WorkloadIdentity } from '../../certs/spiffe-id.ts';
import type { Clock } from '../../proxy/common/clock.ts';
import type { CallerVerifier } from './ca-service.ts';

export const TOKEN_REVIEW_PATH = '/apis/authentication.k8s.io/v1/tokenreviews';
/** The audience Istio's sidecar injector projects the `istio-token` for, and istiod reviews it with. */
export const DEFAULT_TOKEN_AUDIENCE = 'istio-ca';
export const DEFAULT_TOKEN_REVIEW_TIMEOUT_MS = 5_000;
/** `--kube-api in-cluster`: the API server from the pod's environment, as client-go's InClusterConfig. */
export const IN_CLUSTER = 'in-cluster';
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
export const IN_CLUSTER_TOKEN_FILE = `${SERVICE_ACCOUNT_DIR}/token`;
export const IN_CLUSTER_CA_FILE = `${SERVICE_ACCOUNT_DIR}/ca.crt`;
/** Sockets to the API server at most; further reviews queue (and time out) rather than open more. */
const MAX_CONNECTIONS = 16;
/** Every ServiceAccount is in this group; Istio refuses a reviewed user outside it. */
const SERVICE_ACCOUNTS_GROUP = 'system:serviceaccounts';
const SERVICE_ACCOUNT_USER = /^system:serviceaccount:([^:]+):([^:]+)$/;

export interface TokenReviewOptions {
  /** The API server's base URL, `https://host:port` (a path prefix is kept). */
  readonly apiUrl: string;
  /** The control plane's own bearer token, re-read for every review: the kubelet rotates projected tokens. */
  readonly tokenFile: string;
  /** The PEM roots the API server's certificate must chain to. */
  readonly caPem: string;
  /** `spec.audiences`; a token must have been issued for one of them. */
  readonly audiences: readonly string[];
  /** The CA's trust domain: a ServiceAccount proves spiffe://<trustDomain>/ns/<ns>/sa/<sa>. */
  readonly trustDomain: string;
  readonly clock: Clock;
  /** How long one review may take before the caller is refused; default 5 s. */
  readonly timeoutMs?: number;
}

export interface TokenReviewVerifier extends CallerVerifier {
  /** Aborts reviews in flight and closes the sockets to the API server. */
  close(): Promise<void>;
}

/** The verifier of ServiceAccount tokens (JWTs); the CA service sends every other token elsewhere. */
export function createTokenReviewVerifier(options: TokenReviewOptions): TokenReviewVerifier {
  const { apiUrl, tokenFile, audiences, trustDomain, clock } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TOKEN_REVIEW_TIMEOUT_MS;
  const endpoint = `${apiUrl.replace(/\/+$/, '')}${TOKEN_REVIEW_PATH}`;
  // One POST does not need @kubernetes/client-node (82 MB and 68 packages installed, @types/node 26 at run
  // time, timeouts only through middleware): undici, the proxy's HTTP client, with the cluster CA.
  // The injected clock owns the timeout, so undici's own header/body timers are off.
  const agent = new Agent({ connect: { ca: options.caPem }, connections: MAX_CONNECTIONS, headersTimeout: 0, bodyTimeout: 0 });

  async function review(token: string): Promise<CertResult<WorkloadIdentity>> {
    const own = await readBearerToken(tokenFile);
    if (!own.ok) return own;
    const abort = new AbortController();
    const timer = clock.setTimer(() => abort.abort(), timeoutMs);
    let status: number;
    let body: string;
    try {
      const res = await request(endpoint, {
        method: 'POST', dispatcher: agent, signal: abort.signal,
        headers: { authorization: `Bearer ${own.value}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences } }),
      });
      status = res.statusCode;
      body = await res.body.text();
    } catch (e) {
      if (abort.signal.aborted) return refuse(`TokenReview: the Kubernetes API did not answer within ${timeoutMs} ms`);
      const err = e as Error & { code?: string; cause?: { code?: string } };
      return refuse(`TokenReview: the Kubernetes API at ${apiUrl} is unreachable: ${err.code ?? err.cause?.code ?? err.message}`);
    } finally {
      timer.cancel();
    }
    if (status !== 201 && status !== 200) return refuse(`TokenReview: the Kubernetes API answered ${status}: ${statusMessage(body)}`);
    let answer: unknown;
    try {
      answer = JSON.parse(body);
    } catch {
      return refuse('TokenReview: the Kubernetes API answer is not JSON');
    }
    return identityFromTokenReview(answer, audiences, trustDomain);
  }

  return {
    kind: 'Kubernetes ServiceAccount token',
    claims: isJwt,
    verify: review,
    close: () => agent.destroy(),
  };
}

/**
 * The identity a TokenReview's `status` proves, or why it proves none: not authenticated (or an error), a user
 * that is not a ServiceAccount (`system:serviceaccount:<ns>:<sa>` in group `system:serviceaccounts`, as
 * istiod requires), or audiences that do not include one asked for. An empty `status.audiences` is accepted:
 * the authenticator is then not audience-aware (the API's documented meaning), and kube-apiserver always fills it.
 */
export function identityFromTokenReview(answer: unknown, audiences: readonly string[], trustDomain: string): CertResult<WorkloadIdentity> {
  const status = (answer as { status?: unknown } | null)?.status as
    | { authenticated?: unknown; error?: unknown; audiences?: unknown; user?: { username?: unknown; groups?: unknown } }
    | undefined;
  if (typeof status !== 'object' || status === null) return refuse('TokenReview: the answer has no status');
  if (typeof status.error === 'string' && status.error !== '') return refuse(`TokenReview: the token is not authenticated: ${status.error.slice(0, 300)}`);
  if (status.authenticated !== true) return refuse('TokenReview: the token is not authenticated');
  const username = typeof status.user?.username === 'string' ? status.user.username : '';
  const sa = SERVICE_ACCOUNT_USER.exec(username);
  const groups = Array.isArray(status.user?.groups) ? status.user.groups : [];
  if (!sa || !groups.includes(SERVICE_ACCOUNTS_GROUP)) {
    return refuse(`TokenReview: user "${username.slice(0, 100)}" is not a ServiceAccount (system:serviceaccount:<namespace>:<name> in group ${SERVICE_ACCOUNTS_GROUP})`);
  }
  if (Array.isArray(status.audiences) && status.audiences.length > 0 && !status.audiences.some((a) => audiences.includes(a as string))) {
    return refuse(`TokenReview: the token's audiences (${status.audiences.join(', ').slice(0, 200)}) include none of ${audiences.join(', ')}`);
  }
  const identity = { trustDomain, namespace: sa[1]!, serviceAccount: sa[2]! };
  const problem = workloadIdentityProblem(identity);
  return problem === undefined ? accept(identity) : refuse(`TokenReview: ${problem}`);
}

/**
 * A JWS in compact form whose header is a JSON object naming its `alg`: a ServiceAccount token's shape. Only
 * such tokens are sent for review, so nothing else a caller makes up reaches the API server.
 */
export function isJwt(token: string): boolean {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) return false;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as unknown;
    return typeof header === 'object' && header !== null && typeof (header as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

/** A `metav1.Status` answer's message, else the start of the body. */
function statusMessage(body: string): string {
  try {
    const message = (JSON.parse(body) as { message?: unknown }).message;
    if (typeof message === 'string') return message.slice(0, 300);
  } catch {
    // not a Status object
  }
  return body.trim().slice(0, 300) || '(empty body)';
}

async function readBearerToken(file: string): Promise<CertResult<string>> {
  try {
    const token = (await readFile(file, 'utf8')).trim();
    return token === '' ? refuse(`TokenReview: the control plane's token file ${file} is empty`) : accept(token);
  } catch (e) {
    return refuse(`TokenReview: cannot read the control plane's token file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Why `value` cannot be `--kube-api`, if it cannot: it is `in-cluster` or an https:// URL. */
export function kubeApiProblem(value: string): string | undefined {
  if (value === IN_CLUSTER) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `"${value}" is not a URL (https://host:port, or "${IN_CLUSTER}")`;
  }
  // The CA sends the workload's token and its own: never in clear.
  if (url.protocol !== 'https:') return `"${value}" must be an https:// URL (or "${IN_CLUSTER}")`;
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    return `"${value}" must not carry credentials, a query or a fragment`;
  }
  return undefined;
}

/** The API server's URL: `value` itself, or for `in-cluster` https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT. */
export function resolveKubeApiUrl(value: string, env: Readonly<Record<string, string | undefined>>): CertResult<string> {
  const problem = kubeApiProblem(value);
  if (problem !== undefined) return refuse(problem);
  if (value !== IN_CLUSTER) return accept(value);
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) return refuse(`${IN_CLUSTER}: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not in a pod?)`);
  return accept(`https://${isIPv6(host) ? `[${host}]` : host}:${port}`);
}

export interface KubeApiSettings {
  /** `--kube-api`: an https:// URL or `in-cluster`. */
  readonly api: string;
  readonly tokenFile: string;
  readonly caFile: string;
  readonly audiences: readonly string[];
}

/**
 * A TokenReview verifier from the CLI's settings, checked at start: the URL resolves, the token file reads (it
 * is read again for each review), the CA file holds certificates. Each reason names the flag to fix.
 */
export function loadTokenReviewVerifier(
  settings: KubeApiSettings,
  context: { readonly trustDomain: string; readonly clock: Clock; readonly env: Readonly<Record<string, string | undefined>>; readonly timeoutMs?: number },
): CertResult<TokenReviewVerifier> {
  const apiUrl = resolveKubeApiUrl(settings.api, context.env);
  if (!apiUrl.ok) return refuse(`--kube-api: ${apiUrl.reason}`);
  const token = readTextFile(settings.tokenFile);
  if (!token.ok) return refuse(`--kube-token-file: ${token.reason}`);
  if (token.value.trim() === '') return refuse(`--kube-token-file: ${settings.tokenFile} is empty`);
  const caPem = readTextFile(settings.caFile);
  if (!caPem.ok) return refuse(`--kube-ca-file: ${caPem.reason}`);
  const roots = readPemCertificates(caPem.value);
  if (!roots.ok) return refuse(`--kube-ca-file: ${settings.caFile}: ${roots.reason}`);
  if (roots.value.length === 0) return refuse(`--kube-ca-file: ${settings.caFile} holds no certificate`);
  return accept(createTokenReviewVerifier({
    apiUrl: apiUrl.value, tokenFile: settings.tokenFile, caPem: caPem.value, audiences: settings.audiences,
    trustDomain: context.trustDomain, clock: context.clock, ...(context.timeoutMs === undefined ? {} : { timeoutMs: context.timeoutMs }),
  }));
}

function readTextFile(file: string): CertResult<string> {
  try {
    return accept(readFileSync(file, 'utf8'));
  } catch (e) {
    return refuse(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
