// `nodevoy agent`: the workload agent on its own (Istio's pilot-agent certificate role), so that a real Envoy
// sidecar takes its certificates from nodevoy's CA: it requests and renews the workload certificate, writes it
// to --cert-dir (the watched_directory of static secrets) and/or serves it as the SDS Secrets `default` and
// `ROOTCA` on 127.0.0.1:--sds-port. Runs until SIGTERM/SIGINT. Never prints the token or the key.

import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { agentConfigFrom, type AgentConfig, type AgentSetting } from '../proxy/agent/agent-config.ts';
import { SDS_PATH, startSdsServer, type SdsServer } from '../proxy/agent/sds-server.ts';
import { WorkloadAgent } from '../proxy/agent/workload-agent.ts';
import { realClock, realRandom } from '../proxy/common/clock.ts';
import { createLogger, parseLogLevel } from '../proxy/common/logger.ts';
import { StatsStore } from '../proxy/stats/store.ts';
import { readCaToken } from './ca-token.ts';

export const AGENT_USAGE = `usage: nodevoy agent --ca-address http://HOST:PORT --namespace NS --service-account SA
                     [--trust-domain cluster.local] [--ttl 24h] [--ca-token-file FILE]
                     [--cert-dir DIR] [--sds-port PORT] [-l info]
  Each setting may instead come from the environment, under the node.metadata key the proxy's own agent reads:
  CA_ADDRESS, NAMESPACE, SERVICE_ACCOUNT, TRUST_DOMAIN, SECRET_TTL, CERT_DIR; the token from NODEVOY_CA_TOKEN.
  --cert-dir writes cert-chain.pem, key.pem (0600) and root-cert.pem; --sds-port serves the Secrets default and
  ROOTCA over REST SDS (POST ${SDS_PATH}) on 127.0.0.1. At least one of them.
`;

export interface AgentArgs {
  readonly config: AgentConfig;
  readonly caTokenFile: string | undefined;
  /** undefined = no SDS endpoint; 0 = any free port. */
  readonly sdsPort: number | undefined;
  readonly logLevel: string;
}

export interface CommandIo {
  readonly out: Writable;
  readonly err: Writable;
}

const STDIO: CommandIo = { out: process.stdout, err: process.stderr };

/** The flag of each setting (the environment variable is the setting's own name). */
const FLAGS: Readonly<Record<AgentSetting, string>> = {
  CA_ADDRESS: 'ca-address', CERT_DIR: 'cert-dir', NAMESPACE: 'namespace', SERVICE_ACCOUNT: 'service-account',
  TRUST_DOMAIN: 'trust-domain', SECRET_TTL: 'ttl',
};

const OPTIONS = {
  ...Object.fromEntries(Object.values(FLAGS).map((f) => [f, { type: 'string' }] as const)),
  'sds-port': { type: 'string' }, 'ca-token-file': { type: 'string' }, 'log-level': { type: 'string', short: 'l' },
} as const;

/** Flags (else the environment), or every problem with them. */
export function parseAgentArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): { ok: true; args: AgentArgs } | { ok: false; errors: string[] } {
  let flags: Record<string, string | undefined>;
  try {
    flags = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }).values as Record<string, string | undefined>;
  } catch (e) {
    return { ok: false, errors: [(e as Error).message] };
  }
  const errors: string[] = [];
  const settings = Object.fromEntries((Object.keys(FLAGS) as AgentSetting[]).map((k) => [k, flags[FLAGS[k]] ?? env[k]]));
  const config = agentConfigFrom(settings, {
    at: (key) => `--${FLAGS[key]} (${key})`, identityPath: '--namespace, --service-account, --trust-domain', defaultCertDir: null,
  });
  if (!config.ok) errors.push(...config.errors.map((e) => `${e.path}: ${e.message}`));
  else if (config.value === null) errors.push('--ca-address (or CA_ADDRESS) is required: the CA service, http://host:port');
  const portText = flags['sds-port'];
  const sdsPort = portText === undefined ? undefined : Number(portText);
  if (sdsPort !== undefined && (!Number.isInteger(sdsPort) || sdsPort < 0 || sdsPort > 65_535)) errors.push(`--sds-port: "${portText}" is not a port number`);
  if (config.ok && config.value?.certDir === null && sdsPort === undefined) errors.push('nothing to deliver the certificate to: give --cert-dir, --sds-port or both');
  const logLevel = flags['log-level'] ?? 'info';
  if (parseLogLevel(logLevel) === undefined) errors.push(`--log-level: "${logLevel}" is not a log level`);
  if (errors.length > 0 || !config.ok || config.value === null) return { ok: false, errors };
  return { ok: true, args: { config: config.value, caTokenFile: flags['ca-token-file'], sdsPort, logLevel } };
}

export async function runAgent(argv: string[], io: CommandIo = STDIO, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = parseAgentArgs(argv, env);
  if (!parsed.ok) {
    for (const e of parsed.errors) io.err.write(`nodevoy agent: ${e}\n`);
    io.err.write(AGENT_USAGE);
    return 1;
  }
  const { config, caTokenFile, sdsPort, logLevel } = parsed.args;
  const token = readCaToken(caTokenFile, env);
  if (!token.ok || token.token === undefined) {
    io.err.write(`nodevoy agent: ${token.ok ? 'a bootstrap token is required (--ca-token-file or NODEVOY_CA_TOKEN; `nodevoy certs token` prints one)' : token.reason}\n`);
    return 1;
  }
  const log = createLogger(logLevel).get('secret');
  const agent = new WorkloadAgent(config, token.token, { clock: realClock, random: realRandom, log, stats: new StatsStore() });
  let sds: SdsServer | null = null;
  try {
    agent.createCertDirectory();
    if (sdsPort !== undefined) sds = await startSdsServer({ host: '127.0.0.1', port: sdsPort, clock: realClock, secrets: agent, log });
  } catch (e) {
    io.err.write(`nodevoy agent: ${(e as Error).message}\n`);
    return 1;
  }
  agent.start();
  const delivered = [...(config.certDir === null ? [] : [`files in ${config.certDir}`]), ...(sds ? [`SDS on ${sds.url}${SDS_PATH}`] : [])];
  io.out.write(`nodevoy agent for ${agent.identity} (CA ${config.caAddress}): ${delivered.join(', ')}\n`);
  const stop = (signal: string): void => {
    log.info(`${signal}: shutting down`);
    agent.stop();
    void (sds?.close() ?? Promise.resolve()).then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return new Promise<number>(() => { /* runs until a signal */ });
}
