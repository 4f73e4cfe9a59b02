// Recognises a TLS ClientHello at the start of a connection and reads its SNI and ALPN list (what
// envoy.filters.listener.tls_inspector gives filter chain matching). Pure: bytes in, verdict out.
// RFC 8446 §4.1.2 (ClientHello), RFC 6066 §3 (server_name), RFC 7301 §3.1 (ALPN).

export type ClientHelloResult =
  | { readonly kind: 'need-more' }
  | { readonly kind: 'not-tls' }
  | { readonly kind: 'too-large' }
  | { readonly kind: 'tls'; readonly serverName: string; readonly alpn: readonly string[] };

const HANDSHAKE_RECORD = 0x16;
const CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;
const NEED_MORE: ClientHelloResult = { kind: 'need-more' };
const NOT_TLS: ClientHelloResult = { kind: 'not-tls' };

/**
 * Inspects the bytes received so far. `maxSize` bounds the ClientHello (TlsInspector's
 * max_client_hello_size, 16 KiB by default); a larger one is 'too-large'.
 */
export function parseClientHello(data: Buffer, maxSize = 16_384): ClientHelloResult {
  // The ClientHello may be split over several handshake records: gather the handshake bytes.
  const parts: Buffer[] = [];
  let gathered = 0;
  let offset = 0;
  let needed = -1;
  while (needed < 0 || gathered < needed) {
    if (data.length < offset + 5) return data.length === 0 || isRecordPrefix(data, offset) ? NEED_MORE : NOT_TLS;
    if (data[offset] !== HANDSHAKE_RECORD || data[offset + 1] !== 0x03) return NOT_TLS;
    const recordLength = data.readUInt16BE(offset + 3);
    if (recordLength === 0) return NOT_TLS;
    const fragment = data.subarray(offset + 5, offset + 5 + recordLength);
    parts.push(fragment);
    gathered += fragment.length;
    if (needed < 0 && gathered >= 4) {
      const head = parts.length === 1 ? fragment : Buffer.concat(parts);
      if (head[0] !== CLIENT_HELLO) return NOT_TLS;
      needed = 4 + head.readUIntBE(1, 3);
      if (needed > maxSize) return { kind: 'too-large' };
    }
    if (fragment.length < recordLength) return NEED_MORE;
    offset += 5 + recordLength;
  }
  const hello = Buffer.concat(parts).subarray(4, needed);
  return readClientHello(hello) ?? NOT_TLS;
}

/** Whether the few bytes at `offset` could still begin a TLS handshake record. */
function isRecordPrefix(data: Buffer, offset: number): boolean {
  if (data.length > offset && data[offset] !== HANDSHAKE_RECORD) return false;
  if (data.length > offset + 1 && data[offset + 1] !== 0x03) return false;
  return true;
}

/** The ClientHello body: SNI and ALPN from its extensions; null when malformed. */
function readClientHello(b: Buffer): ClientHelloResult | null {
  let p = 2 + 32; // legacy_version, random
  if (p + 1 > b.length) return null;
  p += 1 + b[p]!; // legacy_session_id
  if (p + 2 > b.length) return null;
  p += 2 + b.readUInt16BE(p); // cipher_suites
  if (p + 1 > b.length) return null;
  p += 1 + b[p]!; // legacy_compression_methods
  let serverName = '';
  let alpn: string[] = [];
  if (p === b.length) return { kind: 'tls', serverName, alpn }; // no extensions
  if (p + 2 > b.length) return null;
  const end = p + 2 + b.readUInt16BE(p);
  if (end > b.length) return null;
  p += 2;
  while (p + 4 <= end) {
    const type = b.readUInt16BE(p);
    const length = b.readUInt16BE(p + 2);
    const body = b.subarray(p + 4, p + 4 + length);
    if (body.length !== length) return null;
    if (type === EXT_SERVER_NAME) serverName = readServerName(body) ?? '';
    else if (type === EXT_ALPN) alpn = readAlpn(body) ?? [];
    p += 4 + length;
  }
  return { kind: 'tls', serverName, alpn };
}

/** server_name extension: the first host_name entry (lower-cased, as Envoy compares names). */
function readServerName(body: Buffer): string | null {
  if (body.length < 2) return null;
  const end = Math.min(body.length, 2 + body.readUInt16BE(0));
  let p = 2;
  while (p + 3 <= end) {
    const nameType = body[p]!;
    const length = body.readUInt16BE(p + 1);
    if (p + 3 + length > end) return null;
    if (nameType === 0) return body.toString('latin1', p + 3, p + 3 + length).toLowerCase();
    p += 3 + length;
  }
  return null;
}

/** application_layer_protocol_negotiation extension: the protocol names in client order. */
function readAlpn(body: Buffer): string[] | null {
  if (body.length < 2) return null;
  const end = Math.min(body.length, 2 + body.readUInt16BE(0));
  const out: string[] = [];
  let p = 2;
  while (p < end) {
    const length = body[p]!;
    if (p + 1 + length > end) return null;
    out.push(body.toString('latin1', p + 1, p + 1 + length));
    p += 1 + length;
  }
  return out;
}
