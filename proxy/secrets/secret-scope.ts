// The static secrets that SdsSecretConfig names resolve against while a config is parsed. TLS contexts are
// translated inside the wire schemas (tls-schema.ts), which take no arguments, so the bootstrap validation
// and the xDS resource types run their (synchronous) parse inside `withSecrets` of the proxy's secrets.

/** What a TLS context needs from the secret store: a secret by name. */
export interface SecretLookup<S> {
  get(name: string): S | undefined;
}

let current: SecretLookup<unknown> | undefined;

/** Runs `parse` (synchronous) with `secrets` as the static secrets that secret names resolve against. */
export function withSecrets<S, T>(secrets: SecretLookup<S>, parse: () => T): T {
  const outer = current;
  current = secrets;
  try {
    return parse();
  } finally {
    current = outer;
  }
}

/** The static secrets of the parse in progress; undefined outside withSecrets (no secret resolves). */
export function currentSecrets<S>(): SecretLookup<S> | undefined {
  return current as SecretLookup<S> | undefined;
}
