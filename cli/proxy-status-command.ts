// `nodevoy proxy-status`: the control plane's /debug/syncz as a table, like `istioctl proxy-status`:
// one row per proxy with the sync state of each xDS type (SYNCED, NOT SENT, STALE, NACKED).

import { parseArgs } from 'node:util';
import type { ProxySyncJson } from '../control-plane/server/debug-endpoints.ts';
import type { CommandIo } from './control-plane-command.ts';

export const PROXY_STATUS_USAGE = 'usage: nodevoy proxy-status [--control-plane http://127.0.0.1:15010]\n';
const DEFAULT_CONTROL_PLANE = 'http://127.0.0.1:15010';
/** How long to wait for the control plane to answer. */
const REQUEST_TIMEOUT_MS = 5_000;

/** Columns padded to the widest cell plus three spaces, as istioctl's tabwriter lays them out. */
export function formatProxyStatus(proxies: readonly ProxySyncJson[]): string {
  const rows = [
    ['NAME', 'CLUSTER', 'CDS', 'LDS', 'EDS', 'RDS', 'VERSION'],
    ...proxies.map((p) => [p.id, p.cluster, p.types.clusters.status, p.types.listeners.status, p.types.endpoints.status, p.types.routes.status, p.version || '-']),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join('')).map((line) => `${line}\n`).join('');
}

export async function runProxyStatus(argv: string[], io: CommandIo = { out: process.stdout, err: process.stderr }): Promise<number> {
  let base: string;
  try {
    const { values } = parseArgs({ args: argv, strict: true, options: { 'control-plane': { type: 'string' } } });
    base = values['control-plane'] ?? DEFAULT_CONTROL_PLANE;
  } catch (e) {
    io.err.write(`nodevoy proxy-status: ${(e as Error).message}\n${PROXY_STATUS_USAGE}`);
    return 1;
  }
  try {
    const res = await fetch(new URL('/debug/syncz', base), { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    if (res.status !== 200) throw new Error(`GET /debug/syncz answered HTTP ${res.status}`);
    const body = (await res.json()) as { proxies: ProxySyncJson[] };
    io.out.write(formatProxyStatus(body.proxies));
    return 0;
  } catch (e) {
    io.err.write(`nodevoy proxy-status: cannot read ${base}/debug/syncz: ${(e as Error).message}\n`);
    return 1;
  }
}
