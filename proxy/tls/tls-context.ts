// Translation of DownstreamTlsContext / UpstreamTlsContext into what the sockets use: Node SecureContext
// options (certificate, key, trusted CA, protocol versions, ciphers, curves), the ALPN list and the peer
// validation (chain against trusted_ca, SAN matchers). Runs when the transport socket is parsed
// (tls-schema.ts), so unreadable files, bad PEM and unknown secret names are config errors with paths.
// Certificates and CAs named through SdsSecretConfig come from the bootstrap's static secrets, or over SDS
// (sds_config), and follow their rotations: the context is rebuilt when a secret's material changes (checked
// per new connection), and a validation secret's SAN matchers are merged in again when its version changes.

import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import { fail, ok, type ConfigError, type Result } from '../common/result.ts';
import { translateConfigSource } from '../config/config-source.ts';
import { currentSecrets, type SecretKind, type TlsSecret } from '../secrets/secret-scope.ts';
import { readDataSource } from './data-source.ts';
import { compileSanCheck, type SanCheck } from './san-matcher.ts';
import type {
  CertificateValidationContextWire, CommonTlsContextWire, DownstreamTlsContextWire, SdsSecretConfigWire, TlsVersion, UpstreamTlsContextWire,
} from './tls-schema.ts';

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
  /**
   * What the context is built from (a tls.Server takes options, not a SecureContext). The same object until
   * a secret the context uses rotates: compare by identity to notice a rotation.
   */
  readonly secureContextOptions: Readonly<SecureContextOptions>;
  /** Built from secureContextOptions (tls.connect takes it as is). */
  readonly secureContext: SecureContext;
  /** False while a secret the context names is not loaded yet (Envoy: the context's secrets are not ready). */
  readonly ready: boolean;
  /**
   * Keeps the SDS secrets the context names subscribed while a listener or cluster uses it; returns the release
   * (idempotent). Contexts with only inline or static material hold nothing.
   */
  retain(): () => void;
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

/** A certificate and its key, PEM (inline, or a tls_certificate secret's material). */
interface CertificatePair {
  readonly certificateChain: Buffer;
  readonly privateKey: Buffer;
}

/** Where the certificate or the trusted CA comes from: read at config time, or a secret (static or SDS). */
type Source<T> = { readonly inline: T } | { readonly secret: TlsSecret } | null;

/** The certificate now: null = none configured, undefined = its secret is not loaded yet. */
function certificateOf(source: Source<CertificatePair>): CertificatePair | null | undefined {
  if (source === null) return null;
  if ('inline' in source) return source.inline;
  const m = source.secret.current;
  return m?.kind === 'tls_certificate' ? m : undefined;
}

/** The trusted CA PEM now: null = none configured, undefined = its secret is not loaded yet. */
function trustedCaOf(source: Source<Buffer>): Buffer | null | undefined {
  if (source === null) return null;
  if ('inline' in source) return source.inline;
  const m = source.secret.current;
  return m?.kind === 'validation_context' ? m.trustedCa : undefined;
}

/** The validation context's SAN matchers and where its trusted CA comes from (validation_context_type). */
interface ValidationSource {
  /** validation_context, or combined_validation_context.default_validation_context; undefined = none. */
  readonly base: CertificateValidationContextWire | undefined;
  readonly ca: Source<Buffer>;
}

/**
 * The settings a peer is checked with. With a validation secret, its SAN matchers are merged into the base
 * (repeated fields concatenate, as protobuf MergeFrom does for CombinedCertificateValidationContext).
 */
function peerValidation(v: ValidationSource, requireCertificate: boolean): PeerValidation {
  let wire = v.base;
  if (v.ca !== null && 'secret' in v.ca) {
    const fromSecret = v.ca.secret.wire?.validation_context;
    const typed = [...(v.base?.match_typed_subject_alt_names ?? []), ...(fromSecret?.match_typed_subject_alt_names ?? [])];
    const legacy = [...(v.base?.match_subject_alt_names ?? []), ...(fromSecret?.match_subject_alt_names ?? [])];
    wire = {
      ...(typed.length > 0 ? { match_typed_subject_alt_names: typed } : {}),
      ...(legacy.length > 0 ? { match_subject_alt_names: legacy } : {}),
    };
  }
  const sanCheck = compileSanCheck(wire);
  return { verifyChain: v.ca !== null, sanCheck, requireCertificate: requireCertificate || sanCheck !== null };
}

const secretOf = <T>(source: Source<T>): TlsSecret | undefined => (source !== null && 'secret' in source ? source.secret : undefined);

/** A TLS context whose options are recomposed when a secret it names has new material. */
class TlsContext implements UpstreamTlsConfig {
  readonly alpnProtocols: readonly string[];
  readonly sni: string;
  private readonly base: SecureContextOptions;
  private readonly cert: Source<CertificatePair>;
  private readonly ca: Source<Buffer>;
  private readonly validationSource: ValidationSource;
  private readonly requireCertificate: boolean;
  /** The validation secret's Secret the current `validation` was merged from (identity-compared). */
  private validatedFrom: unknown;
  private peer: PeerValidation;
  /** The material the current context was composed from (identity-compared: secrets swap whole objects). */
  private composedCert: CertificatePair | null | undefined;
  private composedCa: Buffer | null | undefined;
  private options: Readonly<SecureContextOptions> = {};
  private context: SecureContext | undefined;

  constructor(base: SecureContextOptions, cert: Source<CertificatePair>, validation: ValidationSource, requireCertificate: boolean,
    alpn: readonly string[], sni: string) {
    this.base = base;
    this.cert = cert;
    this.ca = validation.ca;
    this.validationSource = validation;
    this.requireCertificate = requireCertificate;
    this.alpnProtocols = alpn;
    this.sni = sni;
    this.validatedFrom = secretOf(this.ca)?.wire;
    this.peer = peerValidation(validation, requireCertificate);
  }

  get ready(): boolean {
    return certificateOf(this.cert) !== undefined && trustedCaOf(this.ca) !== undefined;
  }

  get validation(): PeerValidation {
    const from = secretOf(this.ca)?.wire;
    if (from !== this.validatedFrom) {
      this.validatedFrom = from;
      this.peer = peerValidation(this.validationSource, this.requireCertificate);
    }
    return this.peer;
  }

  retain(): () => void {
    const releases = [secretOf(this.cert), secretOf(this.ca)].flatMap((s) => (s ? [s.retain()] : []));
    return () => { for (const release of releases) release(); };
  }

  get secureContextOptions(): Readonly<SecureContextOptions> {
    this.refresh();
    return this.options;
  }

  get secureContext(): SecureContext {
    this.refresh();
    return this.context!;
  }

  /** Builds the context now (config time), returning OpenSSL's complaint if it cannot be built. */
  compose(): string | undefined {
    try {
      this.refresh();
      return undefined;
    } catch (err) {
      // OpenSSL's message names the failing step (bad PEM, key mismatch, unknown cipher), never the key.
      return (err as Error).message;
    }
  }

  /**
   * Recomposes after a rotation. The secrets checked their material before swapping it in; should OpenSSL
   * still refuse it, the previous context stays (new handshakes keep the old certificate).
   */
  private refresh(): void {
    const cert = certificateOf(this.cert);
    const ca = trustedCaOf(this.ca);
    if (this.context && cert === this.composedCert && ca === this.composedCa) return;
    const options: SecureContextOptions = { ...this.base };
    if (cert) {
      options.cert = cert.certificateChain;
      options.key = cert.privateKey;
    }
    if (ca) options.ca = ca;
    try {
      this.context = createSecureContext(options);
      this.options = Object.freeze(options);
    } catch (err) {
      if (!this.context) throw err;
    }
    this.composedCert = cert;
    this.composedCa = ca;
  }
}

/**
 * Resolves an SdsSecretConfig against the secrets of the config being parsed: with sds_config, the secret
 * fetched over SDS (shared by every context naming it from the same source); without, a static secret by name.
 */
function secretFor(ref: SdsSecretConfigWire, kind: SecretKind, path: string, errors: ConfigError[]): TlsSecret | undefined {
  const secrets = currentSecrets();
  if (ref.sds_config) {
    const found = secrets?.sds?.(ref.name, translateConfigSource(ref.sds_config), kind, `${path}.sds_config`);
    if (found?.ok) return found.value;
    errors.push(...found?.errors ?? [{ path: `${path}.sds_config`, kind: 'not-implemented', message: 'secrets fetched over SDS are not available to this parse (only a proxy\'s bootstrap and xDS resources fetch them)' }]);
    return undefined;
  }
  const secret = secrets?.get(ref.name);
  if (!secret) {
    errors.push({ path: `${path}.name`, kind: 'invalid', message: `unknown static secret "${ref.name}": a secret name without sds_config must name an entry of the bootstrap's static_resources.secrets` });
    return undefined;
  }
  if (secret.kind !== kind) {
    errors.push({ path: `${path}.name`, kind: 'invalid', message: `static secret "${ref.name}" holds a ${secret.kind}, not a ${kind}` });
    return undefined;
  }
  return secret;
}

/** The validation settings (SAN matchers) and trusted CA source of the context's validation_context_type. */
function validationOf(common: CommonTlsContextWire | undefined, at: string, errors: ConfigError[]): ValidationSource {
  if (common?.validation_context) {
    const v = common.validation_context;
    if (!v.trusted_ca) return { base: v, ca: null };
    const ca = readDataSource(v.trusted_ca, `${at}.validation_context.trusted_ca`);
    if (!ca.ok) errors.push(...ca.errors);
    return { base: v, ca: ca.ok ? { inline: ca.value } : null };
  }
  const ref = common?.validation_context_sds_secret_config ?? common?.combined_validation_context?.validation_context_sds_secret_config;
  if (!ref) return { base: undefined, ca: null };
  const combined = common?.combined_validation_context;
  const refPath = combined ? `${at}.combined_validation_context.validation_context_sds_secret_config` : `${at}.validation_context_sds_secret_config`;
  const secret = secretFor(ref, 'validation_context', refPath, errors);
  const base = combined?.default_validation_context;
  if (base?.trusted_ca) errors.push({ path: `${at}.combined_validation_context.default_validation_context.trusted_ca`, kind: 'invalid', message: 'trusted_ca comes from the validation_context_sds_secret_config secret; do not also set it here' });
  return { base, ca: secret ? { secret } : null };
}

/**
 * `side` picks Envoy's version defaults: minimum TLSv1_2 for both; maximum TLSv1_3 for servers and
 * TLSv1_2 for clients (TlsParameters.tls_maximum_protocol_version).
 */
function buildContext(common: CommonTlsContextWire | undefined, side: 'server' | 'client',
  requireCertificate: boolean, sni: string): Result<UpstreamTlsConfig> {
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
  const certRefs = common?.tls_certificate_sds_secret_configs ?? [];
  if (certs.length + certRefs.length > 1) {
    const extra = certs.length > 1 ? `${at}.tls_certificates[1]` : `${at}.tls_certificate_sds_secret_configs[${certs.length > 0 ? 0 : 1}]`;
    errors.push({ path: extra, kind: 'not-implemented', message: 'nodevoy serves one certificate per TLS context (Envoy may hold several and pick one by key type or SNI)' });
  }
  let cert: Source<CertificatePair> = null;
  const inline = certs[0];
  if (inline) {
    const chain = readDataSource(inline.certificate_chain, `${at}.tls_certificates[0].certificate_chain`);
    const key = readDataSource(inline.private_key, `${at}.tls_certificates[0].private_key`);
    if (!chain.ok) errors.push(...chain.errors);
    if (!key.ok) errors.push(...key.errors);
    if (chain.ok && key.ok) cert = { inline: { certificateChain: chain.value, privateKey: key.value } };
  } else if (certRefs[0]) {
    const secret = secretFor(certRefs[0], 'tls_certificate', `${at}.tls_certificate_sds_secret_configs[0]`, errors);
    if (secret) cert = { secret };
  }
  const validation = validationOf(common, at, errors);
  if (errors.length > 0) return fail(errors);

  const context = new TlsContext(options, cert, validation, requireCertificate, common?.alpn_protocols ?? [], sni);
  // Secrets not loaded yet are composed once they are (init waits for them).
  const problem = context.ready ? context.compose() : undefined;
  if (problem !== undefined) return fail([{ path: at, kind: 'invalid', message: `cannot build the TLS context: ${problem}` }]);
  return ok(context);
}

/** FilterChain.transport_socket's DownstreamTlsContext; error paths are relative to it. */
export function translateDownstreamTls(wire: DownstreamTlsContextWire): Result<DownstreamTlsConfig> {
  return buildContext(wire.common_tls_context, 'server', wire.require_client_certificate ?? false, '');
}

/** Cluster.transport_socket's UpstreamTlsContext; error paths are relative to it. */
export function translateUpstreamTls(wire: UpstreamTlsContextWire): Result<UpstreamTlsConfig> {
  return buildContext(wire.common_tls_context, 'client', false, wire.sni ?? '');
}
