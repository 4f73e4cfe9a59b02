// The benchmark peers: how each one is started on the proxy CPU in front of the shared upstream (direct,
// nodevoy, http-proxy, nginx, haproxy, Envoy), whether it is available here, and its admin stats if any.

import { accessSync, constants, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions, PeerName } from './args.ts';
import { freePort, waitForPort, type Child, type ProcessGroup } from './processes.ts';
import { renderBootstrap, renderTemplate } from './templates.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CONFIGS = join(REPO, 'bench', 'configs');
export const SIDECAR_BOOTSTRAP = join(CONFIGS, 'nodevoy-envoy.yaml');
const STARTUP_TIMEOUT_MS = 15_000;

export interface PeerContext {
  readonly group: ProcessGroup;
  /** A temp dir for rendered configs and logs. */
  readonly dir: string;
  readonly upstreamPort: number;
  readonly options: BenchOptions;
}

export interface RunningPeer {
  /** Where the load generator connects. */
  readonly port: number;
  /** The proxy process (absent for `direct`). */
  readonly child?: Child;
  /** Envoy-style admin stats (`GET /stats`, "name: value" lines), for nodevoy and Envoy. */
  adminStats?(): Promise<Record<string, number>>;
}

export interface Peer {
  readonly name: PeerName;
  /** Why the peer cannot run here, or undefined when it can. */
  unavailable(options: BenchOptions): string | undefined;
  start(ctx: PeerContext): Promise<RunningPeer>;
}

/** An executable on PATH (or in the sbin dirs where Debian puts nginx and haproxy). */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch { /* not here */ }
  }
  return undefined;
}

/** Starts a proxy process pinned to the proxy CPUs and waits for its port; on failure, the error carries its log's tail. */
export async function startProxyProcess(ctx: PeerContext, name: string, command: string, args: readonly string[], port: number): Promise<Child> {
  const child = ctx.group.spawn({ name, command, args, cpus: ctx.options.proxyCpus, logFile: join(ctx.dir, `${name}.log`) });
  try {
    await waitForPort(port, STARTUP_TIMEOUT_MS, child);
  } catch (err) {
    await ctx.group.stop(child);
    let log = '';
    try { log = readFileSync(join(ctx.dir, `${name}.log`), 'utf8').slice(-1500); } catch { /* no log */ }
    throw new Error(`${(err as Error).message}${log ? `\n--- ${name} log ---\n${log}` : ''}`);
  }
  return child;
}

/** nodevoy and Envoy run the same bootstrap, with this run's ports filled in. */
async function startFromBootstrap(ctx: PeerContext, name: string, command: string, args: (configPath: string) => string[]): Promise<RunningPeer> {
  const [listenerPort, adminPort] = [await freePort(), await freePort()];
  const configPath = join(ctx.dir, `${name}-envoy.yaml`);
  writeFileSync(configPath, renderBootstrap(readFileSync(SIDECAR_BOOTSTRAP, 'utf8'), { adminPort, listenerPort, upstreamPort: ctx.upstreamPort }));
  const child = await startProxyProcess(ctx, name, command, args(configPath), listenerPort);
  return { port: listenerPort, child, adminStats: () => fetchAdminStats(adminPort) };
}

/** The admin's `GET <path>` body (bounded: 5 s). */
export async function fetchAdminText(adminPort: number, path: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${adminPort}${path}`, { signal: AbortSignal.timeout(5_000) });
  return res.text();
}

export async function fetchAdminStats(adminPort: number, wanted: RegExp = INTERESTING_STAT): Promise<Record<string, number>> {
  return parseAdminStats(await fetchAdminText(adminPort, '/stats'), wanted);
}

/** Counters that tell whether a run was clean: requests, connections, overflows, 5xx, resets, TLS handshakes and failures. */
const INTERESTING_STAT = /(downstream_rq_total|downstream_rq_[2-5]xx|downstream_cx_total|upstream_rq_total|upstream_cx_total|upstream_rq_[5]xx|overflow|_reset|no_route|retry|ssl\.handshake|ssl\.connection_error|ssl\.fail_verify_\w+)$/;

/** Envoy's `/stats` text ("name: value" per line), numeric counters/gauges that `wanted` (INTERESTING_STAT) names. */
export function parseAdminStats(text: string, wanted: RegExp = INTERESTING_STAT): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([^:\s]+): (\d+)$/.exec(line.trim());
    if (m?.[1] && m[2] && wanted.test(m[1])) out[m[1]] = Number(m[2]);
  }
  return out;
}

const node = process.execPath;

/** The command line of a nodevoy proxy (the compiled CLI when built): one event loop, warnings only. */
export function nodevoyArgs(options: BenchOptions, configPath: string): string[] {
  return [...options.nodeFlags, join(REPO, 'bin', 'nodevoy.js'), 'proxy', '-c', configPath, '--concurrency', '1', '--log-level', 'warning'];
}

/** The fixed-payload upstream (bench/upstream.ts) on the load generator's CPUs; `extraArgs` are more of its options. */
export async function startUpstream(group: ProcessGroup, dir: string, options: BenchOptions, extraArgs: readonly string[] = []): Promise<{ port: number; pid: number }> {
  const port = await freePort();
  const child = group.spawn({
    name: 'upstream', command: node, cpus: options.loadCpus, logFile: join(dir, 'upstream.log'),
    args: [join(REPO, 'bench', 'upstream.ts'), '--port', String(port), '--payload', String(options.payloadBytes), ...extraArgs],
  });
  await waitForPort(port, 10_000, child);
  return { port, pid: child.pid };
}

export const PEERS: Readonly<Record<PeerName, Peer>> = {
  direct: {
    name: 'direct',
    unavailable: () => undefined,
    start: async (ctx) => ({ port: ctx.upstreamPort }),
  },
  nodevoy: {
    name: 'nodevoy',
    unavailable: () => undefined,
    start: (ctx) => startFromBootstrap(ctx, 'nodevoy', node, (config) => nodevoyArgs(ctx.options, config)),
  },
  'http-proxy': {
    name: 'http-proxy',
    unavailable: () => undefined,
    start: async (ctx) => {
      const port = await freePort();
      const child = await startProxyProcess(ctx, 'http-proxy', node,
        [...ctx.options.nodeFlags, join(REPO, 'bench', 'peers', 'http-proxy.ts'), '--port', String(port), '--target', String(ctx.upstreamPort)], port);
      return { port, child };
    },
  },
  nginx: {
    name: 'nginx',
    unavailable: () => (findBinary('nginx') ? undefined : 'nginx is not installed'),
    start: async (ctx) => {
      const port = await freePort();
      const conf = join(ctx.dir, 'nginx.conf');
      writeFileSync(conf, renderTemplate(readFileSync(join(CONFIGS, 'nginx.conf'), 'utf8'), { DIR: ctx.dir, LISTEN_PORT: port, UPSTREAM_PORT: ctx.upstreamPort }));
      // -e: the error log before the config is read (the default /var/log/nginx may not be writable).
      const child = await startProxyProcess(ctx, 'nginx', findBinary('nginx')!, ['-p', ctx.dir, '-c', conf, '-e', join(ctx.dir, 'nginx-error.log')], port);
      return { port, child };
    },
  },
  haproxy: {
    name: 'haproxy',
    unavailable: () => (findBinary('haproxy') ? undefined : 'haproxy is not installed'),
    start: async (ctx) => {
      const port = await freePort();
      const cfg = join(ctx.dir, 'haproxy.cfg');
      writeFileSync(cfg, renderTemplate(readFileSync(join(CONFIGS, 'haproxy.cfg'), 'utf8'), { LISTEN_PORT: port, UPSTREAM_PORT: ctx.upstreamPort }));
      const child = await startProxyProcess(ctx, 'haproxy', findBinary('haproxy')!, ['-db', '-f', cfg], port); // -db: foreground
      return { port, child };
    },
  },
  envoy: {
    name: 'envoy',
    unavailable: (options) => (options.envoyPath === undefined ? 'no --envoy PATH given' : undefined),
    start: (ctx) => startFromBootstrap(ctx, 'envoy', ctx.options.envoyPath!, (config) =>
      ['-c', config, '--concurrency', '1', '--disable-hot-restart', '--log-level', 'warning']),
  },
};
