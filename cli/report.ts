// Prints config errors for people: `file:line: path: message (kind)`, one per line, with a count.

import type { Writable } from 'node:stream';
import type { ConfigError } from '../proxy/common/result.ts';
import { lineOfPath } from '../proxy/config/load.ts';

const KIND_LABEL: Record<ConfigError['kind'], string> = {
  'unknown-field': 'unknown field',
  'not-implemented': 'not implemented by nodevoy',
  invalid: 'invalid',
};

export async function printConfigErrors(source: string, errors: readonly ConfigError[], out: Writable): Promise<void> {
  out.write(`configuration '${source}' is invalid: ${errors.length} error${errors.length === 1 ? '' : 's'}\n`);
  for (const e of errors) {
    const line = await lineOfPath(source, e.path);
    const where = line === undefined ? source : `${source}:${line}`;
    out.write(`  ${where}: ${e.path === '' ? '(root)' : e.path}: ${e.message} [${KIND_LABEL[e.kind]}]\n`);
  }
}
