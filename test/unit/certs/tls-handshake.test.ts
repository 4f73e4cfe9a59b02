// Issued SVIDs in real TLS on 127.0.0.1: mutual authentication with the mesh CA succeeds (root-signed and
// intermediate-signed, EC and RSA), and every attempt to get in without a valid certificate of the mesh
// fails in the handshake: no client certificate, another CA, expired, or a SPIFFE ID the client does not expect.

import type { ConnectionOptions, TlsOptions } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../support/fake-clock.ts';
import { handshake, identity, mtlsClient, mtlsServer, newCa, workloadCert } from './fixtures.ts';

const SERVER_ID = 'spiffe://cluster.local/ns/default/sa/server';
const CLIENT_ID = 'spiffe://cluster.local/ns/default/sa/client';

/**
 * The server (rejectUnauthorized, as a STRICT listener runs) never accepts the client: its handler does
 * not run and the client reads nothing. Node does not report why, so the same client is shown to a server
 * that records node's authorizationError instead of rejecting.
 */
async function expectRefusedClient(server: TlsOptions, client: ConnectionOptions, reason: string): Promise<void> {
  const refused = await handshake(server, client);
  expect(refused.received).toBe('');
  expect(refused.clientIdentity).toBeUndefined();
  const diagnosed = await handshake({ ...server, rejectUnauthorized: false }, client);
  expect(diagnosed.clientAuthorizationError).toBe(reason);
}

describe('mutual TLS with issued SVIDs', () => {
  it.each([
    { intermediate: false, keyType: 'ec' as const },
    { intermediate: true, keyType: 'ec' as const },
    { intermediate: true, keyType: 'rsa' as const },
  ])('succeeds and each side sees the other\'s SPIFFE ID (intermediate $intermediate, $keyType)', async ({ intermediate, keyType }) => {
    const ca = newCa({ intermediate, keyType });
    const server = workloadCert(ca, identity('default', 'server'), { keyType });
    const client = workloadCert(ca, identity('default', 'client'), { keyType });
    const out = await handshake(mtlsServer(server, server.rootCertPem), mtlsClient(client, client.rootCertPem, SERVER_ID));
    expect(out).toEqual({ received: 'hello', clientError: undefined, serverError: undefined, clientIdentity: CLIENT_ID, clientAuthorizationError: undefined });
  });

  it('refuses a client without a certificate', async () => {
    const ca = newCa();
    const server = workloadCert(ca, identity('default', 'server'));
    const out = await handshake(mtlsServer(server, server.rootCertPem), mtlsClient(undefined, server.rootCertPem, SERVER_ID));
    expect(out.received).toBe('');
    expect(out.clientIdentity).toBeUndefined();
    expect(out.serverError).toMatch(/PEER_DID_NOT_RETURN_A_CERTIFICATE/);
  });

  it('refuses a client whose certificate comes from another CA, even with the same SPIFFE ID', async () => {
    const ca = newCa();
    const server = workloadCert(ca, identity('default', 'server'));
    const impostor = workloadCert(newCa(), identity('default', 'client'));
    await expectRefusedClient(mtlsServer(server, server.rootCertPem), mtlsClient(impostor, server.rootCertPem, SERVER_ID), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('refuses a client whose certificate has expired', async () => {
    const ca = newCa();
    const server = workloadCert(ca, identity('default', 'server'));
    // Issued 3 days ago (by the clock) for 1 hour: node checks dates against real time.
    const expired = workloadCert(ca, identity('default', 'client'), { clock: new FakeClock(Date.now() - 3 * 86_400_000), ttlMs: 3_600_000 });
    expect(Date.parse(expired.svid.certificate.validTo)).toBeLessThan(Date.now());
    await expectRefusedClient(mtlsServer(server, server.rootCertPem), mtlsClient(expired, server.rootCertPem, SERVER_ID), 'CERT_HAS_EXPIRED');
  });

  it('the client refuses a server from another CA', async () => {
    const ca = newCa();
    const client = workloadCert(ca, identity('default', 'client'));
    const rogue = workloadCert(newCa(), identity('default', 'server'));
    const out = await handshake(mtlsServer(rogue, client.rootCertPem), mtlsClient(client, client.rootCertPem, SERVER_ID));
    expect(out.received).toBe('');
    expect(out.clientError).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/);
  });

  it('the client refuses an expired server certificate', async () => {
    const ca = newCa();
    const client = workloadCert(ca, identity('default', 'client'));
    const expired = workloadCert(ca, identity('default', 'server'), { clock: new FakeClock(Date.now() - 3 * 86_400_000), ttlMs: 3_600_000 });
    const out = await handshake(mtlsServer(expired, client.rootCertPem), mtlsClient(client, client.rootCertPem, SERVER_ID));
    expect(out.received).toBe('');
    expect(out.clientError).toBe('CERT_HAS_EXPIRED');
  });

  it('the client refuses a mesh server whose SPIFFE ID is not the expected one (URI SAN check)', async () => {
    const ca = newCa();
    const client = workloadCert(ca, identity('default', 'client'));
    const other = workloadCert(ca, identity('default', 'other'));
    const out = await handshake(mtlsServer(other, client.rootCertPem), mtlsClient(client, client.rootCertPem, SERVER_ID));
    expect(out.received).toBe('');
    expect(out.clientError).toMatch(/spiffe:\/\/cluster.local\/ns\/default\/sa\/other, not spiffe:\/\/cluster.local\/ns\/default\/sa\/server/);
  });
});
