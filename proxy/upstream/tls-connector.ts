// Upstream TLS (Cluster.transport_socket UpstreamTlsContext): an undici connector that dials TLS with the
// cluster's SecureContext (client certificate, trusted CA, versions, ciphers) and SNI, then checks the
// server's certificate as Envoy does (chain against trusted_ca, SAN matchers — SPIFFE URI SANs included).
// A refused server fails the connection (503 UF, the reason in %UPSTREAM_TRANSPORT_FAILURE_REASON%).

import type { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { buildConnector } from 'undici';
import { countVerdict, verifyPeer, type SslStats } from '../tls/peer-verifier.ts';
import type { UpstreamTlsConfig } from '../tls/tls-context.ts';

/** Error code of a connection refused by the peer-certificate check (a TLS error: the router reports UF). */
export const TLS_VERIFY_FAILED = 'ERR_TLS_CERT_VERIFY_FAILED';

/** Node's codes for TLS failures (alerts, handshake and certificate errors). */
function isTlsError(err: Error & { code?: string }): boolean {
  return err.code?.startsWith('ERR_SSL_') === true || err.code?.startsWith('ERR_TLS_') === true;
}

/**
 * Wraps `base` (the plaintext connector options: timeout, keep-alive, buffer sizes) into a TLS connector.
 * Node's own server identity check is off: Envoy checks names only through the SAN matchers. `onVerified`
 * sees each connection that passed them, with the server's certificate (undefined: it sent none).
 */
export function tlsConnector(base: buildConnector.BuildOptions, tls: UpstreamTlsConfig, stats: SslStats,
  onVerified?: (socket: TLSSocket, certificate: X509Certificate | undefined) => void): buildConnector.connector {
  const build = (): buildConnector.connector => buildConnector({
    ...base,
    secureContext: tls.secureContext,
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
    // No session resumption: a resumed session carries no peer certificate chain in Node, and every new
    // connection must show one to the SAN matchers (pools keep connections alive, so handshakes are rare).
    maxCachedSessions: 0,
    ...(tls.sni !== '' ? { servername: tls.sni } : {}),
  });
  let secureContext = tls.ready ? tls.secureContext : undefined;
  let connector = build();
  return (opts, callback) => {
    // Envoy fails requests to a cluster whose TLS context's secrets are not ready.
    if (!tls.ready) {
      stats.connectionError.inc();
      callback(Object.assign(new Error('TLS_error: the TLS context\'s secrets are not loaded yet'), { code: TLS_VERIFY_FAILED }), null);
      return;
    }
    // A rotated secret: new connections present the new client certificate; pooled ones keep theirs.
    if (tls.secureContext !== secureContext) {
      secureContext = tls.secureContext;
      connector = build();
    }
    connector({ ...opts, protocol: 'https:', ...(tls.sni !== '' ? { servername: tls.sni } : {}) }, (err, socket) => {
      if (err) {
        if (isTlsError(err)) stats.connectionError.inc();
        callback(err, null);
        return;
      }
      const verdict = verifyPeer(socket as TLSSocket, tls.validation);
      countVerdict(stats, verdict);
      if (verdict.ok) {
        onVerified?.(socket as TLSSocket, verdict.certificate);
        callback(null, socket as Socket);
        return;
      }
      (socket as Socket).destroy();
      callback(Object.assign(new Error(`TLS_error: ${verdict.reason}`), { code: TLS_VERIFY_FAILED }), null);
    });
  };
}
