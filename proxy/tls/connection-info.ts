// The TLS facts of a downstream connection that filters read (StreamInfo.downstreamSsl for RBAC
// `authenticated` principals, the XFCC header, requestedServerName): the peer certificate's URI and DNS SANs,
// subject, SHA-256 digest, PEM and chain, this proxy's certificate's URI SANs, and the SNI. Computed once per
// connection, on its first request; what only XFCC needs is computed on first read.

import { createHash, type X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { SslConnectionInfo } from '../http/stream-info.ts';
import { peerCertificate } from './peer-verifier.ts';
import { peerSans } from './san-matcher.ts';

/**
 * The client certificate as Envoy's Ssl::ConnectionInfo exposes it to XFCC (sha256PeerCertificateDigest,
 * urlEncodedPemEncodedPeerCertificate[Chain] before URL encoding).
 */
export interface PeerCertificateInfo {
  /** Lower-case hex SHA-256 of the certificate's DER. */
  readonly sha256Digest: string;
  /** The certificate as PEM (64-column base64, trailing newline), as OpenSSL's PEM_write_bio_X509 writes it. */
  readonly pem: string;
  /**
   * The certificates the peer sent, leaf first, each as PEM (BoringSSL's SSL_get_peer_full_cert_chain):
   * not completed from this proxy's trust store.
   */
  readonly chainPem: readonly string[];
}

export interface DownstreamTlsInfo {
  readonly ssl: SslConnectionInfo;
  /** The SNI the client sent ('' = none). */
  readonly sni: string;
  /** undefined when the client presented no certificate (Envoy's peerCertificatePresented() false). */
  readonly peerCertificate: PeerCertificateInfo | undefined;
  /** URI SANs of the certificate this proxy presented on the connection (Envoy's uriSanLocalCertificate). */
  readonly uriSanLocalCertificate: readonly string[];
}

const cache = new WeakMap<Socket, DownstreamTlsInfo>();

/**
 * Node's subject (`C=US\nO=example\nCN=sleep`, certificate order) in RFC 2253 form as Envoy prints it:
 * most specific RDN first, comma-separated (`CN=sleep,O=example,C=US`).
 */
export function rfc2253Subject(nodeSubject: string): string {
  return nodeSubject === '' ? '' : nodeSubject.split('\n').reverse().join(',');
}

/** A certificate's digest, PEM and sent chain, each derived on first read (only XFCC asks for them). */
class PeerCertificate implements PeerCertificateInfo {
  readonly #cert: X509Certificate;
  #digest: string | undefined;
  #pem: string | undefined;
  #chain: readonly string[] | undefined;

  constructor(cert: X509Certificate) {
    this.#cert = cert;
  }

  get sha256Digest(): string {
    this.#digest ??= createHash('sha256').update(this.#cert.raw).digest('hex');
    return this.#digest;
  }

  get pem(): string {
    this.#pem ??= this.#cert.toString();
    return this.#pem;
  }

  get chainPem(): readonly string[] {
    this.#chain ??= sentChain(this.#cert).map((c) => c.toString());
    return this.#chain;
  }
}

/**
 * The leaf and the certificates that came with it. Node links a peer certificate to the rest of what the
 * peer sent through issuerCertificate (getPeerCertificate(true) would add CAs from the local trust store).
 */
function sentChain(leaf: X509Certificate): X509Certificate[] {
  const chain = [leaf];
  const seen = new Set([leaf.fingerprint256]);
  for (let c = leaf.issuerCertificate; c && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    chain.push(c);
  }
  return chain;
}

/** undefined for a plaintext connection. */
export function downstreamTlsInfo(socket: Socket): DownstreamTlsInfo | undefined {
  if ((socket as Partial<TLSSocket>).encrypted !== true) return undefined;
  let info = cache.get(socket);
  if (info) return info;
  const tls = socket as TLSSocket & { servername?: string | false };
  const cert = peerCertificate(tls);
  const sans = cert ? peerSans(cert) : undefined;
  let localUris: readonly string[] | undefined;
  info = {
    ssl: { uriSanPeerCertificate: sans?.URI ?? [], dnsSansPeerCertificate: sans?.DNS ?? [], subjectPeerCertificate: rfc2253Subject(cert?.subject ?? '') },
    sni: typeof tls.servername === 'string' ? tls.servername : '',
    peerCertificate: cert ? new PeerCertificate(cert) : undefined,
    get uriSanLocalCertificate(): readonly string[] {
      if (localUris === undefined) {
        const local = tls.getX509Certificate();
        localUris = local ? peerSans(local).URI : [];
      }
      return localUris;
    },
  };
  cache.set(socket, info);
  return info;
}
