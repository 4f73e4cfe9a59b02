// Translation of DownstreamTlsContext / UpstreamTlsContext into what the sockets use: a Node SecureContext
// built once at config time (certificate, key, trusted CA, protocol versions, ciphers, curves), the ALPN
// list and the peer validation (chain against trusted_ca, SAN matchers). Runs when the transport socket is
// parsed (tls-schema.ts), so unreadable files and bad PEM are config errors with paths. Keys stay in memory.

import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import { fail, ok, type ConfigError, type Result } from '../common/result.ts';
import { readDataSource } from './data-source.ts';
import { compileSanCheck, type SanCheck } from './san-matcher.ts';
import type { CommonTlsContextWire, DownstreamTlsContextWire, TlsVersion, UpstreamTlsContextWire } from './tls-schema.ts';

/** How a peer certificate is checked after the handshake (Envoy's DefaultCertValidator). */
export interface PeerValidation {
  /** validation_context.trusted_ca is set: the chain must verify against it. Without it a peer cert is not verified. */
  readonly verifyChain: boolean;
  /** SAN matchers (ANY-of); null = none configured. */
  readonly sanCheck: SanCheck | null;
  /**
   * A peer certificate is required: require_client_certificate (downstream), or SAN matchers configured
   * (Envoy then demands a certificate to verify).
   */
  readonly requireCertificate: boolean;
}

export interface TlsContextConfig {
  /** What the context is built from (a tls.Server takes options, not a SecureContext). */
  readonly secureContextOptions: Readonly<SecureContextOptions>;
  /** Built once from secureContextOptions (tls.connect takes it as is). */
  readonly secureContext: SecureContext;
  /** common_tls_context.alpn_protocols (empty = no ALPN). */
  readonly alpnProtocols: readonly string[];
  readonly validation: PeerValidation;
}

export type DownstreamTlsConfig = TlsContextConfig;

export interface UpstreamTlsConfig extends TlsContextConfig {
  /** UpstreamTlsContext.sni ('' = no SNI). */
  readonly sni: string;
}

const NODE_VERSIONS: Readonly<Record<Exclude<TlsVersion, 'TLS_AUTO'>, SecureContextOptions['minVersion']>> = {
  TLSv1_0: 'TLSv1', TLSv1_1: 'TLSv1.1', TLSv1_2: 'TLSv1.2', TLSv1_3: 'TLSv1.3',
};

/**
 * Envoy's cipher_suites entries are BoringSSL cipher names, optionally in equal-preference groups
 * `[A|B]`; OpenSSL takes a `:` list, so groups are flattened in order.
 */
export function opensslCipherList(suites: readonly string[]): string {
  return suites.flatMap((s) => s.replace(/^\[|\]$/g, '').split('|')).join(':');
}

/**
 * `side` picks Envoy's version defaults: minimum TLSv1_2 for both; maximum TLSv1_3 for servers and
 * TLSv1_2 for clients (TlsParameters.tls_maximum_protocol_version).
 */
function buildContext(common: CommonTlsContextWire | undefined, side: 'server' | 'client',
  requireCertificate: boolean): Result<TlsContextConfig> {
  const at = 'common_tls_context';
  const errors: ConfigError[] = [];
  const options: SecureContextOptions = {};
  const params = common?.tls_params;
  const min = params?.tls_minimum_protocol_version ?? 'TLS_AUTO';
  const max = params?.tls_maximum_protocol_version ?? 'TLS_AUTO';
  options.minVersion = min === 'TLS_AUTO' ? 'TLSv1.2' : NODE_VERSIONS[min];
  options.maxVersion = max === 'TLS_AUTO' ? (side === 'server' ? 'TLSv1.3' : 'TLSv1.2') : NODE_VERSIONS[max];
  if (params?.cipher_suites && params.cipher_suites.length > 0) options.ciphers = opensslCipherList(params.cipher_suites);
  if (params?.ecdh_curves && params.ecdh_curves.length > 0) options.ecdhCurve = params.ecdh_curves.join(':');

  const certs = common?.tls_certificates ?? [];
  if (certs.length > 1) {
    errors.push({ path: `${at}.tls_certificates[1]`, kind: 'not-implemented', message: 'nodevoy serves one certificate per TLS context (Envoy may hold several and pick one by key type or SNI)' });
  }
  const cert = certs[0];
  if (cert) {
    const chain = readDataSource(cert.certificate_chain, `${at}.tls_certificates[0].certificate_chain`);
    const key = readDataSource(cert.private_key, `${at}.tls_certificates[0].private_key`);
    if (!chain.ok) errors.push(...chain.errors);
    if (!key.ok) errors.push(...key.errors);
    if (chain.ok && key.ok) {
      options.cert = chain.value;
      options.key = key.value;
    }
  }
  const validation = common?.validation_context;
  if (validation?.trusted_ca) {
    const ca = readDataSource(validation.trusted_ca, `${at}.validation_context.trusted_ca`);
    if (ca.ok) options.ca = ca.value;
    else errors.push(...ca.errors);
  }
  if (errors.length > 0) return fail(errors);

  let secureContext: SecureContext;
  try {
    secureContext = createSecureContext(options);
  } catch (err) {
    // OpenSSL's message names the failing step (bad PEM, key mismatch, unknown cipher), never the key.
    return fail([{ path: at, kind: 'invalid', message: `cannot build the TLS context: ${(err as Error).message}` }]);
  }
  const sanCheck = compileSanCheck(validation);
  return ok({
    secureContextOptions: Object.freeze(options),
    secureContext,
    alpnProtocols: common?.alpn_protocols ?? [],
    validation: { verifyChain: validation?.trusted_ca !== undefined, sanCheck, requireCertificate: requireCertificate || sanCheck !== null },
  });
}

/** FilterChain.transport_socket's DownstreamTlsContext; error paths are relative to it. */
export function translateDownstreamTls(wire: DownstreamTlsContextWire): Result<DownstreamTlsConfig> {
  return buildContext(wire.common_tls_context, 'server', wire.require_client_certificate ?? false);
}

/** Cluster.transport_socket's UpstreamTlsContext; error paths are relative to it. */
export function translateUpstreamTls(wire: UpstreamTlsContextWire): Result<UpstreamTlsConfig> {
  const built = buildContext(wire.common_tls_context, 'client', false);
  if (!built.ok) return built;
  return ok({ ...built.value, sni: wire.sni ?? '' });
}
