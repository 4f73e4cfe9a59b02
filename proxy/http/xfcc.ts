// The x-forwarded-client-cert (XFCC) request header as the HTTP connection manager sets it, following
// Envoy's ConnectionManagerUtility::mutateXfccRequestHeader (forward_client_cert_details,
// set_current_client_cert_details). Reads the connection's TLS facts; must not open or inspect sockets.

import type { DownstreamTlsInfo } from '../tls/connection-info.ts';
import type { HeaderMap } from './headers.ts';

export const XFCC_HEADER = 'x-forwarded-client-cert';

/** HttpConnectionManager.ForwardClientCertDetails. */
export type ForwardClientCertDetails = 'SANITIZE' | 'FORWARD_ONLY' | 'APPEND_FORWARD' | 'SANITIZE_SET' | 'ALWAYS_FORWARD_ONLY';

/** The keys set_current_client_cert_details can add to this proxy's element. */
export type ClientCertDetail = 'Cert' | 'Chain' | 'Subject' | 'URI' | 'DNS';

/**
 * Envoy's emission order, fixed whatever order the config writes them in (the HCM config turns the
 * SetCurrentClientCertDetails booleans into a list in this order).
 */
export const CLIENT_CERT_DETAIL_ORDER: readonly ClientCertDetail[] = ['Cert', 'Chain', 'Subject', 'URI', 'DNS'];

export interface XfccPolicy {
  readonly forwardClientCertDetails: ForwardClientCertDetails;
  /** The requested details, in CLIENT_CERT_DETAIL_ORDER. */
  readonly setCurrentClientCertDetails: readonly ClientCertDetail[];
}

/**
 * Envoy's Http::Utility::PercentEncoding::urlEncode: every byte but ALPHA, DIGIT and `*-._` becomes %XX
 * (upper-case hex, UTF-8 bytes). For a PEM: newline %0A, space %20, `+` %2B, `/` %2F, `=` %3D.
 */
export function urlEncode(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const keep = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
      || byte === 0x2a || byte === 0x2d || byte === 0x2e || byte === 0x5f;
    out += keep ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * This proxy's element: `By=` per URI SAN of its own certificate (none without one), `Hash=`, then the
 * requested details. Subject is always quoted and present; URI is present (`URI=`) even without a URI SAN;
 * DNS gives one pair per DNS SAN; Cert and Chain are quoted, URL-encoded PEM. Values are not escaped
 * (Envoy's TODO: By and URI may carry `,;=`). `tls` must have a peer certificate.
 */
export function currentClientCertElement(tls: DownstreamTlsInfo, details: readonly ClientCertDetail[]): string {
  const peer = tls.peerCertificate;
  const parts: string[] = [];
  for (const uri of tls.uriSanLocalCertificate) parts.push(`By=${uri}`);
  if (peer) parts.push(`Hash=${peer.sha256Digest}`);
  for (const detail of details) {
    switch (detail) {
      case 'Cert':
        if (peer) parts.push(`Cert="${urlEncode(peer.pem)}"`);
        break;
      case 'Chain':
        if (peer) parts.push(`Chain="${peer.chainPem.map(urlEncode).join('')}"`);
        break;
      case 'Subject':
        parts.push(`Subject="${tls.ssl.subjectPeerCertificate}"`);
        break;
      case 'URI': {
        const uris = tls.ssl.uriSanPeerCertificate;
        if (uris.length === 0) parts.push('URI=');
        for (const uri of uris) parts.push(`URI=${uri}`);
        break;
      }
      case 'DNS':
        for (const dns of tls.ssl.dnsSansPeerCertificate) parts.push(`DNS=${dns}`);
        break;
    }
  }
  return parts.join(';');
}

/** The element last built on each connection: keep-alive requests repeat it, and Cert/Chain are long. */
const elements = new WeakMap<DownstreamTlsInfo, { readonly details: readonly ClientCertDetail[]; readonly element: string }>();

function cachedElement(tls: DownstreamTlsInfo, details: readonly ClientCertDetail[]): string {
  const hit = elements.get(tls);
  if (hit?.details === details) return hit.element;
  const element = currentClientCertElement(tls, details);
  elements.set(tls, { details, element });
  return element;
}

/**
 * Applies forward_client_cert_details to the request headers. ALWAYS_FORWARD_ONLY leaves XFCC alone;
 * SANITIZE, and every other mode on a connection without a client certificate (plaintext, or TLS where
 * the client sent none), removes it; FORWARD_ONLY keeps it; APPEND_FORWARD appends `,<element>`;
 * SANITIZE_SET replaces it with this proxy's element. `tls` is undefined on a plaintext connection.
 */
export function mutateXfccRequestHeader(headers: HeaderMap, tls: DownstreamTlsInfo | undefined, policy: XfccPolicy): void {
  const mode = policy.forwardClientCertDetails;
  if (mode === 'ALWAYS_FORWARD_ONLY') return;
  if (mode === 'SANITIZE' || tls?.peerCertificate === undefined) {
    if (headers[XFCC_HEADER] !== undefined) delete headers[XFCC_HEADER];
    return;
  }
  if (mode === 'FORWARD_ONLY') return;
  const element = cachedElement(tls, policy.setCurrentClientCertDetails);
  const existing = headers[XFCC_HEADER];
  // Envoy's appendForwardedClientCert(value, ","): no delimiter when the header is absent or empty;
  // repeated headers are one comma-separated list, as Envoy's HTTP/1 codec coalesces them.
  const prior = Array.isArray(existing) ? existing.join(',') : existing;
  headers[XFCC_HEADER] = mode === 'APPEND_FORWARD' && prior !== undefined && prior !== '' ? `${prior},${element}` : element;
}
