// `npm run bench`: starts the upstream, then each peer in turn pinned to its own core, drives it with
// autocannon and/or wrk, measures the proxy's CPU and RSS, prints one table and writes bench/results/*.json.
// `npm run bench -- --control-plane` runs the control-plane benchmarks instead (translation, xDS propagation).

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs, USAGE, type BenchOptions, type PeerName } from './lib/args.ts';
import { HAS_WRK, runLoad, type LoadTool } from './lib/load.ts';
import { PEERS, type RunningPeer } from './lib/peers.ts';
import { HAS_TASKSET, ProcessGroup, freePort, waitForPort } from './lib/processes.ts';
import { CLOCK_TICKS_PER_S, cpuBusySeconds, parseCpuList, treeCpuSeconds, treeRssBytes } from './lib/proc-stat.ts';
import { formatTable, type RunRow } from './lib/table.ts';

/** The Host header and path every load generator sends: the last virtual host and last route of the sidecar config. */
const REQUEST_HOST = 'bench-upstream.default.svc.cluster.local';
const REQUEST_PATH = '/';
const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));

/** Above this share of a core taken by other processes on the proxy's CPU, a run is flagged as noisy. */
const NOISY_OTHER_LOAD_PCT = 10;

interface ResultRecord extends RunRow {
  readonly upstreamCpuPct?: number;
  readonly adminStats?: Record<string, number>;
}

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

/** One GET through the peer before loading it: a broken proxy must fail loudly, not benchmark 404s. */
function checkResponds(port: number, payloadBytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: REQUEST_PATH, headers: { host: REQUEST_HOST }, agent: false, timeout: 5_000 }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => { bytes += c.length; });
      res.on('end', () => (res.statusCode === 200 && bytes === payloadBytes
        ? resolve()
        : reject(new Error(`sanity request got ${res.statusCode} with ${bytes} bytes, expected 200 with ${payloadBytes}`))));
    });
    req.on('timeout', () => req.destroy(new Error('sanity request timed out')));
    req.on('error', reject);
    req.end();
  });
}

async function benchPeer(peer: PeerName, tools: readonly LoadTool[], o: BenchOptions, group: ProcessGroup, dir: string, upstream: { port: number; pid: number }): Promise<ResultRecord[]> {
  let running: RunningPeer | undefined;
  const rows: ResultRecord[] = [];
  try {
    running = await PEERS[peer].start({ group, dir, upstreamPort: upstream.port, options: o });
    await checkResponds(running.port, o.payloadBytes);
    const load = (tool: LoadTool, durationS: number) => runLoad({
      tool, port: running!.port, host: REQUEST_HOST, path: REQUEST_PATH, connections: o.connections, durationS, cpus: o.loadCpus,
    }, group);
    if (o.warmupS > 0) await load(tools[0]!, o.warmupS);
    const proxyCpus = parseCpuList(o.proxyCpus);
    for (const tool of tools) {
      const pid = running.child?.pid;
      const [proxyCpu0, upstreamCpu0, coreBusy0] = [pid === undefined ? 0 : treeCpuSeconds(pid), treeCpuSeconds(upstream.pid), cpuBusySeconds(proxyCpus)];
      const result = await load(tool, o.durationS);
      const proxyCpuS = pid === undefined ? undefined : treeCpuSeconds(pid) - proxyCpu0;
      const otherLoadPct = ((cpuBusySeconds(proxyCpus) - coreBusy0 - (proxyCpuS ?? 0)) / o.durationS) * 100;
      if (otherLoadPct > NOISY_OTHER_LOAD_PCT) {
        log(`  warning: other processes used ${otherLoadPct.toFixed(0)}% of CPU ${o.proxyCpus} during this run; its numbers are noisy`);
      }
      const row: ResultRecord = {
        peer, tool, load: result,
        upstreamCpuPct: ((treeCpuSeconds(upstream.pid) - upstreamCpu0) / o.durationS) * 100,
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

/** The control-plane benchmarks, each its own process (they print their own results); the exit code of the first failing one. */
function benchControlPlane(o: BenchOptions): number {
  const runs = [
    ['translate-bench.ts'],
    ['xds-propagation-bench.ts', '--services', String(o.services)],
  ];
  for (const [script, ...args] of runs) {
    log(`bench: ${script} ${args.join(' ')}`);
    const r = spawnSync(process.execPath, [join(BENCH_DIR, script!), ...args], { stdio: 'inherit' });
    if (r.status !== 0) return r.status ?? 1;
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseBenchArgs(argv);
  if (!parsed.ok) {
    for (const e of parsed.errors) log(`bench: ${e}`);
    log(USAGE);
    return 2;
  }
  const o = parsed.options;
  if (o.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (o.controlPlane) return benchControlPlane(o);

  const startedAt = new Date();
  const group = new ProcessGroup();
  const dir = mkdtempSync(join(tmpdir(), 'nodevoy-bench-'));
  const cleanUp = async (): Promise<void> => {
    await group.stopAll();
    rmSync(dir, { recursive: true, force: true });
  };
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = true;
    log(`bench: ${signal}, stopping every process`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', () => group.killAllNow());

  try {
    const tools: LoadTool[] = o.tool === 'both' ? ['autocannon', 'wrk'] : [o.tool];
    if (!HAS_WRK && tools.includes('wrk')) {
      log('bench: wrk is not installed; running autocannon only');
      tools.splice(0, tools.length, 'autocannon');
    }
    if (!HAS_TASKSET) log('bench: taskset not found; processes are NOT pinned to cores and numbers are noisier');
    log(`bench: ${o.connections} connections, ${o.payloadBytes}-byte responses, ${o.warmupS} s warm-up + ${o.durationS} s per tool (${tools.join(', ')}); ` +
      `proxy on CPU ${o.proxyCpus}, load generator and upstream on CPU ${o.loadCpus}`);

    const upstreamPort = await freePort();
    const upstreamChild = group.spawn({
      name: 'upstream', command: process.execPath, cpus: o.loadCpus, logFile: join(dir, 'upstream.log'),
      args: [join(BENCH_DIR, 'upstream.ts'), '--port', String(upstreamPort), '--payload', String(o.payloadBytes)],
    });
    await waitForPort(upstreamPort, 10_000, upstreamChild);

    const rows: ResultRecord[] = [];
    const skipped: { peer: string; reason: string }[] = [];
    for (const peer of o.peers) {
      if (interrupted) break;
      const reason = PEERS[peer].unavailable(o);
      if (reason !== undefined) {
        log(`bench: skipping ${peer}: ${reason}`);
        skipped.push({ peer, reason });
        continue;
      }
      log(`bench: ${peer}`);
      rows.push(...await benchPeer(peer, tools, o, group, dir, { port: upstreamPort, pid: upstreamChild.pid }));
    }
    if (interrupted) return 130;

    process.stdout.write(`\n${formatTable(rows)}`);
    const resultsDir = join(BENCH_DIR, 'results');
    mkdirSync(resultsDir, { recursive: true });
    const file = join(resultsDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    const machine = { cpus: cpus().length, model: cpus()[0]?.model, kernel: release(), node: process.version, clockTicksPerS: CLOCK_TICKS_PER_S };
    writeFileSync(file, `${JSON.stringify({ date: startedAt.toISOString(), machine, options: o, tools, rows, skipped }, null, 2)}\n`);
    process.stdout.write(`\nresults written to ${file}\n`);
    return rows.some((r) => r.error !== undefined) ? 1 : 0;
  } finally {
    await cleanUp();
  }
}

process.exitCode = await main(process.argv.slice(2));
