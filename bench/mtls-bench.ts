// `npm run bench -- --mtls`: two nodevoy sidecars (client → server → upstream), plaintext vs mTLS with keep-alive in
// interleaved rounds (req/s, latency, each sidecar's CPU µs/req, the ratio against issue 5's +25 % aim), then new
// connections per request against the server sidecar (ECDSA P-256 handshakes). Loopback only; every loop bounded.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCa } from '../certs/ca.ts';
import { WORKLOAD_FILES, writeWorkloadFiles } from '../certs/files.ts';
import { issueWorkloadCertificate } from '../certs/local-issuer.ts';
import { realClock } from '../proxy/common/clock.ts';
import type { BenchOptions } from './lib/args.ts';
import { runHandshakeLoad, type HandshakeLoadSpec, type TlsMaxVersion } from './lib/handshake-load.ts';
import { REQUEST_HOST, REQUEST_PATH, checkResponds, chooseTools, runLoad, type LoadTool } from './lib/load.ts';
import { sidecarPairBootstraps, type CertDirFiles, type SidecarPairPorts } from './lib/mtls-configs.ts';
import { VARIANTS, formatHandshakes, formatKeepAlive, upstreamConnectionsOpened, type HandshakeRow, type KeepAliveRow, type Variant } from './lib/mtls-report.ts';
import { SIDECAR_BOOTSTRAP, fetchAdminStats, nodevoyArgs, startProxyProcess, startUpstream, type PeerContext } from './lib/peers.ts';
import { benchMain, freePort, type Child } from './lib/processes.ts';
import { cpuDuring, parseCpuList } from './lib/proc-stat.ts';
import { writeResults } from './lib/results.ts';
import { interleaved, noisyRunWarning } from './lib/rounds.ts';

const INBOUND_BOOTSTRAP = fileURLToPath(new URL('configs/nodevoy-inbound.yaml', import.meta.url));
const TRUST_DOMAIN = 'cluster.local';
const spiffeId = (sa: string): string => `spiffe://${TRUST_DOMAIN}/ns/default/sa/${sa}`;
/** The SNI Istio's client sidecar sends for the destination (outbound_.<port>_.<subset>_.<host>). */
const SNI = `outbound_.8080_._.${REQUEST_HOST}`;
/** Upper bound of one new-connection run's count, whatever its duration (far above what one core does in 10 s). */
const MAX_CONNECTIONS_PER_RUN = 200_000;
/** Warm-up of the new-connection path (JIT of the TLS accept path), seconds at most. */
const HANDSHAKE_WARMUP_S = 2;

/** The new-connection runs: plaintext TCP, then mTLS at the client's TLS 1.3 and TLS 1.2 maximum (the client sidecar's default). */
const HANDSHAKE_KINDS: readonly { readonly kind: string; readonly tls?: TlsMaxVersion }[] = [
  { kind: 'plaintext' }, { kind: 'mtls TLS 1.3', tls: '1.3' }, { kind: 'mtls TLS 1.2', tls: '1.2' },
];

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

/** A fresh ECDSA P-256 CA and the two sidecars' SVIDs, written as `nodevoy certs issue` writes them. */
function issueCertificates(dir: string): Record<'client' | 'server', string> {
  const ca = createCa({ trustDomain: TRUST_DOMAIN, keyType: 'ec', clock: realClock });
  const dirs = { client: join(dir, 'client'), server: join(dir, 'server') };
  for (const side of ['client', 'server'] as const) {
    const identity = { trustDomain: TRUST_DOMAIN, namespace: 'default', serviceAccount: side };
    const issued = issueWorkloadCertificate(ca, identity, { clock: realClock, keyType: 'ec' });
    if (!issued.ok) throw new Error(`certs: ${side}: ${issued.reason}`);
    writeWorkloadFiles(dirs[side], issued.value);
  }
  return dirs;
}

function certFiles(dir: string): CertDirFiles {
  return { certChain: join(dir, WORKLOAD_FILES.certChain), key: join(dir, WORKLOAD_FILES.key), rootCert: join(dir, WORKLOAD_FILES.rootCert) };
}

interface Stack {
  readonly variant: Variant;
  readonly ports: SidecarPairPorts;
  readonly client: Child;
  readonly server: Child;
}

/** Starts one variant's server sidecar then client sidecar (both on the proxy CPUs) and checks a request goes through. */
async function startStack(variant: Variant, ctx: PeerContext, certDirs: Record<'client' | 'server', string>): Promise<Stack> {
  const ports: SidecarPairPorts = {
    clientAdminPort: await freePort(), clientListenerPort: await freePort(),
    serverAdminPort: await freePort(), serverListenerPort: await freePort(), upstreamPort: ctx.upstreamPort,
  };
  const tls = variant === 'mtls'
    ? { clientFiles: certFiles(certDirs.client), serverFiles: certFiles(certDirs.server), clientId: spiffeId('client'), serverId: spiffeId('server'), sni: SNI }
    : undefined;
  const configs = sidecarPairBootstraps({ outbound: readFileSync(SIDECAR_BOOTSTRAP, 'utf8'), inbound: readFileSync(INBOUND_BOOTSTRAP, 'utf8') }, ports, tls);
  const start = async (side: 'client' | 'server', port: number): Promise<Child> => {
    const configPath = join(ctx.dir, `${side}-sidecar-${variant}.yaml`);
    writeFileSync(configPath, configs[side]);
    return startProxyProcess(ctx, `${side}-sidecar-${variant}`, process.execPath, nodevoyArgs(ctx.options, configPath), port);
  };
  const server = await start('server', ports.serverListenerPort);
  const client = await start('client', ports.clientListenerPort);
  await checkResponds(ports.clientListenerPort, REQUEST_HOST, REQUEST_PATH, ctx.options.payloadBytes);
  return { variant, ports, client, server };
}

function warnIfNoisy(otherCpuS: number, o: BenchOptions): void {
  const warning = noisyRunWarning(otherCpuS, o.durationS, o.proxyCpus);
  if (warning !== undefined) log(warning);
}

async function main(argv: string[]): Promise<number> {
  const startedAt = new Date();
  return benchMain(argv, 'bench --mtls', async (o, { group, dir, interrupted }) => {
    const tools = chooseTools(o.tool, log);
    log(`bench --mtls: ${o.connections} keep-alive connections, ${o.payloadBytes}-byte responses, ${o.warmupS} s warm-up, ` +
      `${o.rounds} interleaved round(s) of ${o.durationS} s per variant and tool (${tools.join(', ')}); both sidecars on CPU ${o.proxyCpus}, ` +
      `load generator and upstream on CPU ${o.loadCpus}; ` +
      (o.handshakeParallel === 0 ? 'no new-connection runs' : `then ${o.handshakeParallel} parallel new connections per request, ${o.rounds} round(s)`));
    const certDirs = issueCertificates(join(dir, 'certs'));
    const upstream = await startUpstream(group, dir, o);
    const ctx: PeerContext = { group, dir, upstreamPort: upstream.port, options: o };
    const stacks: Record<Variant, Stack> = { plaintext: await startStack('plaintext', ctx, certDirs), mtls: await startStack('mtls', ctx, certDirs) };
    const proxyCpus = parseCpuList(o.proxyCpus);

    const keepAliveLoad = (variant: Variant, tool: LoadTool, durationS: number) => runLoad({
      tool, port: stacks[variant].ports.clientListenerPort, host: REQUEST_HOST, path: REQUEST_PATH, connections: o.connections, durationS, cpus: o.loadCpus,
    }, group);
    if (o.warmupS > 0) for (const variant of VARIANTS) await keepAliveLoad(variant, tools[0]!, o.warmupS);
    const keepAlive: KeepAliveRow[] = [];
    for (let round = 1; round <= o.rounds && !interrupted(); round++) {
      for (const variant of interleaved(VARIANTS, round)) {
        for (const tool of tools) {
          const { client, server, ports } = stacks[variant];
          // New client → server connections in the window (a handshake each with mTLS): the previous run's end
          // reset requests in flight, which closes their upstream connections, so each run reopens some.
          const connections0 = upstreamConnectionsOpened(await fetchAdminStats(ports.clientAdminPort));
          const { result, treeCpuS: [clientCpuS = 0, serverCpuS = 0], busyS } =
            await cpuDuring([client.pid, server.pid], proxyCpus, () => keepAliveLoad(variant, tool, o.durationS));
          const newConnections = upstreamConnectionsOpened(await fetchAdminStats(ports.clientAdminPort)) - connections0;
          const row: KeepAliveRow = {
            variant, tool, round, load: result, clientCpuS, serverCpuS, otherCpuS: busyS - clientCpuS - serverCpuS, durationS: o.durationS, newConnections,
          };
          keepAlive.push(row);
          log(`  round ${round} ${variant} / ${tool}: ${Math.round(result.rps)} req/s, p99 ${result.p99Ms.toFixed(2)} ms, ` +
            `sidecars ${(((clientCpuS + serverCpuS) / result.requests) * 1e6).toFixed(1)} µs/req`);
          warnIfNoisy(row.otherCpuS, o);
        }
      }
    }

    const handshakeLoad = (k: (typeof HANDSHAKE_KINDS)[number], durationS: number) => {
      const spec: HandshakeLoadSpec = {
        port: stacks[k.tls === undefined ? 'plaintext' : 'mtls'].ports.serverListenerPort, host: REQUEST_HOST, path: REQUEST_PATH,
        parallel: o.handshakeParallel, durationS, maxConnections: MAX_CONNECTIONS_PER_RUN, cpus: o.loadCpus,
        ...(k.tls === undefined ? {} : { tls: { certDir: certDirs.client, serverId: spiffeId('server'), servername: SNI, maxVersion: k.tls } }),
      };
      return runHandshakeLoad(spec, group);
    };
    const handshakeRounds = o.handshakeParallel === 0 ? 0 : o.rounds;
    if (o.warmupS > 0 && handshakeRounds > 0) for (const k of HANDSHAKE_KINDS) await handshakeLoad(k, Math.min(o.warmupS, HANDSHAKE_WARMUP_S));
    const handshakes: HandshakeRow[] = [];
    for (let round = 1; round <= handshakeRounds && !interrupted(); round++) {
      for (const k of interleaved(HANDSHAKE_KINDS, round)) {
        const server = stacks[k.tls === undefined ? 'plaintext' : 'mtls'].server;
        const { result, treeCpuS: [serverCpuS = 0], busyS } = await cpuDuring([server.pid], proxyCpus, () => handshakeLoad(k, o.durationS));
        handshakes.push({ kind: k.kind, round, result, serverCpuS, otherCpuS: busyS - serverCpuS, durationS: o.durationS });
        log(`  round ${round} ${k.kind}: ${Math.round(result.perS)} connections/s, server ${((serverCpuS / Math.max(1, result.ok)) * 1e6).toFixed(0)} µs/conn, ` +
          `${result.errors} errors${result.firstError ? ` (first: ${result.firstError})` : ''}`);
        warnIfNoisy(busyS - serverCpuS, o);
      }
    }
    if (interrupted()) return 130;

    const adminStats: Record<string, Record<string, number> | undefined> = {};
    for (const variant of VARIANTS) {
      for (const side of ['client', 'server'] as const) {
        const port = side === 'client' ? stacks[variant].ports.clientAdminPort : stacks[variant].ports.serverAdminPort;
        adminStats[`${side}-${variant}`] = await fetchAdminStats(port).catch(() => undefined);
      }
    }
    const ssl = (key: string) => Object.entries(adminStats[key] ?? {}).filter(([name]) => name.includes('.ssl.'))
      .map(([name, v]) => `${name.slice(name.indexOf('.ssl.') + 5)}=${v}`).join(' ');
    process.stdout.write(`\n${formatKeepAlive(keepAlive)}\n${handshakes.length > 0 ? `${formatHandshakes(handshakes)}\n` : ''}` +
      `mTLS sidecars' TLS counters: client ${ssl('client-mtls') || '-'}; server ${ssl('server-mtls') || '-'}\n`);
    // The pids tell which --cpu-prof file (CPU.<date>.<time>.<pid>.*.cpuprofile) is which sidecar.
    const pids = Object.fromEntries(VARIANTS.flatMap((v) => [[`client-${v}`, stacks[v].client.pid], [`server-${v}`, stacks[v].server.pid]]));
    const file = writeResults('mtls-', startedAt, { options: o, tools, pids, keepAlive, handshakes, adminStats });
    process.stdout.write(`\nresults written to ${file}\n`);
    const failed = keepAlive.some((r) => r.load.errors + r.load.non2xx > 0) || handshakes.some((r) => r.result.errors > 0);
    if (failed) log('bench --mtls: some requests or connections failed (see the errors columns)');
    return failed ? 1 : 0;
  });
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  log(`bench --mtls: FAILED: ${(err as Error).message}`);
  process.exitCode = 1;
}
