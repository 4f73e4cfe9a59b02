// The bootstrap token a workload agent proves its identity to the CA with (`nodevoy proxy`, `nodevoy agent`):
// --ca-token-file, else the NODEVOY_CA_TOKEN environment variable. The token itself is never printed.

import { readFileSync } from 'node:fs';

export type CaTokenResult = { ok: true; token: string | undefined } | { ok: false; reason: string };

/** The token of `file` (trimmed), else of NODEVOY_CA_TOKEN in `env`; undefined when neither is given. */
export function readCaToken(file: string | undefined, env: NodeJS.ProcessEnv = process.env): CaTokenResult {
  if (file !== undefined) {
    try {
      return { ok: true, token: readFileSync(file, 'utf8').trim() };
    } catch (err) {
      return { ok: false, reason: `--ca-token-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
    }
  }
  const token = env['NODEVOY_CA_TOKEN']?.trim();
  return { ok: true, token: token === '' ? undefined : token };
}
