// Wire schema of envoy.extensions.transport_sockets.tls.v3.Secret, the entries of the bootstrap's
// static_resources.secrets that TLS contexts name through SdsSecretConfig (Istio's `default` and `ROOTCA`).
// Implemented kinds: tls_certificate and validation_context, each optionally rotated by a watched_directory.

import { z } from 'zod';
import { message } from '../config/schema-kit.ts';
import { SecretTlsCertificateSchema, SecretValidationContextSchema } from '../tls/tls-schema.ts';

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
