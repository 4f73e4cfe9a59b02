// `npm run bench`: starts the upstream, then each peer in turn pinned to its own core, drives it with
// autocannon and/or wrk, measures the proxy's CPU and RSS, prints one table and writes bench/results/*.json.
// `npm run bench -- --control-plane` runs the control-plane benchmarks instead (translation, xDS propagation),
// `npm run bench -- --mtls` the two-sidecar mTLS benchmark (bench/mtls-bench.ts), `npm run bench -- --telemetry`
// the sidecar with telemetry off vs on (bench/telemetry-bench.ts).

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchCommand, type BenchOptions, type PeerName } from './lib/args.ts';
import { REQUEST_HOST, REQUEST_PATH, checkResponds, chooseTools, runLoad, type LoadTool } from './lib/load.ts';
import { PEERS, startUpstream, type RunningPeer } from './lib/peers.ts';
import { HAS_TASKSET, withBenchRun, type ProcessGroup } from './lib/processes.ts';
import { cpuDuring, parseCpuList, treeRssBytes } from './lib/proc-stat.ts';
import { writeResults } from './lib/results.ts';
import { noisyRunWarning } from './lib/rounds.ts';
import { formatTable, type RunRow } from './lib/table.ts';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));

interface ResultRecord extends RunRow {
  readonly upstreamCpuPct?: number;
  readonly adminStats?: Record<string, number>;
}

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

async function benchPeer(peer: PeerName, tools: readonly LoadTool[], o: BenchOptions, group: ProcessGroup, dir: string, upstream: { port: number; pid: number }): Promise<ResultRecord[]> {
  let running: RunningPeer | undefined;
  const rows: ResultRecord[] = [];
  try {
    running = await PEERS[peer].start({ group, dir, upstreamPort: upstream.port, options: o });
    await checkResponds(running.port, REQUEST_HOST, REQUEST_PATH, o.payloadBytes);
    const load = (tool: LoadTool, durationS: number) => runLoad({
      tool, port: running!.port, host: REQUEST_HOST, path: REQUEST_PATH, connections: o.connections, durationS, cpus: o.loadCpus,
    }, group);
    if (o.warmupS > 0) await load(tools[0]!, o.warmupS);
    const proxyCpus = parseCpuList(o.proxyCpus);
    for (const tool of tools) {
      const pid = running.child?.pid;
      // proxyCpuS is undefined for `direct` (no proxy process).
      const { result, treeCpuS: [upstreamCpuS = 0, proxyCpuS], busyS } =
        await cpuDuring(pid === undefined ? [upstream.pid] : [upstream.pid, pid], proxyCpus, () => load(tool, o.durationS));
      const otherLoadPct = ((busyS - (proxyCpuS ?? 0)) / o.durationS) * 100;
      const warning = noisyRunWarning(busyS - (proxyCpuS ?? 0), o.durationS, o.proxyCpus);
      if (warning !== undefined) log(warning);
      const row: ResultRecord = {
        peer, tool, load: result,
        upstreamCpuPct: (upstreamCpuS / o.durationS) * 100,
        otherLoadOnProxyCpuPct: otherLoadPct,
        ...(proxyCpuS === undefined || pid === undefined ? {} : {
          proxyCpuPct: (proxyCpuS / o.durationS) * 100,
          proxyCpuUsPerReq: result.requests > 0 ? (proxyCpuS / result.requests) * 1e6 : undefined,
          proxyRssMiB: treeRssBytes(pid) / 1024 / 1024,
        }),
      };
      rows.push(row);
      log(`  ${peer} / ${tool}: ${Math.round(result.rps)} req/s, p99 ${result.p99Ms.toFixed(2)} ms` +
        (row.proxyCpuPct === undefined ? '' : `, proxy CPU ${row.proxyCpuPct.toFixed(0)}%`));
    }
    const stats = await running.adminStats?.().catch(() => undefined);
    if (stats) rows.splice(0, rows.length, ...rows.map((r) => ({ ...r, adminStats: stats })));
  } catch (err) {
    const message = (err as Error).message;
    log(`  ${peer}: FAILED: ${message}`);
    const done = new Set(rows.map((r) => r.tool));
    for (const tool of tools) if (!done.has(tool)) rows.push({ peer, tool, error: message.split('\n')[0] ?? message });
  } finally {
    if (running?.child) await group.stop(running.child);
  }
  return rows;
}

/**
 * Benchmarks that are their own scripts (they print their own results), run one after the other; the exit
 * code of the first failing one. The control-plane ones, or the mTLS or telemetry one (which read the same options).
 */
function benchScripts(o: BenchOptions, argv: readonly string[]): number {
  const runs = o.mtls ? [['mtls-bench.ts', ...argv]]
    : o.telemetry ? [['telemetry-bench.ts', ...argv]]
      : [['translate-bench.ts'], ['xds-propagation-bench.ts', '--services', String(o.services)]];
  for (const [script, ...args] of runs) {
    log(`bench: ${script} ${args.join(' ')}`);
    const r = spawnSync(process.execPath, [join(BENCH_DIR, script!), ...args], { stdio: 'inherit' });
    if (r.status !== 0) return r.status ?? 1;
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const command = benchCommand(argv, 'bench');
  if (!('run' in command)) {
    process.stdout.write(command.stdout);
    process.stderr.write(command.stderr);
    return command.exitCode;
  }
  const o = command.run;
  if (o.controlPlane || o.mtls || o.telemetry) return benchScripts(o, argv);

  const startedAt = new Date();
  return withBenchRun(async ({ group, dir, interrupted }) => {
    const tools = chooseTools(o.tool, log);
    if (!HAS_TASKSET) log('bench: taskset not found; processes are NOT pinned to cores and numbers are noisier');
    log(`bench: ${o.connections} connections, ${o.payloadBytes}-byte responses, ${o.warmupS} s warm-up + ${o.durationS} s per tool (${tools.join(', ')}); ` +
      `proxy on CPU ${o.proxyCpus}, load generator and upstream on CPU ${o.loadCpus}`);

    const upstream = await startUpstream(group, dir, o);

    const rows: ResultRecord[] = [];
    const skipped: { peer: string; reason: string }[] = [];
    for (const peer of o.peers) {
      if (interrupted()) break;
      const reason = PEERS[peer].unavailable(o);
      if (reason !== undefined) {
        log(`bench: skipping ${peer}: ${reason}`);
        skipped.push({ peer, reason });
        continue;
      }
      log(`bench: ${peer}`);
      rows.push(...await benchPeer(peer, tools, o, group, dir, upstream));
    }
    if (interrupted()) return 130;

    process.stdout.write(`\n${formatTable(rows)}`);
    const file = writeResults('', startedAt, { options: o, tools, rows, skipped });
    process.stdout.write(`\nresults written to ${file}\n`);
    return rows.some((r) => r.error !== undefined) ? 1 : 0;
  });
}

process.exitCode = await main(process.argv.slice(2));
