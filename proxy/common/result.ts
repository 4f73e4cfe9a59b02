// The config error catalogue and Result<T>: config translation collects every problem with its field
// path instead of stopping at the first, and the list becomes the CLI report or an xDS NACK detail.

/**
 * - `unknown-field`: the field is not in Envoy's v3 API (a typo, or another product's field).
 * - `not-implemented`: Envoy has the field or value, nodevoy does not implement it (never ignored silently).
 * - `invalid`: the value breaks Envoy's rules (type, range, reference, conflict).
 */
export type ConfigErrorKind = 'unknown-field' | 'not-implemented' | 'invalid';

export interface ConfigError {
  /** Dotted field path from the document root, e.g. `static_resources.clusters[0].connect_timeout`. */
  readonly path: string;
  readonly kind: ConfigErrorKind;
  readonly message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; errors: readonly ConfigError[] };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = <T = never>(errors: readonly ConfigError[]): Result<T> => ({ ok: false, errors });

/** Joins a parent path and a key or index the way the error report prints it. */
export function joinPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent === '' ? key : `${parent}.${key}`;
}

export function formatConfigError(e: ConfigError): string {
  const where = e.path === '' ? '(root)' : e.path;
  return `${where}: ${e.message}`;
}

/** Thrown by loaders that cannot continue; carries the whole list. */
export class ConfigValidationError extends Error {
  readonly errors: readonly ConfigError[];
  constructor(errors: readonly ConfigError[]) {
    super(`invalid configuration (${errors.length} error${errors.length === 1 ? '' : 's'}):\n` +
      errors.map((e) => `  ${formatConfigError(e)}`).join('\n'));
    this.name = 'ConfigValidationError';
    this.errors = errors;
  }
}
