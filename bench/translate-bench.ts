// `node bench/translate-bench.ts [services]`: translation cost of a large mesh — N ServiceEntries (default
// 1,000) with two workloads each, a DestinationRule with two subsets and a 90/10 VirtualService per service.
// Prints translateMesh and one proxySnapshot time, heap and RSS (targets: < 1 s, < 300 MB).

import { performance } from 'node:perf_hooks';
import { loadIstioFiles } from '../control-plane/istio/load.ts';
import { proxyIdentity, proxySnapshot, translateMesh } from '../control-plane/translate/index.ts';

const services = Number(process.argv[2] ?? 1000);

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

const text = Array.from({ length: services }, (_, i) => serviceYaml(i)).join('');
const loadStart = performance.now();
const loaded = loadIstioFiles([{ file: 'bench.yaml', text }]);
const loadMs = performance.now() - loadStart;
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
const totalMs = meshMs + snapshotMs;
const heap = process.memoryUsage().heapUsed - heapBefore;
const rss = process.memoryUsage().rss;

console.log(`services: ${services} (${loaded.resources.length} Istio resources; YAML load ${loadMs.toFixed(0)} ms, not counted)`);
console.log(`translateMesh: ${meshMs.toFixed(1)} ms; proxySnapshot: ${snapshotMs.toFixed(1)} ms; total ${totalMs.toFixed(1)} ms (target < 1000 ms)`);
console.log(`snapshot: ${snapshot.listeners.length} listeners, ${snapshot.clusters.length} clusters, ${snapshot.endpoints.length} endpoints, ` +
  `${(snapshot.routes[0]?.['virtual_hosts'] as unknown[] | undefined)?.length ?? 0} virtual hosts, ${mb(jsonBytes)} of JSON`);
console.log(`heap growth: ${mb(heap)}; process RSS: ${mb(rss)} (target < 300 MB)`);
process.exitCode = totalMs < 1000 && rss < 300 * 1024 * 1024 ? 0 : 1;
