// The control plane's CA service over real HTTP (POST /v1/certificates): a workload gets a certificate for
// the identity its bootstrap token or ServiceAccount token proves, and every attempt to get in otherwise is
// refused and logged — a CSR for someone else's identity (403), extra SANs (403), no token, a forged token, a
// token from another CA directory, an expired token (401). ServiceAccount tokens go to a fake Kubernetes API
// (HTTPS on 127.0.0.1, trusted through the --kube-ca-file path), whose TokenReview requests are asserted and
// whose refusals, errors, absence and silence are 401s while the control plane keeps serving. The token never
// appears in the log.

import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateTokenSecret, issueBootstrapToken } from '../../certs/bootstrap-token.ts';
import { createCa, type CertificateAuthority } from '../../certs/ca.ts';
import { buildCsr, buildWorkloadCsr } from '../../certs/csr.ts';
import { subjectAltName } from '../../certs/extensions.ts';
import { readPemCertificates } from '../../certs/files.ts';
import { generateKeyPair } from '../../certs/keys.ts';
import { spiffeIdOf } from '../../certs/spiffe-id.ts';
import { requestCertificate } from '../../proxy/agent/ca-client.ts';
import { ISTIO_TRANSLATION } from '../../control-plane/server/istio-source.ts';
import { createCaService, type CallerVerifier } from '../../control-plane/server/ca-service.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/server/control-plane.ts';
import { loadTokenReviewVerifier, TOKEN_REVIEW_PATH, type TokenReviewVerifier } from '../../control-plane/server/token-review.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { createTestCa, type TestCa } from '../support/test-pki.ts';

const WEB = { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'web' };
const WEB_ID = 'spiffe://cluster.local/ns/default/sa/web';
const ADMIN_ID = 'spiffe://cluster.local/ns/istio-system/sa/admin';

let dir: string;
let clock: FakeClock;
let ca: CertificateAuthority;
let secret: Buffer;
let cp: ControlPlane;
let log: string[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nodevoy-ca-'));
  mkdirSync(join(dir, 'mesh'));
  clock = new FakeClock(Date.now());
  ca = createCa({ trustDomain: 'cluster.local', clock });
  secret = generateTokenSecret();
  log = [];
});

/** The control plane with the CA service; with `serviceAccountTokens` it also takes ServiceAccount tokens. */
async function startCa(serviceAccountTokens?: CallerVerifier): Promise<void> {
  const logger = { info: (m: string) => log.push(`info ${m}`), warning: (m: string) => log.push(`warning ${m}`) };
  cp = await startControlPlane({
    configDir: join(dir, 'mesh'), host: '127.0.0.1', port: 0, clock, translation: ISTIO_TRANSLATION, logger,
    caService: createCaService({ ca, tokenSecret: secret, clock, logger, ...(serviceAccountTokens ? { serviceAccountTokens } : {}) }),
  });
}

afterEach(async () => {
  await cp.close();
  rmSync(dir, { recursive: true, force: true });
});

async function post(token: string | undefined, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`${cp.server.url}/v1/certificates`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

const csrFor = (spiffeId: string) => ({ csr: buildWorkloadCsr(spiffeId, generateKeyPair()) });
const refusals = (): string[] => log.filter((l) => l.startsWith('warning CA: refused'));

describe('CA service', () => {
  beforeEach(() => startCa());

  it('signs the CSR of the identity the token proves, for the requested lifetime', async () => {
    const token = issueBootstrapToken(WEB, secret, clock);
    const keys = generateKeyPair();
    const answer = await requestCertificate(cp.server.url, token, buildWorkloadCsr(WEB_ID, keys), 600, clock);
    expect(answer.ok).toBe(true);
    if (!answer.ok) return;
    const chain = readPemCertificates(answer.value.certChain.join(''));
    if (!chain.ok) throw new Error(chain.reason);
    const cert = chain.value[0]!;
    expect(spiffeIdOf(cert)).toBe(WEB_ID);
    expect(cert.checkPrivateKey(keys.privateKey)).toBe(true);
    expect(Date.parse(cert.validTo) - clock.now()).toBeLessThanOrEqual(600_000);
    expect(answer.value.rootCert).toBe(ca.root.toString());
    expect(log.some((l) => l.startsWith('info CA: issued spiffe://cluster.local/ns/default/sa/web (bootstrap token)'))).toBe(true);
  });

  it('refuses with 403 and logs a CSR for someone else\'s identity', async () => {
    const token = issueBootstrapToken(WEB, secret, clock);
    const r = await post(token, csrFor(ADMIN_ID));
    expect(r.status).toBe(403);
    expect(r.text).toContain(`asks for ${ADMIN_ID} but the caller proved ${WEB_ID}`);
    expect(log.filter((l) => l.startsWith('warning CA: refused certificate for spiffe://cluster.local/ns/default/sa/web'))).toHaveLength(1);
    expect(log.join('\n')).not.toContain(token);
  });

  it('refuses with 403 a CSR asking for an extra DNS SAN next to its own identity', async () => {
    const token = issueBootstrapToken(WEB, secret, clock);
    const keys = generateKeyPair();
    const csr = buildCsr({ keys, extensions: [subjectAltName([{ type: 'URI', value: WEB_ID }, { type: 'DNS', value: 'admin.example.com' }], true)] });
    const r = await post(token, { csr });
    expect(r.status).toBe(403);
    expect(r.text).toContain('non-URI SANs');
  });

  it.each([
    ['no token', () => undefined, 'Bearer <bootstrap token> is required'],
    ['a forged token', () => `${issueBootstrapToken(WEB, secret, clock).slice(0, -4)}AAAA`, 'signature is invalid'],
    ['a token of another CA directory', () => issueBootstrapToken(WEB, generateTokenSecret(), clock), 'signature is invalid'],
    ['an expired token', () => {
      const t = issueBootstrapToken(WEB, secret, clock, 60_000);
      clock.advance(61_000);
      return t;
    }, 'expired'],
    ['garbage', () => 'not-a-token', 'malformed'],
  ])('refuses %s with 401 and logs it without the token', async (_name, token, reason) => {
    const t = token();
    const r = await post(t, csrFor(WEB_ID));
    expect(r.status).toBe(401);
    expect(r.text).toContain(reason);
    expect(refusals()).toHaveLength(1);
    if (t !== undefined) expect(log.join('\n')).not.toContain(t);
  });

  it('answers 400 to a body without a CSR and 405 to GET', async () => {
    const token = issueBootstrapToken(WEB, secret, clock);
    expect((await post(token, { nope: 1 })).status).toBe(400);
    expect((await fetch(`${cp.server.url}/v1/certificates`)).status).toBe(405);
  });
});

const CONTROL_PLANE_TOKEN = 'control-plane-own-token';
const TIMEOUT_MS = 5_000;

interface Received {
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly authorization: string | undefined;
  readonly contentType: string | undefined;
  readonly body: { apiVersion?: string; kind?: string; spec?: { token?: string; audiences?: string[] } };
}
type Reply = { status: number; body: unknown } | 'hang';

/** A ServiceAccount-token-shaped JWT (the fake API decides what it proves; nothing checks its signature). */
let jwtSeq = 0;
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
const saToken = (): string => `${b64({ alg: 'RS256', kid: 'k1' })}.${b64({ sub: 'system:serviceaccount:default:web', n: ++jwtSeq })}.c2lnbmF0dXJl`;

/** kube-apiserver's answer for a token of ServiceAccount ns/sa. */
function reviewed(username: string, overrides: { groups?: string[]; audiences?: string[] } = {}): Reply {
  const ns = username.split(':')[2];
  return {
    status: 201,
    body: {
      apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview',
      status: {
        authenticated: true,
        user: { username, uid: 'u-1', groups: overrides.groups ?? ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'] },
        audiences: overrides.audiences ?? ['istio-ca'],
      },
    },
  };
}

let kubeCa: TestCa;
let api: Server;
let apiUrl: string;
let received: Received[];
let reply: (r: Received) => Reply;
let arrived: Promise<void>;
let signalArrival: () => void;
let verifier: TokenReviewVerifier;

beforeAll(() => {
  kubeCa = createTestCa('fake kubernetes CA');
});

async function startFakeApi(): Promise<void> {
  const serving = kubeCa.issue({ commonName: 'kube-apiserver', ips: ['127.0.0.1'] });
  api = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => { text += c.toString(); });
    req.on('end', () => {
      const r: Received = {
        method: req.method, path: req.url, authorization: req.headers.authorization, contentType: req.headers['content-type'], body: JSON.parse(text) as Received['body'],
      };
      received.push(r);
      signalArrival();
      const answer = reply(r);
      if (answer === 'hang') return; // never answers
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  });
  api.listen(0, '127.0.0.1');
  await once(api, 'listening');
  apiUrl = `https://127.0.0.1:${(api.address() as AddressInfo).port}`;
}

function stopFakeApi(): Promise<void> {
  api.closeAllConnections();
  return new Promise((resolve) => api.close(() => resolve()));
}

describe('CA service with TokenReview', () => {
  beforeEach(async () => {
    received = [];
    reply = () => reviewed('system:serviceaccount:default:web');
    arrived = new Promise((resolve) => { signalArrival = resolve; });
    await startFakeApi();
    writeFileSync(join(dir, 'token'), `${CONTROL_PLANE_TOKEN}\n`);
    writeFileSync(join(dir, 'ca.crt'), kubeCa.certPem);
    const loaded = loadTokenReviewVerifier(
      { api: apiUrl, tokenFile: join(dir, 'token'), caFile: join(dir, 'ca.crt'), audiences: ['istio-ca'] },
      { trustDomain: ca.trustDomain, clock, env: {}, timeoutMs: TIMEOUT_MS },
    );
    if (!loaded.ok) throw new Error(loaded.reason);
    verifier = loaded.value;
    await startCa(verifier);
  });

  afterEach(async () => {
    await verifier.close();
    await stopFakeApi();
  });

  it('reviews a ServiceAccount token with the control plane\'s own token and signs exactly its SPIFFE ID', async () => {
    const token = saToken();
    const keys = generateKeyPair();
    const answer = await requestCertificate(cp.server.url, token, buildWorkloadCsr(WEB_ID, keys), 600, clock);
    if (!answer.ok) throw new Error(answer.reason);
    expect(received).toEqual([{
      method: 'POST', path: TOKEN_REVIEW_PATH, authorization: `Bearer ${CONTROL_PLANE_TOKEN}`, contentType: 'application/json',
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: ['istio-ca'] } },
    }]);
    const chain = readPemCertificates(answer.value.certChain.join(''));
    if (!chain.ok) throw new Error(chain.reason);
    expect(spiffeIdOf(chain.value[0]!)).toBe(WEB_ID);
    expect(chain.value[0]!.checkPrivateKey(keys.privateKey)).toBe(true);
    expect(log.some((l) => l.startsWith(`info CA: issued ${WEB_ID} (Kubernetes ServiceAccount token)`))).toBe(true);
    expect(log.join('\n')).not.toContain(token);
  });

  it('re-reads the control plane\'s token file for each review (the kubelet rotates it)', async () => {
    expect((await post(saToken(), csrFor(WEB_ID))).status).toBe(200);
    writeFileSync(join(dir, 'token'), 'rotated-token\n');
    expect((await post(saToken(), csrFor(WEB_ID))).status).toBe(200);
    expect(received.map((r) => r.authorization)).toEqual([`Bearer ${CONTROL_PLANE_TOKEN}`, 'Bearer rotated-token']);
  });

  it('refuses with 403 a CSR for another identity than the reviewed ServiceAccount', async () => {
    const r = await post(saToken(), csrFor(ADMIN_ID));
    expect(r.status).toBe(403);
    expect(r.text).toContain(`asks for ${ADMIN_ID} but the caller proved ${WEB_ID}`);
    expect(refusals()).toEqual([expect.stringContaining(`warning CA: refused certificate for ${WEB_ID}`)]);
  });

  it.each<[string, () => Reply, string]>([
    ['a token the API does not authenticate', () => ({ status: 201, body: { kind: 'TokenReview', status: { authenticated: false, error: '[invalid bearer token, token has been invalidated]' } } }),
      'not authenticated: [invalid bearer token'],
    ['a user that is not a ServiceAccount', () => reviewed('kubernetes-admin', { groups: ['system:masters', 'system:authenticated'] }),
      'user "kubernetes-admin" is not a ServiceAccount'],
    ['a ServiceAccount-like username outside the ServiceAccount group', () => reviewed('system:serviceaccount:default:web', { groups: ['system:authenticated'] }),
      'is not a ServiceAccount'],
    ['a token for another audience', () => reviewed('system:serviceaccount:default:web', { audiences: ['https://kubernetes.default.svc.cluster.local'] }),
      'audiences (https://kubernetes.default.svc.cluster.local) include none of istio-ca'],
    ['an API error (the control plane may not create TokenReviews)', () => ({ status: 403, body: { kind: 'Status', status: 'Failure', reason: 'Forbidden', code: 403,
      message: 'tokenreviews.authentication.k8s.io is forbidden: User "system:serviceaccount:istio-system:nodevoy" cannot create resource "tokenreviews"' } }),
      'the Kubernetes API answered 403: tokenreviews.authentication.k8s.io is forbidden'],
    ['an answer that is not JSON', () => ({ status: 201, body: undefined }), 'not JSON'],
  ])('refuses %s with 401 and logs why, never the token', async (_name, answer, reason) => {
    reply = answer;
    const token = saToken();
    const r = await post(token, csrFor(WEB_ID));
    expect(r.status).toBe(401);
    expect(r.text).toContain(reason);
    expect(received).toHaveLength(1);
    expect(refusals()).toHaveLength(1);
    expect(refusals()[0]).toContain(reason);
    expect(log.join('\n')).not.toContain(token);
  });

  it('refuses with 401 when the API server is down, and keeps serving', async () => {
    await stopFakeApi();
    const r = await post(saToken(), csrFor(WEB_ID));
    expect(r.status).toBe(401);
    expect(r.text).toMatch(/TokenReview: the Kubernetes API at https:\/\/127\.0\.0\.1:\d+ is unreachable: ECONNREFUSED/);
    expect(refusals()).toHaveLength(1);
    expect((await post(issueBootstrapToken(WEB, secret, clock), csrFor(WEB_ID))).status).toBe(200);
    await startFakeApi(); // for afterEach
  });

  it('refuses with 401 when the API server does not answer within the timeout, and keeps serving', async () => {
    reply = () => 'hang';
    const pending = post(saToken(), csrFor(WEB_ID));
    await arrived;
    clock.advance(TIMEOUT_MS);
    const r = await pending;
    expect(r.status).toBe(401);
    expect(r.text).toContain(`TokenReview: the Kubernetes API did not answer within ${TIMEOUT_MS} ms`);
    expect(received).toHaveLength(1); // no retry
    reply = () => reviewed('system:serviceaccount:default:web');
    expect((await post(saToken(), csrFor(WEB_ID))).status).toBe(200);
  });

  it('still signs for bootstrap tokens, without asking the API server', async () => {
    const token = issueBootstrapToken({ trustDomain: 'cluster.local', namespace: 'istio-system', serviceAccount: 'admin' }, secret, clock);
    expect((await post(token, csrFor(ADMIN_ID))).status).toBe(200);
    const forged = await post(`${token.slice(0, -4)}AAAA`, csrFor(ADMIN_ID));
    expect(forged).toEqual({ status: 401, text: 'bootstrap token signature is invalid\n' });
    expect(received).toEqual([]);
  });

  it('sends nothing that is not shaped like a JWT to the API server', async () => {
    const r = await post('not-a-token', csrFor(WEB_ID));
    expect(r).toEqual({ status: 401, text: 'bootstrap token is malformed\n' });
    expect((await post(undefined, csrFor(WEB_ID))).text).toBe('authorization: Bearer <Kubernetes ServiceAccount token or bootstrap token> is required\n');
    expect(received).toEqual([]);
  });
});
