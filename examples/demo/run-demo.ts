// `npm start`: a small bookinfo-like mesh on loopback. The control plane serves examples/demo/mesh/ (Istio
// YAML) over xDS; one nodevoy sidecar per workload runs examples/demo/sidecar-bootstrap.yaml with its own
// node metadata; productpage calls reviews (v1/v2), reviews v2 calls ratings, all through the sidecars.
// A steady trickle of requests shows which reviews version answers, so editing the VirtualService's weights
// in mesh/reviews.yaml visibly shifts traffic without restarting anything. Ctrl-C drains and stops it all.

import { fileURLToPath } from 'node:url';
import { request } from 'node:http';
import { loadBootstrap } from '../../cli/config-input.ts';
import { printConfigErrors } from '../../cli/report.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/server/control-plane.ts';
import { ISTIO_TRANSLATION } from '../../control-plane/server/istio-source.ts';
import { realClock } from '../../proxy/common/clock.ts';
import { createLogger } from '../../proxy/common/logger.ts';
import { Server } from '../../proxy/server/server.ts';
import { startSampleService, type SampleService } from './sample-service.ts';

const MESH_DIR = fileURLToPath(new URL('./mesh/', import.meta.url));
const BOOTSTRAP = fileURLToPath(new URL('./sidecar-bootstrap.yaml', import.meta.url));
const CONTROL_PLANE_PORT = 15010;
const SERVICE_PORT = 9080;
const OUTBOUND_PORT = 15001;
const ADMIN_PORT = 15000;
/** Requests sent through productpage per traffic line, and how often a line is printed. */
const TRAFFIC_REQUESTS = 20;
const TRAFFIC_EVERY_MS = 2_000;

interface Workload {
  readonly name: string;
  readonly app: string;
  readonly version: string;
  readonly serviceAccount: string;
  /** Its "pod IP": the WorkloadEntry address in mesh/workloads.yaml. */
  readonly ip: string;
  /** Where the application itself listens, on 127.0.0.1. */
  readonly appPort: number;
  /** The service it calls through its sidecar, if any. */
  readonly calls?: string;
}

const WORKLOADS: readonly Workload[] = [
  { name: 'productpage-v1', app: 'productpage', version: 'v1', serviceAccount: 'bookinfo-productpage', ip: '127.0.10.1', appPort: 19080, calls: 'reviews' },
  { name: 'reviews-v1', app: 'reviews', version: 'v1', serviceAccount: 'bookinfo-reviews', ip: '127.0.10.2', appPort: 19081 },
  { name: 'reviews-v2', app: 'reviews', version: 'v2', serviceAccount: 'bookinfo-reviews', ip: '127.0.10.3', appPort: 19082, calls: 'ratings' },
  { name: 'ratings-v1', app: 'ratings', version: 'v1', serviceAccount: 'bookinfo-ratings', ip: '127.0.10.4', appPort: 19083 },
];

/** The workload's node and admin address, merged over the shared bootstrap as Envoy's --config-yaml would. */
function sidecarOverrides(w: Workload): string {
  return JSON.stringify({
    node: {
      id: `sidecar~${w.ip}~${w.name}.default~default.svc.cluster.local`,
      cluster: `${w.app}.default`,
      metadata: {
        NAMESPACE: 'default', SERVICE_ACCOUNT: w.serviceAccount, LABELS: { app: w.app, version: w.version },
        INSTANCE_IPS: w.ip, APP_PORTS: { [SERVICE_PORT]: w.appPort },
      },
    },
    admin: { address: { socket_address: { address: w.ip, port_value: ADMIN_PORT } } },
  });
}

async function startSidecar(w: Workload): Promise<Server> {
  const loaded = await loadBootstrap({ configPath: BOOTSTRAP, configYaml: sidecarOverrides(w) });
  if (!loaded.ok) {
    await printConfigErrors(loaded.source, loaded.errors, process.stderr);
    throw new Error(`the sidecar bootstrap for ${w.name} is invalid`);
  }
  return Server.start({ bootstrap: loaded.config, logger: createLogger('warning') });
}

/** GET / on productpage (through its sidecar's inbound listener); the reviews version that answered, or the error. */
function askProductpage(): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: WORKLOADS[0]!.ip, port: SERVICE_PORT, path: '/', headers: { host: 'productpage:9080' }, timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { reviews?: { status: number; body: { version?: string } } };
          const reviews = body.reviews;
          resolve(reviews?.status === 200 ? `reviews-${reviews.body.version ?? '?'}` : `error ${reviews?.status ?? res.statusCode}`);
        } catch {
          resolve(`error ${res.statusCode}`);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve(`error ${err.message}`));
    req.end();
  });
}

async function printTraffic(): Promise<void> {
  const counts = new Map<string, number>();
  for (let i = 0; i < TRAFFIC_REQUESTS; i++) {
    const who = await askProductpage();
    counts.set(who, (counts.get(who) ?? 0) + 1);
  }
  const parts = [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([who, n]) => `${who} ${Math.round((100 * n) / TRAFFIC_REQUESTS)}%`);
  process.stdout.write(`traffic: ${TRAFFIC_REQUESTS} requests via productpage -> ${parts.join(', ')}\n`);
}

async function main(): Promise<void> {
  const services: SampleService[] = [];
  const sidecars: Server[] = [];
  let controlPlane: ControlPlane | undefined;
  let traffic: NodeJS.Timeout | undefined;
  const stop = async (code: number): Promise<never> => {
    process.stdout.write('\nstopping the demo...\n');
    clearInterval(traffic);
    await Promise.all(sidecars.map((s) => s.shutdown(1000)));
    await controlPlane?.close();
    await Promise.all(services.map((s) => s.close()));
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  try {
    const log = createLogger('info').get('config');
    controlPlane = await startControlPlane({
      configDir: MESH_DIR, host: '127.0.0.1', port: CONTROL_PLANE_PORT, clock: realClock, translation: ISTIO_TRANSLATION,
      logger: { info: (m) => log.info(`control plane: ${m}`), warning: (m) => log.warning(`control plane: ${m}`) },
    });
    for (const w of WORKLOADS) {
      const calls = w.calls === undefined ? undefined : { host: `${w.calls}:${SERVICE_PORT}`, via: `http://${w.ip}:${OUTBOUND_PORT}` };
      services.push(await startSampleService(w.app, w.version, w.appPort, calls ? { calls } : {}));
    }
    for (const w of WORKLOADS) sidecars.push(await startSidecar(w));
  } catch (err) {
    process.stderr.write(`demo: cannot start: ${(err as Error).message}\n(the demo needs 127.0.0.1:${CONTROL_PLANE_PORT}, ports 19080-19083, and ports ${SERVICE_PORT}, ${OUTBOUND_PORT}, ${ADMIN_PORT} on 127.0.10.1-4: is another demo running?)\n`);
    await stop(1);
  }

  const [productpage, reviewsV1] = WORKLOADS;
  process.stdout.write(`nodevoy demo mesh is running (Istio config: examples/demo/mesh/)

  control plane     http://127.0.0.1:${CONTROL_PLANE_PORT}/debug/syncz   (xDS REST-JSON + long-poll push)
${WORKLOADS.map((w) => `  ${w.name.padEnd(16)}  sidecar ${w.ip}:${SERVICE_PORT} (inbound) ${w.ip}:${OUTBOUND_PORT} (outbound)  admin http://${w.ip}:${ADMIN_PORT}  app 127.0.0.1:${w.appPort}`).join('\n')}

Try:
  curl -s http://${productpage!.ip}:${SERVICE_PORT}/                                   # productpage -> reviews (80% v1 / 20% v2)
  curl -s -H 'end-user: jason' http://${productpage!.ip}:${SERVICE_PORT}/              # jason always gets reviews v2 (-> ratings)
  curl -s -H 'host: reviews:9080' http://${productpage!.ip}:${OUTBOUND_PORT}/           # call reviews through productpage's sidecar
  node cli/main.ts proxy-status --control-plane http://127.0.0.1:${CONTROL_PLANE_PORT}  # which config each sidecar runs
  curl -s http://${reviewsV1!.ip}:${ADMIN_PORT}/config_dump | less                       # what the control plane sent one sidecar

Now edit the weights in examples/demo/mesh/reviews.yaml (e.g. 80/20 -> 0/100) and save: the control plane
pushes new routes and the traffic lines below shift within a second, with nothing restarted.
Press Ctrl-C to stop.

`);
  let busy = false;
  traffic = setInterval(() => {
    if (busy) return;
    busy = true;
    void printTraffic().finally(() => { busy = false; });
  }, TRAFFIC_EVERY_MS);
}

await main();
