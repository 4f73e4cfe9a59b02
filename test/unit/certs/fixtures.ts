// Shared fixtures for the certs tests: CAs and workload certificates made through the product code, and a
// real TLS handshake on 127.0.0.1 that reports what each side saw.

import { connect, createServer, type ConnectionOptions, type PeerCertificate, type TlsOptions } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createCa, type CertificateAuthority } from '../../../certs/ca.ts';
import { issueWorkloadCertificate, type WorkloadCertificate } from '../../../certs/local-issuer.ts';
import type { WorkloadFiles } from '../../../certs/files.ts';
import type { KeyType } from '../../../certs/keys.ts';
import { spiffeIdOf, type WorkloadIdentity } from '../../../certs/spiffe-id.ts';
import type { Clock } from '../../../proxy/common/clock.ts';
import { FakeClock } from '../../support/fake-clock.ts';

export const TD = 'cluster.local';
export const identity = (namespace: string, serviceAccount: string, trustDomain = TD): WorkloadIdentity =>
  ({ trustDomain, namespace, serviceAccount });

/** A clock at the real current time, so certificates it dates are valid for node's TLS checks. */
export const clockAtRealNow = (): FakeClock => new FakeClock(Date.now());

export function newCa(options: { intermediate?: boolean; keyType?: KeyType; trustDomain?: string; clock?: Clock } = {}): CertificateAuthority {
  return createCa({ ...options, trustDomain: options.trustDomain ?? TD, clock: options.clock ?? clockAtRealNow() });
}

export function workloadCert(ca: CertificateAuthority, who: WorkloadIdentity, options: { clock?: Clock; ttlMs?: number; keyType?: KeyType } = {}): WorkloadCertificate {
  const issued = issueWorkloadCertificate(ca, who, { ...options, clock: options.clock ?? clockAtRealNow() });
  if (!issued.ok) throw new Error(issued.reason);
  return issued.value;
}

/** Server options for a mutual-TLS listener that trusts `trust` (root PEM). */
export const mtlsServer = (cert: WorkloadFiles, trust: string): TlsOptions =>
  ({ key: cert.keyPem, cert: cert.certChainPem, ca: trust, requestCert: true, rejectUnauthorized: true });

/**
 * Client options that trust `trust` and accept the server only if its SPIFFE ID is `expectedServer`
 * (node's checkServerIdentity ignores URI SANs, so the check is spiffeIdOf's).
 */
export function mtlsClient(cert: WorkloadFiles | undefined, trust: string, expectedServer: string): ConnectionOptions {
  return {
    ...(cert === undefined ? {} : { key: cert.keyPem, cert: cert.certChainPem }),
    ca: trust,
    checkServerIdentity: (_host: string, peer: PeerCertificate) =>
      spiffeIdOf(peer) === expectedServer ? undefined : new Error(`server is ${spiffeIdOf(peer)}, not ${expectedServer}`),
  };
}

export interface HandshakeOutcome {
  /** What the client read from the server (the server writes "hello" to an accepted peer). */
  readonly received: string;
  readonly clientError: string | undefined;
  readonly serverError: string | undefined;
  /** The client's SPIFFE ID as the server read it from the peer certificate. */
  readonly clientIdentity: string | undefined;
  /** Why node did not authorize the client (only reaches the handler when rejectUnauthorized is false). */
  readonly clientAuthorizationError: string | undefined;
}

/** Runs one real TLS connection on 127.0.0.1 and waits until both sides have closed. */
export async function handshake(server: TlsOptions, client: ConnectionOptions): Promise<HandshakeOutcome> {
  let serverError: string | undefined;
  let clientIdentity: string | undefined;
  let clientAuthorizationError: string | undefined;
  let serverSideClosed!: () => void;
  const serverDone = new Promise<void>((resolve) => { serverSideClosed = resolve; });
  const srv = createServer(server, (socket) => {
    clientIdentity = spiffeIdOf(socket.getPeerCertificate());
    clientAuthorizationError = socket.authorizationError?.toString();
    socket.on('error', () => {});
    socket.end('hello');
  });
  srv.on('connection', (raw) => raw.on('close', () => serverSideClosed()));
  srv.on('tlsClientError', (err: NodeJS.ErrnoException) => { serverError = err.code ?? err.message; });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  try {
    const { received, clientError } = await new Promise<{ received: string; clientError: string | undefined }>((resolve) => {
      let data = '';
      let error: string | undefined;
      const socket = connect({ host: '127.0.0.1', port, ...client });
      socket.on('data', (c: Buffer) => { data += c.toString(); });
      socket.on('error', (err: NodeJS.ErrnoException) => { error ??= err.code ?? err.message; });
      socket.on('close', () => resolve({ received: data, clientError: error }));
    });
    await serverDone;
    return { received, clientError, serverError, clientIdentity, clientAuthorizationError };
  } finally {
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}
