// The peer-certificate check after a TLS handshake, for both sides (Envoy's DefaultCertValidator: chain
// against trusted_ca, then SAN matchers), and the `ssl.*` stats it feeds (listener.<prefix>.ssl.* downstream,
// cluster.<name>.ssl.* upstream). Node verifies the chain; presence and SANs are checked here.

import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Counter, StatsScope } from '../stats/scope.ts';
import { peerSans } from './san-matcher.ts';
import type { PeerValidation } from './tls-context.ts';

/** Envoy's ssl stats (source/common/tls/stats.h) that nodevoy records. */
export interface SslStats {
  /** Successful handshakes (peer accepted). */
  readonly handshake: Counter;
  /** TLS errors other than failed certificate verification (bad ClientHello, protocol mismatch, alerts). */
  readonly connectionError: Counter;
  /** Successful connections whose peer sent no certificate. */
  readonly noCertificate: Counter;
  readonly failVerifyNoCert: Counter;
  readonly failVerifyError: Counter;
  readonly failVerifySan: Counter;
}

/** `scope` is the listener's or cluster's scope; the stats live under its `ssl.`. */
export function sslStats(scope: StatsScope): SslStats {
  const s = scope.scope('ssl');
  return {
    handshake: s.counter('handshake'),
    connectionError: s.counter('connection_error'),
    noCertificate: s.counter('no_certificate'),
    failVerifyNoCert: s.counter('fail_verify_no_cert'),
    failVerifyError: s.counter('fail_verify_error'),
    failVerifySan: s.counter('fail_verify_san'),
  };
}

export type PeerVerdict =
  | { readonly ok: true; readonly certificate: X509Certificate | undefined }
  | { readonly ok: false; readonly stat: 'failVerifyNoCert' | 'failVerifyError' | 'failVerifySan'; readonly reason: string };

const peerCertificates = new WeakMap<TLSSocket, X509Certificate | undefined>();

/**
 * The peer certificate of a completed handshake, read from OpenSSL once per connection: the verdict and the
 * connection facts filters read (connection-info.ts) share it (a read costs a DER copy and an X509 parse).
 */
export function peerCertificate(socket: TLSSocket): X509Certificate | undefined {
  if (peerCertificates.has(socket)) return peerCertificates.get(socket);
  const cert = socket.getPeerX509Certificate();
  peerCertificates.set(socket, cert);
  return cert;
}

/**
 * Checks the peer of a completed handshake. The socket must have been set up with rejectUnauthorized
 * false (so Node reports, rather than acts on, chain errors) and, server side, requestCert.
 */
export function verifyPeer(socket: TLSSocket, v: PeerValidation): PeerVerdict {
  const cert = peerCertificate(socket);
  if (!cert) {
    return v.requireCertificate ? { ok: false, stat: 'failVerifyNoCert', reason: 'peer did not present a certificate' } : { ok: true, certificate: undefined };
  }
  // Without trusted_ca Envoy does not verify the chain (Node would check the system roots instead).
  if (v.verifyChain && !socket.authorized) {
    return { ok: false, stat: 'failVerifyError', reason: `certificate verify failed: ${String(socket.authorizationError)}` };
  }
  if (v.sanCheck && !v.sanCheck(peerSans(cert))) {
    return { ok: false, stat: 'failVerifySan', reason: `certificate SAN verify failed: ${cert.subjectAltName ?? 'no SAN'} matches none of match_typed_subject_alt_names` };
  }
  return { ok: true, certificate: cert };
}

/** Counts a verdict: handshake (and no_certificate) on success, the failure's counter otherwise. */
export function countVerdict(stats: SslStats, verdict: PeerVerdict): void {
  if (!verdict.ok) {
    stats[verdict.stat].inc();
    return;
  }
  stats.handshake.inc();
  if (!verdict.certificate) stats.noCertificate.inc();
}
