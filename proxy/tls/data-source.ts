// Reads an envoy.config.core.v3.DataSource (file, inline bytes or string, environment variable) when a
// config is translated, as Envoy does when it loads a TLS context. Errors name the source, never its content.

import { readFileSync } from 'node:fs';
import { fail, ok, type Result } from '../common/result.ts';
import type { DataSourceWire } from '../config/core-schema.ts';

/** The bytes of `source`; `path` is the DataSource's config path for errors. */
export function readDataSource(source: DataSourceWire, path: string): Result<Buffer> {
  if (source.filename !== undefined) {
    try {
      return ok(readFileSync(source.filename));
    } catch (err) {
      return fail([{ path: `${path}.filename`, kind: 'invalid', message: `cannot read ${source.filename}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }]);
    }
  }
  if (source.inline_bytes !== undefined) return ok(Buffer.from(source.inline_bytes, 'base64'));
  if (source.inline_string !== undefined) return ok(Buffer.from(source.inline_string));
  const name = source.environment_variable ?? '';
  const value = process.env[name];
  if (value === undefined) return fail([{ path: `${path}.environment_variable`, kind: 'invalid', message: `environment variable ${name} is not set` }]);
  return ok(Buffer.from(value));
}
