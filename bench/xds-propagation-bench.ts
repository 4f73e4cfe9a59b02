// xDS propagation: the control plane serves a generated mesh from a watched config directory to N simulated
// nodevoy sidecars (default 50, in a worker thread, as proxies run outside the control plane's process). Each
// subscribes like a real sidecar — LDS and CDS wildcard, RDS `outbound_http`, EDS for its EDS clusters (re-
// subscribed whenever CDS changes) — and validates every resource with the proxy's real xDS resource types.
// Two kinds of config-dir edit are timed separately, from the file write to the last proxy having applied it:
// a VirtualService weight edit (RDS only) and a DestinationRule edit adding a subset (CDS, then EDS).
// `node bench/xds-propagation-bench.ts [--services 100] [--proxies 50] [--rounds 20] [--round-timeout-s 30]`

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createXdsClient } from '../control-client/client.ts';
import type { XdsWatch } from '../control-client/client.ts';
import { createLongPollTransport } from '../control-client/long-poll-transport.ts';
import { startControlPlane } from '../control-plane/server/control-plane.ts';
import { ISTIO_TRANSLATION } from '../control-plane/server/istio-source.ts';
import { OUTBOUND_ROUTE_NAME } from '../control-plane/translate/index.ts';
import { realClock, realRandom } from '../proxy/common/clock.ts';
import {
  clusterLoadAssignmentResourceType, clusterResourceType, listenerResourceType, routeConfigurationResourceType,
} from '../proxy/xds/resource-types.ts';

export interface PropagationOptions {
  readonly proxies: number;
  readonly rounds: number;
  readonly services: number;
  /** A round (or the initial sync, scaled by the mesh size) not done within this is reported as timed out. */
  readonly roundTimeoutS: number;
}

/** Time from the file write to the last proxy applying the change, over the rounds of one change kind. */
export interface ChangeStats {
  readonly samplesMs: readonly number[];
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** CPU milliseconds of the control plane's thread per change, p50 (steadier than latency on a shared machine). */
  readonly serverCpuP50Ms: number;
  /** CPU milliseconds of the clients' thread (every proxy's xDS client) per change, p50. */
  readonly clientsCpuP50Ms: number;
}

export interface PropagationResult extends PropagationOptions {
  /** From start until every proxy holds the whole initial configuration. */
  readonly initialSyncMs: number;
  readonly clustersPerProxy: number;
  readonly routeWeight: ChangeStats;
  readonly destinationRule: ChangeStats;
}

const NS = 'default';
const TARGET = 'bench-target';
const TARGET_HOST = `${TARGET}.${NS}.svc.cluster.local`;
const PORT = 8000;
/** The virtual host of outbound_http whose weights a route round edits. */
const TARGET_VHOST = `${TARGET_HOST}:${PORT}`;
/** Weight rounds set v1's weight to the round number, so the rounds are capped below 100. */
const MAX_ROUNDS = 99;

function serviceYaml(name: string, index: number): string {
  const ip = (v: number) => `10.${(index >> 8) & 255}.${index & 255}.${v}`;
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${NS}}
spec:
  hosts: [${name}.${NS}.svc.cluster.local]
  ports: [{number: ${PORT}, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: ${ip(1)}, labels: {version: v1}}, {address: ${ip(2)}, labels: {version: v2}}]
`;
}

function virtualServiceYaml(name: string, v1Weight: number): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${NS}}
spec:
  hosts: [${name}.${NS}.svc.cluster.local]
  http:
  - route:
    - {destination: {host: ${name}.${NS}.svc.cluster.local, subset: v1}, weight: ${v1Weight}}
    - {destination: {host: ${name}.${NS}.svc.cluster.local, subset: v2}, weight: ${100 - v1Weight}}
`;
}

/** Subsets v1 and v2, plus `canary-<round>` (on v1's endpoints) once a DestinationRule round has run. */
function destinationRuleYaml(name: string, canaryRound: number): string {
  const canary = canaryRound > 0 ? `, {name: canary-${canaryRound}, labels: {version: v1}}` : '';
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${NS}}
spec:
  host: ${name}.${NS}.svc.cluster.local
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}${canary}]
`;
}

const meshYaml = (services: number): string => Array.from({ length: services - 1 }, (_, i) => {
  const name = `svc-${i}`;
  return [serviceYaml(name, i), destinationRuleYaml(name, 0), virtualServiceYaml(name, 90)].join('---\n');
}).join('---\n');

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

function stats(samplesMs: number[], serverCpu: number[], clientsCpu: number[]): ChangeStats {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const median = (v: number[]) => percentile([...v].sort((a, b) => a - b), 50);
  return { samplesMs, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted.at(-1) ?? NaN, serverCpuP50Ms: median(serverCpu), clientsCpuP50Ms: median(clientsCpu) };
}

/** What the worker reports per proxy: the target's v1 weight in RDS and the newest canary subset it has endpoints for. */
interface Applied {
  readonly proxy: number;
  readonly kind: 'weight' | 'canary' | 'clusters';
  readonly value: number;
}

export async function runXdsPropagationBench(options: PropagationOptions): Promise<PropagationResult> {
  const rounds = Math.min(options.rounds, MAX_ROUNDS);
  const dir = mkdtempSync(join(tmpdir(), 'nodevoy-xds-bench-'));
  const write = (file: string, yaml: string) => writeFileSync(join(dir, file), yaml);
  write('services.yaml', meshYaml(options.services));
  write('target-se.yaml', serviceYaml(TARGET, options.services - 1));
  write('target-vs.yaml', virtualServiceYaml(TARGET, 50));
  write('target-dr.yaml', destinationRuleYaml(TARGET, 0));
  const cp = await startControlPlane({ configDir: dir, host: '127.0.0.1', port: 0, clock: realClock, random: realRandom, translation: ISTIO_TRANSLATION });
  const applied = { weight: new Array<number>(options.proxies).fill(-1), canary: new Array<number>(options.proxies).fill(-1), clusters: new Array<number>(options.proxies).fill(-1) };
  let waiter: { kind: Applied['kind']; value: number; resolve: () => void } | undefined;
  const settled = () => waiter !== undefined && applied[waiter.kind].every((v) => v === waiter!.value);
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { baseUrl: cp.server.url, proxies: options.proxies } satisfies ClientsData });
  worker.on('message', ({ proxy, kind, value }: Applied) => {
    applied[kind][proxy] = value;
    if (settled()) waiter!.resolve();
  });
  const workerFailed = new Promise<never>((_, reject) => worker.once('error', reject));
  /** Resolves once every proxy reports `value` for `kind`; rejects after `timeoutMs`. */
  const allAt = (kind: Applied['kind'], value: number, timeoutMs: number): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<void>((resolve, reject) => {
      waiter = { kind, value, resolve };
      timer = setTimeout(() => reject(new Error(`${kind} ${value}: not applied by every proxy within ${timeoutMs} ms (${applied[kind].filter((v) => v === value).length}/${options.proxies})`)), timeoutMs);
      if (settled()) resolve();
    });
    return Promise.race([done, workerFailed]).finally(() => clearTimeout(timer));
  };

  const roundTimeoutMs = options.roundTimeoutS * 1_000;
  /** One change kind: `rounds` edits, each awaited on every proxy before the next. */
  async function measure(kind: 'weight' | 'canary', edit: (round: number) => void): Promise<ChangeStats> {
    const samples: number[] = [];
    const serverCpu: number[] = [];
    const clientsCpu: number[] = [];
    const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1_000;
    for (let round = 1; round <= rounds; round++) {
      const done = allAt(kind, round, roundTimeoutMs);
      const [process0, server0] = [process.cpuUsage(), process.threadCpuUsage()];
      const start = performance.now();
      edit(round);
      await done;
      samples.push(performance.now() - start);
      const server = cpuMs(process.threadCpuUsage(server0));
      serverCpu.push(server);
      // The process's CPU is both threads' (and libuv's, e.g. fs.watch); the clients' is the rest.
      clientsCpu.push(cpuMs(process.cpuUsage(process0)) - server);
    }
    return stats(samples, serverCpu, clientsCpu);
  }

  try {
    const start = performance.now();
    // Each service has 3 clusters (its own and two subsets); the initial sync grows with proxies × services.
    const clustersPerProxy = options.services * 3;
    const syncTimeoutMs = roundTimeoutMs * Math.max(1, Math.ceil(options.services / 50));
    await allAt('clusters', clustersPerProxy, syncTimeoutMs);
    await allAt('weight', 50, syncTimeoutMs);
    await allAt('canary', 0, syncTimeoutMs);
    const initialSyncMs = performance.now() - start;
    const routeWeight = await measure('weight', (round) => write('target-vs.yaml', virtualServiceYaml(TARGET, round)));
    const destinationRule = await measure('canary', (round) => write('target-dr.yaml', destinationRuleYaml(TARGET, round)));
    return { ...options, rounds, initialSyncMs, clustersPerProxy, routeWeight, destinationRule };
  } finally {
    await worker.terminate();
    await cp.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface ClientsData {
  readonly baseUrl: string;
  readonly proxies: number;
}

/** The worker: `proxies` sidecars' xDS clients, each with its own node, reporting what it has applied. */
function runClients({ baseUrl, proxies }: ClientsData): void {
  const report = (msg: Applied) => parentPort?.postMessage(msg);
  const canaryPrefix = `outbound|${PORT}|canary-`;
  // The clients live until the bench terminates the worker.
  for (let proxy = 0; proxy < proxies; proxy++) {
    const node = { id: `sidecar~127.0.2.${proxy + 1}~bench-${proxy}.${NS}~${NS}.svc.cluster.local`, cluster: `bench.${NS}`, metadata: { NAMESPACE: NS, INSTANCE_IPS: `127.0.2.${proxy + 1}`, LABELS: { app: `bench-${proxy}` } } };
    const client = createXdsClient({ node, clock: realClock, transport: createLongPollTransport({ baseUrl, clock: realClock, random: realRandom }) });
    let eds: XdsWatch | undefined;
    let edsNames = '';
    client.subscribe(listenerResourceType, [], () => undefined);
    client.subscribe(routeConfigurationResourceType, [OUTBOUND_ROUTE_NAME], (update) => {
      const vhost = update.resources.get(OUTBOUND_ROUTE_NAME)?.virtual_hosts?.find((v) => v.name === TARGET_VHOST);
      const weight = vhost?.routes?.[0]?.route?.weighted_clusters?.clusters[0]?.weight;
      report({ proxy, kind: 'weight', value: Number(weight ?? -1) });
    });
    // As a sidecar does: EDS for the EDS clusters' service names, re-subscribed when CDS changes them.
    client.subscribe(clusterResourceType, [], (update) => {
      const names = [...update.resources.values()].filter((c) => c.type === 'EDS').map((c) => c.eds_cluster_config?.service_name ?? c.name ?? '').sort();
      const key = names.join(',');
      if (key !== edsNames) {
        edsNames = key;
        if (eds === undefined) {
          eds = client.subscribe(clusterLoadAssignmentResourceType, names, (endpoints) => {
            const rounds = [...endpoints.resources.keys()].filter((n) => n.startsWith(canaryPrefix)).map((n) => Number(n.slice(canaryPrefix.length).split('|')[0]));
            report({ proxy, kind: 'canary', value: rounds.length === 0 ? 0 : Math.max(...rounds) });
          });
        } else {
          eds.setResourceNames(names);
        }
      }
      report({ proxy, kind: 'clusters', value: update.resources.size });
    });
  }
}

function formatStats(what: string, s: ChangeStats): string {
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  return `  ${what}: p50 ${ms(s.p50Ms)}, p99 ${ms(s.p99Ms)}, max ${ms(s.maxMs)} (target p99 < 200 ms: ${s.p99Ms < 200 ? 'met' : 'MISSED'}); ` +
    `CPU per change: control plane ${ms(s.serverCpuP50Ms)}, clients ${ms(s.clientsCpuP50Ms)}\n`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { proxies: { type: 'string' }, rounds: { type: 'string' }, services: { type: 'string' }, 'round-timeout-s': { type: 'string' } },
  });
  const options: PropagationOptions = {
    proxies: Number(values.proxies ?? 50), rounds: Number(values.rounds ?? 20), services: Math.max(2, Number(values.services ?? 100)),
    roundTimeoutS: Number(values['round-timeout-s'] ?? 30),
  };
  const r = await runXdsPropagationBench(options);
  process.stdout.write(`xDS propagation: ${r.proxies} sidecars (LDS, CDS, RDS, EDS; long-poll), ${r.services} services, ${r.clustersPerProxy} clusters per proxy, ${r.rounds} edits per kind\n`);
  process.stdout.write(`  initial sync of every proxy: ${r.initialSyncMs.toFixed(0)} ms\n`);
  process.stdout.write(formatStats('VirtualService weight edit (RDS)      ', r.routeWeight));
  process.stdout.write(formatStats('DestinationRule subset edit (CDS+EDS)', r.destinationRule));
}

if (!isMainThread) runClients(workerData as ClientsData);
else if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
