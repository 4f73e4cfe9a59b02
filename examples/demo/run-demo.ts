// `npm start`: a small bookinfo-like mesh on loopback. The control plane serves examples/demo/mesh/ (Istio
// YAML) over xDS; one nodevoy sidecar per workload runs examples/demo/sidecar-bootstrap.yaml with its own
// node metadata; productpage calls reviews (v1/v2), reviews v2 calls ratings, all through the sidecars.
// A steady trickle of requests shows which reviews version answers, so editing the VirtualService's weights
// in mesh/reviews.yaml visibly shifts traffic without restarting anything. The control plane also runs a CA:
// each sidecar's workload agent gets its SPIFFE certificate from it (CSR + bootstrap token), calls between
// sidecars are mTLS, and mesh/security.yaml's policies (STRICT, who may call whom) are enforced; the start-up
// printout shows an allowed call, a denied one and a refused plaintext connection. Ctrl-C drains and stops it all.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateTokenSecret, issueBootstrapToken } from '../../certs/bootstrap-token.ts';
import { createCa } from '../../certs/ca.ts';
import { loadBootstrap } from '../../cli/config-input.ts';
import { printConfigErrors } from '../../cli/report.ts';
import { createCaService } from '../../control-plane/server/ca-service.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/server/control-plane.ts';
import { istioTranslation } from '../../control-plane/server/istio-source.ts';
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
/** Istio's Prometheus port: the bootstrap's prometheus_stats listener. */
const PROMETHEUS_PORT = 15090;
const TRUST_DOMAIN = 'cluster.local';
/** The demo's CA (in memory, like istiod's self-signed root) and the secret its bootstrap tokens are checked with. */
const CA = createCa({ trustDomain: TRUST_DOMAIN, clock: realClock });
const TOKEN_SECRET = generateTokenSecret();
/** Each sidecar's CERT_DIR (key.pem, cert-chain.pem, root-cert.pem, written by its workload agent). */
const CERTS_DIR = mkdtempSync(join(tmpdir(), 'nodevoy-demo-certs-'));
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

/**
 * The workload's node, admin address and certificate secrets, merged over the shared bootstrap as Envoy's
 * --config-yaml would. CA_ADDRESS turns the workload agent on; the `default` and `ROOTCA` secrets (the names
 * the control plane's TLS contexts use, as Istio's) watch the directory the agent writes.
 */
function sidecarOverrides(w: Workload): string {
  const certDir = join(CERTS_DIR, w.name);
  return JSON.stringify({
    node: {
      id: `sidecar~${w.ip}~${w.name}.default~default.svc.cluster.local`,
      cluster: `${w.app}.default`,
      metadata: {
        NAME: w.name, WORKLOAD_NAME: w.name, CLUSTER_ID: 'Kubernetes',
        NAMESPACE: 'default', SERVICE_ACCOUNT: w.serviceAccount, LABELS: { app: w.app, version: w.version },
        INSTANCE_IPS: w.ip, APP_PORTS: { [SERVICE_PORT]: w.appPort },
        CA_ADDRESS: `http://127.0.0.1:${CONTROL_PLANE_PORT}`, CERT_DIR: certDir,
      },
    },
    admin: { address: { socket_address: { address: w.ip, port_value: ADMIN_PORT } } },
    static_resources: {
      secrets: [
        { name: 'default', tls_certificate: { certificate_chain: { filename: join(certDir, 'cert-chain.pem') }, private_key: { filename: join(certDir, 'key.pem') }, watched_directory: { path: certDir } } },
        { name: 'ROOTCA', validation_context: { trusted_ca: { filename: join(certDir, 'root-cert.pem') }, watched_directory: { path: certDir } } },
      ],
    },
  });
}

/**
 * The shared bootstrap with the workload's address in place of its example's (reviews-v1's 127.0.10.2): the
 * prometheus_stats listener and cluster are per workload, and --config-yaml appends to lists rather than replace.
 */
function bootstrapFor(w: Workload): string {
  const file = join(CERTS_DIR, `${w.name}-bootstrap.yaml`);
  writeFileSync(file, readFileSync(BOOTSTRAP, 'utf8').replaceAll('127.0.10.2', w.ip));
  return file;
}

async function startSidecar(w: Workload): Promise<Server> {
  const loaded = await loadBootstrap({ configPath: bootstrapFor(w), configYaml: sidecarOverrides(w) });
  if (!loaded.ok) {
    await printConfigErrors(loaded.source, loaded.errors, process.stderr);
    throw new Error(`the sidecar bootstrap for ${w.name} is invalid`);
  }
  // The bootstrap token proves the workload's identity to the CA (`nodevoy certs token` in a real setup).
  const caToken = issueBootstrapToken({ trustDomain: TRUST_DOMAIN, namespace: 'default', serviceAccount: w.serviceAccount }, TOKEN_SECRET, realClock);
  return Server.start({ bootstrap: loaded.config, logger: createLogger('warning'), caToken });
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

/** One GET through productpage's sidecar (its outbound listener) to `host`: the status and body, or the error. */
function callFromProductpage(host: string): Promise<string> {
  return plainGet(WORKLOADS[0]!.ip, OUTBOUND_PORT, host);
}

/** A plaintext GET to `ip:port` with the given host header: `<status> <body>`, or what broke the connection. */
function plainGet(ip: string, port: number, host: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: ip, port, path: '/', headers: { host }, timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(`${res.statusCode} ${Buffer.concat(chunks).toString('utf8').slice(0, 60)}`));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve(`connection refused by the sidecar (${(err as NodeJS.ErrnoException).code ?? err.message})`));
    req.end();
  });
}

/** The three security facts of mesh/security.yaml, observed. */
async function printSecurity(): Promise<void> {
  const [productpage, reviews, , ratings] = WORKLOADS;
  const allowed = await callFromProductpage(`reviews:${SERVICE_PORT}`);
  const denied = await callFromProductpage(`ratings:${SERVICE_PORT}`);
  const plaintext = await plainGet(reviews!.ip, SERVICE_PORT, `reviews:${SERVICE_PORT}`);
  const id = (w: Workload) => `spiffe://${TRUST_DOMAIN}/ns/default/sa/${w.serviceAccount}`;
  process.stdout.write(`security (examples/demo/mesh/security.yaml; every sidecar holds a SPIFFE certificate from the control plane's CA):
  productpage -> reviews  over mTLS as ${id(productpage!)}: ${allowed.startsWith('200 ') ? 'allowed, 200' : allowed}
  productpage -> ratings  over mTLS as ${id(productpage!)}: ${denied}   (only ${id(reviews!)} may call ${ratings!.app})
  plaintext   -> reviews  ${reviews!.ip}:${SERVICE_PORT} (STRICT mTLS): ${plaintext}

`);
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
    rmSync(CERTS_DIR, { recursive: true, force: true });
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  try {
    const log = createLogger('info').get('config');
    const logger = { info: (m: string) => log.info(`control plane: ${m}`), warning: (m: string) => log.warning(`control plane: ${m}`) };
    controlPlane = await startControlPlane({
      configDir: MESH_DIR, host: '127.0.0.1', port: CONTROL_PLANE_PORT, clock: realClock, logger,
      // With a CA every sidecar holds an SVID: auto mTLS between sidecars, as `nodevoy control-plane --ca-dir`.
      translation: istioTranslation({ workloadCertificates: true, trustDomain: TRUST_DOMAIN }),
      caService: createCaService({ ca: CA, tokenSecret: TOKEN_SECRET, clock: realClock, logger }),
    });
    for (const w of WORKLOADS) {
      const calls = w.calls === undefined ? undefined : { host: `${w.calls}:${SERVICE_PORT}`, via: `http://${w.ip}:${OUTBOUND_PORT}` };
      services.push(await startSampleService(w.app, w.version, w.appPort, calls ? { calls } : {}));
    }
    sidecars.push(...await Promise.all(WORKLOADS.map(startSidecar)));
  } catch (err) {
    process.stderr.write(`demo: cannot start: ${(err as Error).message}\n(the demo needs 127.0.0.1:${CONTROL_PLANE_PORT}, ports 19080-19083, and ports ${SERVICE_PORT}, ${OUTBOUND_PORT}, ${ADMIN_PORT}, ${PROMETHEUS_PORT} on 127.0.10.1-4: is another demo running?)\n`);
    await stop(1);
  }

  const [productpage, reviewsV1] = WORKLOADS;
  process.stdout.write(`nodevoy demo mesh is running (Istio config: examples/demo/mesh/)

  control plane     http://127.0.0.1:${CONTROL_PLANE_PORT}/debug/syncz   (xDS REST-JSON + long-poll push, CA POST /v1/certificates)
  mesh graph        http://127.0.0.1:${CONTROL_PLANE_PORT}/graph         (who calls whom: rate, 5xx share and p99 per edge, scraped from each sidecar's :${PROMETHEUS_PORT})
${WORKLOADS.map((w) => `  ${w.name.padEnd(16)}  sidecar ${w.ip}:${SERVICE_PORT} (inbound) ${w.ip}:${OUTBOUND_PORT} (outbound)  admin http://${w.ip}:${ADMIN_PORT}  metrics :${PROMETHEUS_PORT}  app 127.0.0.1:${w.appPort}`).join('\n')}

Try:
  curl -s http://${productpage!.ip}:${SERVICE_PORT}/                                   # productpage -> reviews (80% v1 / 20% v2)
  curl -s -H 'end-user: jason' http://${productpage!.ip}:${SERVICE_PORT}/              # jason always gets reviews v2 (-> ratings)
  curl -s -H 'host: reviews:9080' http://${productpage!.ip}:${OUTBOUND_PORT}/           # call reviews through productpage's sidecar
  node cli/main.ts proxy-status --control-plane http://127.0.0.1:${CONTROL_PLANE_PORT}  # which config each sidecar runs
  curl -s http://${reviewsV1!.ip}:${ADMIN_PORT}/config_dump | less                       # what the control plane sent one sidecar
  curl -s http://${reviewsV1!.ip}:${ADMIN_PORT}/certs                                    # reviews' SPIFFE certificate (renewed at half-life)
  curl -s -H 'host: ratings:9080' http://${productpage!.ip}:${OUTBOUND_PORT}/           # RBAC: access denied (mesh/security.yaml)
  curl -s http://${reviewsV1!.ip}:${PROMETHEUS_PORT}/stats/prometheus | grep istio_requests_total  # Istio's metrics, as Prometheus scrapes them

Now edit the weights in examples/demo/mesh/reviews.yaml (e.g. 80/20 -> 0/100) and save: the control plane
pushes new routes and the traffic lines below shift within a second, with nothing restarted.
Press Ctrl-C to stop.

`);
  await printSecurity();
  let busy = false;
  traffic = setInterval(() => {
    if (busy) return;
    busy = true;
    void printTraffic().finally(() => { busy = false; });
  }, TRAFFIC_EVERY_MS);
}

await main();
