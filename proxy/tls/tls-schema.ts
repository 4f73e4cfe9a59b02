// Wire schemas of Envoy's TLS transport socket (envoy.transport_sockets.tls): DownstreamTlsContext for
// listener filter chains, UpstreamTlsContext for clusters, and the CommonTlsContext, TlsCertificate,
// CertificateValidationContext and SubjectAltNameMatcher messages they share. A TLS transport socket
// parses into its translated context (tls-context.ts).

import { z } from 'zod';
import { DataSourceSchema } from '../config/core-schema.ts';
import { ConfigSourceSchema } from '../config/config-source.ts';
import { addConfigErrors, bool, enumOf, message, onlyValues, typedConfig, type TypedConfig } from '../config/schema-kit.ts';
import { StringMatcherSchema } from '../matchers/string-matcher.ts';
import type { Result } from '../common/result.ts';
import { translateDownstreamTls, translateUpstreamTls } from './tls-context.ts';

const PKG = 'envoy.extensions.transport_sockets.tls.v3';
export const TLS_TRANSPORT_SOCKET = 'envoy.transport_sockets.tls';
export const DOWNSTREAM_TLS_CONTEXT_TYPE_URL = `type.googleapis.com/${PKG}.DownstreamTlsContext`;
export const UPSTREAM_TLS_CONTEXT_TYPE_URL = `type.googleapis.com/${PKG}.UpstreamTlsContext`;
/** envoy.transport_sockets.raw_buffer: plaintext, the same as no transport_socket. */
export const RAW_BUFFER_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer';

export const TLS_VERSIONS = ['TLS_AUTO', 'TLSv1_0', 'TLSv1_1', 'TLSv1_2', 'TLSv1_3'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];

const TlsParametersSchema = message(`${PKG}.TlsParameters`, {
  tls_minimum_protocol_version: enumOf(`${PKG}.TlsParameters.TlsProtocol`, TLS_VERSIONS).optional(),
  tls_maximum_protocol_version: enumOf(`${PKG}.TlsParameters.TlsProtocol`, TLS_VERSIONS).optional(),
  cipher_suites: z.array(z.string().min(1)).optional(),
  ecdh_curves: z.array(z.string().min(1)).optional(),
}, { unimplemented: ['signature_algorithms', 'compliance_policies'] });

const TLS_CERTIFICATE_UNIMPLEMENTED = ['pkcs12', 'private_key_provider', 'password', 'ocsp_staple', 'signed_certificate_timestamp'];

/** TlsCertificate inline in a CommonTlsContext (read once; rotation is for secrets with a watched_directory). */
const TlsCertificateSchema = message(`${PKG}.TlsCertificate`, {
  certificate_chain: DataSourceSchema,
  private_key: DataSourceSchema,
}, { unimplemented: [...TLS_CERTIFICATE_UNIMPLEMENTED, 'watched_directory'] });

export type TlsCertificateWire = z.output<typeof TlsCertificateSchema>;

/** envoy.config.core.v3.WatchedDirectory: a directory whose changes (a file moved into it) reload a secret. */
export const WatchedDirectorySchema = message('envoy.config.core.v3.WatchedDirectory', { path: z.string().min(1) });

/** TlsCertificate of a Secret (static_resources.secrets): may name the watched_directory that rotates it. */
export const SecretTlsCertificateSchema = message(`${PKG}.TlsCertificate`, {
  certificate_chain: DataSourceSchema,
  private_key: DataSourceSchema,
  watched_directory: WatchedDirectorySchema.optional(),
}, { unimplemented: TLS_CERTIFICATE_UNIMPLEMENTED });

export const SAN_TYPES = ['EMAIL', 'DNS', 'URI', 'IP_ADDRESS'] as const;
export type SanType = (typeof SAN_TYPES)[number];

/** SubjectAltNameMatcher: `san_type` is required (SAN_TYPE_UNSPECIFIED is rejected, as by Envoy's validation). */
const SubjectAltNameMatcherSchema = message(`${PKG}.SubjectAltNameMatcher`, {
  san_type: z.unknown().transform((v, ctx) => {
    if (v === undefined || v === 'SAN_TYPE_UNSPECIFIED' || v === 0) {
      ctx.addIssue({ code: 'custom', message: 'san_type is required: one of EMAIL, DNS, URI, IP_ADDRESS (SAN_TYPE_UNSPECIFIED is not allowed)' });
      return z.NEVER;
    }
    return v;
  }).pipe(enumOf(`${PKG}.SubjectAltNameMatcher.SanType`, SAN_TYPES, ['OTHER_NAME'],
    ['SAN_TYPE_UNSPECIFIED', 'EMAIL', 'DNS', 'URI', 'IP_ADDRESS', 'OTHER_NAME'])),
  matcher: StringMatcherSchema,
}, { unimplemented: ['oid'] });

export type SubjectAltNameMatcherWire = z.output<typeof SubjectAltNameMatcherSchema>;

const VALIDATION_CONTEXT_UNIMPLEMENTED = ['ca_certificate_provider_instance', 'system_root_certs', 'verify_certificate_spki',
  'verify_certificate_hash', 'require_signed_certificate_timestamp', 'crl', 'allow_expired_certificate',
  'trust_chain_verification', 'custom_validator_config', 'only_verify_leaf_cert_crl', 'max_verify_depth'];

const validationContextShape = {
  trusted_ca: DataSourceSchema.optional(),
  match_typed_subject_alt_names: z.array(SubjectAltNameMatcherSchema).optional(),
  // Deprecated: ignored when match_typed_subject_alt_names is set (Envoy's DefaultCertValidator).
  match_subject_alt_names: z.array(StringMatcherSchema).optional(),
};

const CertificateValidationContextSchema = message(`${PKG}.CertificateValidationContext`, validationContextShape,
  { unimplemented: [...VALIDATION_CONTEXT_UNIMPLEMENTED, 'watched_directory'] });

/** CertificateValidationContext of a Secret: may name the watched_directory that rotates its trusted_ca. */
export const SecretValidationContextSchema = message(`${PKG}.CertificateValidationContext`, {
  ...validationContextShape,
  watched_directory: WatchedDirectorySchema.optional(),
}, { unimplemented: VALIDATION_CONTEXT_UNIMPLEMENTED });

export type CertificateValidationContextWire = z.output<typeof CertificateValidationContextSchema>;

/**
 * SdsSecretConfig. With only `name` it refers to a static secret of the bootstrap (static_resources.secrets);
 * with `sds_config` (a REST ConfigSource) to the Secret of that name fetched over SDS. Resolved when the TLS
 * context is translated (tls-context.ts).
 */
const SdsSecretConfigSchema = message(`${PKG}.SdsSecretConfig`, {
  name: z.string().min(1),
  sds_config: ConfigSourceSchema.optional(),
});

export type SdsSecretConfigWire = z.output<typeof SdsSecretConfigSchema>;

/**
 * CommonTlsContext.CombinedCertificateValidationContext: the validation context is the SDS secret's
 * (trusted_ca) merged with default_validation_context (SAN matchers), Envoy's and Istio's shape for mTLS.
 */
const CombinedValidationContextSchema = message(`${PKG}.CommonTlsContext.CombinedCertificateValidationContext`, {
  default_validation_context: CertificateValidationContextSchema,
  validation_context_sds_secret_config: SdsSecretConfigSchema,
}, { unimplemented: ['validation_context_certificate_provider', 'validation_context_certificate_provider_instance'] });

const CommonTlsContextSchema = message(`${PKG}.CommonTlsContext`, {
  tls_params: TlsParametersSchema.optional(),
  tls_certificates: z.array(TlsCertificateSchema).optional(),
  tls_certificate_sds_secret_configs: z.array(SdsSecretConfigSchema).optional(),
  validation_context: CertificateValidationContextSchema.optional(),
  validation_context_sds_secret_config: SdsSecretConfigSchema.optional(),
  combined_validation_context: CombinedValidationContextSchema.optional(),
  alpn_protocols: z.array(z.string().min(1)).optional(),
}, {
  unimplemented: ['tls_certificate_provider_instance', 'tls_certificate_certificate_provider',
    'tls_certificate_certificate_provider_instance', 'validation_context_certificate_provider',
    'validation_context_certificate_provider_instance', 'custom_handshaker', 'key_log', 'custom_tls_certificate_selector'],
}).superRefine((c, ctx) => {
  // validation_context_type is a oneof.
  const set = (['validation_context', 'validation_context_sds_secret_config', 'combined_validation_context'] as const).filter((k) => c[k] !== undefined);
  if (set.length > 1) ctx.addIssue({ code: 'custom', path: [set[1]!], message: `only one of validation_context, validation_context_sds_secret_config, combined_validation_context may be set (got ${set.join(', ')})` });
});

export type CommonTlsContextWire = z.output<typeof CommonTlsContextSchema>;

export const DownstreamTlsContextSchema = message(`${PKG}.DownstreamTlsContext`, {
  common_tls_context: CommonTlsContextSchema.optional(),
  require_client_certificate: bool.optional(),
}, {
  unimplemented: ['require_sni', 'session_ticket_keys', 'session_ticket_keys_sds_secret_config',
    'disable_stateless_session_resumption', 'disable_stateful_session_resumption', 'session_timeout',
    'ocsp_staple_policy', 'full_scan_certs_on_sni_mismatch', 'prefer_client_ciphers'],
}).superRefine((c, ctx) => {
  // Envoy: "Server TlsCertificates must have a certificate specified".
  if ((c.common_tls_context?.tls_certificates ?? []).length === 0 && (c.common_tls_context?.tls_certificate_sds_secret_configs ?? []).length === 0) {
    ctx.addIssue({ code: 'custom', path: ['common_tls_context', 'tls_certificates'], message: 'a DownstreamTlsContext needs a server certificate in tls_certificates or tls_certificate_sds_secret_configs' });
  }
});

export type DownstreamTlsContextWire = z.output<typeof DownstreamTlsContextSchema>;

export const UpstreamTlsContextSchema = message(`${PKG}.UpstreamTlsContext`, {
  common_tls_context: CommonTlsContextSchema.optional(),
  // SNI is at most 255 bytes (the proto's max_bytes).
  sni: z.string().max(255, 'sni must be at most 255 bytes').optional(),
  allow_renegotiation: onlyValues(bool, [false], 'allow_renegotiation').optional(),
}, { unimplemented: ['auto_host_sni', 'auto_sni_san_validation', 'max_session_keys', 'enforce_rsa_key_usage'] });

export type UpstreamTlsContextWire = z.output<typeof UpstreamTlsContextSchema>;

/** A parsed TransportSocket: its typed_config as validated (no file contents), and the translated TLS context. */
export interface ParsedTransportSocket<C> {
  readonly name: string;
  readonly typedConfig: TypedConfig;
  /** null = raw_buffer (plaintext). */
  readonly tls: C | null;
}

/**
 * envoy.config.core.v3.TransportSocket with the TLS context of one side, or raw_buffer (plaintext). The
 * TLS context is translated here (files read, SecureContext built), so its errors carry their paths.
 */
function transportSocketSchema<W, C>(tlsTypeUrl: string, context: z.ZodType<W, unknown>, translate: (wire: W) => Result<C>) {
  return message('envoy.config.core.v3.TransportSocket', {
    name: z.string().min(1),
    typed_config: typedConfig('transport_socket typed_config', (url) => {
      if (url === tlsTypeUrl) return context;
      if (url === RAW_BUFFER_TYPE_URL) return RawBufferSchema;
      return undefined;
    }),
  }).transform((s, ctx): ParsedTransportSocket<C> => {
    const typedConfig = s.typed_config;
    if (typedConfig.typeUrl !== tlsTypeUrl) return { name: s.name, typedConfig, tls: null };
    const built = translate(typedConfig.config as W);
    if (built.ok) return { name: s.name, typedConfig, tls: built.value };
    addConfigErrors(ctx, built.errors, ['typed_config']);
    return z.NEVER;
  });
}

const RawBufferSchema = message('envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer', {});

/** FilterChain.transport_socket: `tls` null = raw_buffer. */
export const DownstreamTransportSocketSchema = transportSocketSchema(DOWNSTREAM_TLS_CONTEXT_TYPE_URL, DownstreamTlsContextSchema, translateDownstreamTls);
/** Cluster.transport_socket: `tls` null = raw_buffer. */
export const UpstreamTransportSocketSchema = transportSocketSchema(UPSTREAM_TLS_CONTEXT_TYPE_URL, UpstreamTlsContextSchema, translateUpstreamTls);
