// The TLS facts of a downstream connection that filters read (StreamInfo.downstreamSsl for RBAC
// `authenticated` principals and XFCC, requestedServerName): the peer certificate's URI and DNS SANs and
// subject, and the SNI. Computed once per connection, on its first request.

import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { SslConnectionInfo } from '../http/stream-info.ts';
import { peerSans } from './san-matcher.ts';

export interface DownstreamTlsInfo {
  readonly ssl: SslConnectionInfo;
  /** The SNI the client sent ('' = none). */
  readonly sni: string;
}

const cache = new WeakMap<Socket, DownstreamTlsInfo>();

/**
 * Node's subject (`C=US\nO=example\nCN=sleep`, certificate order) in RFC 2253 form as Envoy prints it:
 * most specific RDN first, comma-separated (`CN=sleep,O=example,C=US`).
 */
export function rfc2253Subject(nodeSubject: string): string {
  return nodeSubject === '' ? '' : nodeSubject.split('\n').reverse().join(',');
}

/** undefined for a plaintext connection. */
export function downstreamTlsInfo(socket: Socket): DownstreamTlsInfo | undefined {
  if ((socket as Partial<TLSSocket>).encrypted !== true) return undefined;
  let info = cache.get(socket);
  if (info) return info;
  const tls = socket as TLSSocket & { servername?: string | false };
  const cert = tls.getPeerX509Certificate();
  const sans = cert ? peerSans(cert) : undefined;
  info = {
    ssl: { uriSanPeerCertificate: sans?.URI ?? [], dnsSansPeerCertificate: sans?.DNS ?? [], subjectPeerCertificate: rfc2253Subject(cert?.subject ?? '') },
    sni: typeof tls.servername === 'string' ? tls.servername : '',
  };
  cache.set(socket, info);
  return info;
}
