// The secrets that SdsSecretConfig names resolve against while a config is parsed: static secrets of the
// bootstrap by name, and secrets fetched over SDS (name + sds_config). TLS contexts are translated inside the
// wire schemas (tls-schema.ts), which take no arguments, so the bootstrap validation and the xDS resource types
// run their (synchronous) parse inside `withSecrets` of the proxy's secrets.

import type { ConfigSourceConfig } from '../config/config-source.ts';
import type { Result } from '../common/result.ts';
import type { SecretMaterial } from './secret-material.ts';
import type { SecretWire } from './secret-schema.ts';

export type SecretKind = SecretMaterial['kind'];

/** What a TLS context reads from a secret, static or fetched over SDS. */
export interface TlsSecret {
  readonly name: string;
  readonly kind: SecretKind;
  /** The material now; undefined while it is not loaded yet (files not written yet, no SDS version yet). */
  readonly current: SecretMaterial | undefined;
  /** The Secret `current` came from (its validation_context SAN matchers join the context's); undefined while not loaded. */
  readonly wire: SecretWire | undefined;
  /** Called after each rotation (new material); returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
  /**
   * Keeps the secret fetched while a listener or cluster uses it (SDS: subscribed from the first retain to the
   * last release; static secrets need nothing). Returns the release, which may be called more than once.
   */
  retain(): () => void;
}

/** What a TLS context needs from the secret store. */
export interface SecretLookup {
  /** A static secret (static_resources.secrets) by name. */
  get(name: string): TlsSecret | undefined;
  /**
   * The secret `name` of `kind` fetched over SDS from `source`: one secret shared by every TLS context naming it
   * with the same source, or the errors at `path` (the sds_config's path). Absent = SDS is not available here.
   */
  sds?(name: string, source: ConfigSourceConfig, kind: SecretKind, path: string): Result<TlsSecret>;
}

let current: SecretLookup | undefined;

/** Runs `parse` (synchronous) with `secrets` as the secrets that SdsSecretConfigs resolve against. */
export function withSecrets<T>(secrets: SecretLookup, parse: () => T): T {
  const outer = current;
  current = secrets;
  try {
    return parse();
  } finally {
    current = outer;
  }
}

/** The secrets of the parse in progress; undefined outside withSecrets (no secret resolves). */
export function currentSecrets(): SecretLookup | undefined {
  return current;
}
