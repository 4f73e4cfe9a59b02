// A whole mesh in one test process: the real control plane watching a temporary config directory, one
// test upstream ("the application") and one nodevoy sidecar per workload, each workload at its own random
// loopback address like a pod IP, registered with generated ServiceEntry/WorkloadEntry YAML (one service
// per namespace and app: `<app>.<namespace>.svc.cluster.local`). Like an Istio mesh, the control plane runs a
// CA and each sidecar's workload agent gets its SVID from it (a bootstrap token per workload), so traffic
// between sidecars is auto mTLS and PeerAuthentication/AuthorizationPolicy work as in a cluster.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTokenSecret, issueBootstrapToken } from '../../certs/bootstrap-token.ts';
import { createCa, type CertificateAuthority } from '../../certs/ca.ts';
import { createCaService } from '../../control-plane/server/ca-service.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/server/control-plane.ts';
import type { GraphScrapeOptions } from '../../control-plane/server/graph-scraper.ts';
import { ISTIO_TRANSLATION, istioTranslation } from '../../control-plane/server/istio-source.ts';
import { realClock, type Clock } from '../../proxy/common/clock.ts';
import type { Server } from '../../proxy/server/server.ts';
import { send, startProxy, type SimpleResponse } from './proxy.ts';
import { startUpstream, type TestUpstream, type UpstreamHandler } from './upstream.ts';

/** The port every test service declares by default; sidecars' inbound listeners bind <workload ip>:<that port>. */
export const SERVICE_PORT = 9080;

export interface WorkloadSpec {
  readonly name: string;
  readonly app: string;
  readonly version: string;
  /** The workload's namespace (its WorkloadEntry's, its service's and its sidecar's NAMESPACE); default `default`. */
  readonly namespace?: string;
  /** The application; default: answers 200 with `<name>`. */
  readonly handler?: UpstreamHandler;
}

export interface RunningWorkload {
  readonly spec: WorkloadSpec;
  readonly ip: string;
  readonly app: TestUpstream;
  sidecar: Server;
}

export interface MeshOptions {
  readonly workloads: readonly WorkloadSpec[];
  /** Extra Istio YAML files for the config directory (VirtualServices, DestinationRules, ...), by file name. */
  readonly files?: Readonly<Record<string, string>>;
  /** The port every service declares; default SERVICE_PORT. */
  readonly servicePort?: number;
  /**
   * Run the control plane's CA and give every sidecar an SVID (default true, as in Istio). false: no CA,
   * no certificates, plaintext unless a policy asks for mTLS (which then refuses connections).
   */
  readonly workloadCertificates?: boolean;
  /** The sidecars' clock (default the real one): a test that asserts durations drives monotonic time itself. */
  readonly sidecarClock?: Clock;
  /** Istio's telemetry filters in the sidecars (MeshOptions.telemetry, default true). */
  readonly telemetry?: boolean;
  /**
   * The control plane's mesh graph scrape options. Given, each sidecar's admin listens on <workload ip>:15000
   * (as in the demo) and its node metadata says STATS_PORT: 15000, so the control plane scrapes the admin's
   * /stats/prometheus; absent, admins stay on 127.0.0.1:0, and the control plane's default scrapes of
   * <workload ip>:15090 find nothing (the graph shows the proxies stale).
   */
  readonly graph?: GraphScrapeOptions;
}

/** The sidecars' admin port on their workload address when the mesh graph scrapes them (MeshOptions.graph). */
export const GRAPH_ADMIN_PORT = 15000;

/** The mesh's CA: the control plane signs with it; tests use it to make their own (attacker or client) certificates. */
export interface MeshCa {
  readonly ca: CertificateAuthority;
  readonly tokenSecret: Buffer;
}

const namespaceOf = (spec: WorkloadSpec): string => spec.namespace ?? 'default';

/** A distinct 127.x.y.z per test run, so parallel test files never share an address:port. */
function randomLoopbackBase(): string {
  return `127.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 256)}`;
}

/** ServiceEntry per namespace and app (`<app>.<ns>.svc.cluster.local:<port>`) and a WorkloadEntry per workload. */
export function registryYaml(workloads: readonly { spec: WorkloadSpec; ip: string }[], port = SERVICE_PORT): string {
  const apps = [...new Map(workloads.map((w) => [`${namespaceOf(w.spec)}/${w.spec.app}`, w.spec])).values()];
  const services = apps.map(({ app, namespace = 'default' }) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${app}, namespace: ${namespace}}
spec:
  hosts: [${app}.${namespace}.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{number: ${port}, name: http, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {labels: {app: ${app}}}
`);
  const entries = workloads.map((w) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${w.spec.name}, namespace: ${namespaceOf(w.spec)}}
spec:
  address: ${w.ip}
  labels: {app: ${w.spec.app}, version: ${w.spec.version}}
  serviceAccount: ${w.spec.app}
`);
  return [...services, ...entries].join('---\n');
}

/** A sidecar bootstrap as docs/mesh.md describes it: REST LDS/CDS from xds_cluster, node metadata naming the workload. */
export function sidecarBootstrap(
  w: { spec: WorkloadSpec; ip: string; app: TestUpstream }, controlPlanePort: number, initialFetchTimeout = '5s', servicePort = SERVICE_PORT,
  certDir?: string, statsOnWorkloadIp = false,
): string {
  const ns = namespaceOf(w.spec);
  // The workload agent writes CERT_DIR from the control plane's CA; the `default` and `ROOTCA` secrets watch it.
  const agent = certDir === undefined ? {} : { CA_ADDRESS: `http://127.0.0.1:${controlPlanePort}`, CERT_DIR: certDir };
  const secrets = certDir === undefined ? [] : [
    { name: 'default', tls_certificate: { certificate_chain: { filename: join(certDir, 'cert-chain.pem') }, private_key: { filename: join(certDir, 'key.pem') }, watched_directory: { path: certDir } } },
    { name: 'ROOTCA', validation_context: { trusted_ca: { filename: join(certDir, 'root-cert.pem') }, watched_directory: { path: certDir } } },
  ];
  const source = { resource_api_version: 'V3', initial_fetch_timeout: initialFetchTimeout, api_config_source: { api_type: 'REST', transport_api_version: 'V3', cluster_names: ['xds_cluster'], refresh_delay: '1s' } };
  return JSON.stringify({
    node: {
      id: `sidecar~${w.ip}~${w.spec.name}.${ns}~${ns}.svc.cluster.local`,
      cluster: `${w.spec.app}.${ns}`,
      metadata: {
        // Istio's workload keys (its agent and injector set them): NAME is the pod, WORKLOAD_NAME its deployment.
        NAME: w.spec.name, WORKLOAD_NAME: w.spec.name, CLUSTER_ID: 'Kubernetes',
        NAMESPACE: ns, SERVICE_ACCOUNT: w.spec.app, LABELS: { app: w.spec.app, version: w.spec.version },
        INSTANCE_IPS: w.ip, APP_PORTS: { [servicePort]: w.app.port }, OUTBOUND_PORT: 0, ...agent,
        ...(statsOnWorkloadIp ? { STATS_PORT: GRAPH_ADMIN_PORT } : {}),
      },
    },
    admin: { address: { socket_address: statsOnWorkloadIp ? { address: w.ip, port_value: GRAPH_ADMIN_PORT } : { address: '127.0.0.1', port_value: 0 } } },
    dynamic_resources: { lds_config: source, cds_config: source },
    static_resources: {
      secrets,
      clusters: [{
        name: 'xds_cluster', type: 'STATIC', connect_timeout: '1s',
        load_assignment: { cluster_name: 'xds_cluster', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: controlPlanePort } } } }] }] },
      }],
    },
  });
}

/** The control plane's /debug/config_errors JSON (control-plane/server/debug-endpoints.ts). */
export interface ConfigErrorsReport {
  readonly count: number;
  readonly error_count: number;
  readonly warning_count: number;
  readonly errors: readonly { readonly severity: 'error' | 'warning'; readonly text: string; readonly file: string }[];
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class TestMesh {
  readonly dir: string;
  controlPlane: ControlPlane;
  readonly workloads: ReadonlyMap<string, RunningWorkload>;
  /** The control plane's CA (undefined with workloadCertificates: false). */
  readonly ca: MeshCa | undefined;
  private readonly certsDir: string;
  /** Admins listen on the workload addresses (MeshOptions.graph). */
  private readonly adminOnWorkloadIp: boolean;

  private constructor(dir: string, certsDir: string, controlPlane: ControlPlane, workloads: ReadonlyMap<string, RunningWorkload>, ca: MeshCa | undefined, adminOnWorkloadIp: boolean) {
    this.dir = dir;
    this.adminOnWorkloadIp = adminOnWorkloadIp;
    this.certsDir = certsDir;
    this.controlPlane = controlPlane;
    this.workloads = workloads;
    this.ca = ca;
  }

  static async start(options: MeshOptions): Promise<TestMesh> {
    const dir = await mkdtemp(join(tmpdir(), 'nodevoy-mesh-'));
    // Outside the watched config directory: certificate files are no Istio YAML.
    const certsDir = await mkdtemp(join(tmpdir(), 'nodevoy-mesh-certs-'));
    const base = randomLoopbackBase();
    const meshCa: MeshCa | undefined = options.workloadCertificates === false ? undefined
      : { ca: createCa({ trustDomain: 'cluster.local', clock: realClock }), tokenSecret: generateTokenSecret() };
    const running = new Map<string, RunningWorkload>();
    let controlPlane: ControlPlane | undefined;
    try {
      for (const [i, spec] of options.workloads.entries()) {
        const app = await startUpstream(spec.name, spec.handler);
        running.set(spec.name, { spec, ip: `${base}.${i + 1}`, app, sidecar: undefined as unknown as Server });
      }
      const port = options.servicePort ?? SERVICE_PORT;
      await writeFile(join(dir, 'registry.yaml'), registryYaml([...running.values()], port));
      for (const [file, text] of Object.entries(options.files ?? {})) await writeFile(join(dir, file), text);
      controlPlane = await startControlPlane({
        configDir: dir, host: '127.0.0.1', port: 0, clock: realClock, debounceMs: 10,
        ...(meshCa === undefined
          ? { translation: options.telemetry === undefined ? ISTIO_TRANSLATION : istioTranslation({ telemetry: options.telemetry }) }
          : { translation: istioTranslation({ workloadCertificates: true, ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry }) }),
            caService: createCaService({ ...meshCa, clock: realClock }) }),
        ...(options.graph === undefined ? {} : { graph: options.graph }),
      });
      const graph = options.graph !== undefined;
      const cpPort = controlPlane.server.port;
      const clock = options.sidecarClock === undefined ? {} : { clock: options.sidecarClock };
      await Promise.all([...running.values()].map(async (w) => {
        if (meshCa === undefined) {
          w.sidecar = await startProxy(sidecarBootstrap(w, cpPort, '5s', port, undefined, graph), clock);
          return;
        }
        const identity = { trustDomain: 'cluster.local', namespace: namespaceOf(w.spec), serviceAccount: w.spec.app };
        const caToken = issueBootstrapToken(identity, meshCa.tokenSecret, realClock);
        w.sidecar = await startProxy(sidecarBootstrap(w, cpPort, '5s', port, join(certsDir, w.spec.name), graph), { caToken, ...clock });
      }));
      return new TestMesh(dir, certsDir, controlPlane, running, meshCa, graph);
    } catch (e) {
      await Promise.all([...running.values()].map(async (w) => { await w.sidecar?.close(); await w.app.close(); }));
      await controlPlane?.close();
      await rm(dir, { recursive: true, force: true });
      await rm(certsDir, { recursive: true, force: true });
      throw e;
    }
  }

  workload(name: string): RunningWorkload {
    const w = this.workloads.get(name);
    if (!w) throw new Error(`no workload ${name}`);
    return w;
  }

  /** A request from workload `from`'s application to `host` through its sidecar's outbound listener. */
  call(from: string, host: string, path = '/', headers: Record<string, string> = {}, method = 'GET'): Promise<SimpleResponse> {
    const w = this.workload(from);
    return send(w.sidecar.listenerPort('virtualOutbound'), path, { host: w.ip, method, headers: { host, ...headers } });
  }

  /** A GET of workload `name`'s sidecar admin interface (`/clusters`, `/config_dump`, `/stats?filter=…`). */
  async admin(name: string, path: string): Promise<SimpleResponse> {
    const w = this.workload(name);
    const port = w.sidecar.adminPort;
    if (port === undefined) throw new Error(`${name}'s sidecar has no admin listener`);
    return send(port, path, this.adminOnWorkloadIp ? { host: w.ip } : {});
  }

  /** The value of one stat of workload `name`'s sidecar (Envoy's flat name), or undefined if it does not exist. */
  async stat(name: string, stat: string): Promise<number | undefined> {
    const { body } = await this.admin(name, `/stats?filter=${encodeURIComponent(`^${escapeRegExp(stat)}$`)}`);
    const line = body.split('\n').find((l) => l.startsWith(`${stat}: `));
    return line === undefined ? undefined : Number(line.slice(stat.length + 2));
  }

  /** The control plane's /debug/config_errors report. */
  async configErrors(): Promise<ConfigErrorsReport> {
    const { body } = await send(this.controlPlane.server.port, '/debug/config_errors');
    return JSON.parse(body) as ConfigErrorsReport;
  }

  /** Which workloads answered `n` calls (the upstream handler's default body is the workload name). */
  async answeredBy(from: string, host: string, n: number, headers: Record<string, string> = {}): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const r = await this.call(from, host, '/', headers);
      const who = r.status === 200 ? r.body : `status ${r.status}`;
      counts.set(who, (counts.get(who) ?? 0) + 1);
    }
    return counts;
  }

  /** Writes (or replaces) a file of the config directory; the control plane picks it up by watching. */
  write(file: string, text: string): Promise<void> {
    return writeFile(join(this.dir, file), text);
  }

  /**
   * Retries `probe` until it returns a value (not undefined), at most `attempts` times: for waiting on a
   * push to reach the sidecars, an event outside the test's control. Throws naming `what` when it never does.
   */
  async until<T>(what: string, probe: () => Promise<T | undefined>, attempts = 2_000): Promise<T> {
    for (let i = 0; i < attempts; i++) {
      const v = await probe();
      if (v !== undefined) return v;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    throw new Error(`gave up waiting for ${what}`);
  }

  async close(): Promise<void> {
    await Promise.all([...this.workloads.values()].map((w) => w.sidecar.close()));
    await this.controlPlane.close();
    await Promise.all([...this.workloads.values()].map((w) => w.app.close()));
    await rm(this.dir, { recursive: true, force: true });
    await rm(this.certsDir, { recursive: true, force: true });
  }
}
