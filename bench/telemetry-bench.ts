// `npm run bench -- --telemetry`: the peers bench's nodevoy sidecar twice — telemetry off (the config as is) and on
// (Istio's peer metadata exchange and stats filters as the control plane emits them, node metadata, 1 % Zipkin
// tracing to a local collector) — in interleaved rounds: req/s, latency, the proxy's CPU µs/req, the on / off
// ratios against issue 6's 15 % target; then two sanity checks (spans ≈ 1 % of the requests, istio_requests_total
// = the requests served). Loopback only; every wait and loop bounded.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { REQUEST_HOST, REQUEST_PATH, checkResponds, chooseTools, runLoad, type LoadTool } from './lib/load.ts';
import { SIDECAR_BOOTSTRAP, fetchAdminStats, fetchAdminText, nodevoyArgs, startProxyProcess, startUpstream, type PeerContext } from './lib/peers.ts';
import { benchMain, freePort, waitForPort, type Child } from './lib/processes.ts';
import { cpuDuring, parseCpuList } from './lib/proc-stat.ts';
import { writeResults } from './lib/results.ts';
import { interleaved, noisyRunWarning } from './lib/rounds.ts';
import { SIDECAR_STAT_PREFIX, TRACE_SAMPLING_PCT, upstreamPeerHeaders, withTelemetry } from './lib/telemetry-configs.ts';
import { TELEMETRY_VARIANTS, checkRequestCount, checkSpans, formatTelemetry, prometheusCounter, type TelemetryRow, type TelemetryVariant } from './lib/telemetry-report.ts';
import { renderBootstrap } from './lib/templates.ts';
import { fetchCollectorCounts, type CollectorCounts } from './lib/zipkin-collector.ts';

const COLLECTOR_SCRIPT = fileURLToPath(new URL('lib/zipkin-collector.ts', import.meta.url));
/** The reporter sends every 5 spans and on its 5 s flush timer: the last spans arrive within ~5 s of the last request. */
const SPANS_SETTLE_TIMEOUT_MS = 15_000;
/** The sidecar's own counters the checks read: requests served, sampling decisions, the Zipkin reporter's. */
const CHECK_STATS = new RegExp(`^(http\\.${SIDECAR_STAT_PREFIX.replace(/\./g, '\\.')}\\.(downstream_rq_total|downstream_rq_[2-5]xx|tracing\\.\\w+)|tracing\\.zipkin\\.\\w+|cluster\\.[^:]+\\.(upstream_rq_total|upstream_rq_5xx|upstream_cx_total))$`);

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

interface Sidecar {
  readonly variant: TelemetryVariant;
  readonly listenerPort: number;
  readonly adminPort: number;
  readonly child: Child;
}

async function startSidecar(variant: TelemetryVariant, ctx: PeerContext, collectorPort: number): Promise<Sidecar> {
  const [listenerPort, adminPort] = [await freePort(), await freePort()];
  const off = renderBootstrap(readFileSync(SIDECAR_BOOTSTRAP, 'utf8'), { adminPort, listenerPort, upstreamPort: ctx.upstreamPort });
  const configPath = join(ctx.dir, `nodevoy-telemetry-${variant}.yaml`);
  writeFileSync(configPath, variant === 'on' ? withTelemetry(off, { collectorPort, samplingPct: TRACE_SAMPLING_PCT }) : off);
  const child = await startProxyProcess(ctx, `nodevoy-telemetry-${variant}`, process.execPath, nodevoyArgs(ctx.options, configPath), listenerPort);
  await checkResponds(listenerPort, REQUEST_HOST, REQUEST_PATH, ctx.options.payloadBytes);
  return { variant, listenerPort, adminPort, child };
}

/** Polls until the collector holds every sampled span (or the bound passes); the last counts either way. */
async function settledSpans(collectorPort: number, adminPort: number): Promise<{ counts: CollectorCounts; stats: Record<string, number> }> {
  const deadline = performance.now() + SPANS_SETTLE_TIMEOUT_MS;
  for (;;) {
    const stats = await fetchAdminStats(adminPort, CHECK_STATS);
    const counts = await fetchCollectorCounts(collectorPort);
    const sampled = stats[`http.${SIDECAR_STAT_PREFIX}.tracing.random_sampling`] ?? 0;
    if (counts.spans >= sampled || performance.now() > deadline) return { counts, stats };
    await delay(250); // poll interval, not a wait for readiness
  }
}

async function main(argv: string[]): Promise<number> {
  const startedAt = new Date();
  return benchMain(argv, 'bench --telemetry', async (o, { group, dir, interrupted }) => {
    const tools = chooseTools(o.tool, log);
    log(`bench --telemetry: ${o.connections} keep-alive connections, ${o.payloadBytes}-byte responses, ${o.warmupS} s warm-up, ` +
      `${o.rounds} interleaved round(s) of ${o.durationS} s per variant and tool (${tools.join(', ')}); both sidecars on CPU ${o.proxyCpus}, ` +
      `load generator, upstream and Zipkin collector on CPU ${o.loadCpus}; tracing ${TRACE_SAMPLING_PCT} %`);
    const collectorPort = await freePort();
    const collector = group.spawn({
      name: 'zipkin-collector', command: process.execPath, cpus: o.loadCpus, logFile: join(dir, 'zipkin-collector.log'),
      args: [COLLECTOR_SCRIPT, '--port', String(collectorPort)],
    });
    await waitForPort(collectorPort, 10_000, collector);
    const peer = upstreamPeerHeaders();
    const upstream = await startUpstream(group, dir, o, ['--peer-metadata-id', peer.id, '--peer-metadata', peer.value]);
    const ctx: PeerContext = { group, dir, upstreamPort: upstream.port, options: o };
    const sidecars: Record<TelemetryVariant, Sidecar> = { off: await startSidecar('off', ctx, collectorPort), on: await startSidecar('on', ctx, collectorPort) };
    const proxyCpus = parseCpuList(o.proxyCpus);
    // What the load generator completed against each sidecar (warm-up and the sanity request included), and its runs.
    const completed: Record<TelemetryVariant, number> = { off: 1, on: 1 };
    const runs: Record<TelemetryVariant, number> = { off: 0, on: 0 };

    const load = async (variant: TelemetryVariant, tool: LoadTool, durationS: number) => {
      const result = await runLoad({
        tool, port: sidecars[variant].listenerPort, host: REQUEST_HOST, path: REQUEST_PATH, connections: o.connections, durationS, cpus: o.loadCpus,
      }, group);
      completed[variant] += result.requests;
      runs[variant]++;
      return result;
    };
    if (o.warmupS > 0) for (const variant of TELEMETRY_VARIANTS) await load(variant, tools[0]!, o.warmupS);
    const rows: TelemetryRow[] = [];
    for (let round = 1; round <= o.rounds && !interrupted(); round++) {
      for (const variant of interleaved(TELEMETRY_VARIANTS, round)) {
        for (const tool of tools) {
          const { result, treeCpuS: [proxyCpuS = 0], busyS } = await cpuDuring([sidecars[variant].child.pid], proxyCpus, () => load(variant, tool, o.durationS));
          const row: TelemetryRow = { variant, tool, round, load: result, proxyCpuS, otherCpuS: busyS - proxyCpuS, durationS: o.durationS };
          rows.push(row);
          log(`  round ${round} telemetry ${variant} / ${tool}: ${Math.round(result.rps)} req/s, p99 ${result.p99Ms.toFixed(2)} ms, ` +
            `${((proxyCpuS / Math.max(1, result.requests)) * 1e6).toFixed(1)} µs/req`);
          const warning = noisyRunWarning(row.otherCpuS, o.durationS, o.proxyCpus);
          if (warning !== undefined) log(warning);
        }
      }
    }
    if (interrupted()) return 130;

    // The sanity checks on the `on` sidecar, once its last spans are reported.
    const { counts, stats } = await settledSpans(collectorPort, sidecars.on.adminPort);
    const served = stats[`http.${SIDECAR_STAT_PREFIX}.downstream_rq_total`] ?? 0;
    const istio = prometheusCounter(await fetchAdminText(sidecars.on.adminPort, '/stats/prometheus'), 'istio_requests_total');
    const spanCheck = checkSpans({ requests: served, sampled: stats[`http.${SIDECAR_STAT_PREFIX}.tracing.random_sampling`] ?? 0, received: counts.spans, samplingPct: TRACE_SAMPLING_PCT });
    const countCheck = checkRequestCount({ istioRequests: istio.total, served, clientCompleted: completed.on, inFlightBound: runs.on * o.connections });
    const offStats = await fetchAdminStats(sidecars.off.adminPort, CHECK_STATS).catch(() => undefined);
    const zipkin = Object.entries(stats).filter(([name]) => name.startsWith('tracing.zipkin.')).map(([name, v]) => `${name.slice('tracing.zipkin.'.length)}=${v}`).join(' ');

    process.stdout.write(`\n${formatTelemetry(rows)}\n` +
      `sanity, spans (telemetry on): ${spanCheck.text}; collector: ${counts.reports} reports, spans by kind ${JSON.stringify(counts.byKind)}, ${counts.rejected} rejected; reporter: ${zipkin || '-'}\n` +
      `sanity, Istio metrics (telemetry on): ${countCheck.text}; ${istio.series} series, by response_code ${JSON.stringify(istio.byResponseCode)}\n`);
    // The pids tell which --cpu-prof file (CPU.<date>.<time>.<pid>.*.cpuprofile) is which sidecar.
    const pids = { off: sidecars.off.child.pid, on: sidecars.on.child.pid };
    const file = writeResults('telemetry-', startedAt, {
      options: o, tools, pids, rows, sanity: { spans: spanCheck, requests: countCheck, collector: counts, istioRequests: istio }, adminStats: { on: stats, off: offStats },
    });
    process.stdout.write(`\nresults written to ${file}\n`);
    const failed = rows.some((r) => r.load.errors + r.load.non2xx > 0);
    if (failed) log('bench --telemetry: some requests failed (see the errors column)');
    if (!spanCheck.ok || !countCheck.ok) log('bench --telemetry: a sanity check failed');
    return failed || !spanCheck.ok || !countCheck.ok ? 1 : 0;
  });
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  log(`bench --telemetry: FAILED: ${(err as Error).message}`);
  process.exitCode = 1;
}
