// The pure parts of the TokenReview verifier: which tokens are sent for review (JWT-shaped only), how a
// TokenReview answer becomes an identity or a refusal, --kube-api (https or in-cluster) and the start-time
// checks of its files. The exchange with an API server is in test/integration/ca-service-token-review.test.ts.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateTokenSecret, issueBootstrapToken } from '../../../certs/bootstrap-token.ts';
import {
  identityFromTokenReview, isJwt, kubeApiProblem, loadTokenReviewVerifier, resolveKubeApiUrl,
} from '../../../control-plane/server/token-review.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { createTestCa } from '../../support/test-pki.ts';

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const review = (status: unknown) => identityFromTokenReview({ kind: 'TokenReview', status }, ['istio-ca'], 'cluster.local');
const sa = (username: string, extra: object = {}) => ({
  authenticated: true, user: { username, groups: ['system:serviceaccounts', 'system:authenticated'] }, audiences: ['istio-ca'], ...extra,
});

describe('isJwt', () => {
  it.each([
    [`${b64({ alg: 'RS256', kid: 'x' })}.${b64({ sub: 's' })}.${b64('sig')}`, true],
    [`${b64({ alg: 'RS256' })}.${b64({ sub: 's' })}.${b64('sig')}.extra`, false],
    [`${b64({ typ: 'JWT' })}.${b64({ sub: 's' })}.${b64('sig')}`, false],
    [`${b64('not json')}.${b64({ sub: 's' })}.${b64('sig')}`, false],
    [`${b64({ alg: 'RS256' })}.${b64({ sub: 's' })}.si+g`, false],
    ['not-a-token', false],
  ])('%s → %s', (token, jwt) => {
    expect(isJwt(token)).toBe(jwt);
  });

  it('never claims a bootstrap token', () => {
    expect(isJwt(issueBootstrapToken({ trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'web' }, generateTokenSecret(), new FakeClock()))).toBe(false);
  });
});

describe('identityFromTokenReview', () => {
  it('reads system:serviceaccount:<ns>:<sa> into the CA\'s trust domain', () => {
    expect(review(sa('system:serviceaccount:payments:checkout-v2'))).toEqual({
      ok: true, value: { trustDomain: 'cluster.local', namespace: 'payments', serviceAccount: 'checkout-v2' },
    });
  });

  it('accepts an authenticator that is not audience-aware (no status.audiences)', () => {
    expect(review(sa('system:serviceaccount:default:web', { audiences: undefined })).ok).toBe(true);
  });

  it.each([
    ['no status', undefined, 'no status'],
    ['an error even when authenticated', sa('system:serviceaccount:default:web', { error: 'webhook failed' }), 'not authenticated: webhook failed'],
    ['authenticated missing', { user: { username: 'system:serviceaccount:default:web' } }, 'not authenticated'],
    ['no user', { authenticated: true }, 'user "" is not a ServiceAccount'],
    ['an extra colon', sa('system:serviceaccount:default:web:x'), 'is not a ServiceAccount'],
    ['a node', sa('system:node:worker-1'), 'user "system:node:worker-1" is not a ServiceAccount'],
    ['a namespace Kubernetes would not allow', sa('system:serviceaccount:Default:web'), 'namespace "Default" is not a Kubernetes namespace name'],
    ['other audiences', sa('system:serviceaccount:default:web', { audiences: ['vault', 'api'] }), 'audiences (vault, api) include none of istio-ca'],
  ])('refuses %s', (_name, status, reason) => {
    const r = review(status);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
  });
});

describe('--kube-api', () => {
  it.each([
    ['https://10.96.0.1:443', undefined],
    ['https://kube.example.com/k8s/clusters/c-1', undefined],
    ['in-cluster', undefined],
    ['http://127.0.0.1:8001', 'must be an https:// URL'],
    ['https://user:pw@10.0.0.1', 'must not carry credentials'],
    ['10.96.0.1:443', 'is not a URL'],
    ['kube.local:6443', 'must be an https:// URL'],
    ['kube api', 'is not a URL'],
  ])('%s', (value, problem) => {
    const p = kubeApiProblem(value);
    if (problem === undefined) expect(p).toBeUndefined();
    else expect(p).toContain(problem);
  });

  it('in-cluster is https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, IPv6 in brackets', () => {
    expect(resolveKubeApiUrl('in-cluster', { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' })).toEqual({ ok: true, value: 'https://10.96.0.1:443' });
    expect(resolveKubeApiUrl('in-cluster', { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' })).toEqual({ ok: true, value: 'https://[fd00::1]:443' });
    expect(resolveKubeApiUrl('in-cluster', {})).toEqual({ ok: false, reason: 'in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not in a pod?)' });
    expect(resolveKubeApiUrl('https://10.0.0.1:6443', { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' })).toEqual({ ok: true, value: 'https://10.0.0.1:6443' });
  });
});

describe('loadTokenReviewVerifier', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  function files(token: string | undefined, ca: string | undefined): { tokenFile: string; caFile: string } {
    const dir = mkdtempSync(join(tmpdir(), 'nodevoy-kube-'));
    dirs.push(dir);
    if (token !== undefined) writeFileSync(join(dir, 'token'), token);
    if (ca !== undefined) writeFileSync(join(dir, 'ca.crt'), ca);
    return { tokenFile: join(dir, 'token'), caFile: join(dir, 'ca.crt') };
  }
  const load = (api: string, f: { tokenFile: string; caFile: string }, env: Record<string, string> = {}) =>
    loadTokenReviewVerifier({ api, ...f, audiences: ['istio-ca'] }, { trustDomain: 'cluster.local', clock: new FakeClock(), env });

  it('names the flag to fix', () => {
    const caPem = createTestCa('kube').certPem;
    expect(load('in-cluster', files('t', caPem))).toMatchObject({ ok: false, reason: expect.stringMatching(/^--kube-api: in-cluster: KUBERNETES_SERVICE_HOST/) as unknown });
    expect(load('https://10.0.0.1', files(undefined, caPem))).toMatchObject({ ok: false, reason: expect.stringMatching(/^--kube-token-file: cannot read .*token: ENOENT$/) as unknown });
    expect(load('https://10.0.0.1', files(' \n', caPem))).toMatchObject({ ok: false, reason: expect.stringMatching(/^--kube-token-file: .*token is empty$/) as unknown });
    expect(load('https://10.0.0.1', files('t', undefined))).toMatchObject({ ok: false, reason: expect.stringMatching(/^--kube-ca-file: cannot read .*ca\.crt: ENOENT$/) as unknown });
    expect(load('https://10.0.0.1', files('t', 'no pem here'))).toMatchObject({ ok: false, reason: expect.stringMatching(/^--kube-ca-file: .*ca\.crt holds no certificate$/) as unknown });
  });

  it('builds a verifier from good files', async () => {
    const loaded = load('in-cluster', files('t\n', createTestCa('kube').certPem), { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '6443' });
    expect(loaded.ok).toBe(true);
    if (loaded.ok) await loaded.value.close();
  });
});
