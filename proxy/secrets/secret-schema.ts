// Wire schema of envoy.extensions.transport_sockets.tls.v3.Secret: the entries of the bootstrap's
// static_resources.secrets that TLS contexts name through SdsSecretConfig (Istio's `default` and `ROOTCA`), and
// the SDS resource of that type. Implemented kinds: tls_certificate and validation_context; static ones may be
// rotated by a watched_directory, SDS ones by new versions.

import { z } from 'zod';
import { addConfigErrors, message } from '../config/schema-kit.ts';
import { SecretTlsCertificateSchema, SecretValidationContextSchema } from '../tls/tls-schema.ts';
import { loadSecretMaterial, type SecretMaterial } from './secret-material.ts';

export const SECRET_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

export const SecretSchema = message('envoy.extensions.transport_sockets.tls.v3.Secret', {
  name: z.string().min(1),
  tls_certificate: SecretTlsCertificateSchema.optional(),
  validation_context: SecretValidationContextSchema.optional(),
}, { unimplemented: ['session_ticket_keys', 'generic_secret'] }).superRefine((s, ctx) => {
  // `type` is a oneof: exactly one kind per secret.
  if (s.tls_certificate !== undefined && s.validation_context !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['validation_context'], message: 'a Secret holds one of tls_certificate, validation_context (got both)' });
  } else if (s.tls_certificate === undefined && s.validation_context === undefined) {
    ctx.addIssue({ code: 'custom', message: 'a Secret needs one of tls_certificate, validation_context' });
  }
});

export type SecretWire = z.output<typeof SecretSchema>;

/** A Secret delivered over SDS, as validated: the message and its material, loaded and checked. */
export interface LoadedSecret {
  readonly wire: SecretWire;
  readonly material: SecretMaterial;
}

/**
 * The Secret resource of SDS (`POST /v3/discovery:secrets`): the same message, its material loaded now (PEMs
 * usually inline, `inline_bytes` or `inline_string`, as Istio's agent serves them) and checked as a static
 * secret's reload is (the chain parses, its first certificate matches the key), so a bad version is NACKed.
 * A new version replaces the secret whole; rotating files in place (watched_directory) is for static secrets.
 */
export const SdsSecretSchema = SecretSchema.transform((wire, ctx): LoadedSecret => {
  const watched = (['tls_certificate', 'validation_context'] as const).filter((k) => wire[k]?.watched_directory !== undefined);
  for (const k of watched) {
    ctx.addIssue({ code: 'custom', path: [k, 'watched_directory'], message: 'watched_directory in a Secret delivered over SDS is not implemented (a new version of the Secret rotates it)', params: { kind: 'not-implemented' } });
  }
  const loaded = loadSecretMaterial(wire, '');
  if (!loaded.ok) addConfigErrors(ctx, loaded.errors);
  if (!loaded.ok || watched.length > 0) return z.NEVER;
  return { wire, material: loaded.value };
});
