// Command-line parsing for `nodevoy proxy`, using Envoy's own flag names where Envoy has them
// (-c/--config-path, --config-yaml, --service-node, --service-cluster, -l/--log-level, --drain-time-s,
// --mode, --concurrency). Pure: returns options or every problem found.

import { parseArgs } from 'node:util';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warning', 'warn', 'error', 'critical', 'off'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

export interface ProxyOptions {
  readonly configPath: string | undefined;
  readonly configYaml: string | undefined;
  readonly serviceNode: string | undefined;
  readonly serviceCluster: string | undefined;
  readonly logLevel: LogLevelName;
  /** --drain-time-s: how long SIGTERM waits for in-flight requests (Envoy's default 600 s). */
  readonly drainTimeS: number;
  /** --mode serve (default) or validate (check config and exit, like Envoy). */
  readonly mode: 'serve' | 'validate';
  /** --ca-token-file: the bootstrap token the workload agent proves its identity to the CA with. */
  readonly caTokenFile: string | undefined;
}

export type ParsedProxyArgs = { ok: true; options: ProxyOptions } | { ok: false; errors: string[] };

export function parseProxyArgs(argv: readonly string[]): ParsedProxyArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: false,
      strict: true,
      options: {
        'config-path': { type: 'string', short: 'c' },
        'config-yaml': { type: 'string' },
        'service-node': { type: 'string' },
        'service-cluster': { type: 'string' },
        'log-level': { type: 'string', short: 'l' },
        'drain-time-s': { type: 'string' },
        mode: { type: 'string' },
        concurrency: { type: 'string' },
        'ca-token-file': { type: 'string' },
      },
    });
  } catch (err) {
    return { ok: false, errors: [(err as Error).message] };
  }
  const v = parsed.values;
  const errors: string[] = [];
  const logLevel = (v['log-level'] ?? 'info') as LogLevelName;
  if (!LOG_LEVELS.includes(logLevel)) errors.push(`--log-level: "${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  const drainTimeS = v['drain-time-s'] === undefined ? 600 : Number(v['drain-time-s']);
  if (!Number.isFinite(drainTimeS) || drainTimeS < 0) errors.push(`--drain-time-s: "${v['drain-time-s']}" is not a non-negative number of seconds`);
  const mode = v.mode ?? 'serve';
  if (mode !== 'serve' && mode !== 'validate') {
    errors.push(`--mode: "${mode}" is not supported (nodevoy has serve and validate; Envoy's init_only is not implemented)`);
  }
  if (v.concurrency !== undefined && v.concurrency !== '1') {
    errors.push(`--concurrency: nodevoy runs one event loop per process; only --concurrency 1 is supported (run one proxy per core instead)`);
  }
  if (v['config-path'] === undefined && v['config-yaml'] === undefined) {
    errors.push('one of -c/--config-path or --config-yaml is required');
  }
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    options: {
      configPath: v['config-path'], configYaml: v['config-yaml'], serviceNode: v['service-node'],
      serviceCluster: v['service-cluster'], logLevel, drainTimeS, mode: mode as 'serve' | 'validate',
      caTokenFile: v['ca-token-file'],
    },
  };
}
