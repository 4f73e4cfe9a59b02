// xDS propagation: the control plane serves a generated mesh from a watched config directory to 50 nodevoy
// xDS clients (long-poll, subscribed to clusters and listeners); each round edits a file in the directory and
// measures the time until all 50 have applied the new clusters. Prints p50/p99/max (target: p99 < 200 ms).
// The clients run in a worker thread, as proxies run outside the control plane's process.
// Each proxy receives every service's clusters, so the work per change grows with proxies × services; the
// default mesh (20 services, 60 clusters per proxy) is a small mesh like the demo's, scaled up.
// `node bench/xds-propagation-bench.ts [--proxies 50] [--rounds 20] [--services 20]`

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createXdsClient } from '../control-client/client.ts';
import { createLongPollTransport } from '../control-client/long-poll-transport.ts';
import type { ResourceType } from '../control-client/types.ts';
import { startControlPlane } from '../control-plane/server/control-plane.ts';
import { ISTIO_TRANSLATION } from '../control-plane/server/istio-source.ts';
import { XDS_TYPES } from '../control-plane/xds/snapshot.ts';
import { realClock, realRandom } from '../proxy/common/clock.ts';
import { ok } from '../proxy/common/result.ts';

export interface PropagationOptions {
  readonly proxies: number;
  readonly rounds: number;
  readonly services: number;
}

export interface PropagationResult extends PropagationOptions {
  /** Milliseconds from the file write to the last proxy applying the change, per round. */
  readonly samplesMs: readonly number[];
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** The file each round rewrites: one service whose port (hence cluster name) changes every round. */
const CHANGING_FILE = 'zz-changing.yaml';
const changingService = (round: number) => serviceEntry('bench-changing', 20_000 + round);

function serviceEntry(name: string, port: number): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${name}.default.svc.cluster.local]
  ports: [{number: ${port}, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.1.1, labels: {version: v1}}, {address: 127.0.1.2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: default}
spec:
  host: ${name}.default.svc.cluster.local
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
`;
}

/** A resource type that takes each resource as it comes: the bench measures delivery, not the proxy's validation. */
const passThrough = (kind: 'clusters' | 'listeners'): ResourceType<{ readonly name: string }> => ({
  typeUrl: XDS_TYPES[kind], restPath: kind, stateOfTheWorld: true,
  validate: (resources) => ok(resources as { name: string }[]), name: (r) => r.name,
});

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

export async function runXdsPropagationBench(options: PropagationOptions): Promise<PropagationResult> {
  const dir = mkdtempSync(join(tmpdir(), 'nodevoy-xds-bench-'));
  const services = Array.from({ length: options.services }, (_, i) => serviceEntry(`svc-${i}`, 8_000 + (i % 100))).join('---\n');
  writeFileSync(join(dir, 'services.yaml'), services);
  writeFileSync(join(dir, CHANGING_FILE), changingService(0));
  const cp = await startControlPlane({ configDir: dir, host: '127.0.0.1', port: 0, clock: realClock, random: realRandom, translation: ISTIO_TRANSLATION });
  /** The changing service's port each proxy currently runs. */
  const applied = new Array<number>(options.proxies).fill(-1);
  let waiter: { port: number; resolve: () => void } | undefined;
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { baseUrl: cp.server.url, proxies: options.proxies } satisfies ClientsData });
  worker.on('message', ({ proxy, port }: Applied) => {
    applied[proxy] = port;
    if (waiter !== undefined && applied.every((p) => p === waiter!.port)) waiter.resolve();
  });
  try {
    const allAt = (port: number) => new Promise<void>((resolve) => {
      waiter = { port, resolve };
      if (applied.every((p) => p === port)) resolve();
    });
    await allAt(20_000);
    const samplesMs: number[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const done = allAt(20_000 + round);
      const start = performance.now();
      writeFileSync(join(dir, CHANGING_FILE), changingService(round));
      await done;
      samplesMs.push(performance.now() - start);
    }
    const sorted = [...samplesMs].sort((a, b) => a - b);
    return { ...options, samplesMs, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted.at(-1)! };
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

/** Posted by the worker each time a proxy applies clusters: the changing service's port it now runs. */
interface Applied {
  readonly proxy: number;
  readonly port: number;
}

/** The worker: `proxies` xDS clients, each with its own node, reporting every clusters update. */
function runClients({ baseUrl, proxies }: ClientsData): void {
  // The clients live until the bench terminates the worker.
  for (let i = 0; i < proxies; i++) {
    const node = { id: `bench-${i}`, cluster: 'bench.default', metadata: { NAMESPACE: 'default', INSTANCE_IPS: `127.0.2.${i + 1}`, LABELS: { app: `bench-${i}` } } };
    const client = createXdsClient({ node, clock: realClock, transport: createLongPollTransport({ baseUrl, clock: realClock, random: realRandom }) });
    client.subscribe(passThrough('listeners'), [], () => undefined);
    client.subscribe(passThrough('clusters'), [], (update) => {
      const name = [...update.resources.keys()].find((n) => n.endsWith('||bench-changing.default.svc.cluster.local'));
      parentPort?.postMessage({ proxy: i, port: Number(name?.split('|')[1] ?? -1) } satisfies Applied);
    });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { proxies: { type: 'string' }, rounds: { type: 'string' }, services: { type: 'string' } } });
  const options = { proxies: Number(values.proxies ?? 50), rounds: Number(values.rounds ?? 20), services: Number(values.services ?? 20) };
  const r = await runXdsPropagationBench(options);
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  process.stdout.write(`xDS propagation: ${r.proxies} long-polling proxies, ${r.services} services (+2 subsets each), ${r.rounds} config-dir edits\n`);
  process.stdout.write(`  edit → all proxies applied: p50 ${ms(r.p50Ms)}, p99 ${ms(r.p99Ms)}, max ${ms(r.maxMs)} (target p99 < 200 ms: ${r.p99Ms < 200 ? 'met' : 'MISSED'})\n`);
}

if (!isMainThread) runClients(workerData as ClientsData);
else if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
