// Trying to get into a STRICT mesh: the control plane's CA, mTLS between sidecars and an authorization
// policy on ratings (only reviews may call it, and never /ratings/admin). Each attacker connects straight to
// ratings' inbound port (as a pod on the network would) or goes through a sidecar, and every one fails:
// no certificate, another CA's certificate with the right SPIFFE ID, an expired mesh certificate, a
// certificate forged with a workload's own key, plaintext (with a forged XFCC header), the wrong identity,
// a denied path, and a CSR for someone else's identity at the CA. The legitimate caller gets through.

import { request } from 'node:https';
import { afterEach, describe, expect, it } from 'vitest';
import { generateTokenSecret, issueBootstrapToken } from '../../certs/bootstrap-token.ts';
import { buildWorkloadCsr } from '../../certs/csr.ts';
import { generateKeyPair } from '../../certs/keys.ts';
import { issueWorkloadCertificate } from '../../certs/local-issuer.ts';
import { realClock } from '../../proxy/common/clock.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { allowOnly, MESH_WIDE_STRICT } from '../support/istio-yaml.ts';
import { TestMesh } from '../support/mesh.ts';
import { send } from '../support/proxy.ts';
import { createTestCa, signingAs, spiffeId, type TestCert } from '../support/test-pki.ts';

const POLICIES = [
  MESH_WIDE_STRICT,
  allowOnly({ name: 'ratings-viewer', app: 'ratings', serviceAccounts: ['reviews'], to: '[{operation: {methods: ["GET"], paths: ["/ratings/*"]}}]' }),
  `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: default}
spec:
  selector: {matchLabels: {app: ratings}}
  action: DENY
  rules:
  - to: [{operation: {paths: ["/ratings/admin"]}}]
`,
].join('---\n');

const PORT = 9080;
const DAY_MS = 86_400_000;
const REVIEWS = { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'reviews' };

let mesh: TestMesh | undefined;
afterEach(async () => {
  await mesh?.close();
  mesh = undefined;
});

async function strictMesh(): Promise<TestMesh> {
  mesh = await TestMesh.start({
    workloads: [
      { name: 'productpage-v1', app: 'productpage', version: 'v1' },
      { name: 'reviews-v1', app: 'reviews', version: 'v1' },
      { name: 'ratings-v1', app: 'ratings', version: 'v1' },
    ],
    files: { 'security.yaml': POLICIES },
  });
  return mesh;
}

/** A mesh certificate for `identity` from the control plane's CA (RSA, so a test can sign with its key). */
function meshCertificate(m: TestMesh, identity = REVIEWS, clock = realClock, ttlMs = DAY_MS): TestCert {
  const issued = issueWorkloadCertificate(m.ca!.ca, identity, { clock, ttlMs, keyType: 'rsa' });
  if (!issued.ok) throw new Error(issued.reason);
  return { certPem: issued.value.certChainPem, keyPem: issued.value.keyPem };
}

type Outcome = { status: number; body: string } | { refused: string };

/** GET `path` over TLS straight to ratings' inbound port, presenting `client` (or no certificate). */
function toRatings(m: TestMesh, path: string, client: TestCert | null): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request({
      host: m.workload('ratings-v1').ip, port: PORT, path, agent: false, headers: { host: 'ratings' },
      ca: m.ca!.ca.root.toString(), checkServerIdentity: () => undefined,
      ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
    }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (err) => resolve({ refused: err.message }));
    });
    req.on('error', (err) => resolve({ refused: (err as NodeJS.ErrnoException).code ?? err.message }));
    req.end();
  });
}

const ratingsReceived = (m: TestMesh): number => m.workload('ratings-v1').app.received.length;

describe('attacks on a STRICT mesh', () => {
  it('the legitimate caller (reviews\' identity) reads /ratings/*; /ratings/admin (DENY) and other paths are 403', async () => {
    const m = await strictMesh();
    const reviews = meshCertificate(m);
    expect(await toRatings(m, '/ratings/1', reviews)).toEqual({ status: 200, body: 'ratings-v1' });
    expect(await toRatings(m, '/ratings/admin', reviews)).toEqual({ status: 403, body: 'RBAC: access denied' });
    expect(await toRatings(m, '/reviews', reviews)).toEqual({ status: 403, body: 'RBAC: access denied' });
    expect(m.workload('ratings-v1').app.received.map((r) => r.url)).toEqual(['/ratings/1']);
  });

  it.each([
    ['no client certificate', 'fail_verify_no_cert', () => null],
    ['a certificate from another CA carrying reviews\' SPIFFE ID', 'fail_verify_error', () => createTestCa('attacker').issue({ uris: [spiffeId('default', 'reviews')] })],
    ['an expired certificate from the mesh CA', 'fail_verify_error', (m: TestMesh) => meshCertificate(m, REVIEWS, new FakeClock(Date.now() - 3 * DAY_MS), DAY_MS)],
    ['a certificate for reviews\' ID signed with productpage\'s own key (a leaf is no CA)', 'fail_verify_error', (m: TestMesh) => {
      const productpage = meshCertificate(m, { ...REVIEWS, serviceAccount: 'productpage' });
      const forged = signingAs(productpage).issue({ uris: [spiffeId('default', 'reviews')] });
      return { certPem: forged.certPem + productpage.certPem, keyPem: forged.keyPem };
    }],
  ])('%s: the handshake fails (ssl.%s) and ratings sees nothing', async (_name, stat, client) => {
    const m = await strictMesh();
    expect(await toRatings(m, '/ratings/1', client(m))).toHaveProperty('refused');
    expect(await m.stat('ratings-v1', `listener.${m.workload('ratings-v1').ip}_${PORT}.ssl.${stat}`)).toBe(1);
    expect(ratingsReceived(m)).toBe(0);
    expect(await m.stat('ratings-v1', 'http.inbound_0.0.0.0_9080.downstream_rq_total')).toBe(0);
  });

  it('plaintext is closed before HTTP, forged x-forwarded-client-cert or not', async () => {
    const m = await strictMesh();
    const forged = { host: 'ratings', 'x-forwarded-client-cert': `By=${spiffeId('default', 'ratings')};URI=${spiffeId('default', 'reviews')}` };
    await expect(send(PORT, '/ratings/1', { host: m.workload('ratings-v1').ip, headers: forged })).rejects.toThrow(/ECONNRESET|socket hang up/);
    expect(ratingsReceived(m)).toBe(0);
  });

  it('a mesh identity the policy does not name gets 403, directly or through its own sidecar; reviews\' sidecar gets through', async () => {
    const m = await strictMesh();
    expect(await toRatings(m, '/ratings/1', meshCertificate(m, { ...REVIEWS, serviceAccount: 'productpage' }))).toEqual({ status: 403, body: 'RBAC: access denied' });
    expect((await m.call('productpage-v1', 'ratings:9080', '/ratings/1')).status).toBe(403);
    const ok = await m.call('reviews-v1', 'ratings:9080', '/ratings/1');
    expect([ok.status, ok.body]).toEqual([200, 'ratings-v1']);
    // The one request that reached ratings came over mTLS from reviews' sidecar, which says so in XFCC.
    expect(m.workload('ratings-v1').app.received.map((r) => r.headers['x-forwarded-client-cert'])).toEqual([
      expect.stringMatching(new RegExp(`;URI=${spiffeId('default', 'reviews')}$`)),
    ]);
  });

  it('the CA signs no CSR for an identity the caller did not prove, and no token it did not issue', async () => {
    const m = await strictMesh();
    const csrFor = (serviceAccount: string) => buildWorkloadCsr(spiffeId('default', serviceAccount), generateKeyPair('ec'));
    const ask = (token: string, csr: string) => fetch(`${m.controlPlane.server.url}/v1/certificates`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ csr }),
    });
    const productpageToken = issueBootstrapToken({ ...REVIEWS, serviceAccount: 'productpage' }, m.ca!.tokenSecret, realClock);
    const stolen = await ask(productpageToken, csrFor('reviews'));
    expect(stolen.status).toBe(403);
    expect(await stolen.text()).not.toContain('BEGIN CERTIFICATE');
    const forgedToken = issueBootstrapToken(REVIEWS, generateTokenSecret(), realClock);
    expect((await ask(forgedToken, csrFor('reviews'))).status).toBe(401);
    // The same token asking for its own identity is signed: the refusals were about identity, not the request.
    expect((await ask(productpageToken, csrFor('productpage'))).status).toBe(200);
  });
});
