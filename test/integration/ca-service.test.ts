// The control plane's CA service over real HTTP (POST /v1/certificates): a workload gets a certificate for
// the identity its bootstrap token proves, and every attempt to get in otherwise is refused and logged — a
// CSR for someone else's identity (403), extra SANs (403), no token, a forged token, a token from another CA
// directory, an expired token (401). The token never appears in the log.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateTokenSecret, issueBootstrapToken } from '../../certs/bootstrap-token.ts';
import { createCa, type CertificateAuthority } from '../../certs/ca.ts';
import { buildCsr, buildWorkloadCsr } from '../../certs/csr.ts';
import { subjectAltName } from '../../certs/extensions.ts';
import { readPemCertificates } from '../../certs/files.ts';
import { generateKeyPair } from '../../certs/keys.ts';
import { spiffeIdOf } from '../../certs/spiffe-id.ts';
import { requestCertificate } from '../../proxy/agent/ca-client.ts';
import { ISTIO_TRANSLATION } from '../../control-plane/server/istio-source.ts';
import { createCaService } from '../../control-plane/server/ca-service.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/server/control-plane.ts';
import { FakeClock } from '../support/fake-clock.ts';

const WEB = { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'web' };
const WEB_ID = 'spiffe://cluster.local/ns/default/sa/web';
const ADMIN_ID = 'spiffe://cluster.local/ns/istio-system/sa/admin';

let dir: string;
let clock: FakeClock;
let ca: CertificateAuthority;
let secret: Buffer;
let cp: ControlPlane;
let log: string[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nodevoy-ca-'));
  clock = new FakeClock(Date.now());
  ca = createCa({ trustDomain: 'cluster.local', clock });
  secret = generateTokenSecret();
  log = [];
  const logger = { info: (m: string) => log.push(`info ${m}`), warning: (m: string) => log.push(`warning ${m}`) };
  cp = await startControlPlane({
    configDir: dir, host: '127.0.0.1', port: 0, clock, translation: ISTIO_TRANSLATION, logger,
    caService: createCaService({ ca, tokenSecret: secret, clock, logger }),
  });
});

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

describe('CA service', () => {
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
    expect(log.some((l) => l.startsWith('info CA: issued spiffe://cluster.local/ns/default/sa/web'))).toBe(true);
  });

  it('refuses with 403 and logs a CSR for someone else\'s identity', async () => {
    const token = issueBootstrapToken(WEB, secret, clock);
    const r = await post(token, { csr: buildWorkloadCsr(ADMIN_ID, generateKeyPair()) });
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
    const r = await post(t, { csr: buildWorkloadCsr(WEB_ID, generateKeyPair()) });
    expect(r.status).toBe(401);
    expect(r.text).toContain(reason);
    expect(log.filter((l) => l.startsWith('warning CA: refused'))).toHaveLength(1);
    if (t !== undefined) expect(log.join('\n')).not.toContain(t);
  });

  it('answers 400 to a body without a CSR and 405 to GET', async () => {
    const token = issueBootstrapToken(WEB, secret, clock);
    expect((await post(token, { nope: 1 })).status).toBe(400);
    expect((await fetch(`${cp.server.url}/v1/certificates`)).status).toBe(405);
  });
});
