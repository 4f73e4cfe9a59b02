// The token a workload agent proves its identity to the CA with (`nodevoy proxy`, `nodevoy agent`):
// --ca-token-file (read again for every CSR: a projected ServiceAccount token is rotated by the kubelet), else
// the NODEVOY_CA_TOKEN environment variable. The token itself is never printed.

import { readFileSync } from 'node:fs';
import type { TokenSource } from '../proxy/agent/workload-agent.ts';

export type CaTokenResult = { ok: true; token: TokenSource | undefined } | { ok: false; reason: string };

const readToken = (file: string): string => readFileSync(file, 'utf8').trim();

/**
 * The token of `file` (checked readable now, then read for each request), else NODEVOY_CA_TOKEN in `env`;
 * undefined when neither is given.
 */
export function readCaToken(file: string | undefined, env: NodeJS.ProcessEnv = process.env): CaTokenResult {
  if (file !== undefined) {
    try {
      readToken(file);
      return { ok: true, token: () => readToken(file) };
    } catch (err) {
      return { ok: false, reason: `--ca-token-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
    }
  }
  const token = env['NODEVOY_CA_TOKEN']?.trim();
  return { ok: true, token: token === '' ? undefined : token };
}
