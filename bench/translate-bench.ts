// `node bench/translate-bench.ts [services] [--files]`: load and translation cost of a large mesh — N
// ServiceEntries (default 1,000) with two workloads each, a DestinationRule with two subsets and a 90/10
// VirtualService per service: the YAML load, a reload after one service changed (what the control plane does
// on every change to its directory), translateMesh and one proxySnapshot; heap and process RSS (targets: a
// change reloaded and translated < 1 s, peak RSS < 300 MB). The 5 documents per service are one file, or
// with `--files` one file per service in a temporary directory, loaded as the control plane does.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadIstioDirectory, loadIstioFiles, type IstioLoadResult } from '../control-plane/istio/load.ts';
import { proxyIdentity, proxySnapshot, translateMesh } from '../control-plane/translate/index.ts';

const { values: flags, positionals } = parseArgs({ options: { files: { type: 'boolean', default: false } }, allowPositionals: true });
const services = Number(positionals[0] ?? 1000);

function serviceYaml(i: number): string {
  const name = `svc-${i}`;
  const ip = (v: number) => `10.${(i >> 8) & 255}.${i & 255}.${v}`;
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [${name}.default.svc.cluster.local]
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {labels: {app: ${name}}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}-v1}
spec: {address: ${ip(1)}, labels: {app: ${name}, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}-v2}
spec: {address: ${ip(2)}, labels: {app: ${name}, version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}}
spec:
  host: ${name}
  trafficPolicy: {connectionPool: {http: {http1MaxPendingRequests: 100}}, outlierDetection: {consecutive5xxErrors: 5, interval: 10s}}
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}}
spec:
  hosts: [${name}]
  http:
  - match: [{headers: {x-canary: {exact: "true"}}}]
    route: [{destination: {host: ${name}, subset: v2}}]
  - route: [{destination: {host: ${name}, subset: v1}, weight: 90}, {destination: {host: ${name}, subset: v2}, weight: 10}]
    retries: {attempts: 3, perTryTimeout: 2s}
---
`;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function timed<T>(f: () => T | Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await f();
  return { value, ms: performance.now() - start };
}

/** svc-0's VirtualService with another weight split: the edit the reload measures. */
const edited = (yaml: string) => yaml.replace('weight: 90}, {destination: {host: svc-0, subset: v2}, weight: 10}', 'weight: 80}, {destination: {host: svc-0, subset: v2}, weight: 20}');

interface Loads { readonly loaded: IstioLoadResult; readonly loadMs: number; readonly reloadMs: number; readonly files: string }

/**
 * Loads the mesh, then loads it again after svc-0's VirtualService changed (what the control plane does on
 * every change to its directory): one file in memory, or with --files a directory of one file per service.
 */
async function load(): Promise<Loads> {
  if (!flags.files) {
    const text = Array.from({ length: services }, (_, i) => serviceYaml(i)).join('');
    const first = await timed(() => loadIstioFiles([{ file: 'bench.yaml', text }]));
    const reload = await timed(() => loadIstioFiles([{ file: 'bench.yaml', text: edited(text) }]));
    return { loaded: first.value, loadMs: first.ms, reloadMs: reload.ms, files: '1 file' };
  }
  const dir = await mkdtemp(join(tmpdir(), 'nodevoy-translate-bench-'));
  try {
    const file = (i: number) => join(dir, `svc-${String(i).padStart(5, '0')}.yaml`);
    for (let i = 0; i < services; i++) await writeFile(file(i), serviceYaml(i));
    const first = await timed(() => loadIstioDirectory(dir));
    await writeFile(file(0), edited(serviceYaml(0)));
    const reload = await timed(() => loadIstioDirectory(dir));
    return { loaded: first.value, loadMs: first.ms, reloadMs: reload.ms, files: `${services} files` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const { loaded, loadMs, reloadMs, files } = await load();
if (loaded.errors.length > 0) throw new Error(`bench YAML does not load: ${loaded.errors[0]!.message}`);

const heapBefore = process.memoryUsage().heapUsed;
const start = performance.now();
const { mesh, errors } = translateMesh(loaded.resources);
const meshMs = performance.now() - start;
if (errors.length > 0) throw new Error(`bench mesh has errors: ${errors[0]!.message}`);
const identity = proxyIdentity({ id: 'bench', metadata: { LABELS: { app: 'svc-0', version: 'v1' }, INSTANCE_IPS: '10.0.0.1' } });
if (!identity.ok) throw new Error('bad bench identity');
const snapStart = performance.now();
const snapshot = proxySnapshot(mesh, identity.value);
const snapshotMs = performance.now() - snapStart;
const jsonBytes = JSON.stringify(snapshot).length;
const translateMs = meshMs + snapshotMs;
const { heapUsed, rss } = process.memoryUsage();
const peakRss = process.resourceUsage().maxRSS * 1024;
// A change reaches the proxies through a reload and a translation; the first load is the start-up cost.
const changeMs = reloadMs + translateMs;

console.log(`services: ${services} (${loaded.resources.length} Istio resources in ${files})`);
console.log(`YAML load: ${loadMs.toFixed(1)} ms, reload after editing one service: ${reloadMs.toFixed(1)} ms; ` +
  `translateMesh: ${meshMs.toFixed(1)} ms; proxySnapshot: ${snapshotMs.toFixed(1)} ms`);
console.log(`a change reloaded and translated: ${changeMs.toFixed(1)} ms (target < 1000 ms); start-up load and translation: ${(loadMs + translateMs).toFixed(1)} ms`);
console.log(`snapshot: ${snapshot.listeners.length} listeners, ${snapshot.clusters.length} clusters, ${snapshot.endpoints.length} endpoints, ` +
  `${(snapshot.routes[0]?.['virtual_hosts'] as unknown[] | undefined)?.length ?? 0} virtual hosts, ${mb(jsonBytes)} of JSON`);
console.log(`heap: ${mb(heapUsed)} used (translation grew it by ${mb(heapUsed - heapBefore)}); process RSS: ${mb(rss)}, peak ${mb(peakRss)} (target < 300 MB)`);
process.exitCode = changeMs < 1000 && peakRss < 300 * 1024 * 1024 ? 0 : 1;
