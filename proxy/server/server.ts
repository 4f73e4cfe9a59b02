// The proxy server: builds the runtime from a validated BootstrapConfig (cluster manager, one
// connection manager and Listener per listener, access loggers, admin server), tracks the server state
// for /ready, and shuts down gracefully (drain listeners, close pools, flush logs).

import { realClock, realRandom, type Clock, type Random, type TimerHandle } from '../common/clock.ts';
import { createLogger, type Logger } from '../common/logger.ts';
import type { BootstrapConfig } from '../config/bootstrap.ts';
import { startAdminServer, type AdminServer } from '../admin/admin-server.ts';
import type { ServerState } from '../admin/types.ts';
import { buildConfigDump } from '../admin/config-dump.ts';
import { ListenerManager } from '../listener/listener-manager.ts';
import { allChains } from '../listener/listener-config.ts';
import { StatsStore } from '../stats/store.ts';
import { startStatsFlush } from '../stats/flush.ts';
import { createClusterManager, type DnsResolver, type DynamicClusterManager } from '../upstream/cluster-manager.ts';
import { XdsManager } from '../xds/xds-manager.ts';
import { renderCertificates } from '../admin/certs.ts';
import { agentConfigFromMetadata } from '../agent/agent-config.ts';
import { WorkloadAgent, type TokenSource } from '../agent/workload-agent.ts';
import { TracerManager } from '../tracing/tracer-manager.ts';
import '../filters/http/index.ts';

export const NODEVOY_VERSION = '0.1.0';

export interface ServerOptions {
  readonly bootstrap: BootstrapConfig;
  readonly clock?: Clock;
  readonly random?: Random;
  readonly resolver?: DnsResolver;
  readonly logger?: Logger;
  /** The command line, for /server_info. */
  readonly commandLineOptions?: Record<string, unknown>;
  /** Called by POST /quitquitquit (the CLI exits the process; tests observe it). */
  readonly onQuit?: () => void;
  /** --drain-time-s: how long listeners removed or replaced by LDS drain (default 600 s, as Envoy). */
  readonly drainTimeMs?: number;
  /**
   * The bootstrap token (--ca-token-file / NODEVOY_CA_TOKEN) the workload agent proves its identity with,
   * when node.metadata names a CA_ADDRESS.
   */
  readonly caToken?: TokenSource;
}

/** Envoy's --drain-time-s default. */
export const DEFAULT_DRAIN_TIME_MS = 600_000;

export class Server {
  readonly stats = new StatsStore();
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly bootstrap: BootstrapConfig;
  readonly clusterManager: DynamicClusterManager;
  readonly listenerManager: ListenerManager;
  /** The xDS wiring; null for a bootstrap without dynamic resources or xDS config sources. */
  readonly xds: XdsManager | null;
  /** The workload agent (certificates from the CA service); null without node.metadata.CA_ADDRESS. */
  readonly agent: WorkloadAgent | null;
  /** The HCMs' tracing providers (Zipkin reporters), flushed on shutdown before the cluster manager closes. */
  readonly tracers: TracerManager;
  private admin: AdminServer | null = null;
  private state: ServerState = 'PRE_INITIALIZING';
  private readonly startedAt: number;
  private readonly options: ServerOptions;
  private stopping: Promise<void> | null = null;
  private statsFlush: TimerHandle | null = null;

  private constructor(options: ServerOptions) {
    this.options = options;
    this.bootstrap = options.bootstrap;
    this.clock = options.clock ?? realClock;
    this.random = options.random ?? realRandom;
    this.logger = options.logger ?? createLogger();
    this.startedAt = this.clock.now();
    this.clusterManager = createClusterManager(this.bootstrap.clusters, {
      stats: this.stats, clock: this.clock, random: this.random,
      ...(options.resolver ? { resolver: options.resolver } : {}),
    });
    this.xds = usesXds(this.bootstrap) ? new XdsManager({
      node: xdsNode(this.bootstrap), dynamicResources: this.bootstrap.dynamicResources, clusterManager: this.clusterManager,
      stats: this.stats, clock: this.clock, random: this.random, logger: this.logger,
      secrets: this.bootstrap.secrets, dynamicSecrets: this.bootstrap.dynamicSecrets,
    }) : null;
    this.agent = this.workloadAgent(options.caToken);
    const node = this.bootstrap.node;
    this.tracers = new TracerManager({
      clusterManager: this.clusterManager, clock: this.clock, random: this.random, stats: this.stats,
      localInfo: { nodeId: node.id, clusterName: node.cluster, zone: node.locality.zone },
    });
    this.listenerManager = new ListenerManager({
      tracers: this.tracers,
      stats: this.stats, clock: this.clock, random: this.random, logger: this.logger, clusterManager: this.clusterManager, node: this.bootstrap.node,
      drainTimeMs: options.drainTimeMs ?? DEFAULT_DRAIN_TIME_MS,
      ...(this.xds ? { routeProviders: this.xds } : {}),
    });
    if (this.xds) this.xds.setListenerManager(this.listenerManager);
  }

  /** Builds the runtime without starting it: start() then runs Envoy's init (tests can watch /ready meanwhile). */
  static create(options: ServerOptions): Server {
    return new Server(options);
  }

  /** Builds the runtime, runs init and binds every listener and the admin server. */
  static async start(options: ServerOptions): Promise<Server> {
    const server = new Server(options);
    await server.start();
    return server;
  }

  /**
   * Envoy's init: the admin server first, static clusters, then (with xDS) CDS + EDS warming, LDS + RDS
   * warming, each bounded by initial_fetch_timeout; listeners bind at the end and /ready turns LIVE.
   */
  async start(): Promise<void> {
    try {
      await this.initialize();
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  private async initialize(): Promise<void> {
    this.state = 'INITIALIZING';
    const log = this.logger.get('main');
    const admin = this.bootstrap.admin;
    if (admin) {
      this.admin = await startAdminServer({ host: admin.address, port: admin.port }, {
        stats: this.stats,
        clusterManager: this.clusterManager,
        listeners: () => this.listenerManager.listeners().map((l) => ({ name: l.config.name, address: `${l.config.address}:${l.port}` })),
        configDump: ({ includeEds }) => buildConfigDump(this.bootstrap.configDump, new Date(this.startedAt).toISOString(), {
          includeEds, ...(this.xds ? { dynamic: this.xds.dump() } : {}),
          secrets: this.bootstrap.secrets.all().map((sec) => ({ name: sec.name, secret: sec.wire, lastUpdatedMs: sec.lastUpdatedMs })),
          dynamicSecrets: this.bootstrap.dynamicSecrets.inUse().map((sec) => ({
            name: sec.name, versionInfo: sec.versionInfo, lastUpdatedMs: sec.lastUpdatedMs, secret: sec.wire,
          })),
        }),
        serverInfo: () => ({
          version: `nodevoy/${NODEVOY_VERSION}/Clean/RELEASE/OpenSSL`,
          node: this.bootstrap.node,
          commandLineOptions: this.options.commandLineOptions ?? {},
          uptimeSeconds: Math.floor((this.clock.now() - this.startedAt) / 1000),
        }),
        state: () => this.state,
        certs: () => renderCertificates([...this.bootstrap.secrets.all(), ...this.bootstrap.dynamicSecrets.inUse()], this.clock.now()),
        quit: () => this.options.onQuit?.(),
        setHealthCheckFailing: (failing: boolean) => this.setHealthCheckFailing(failing),
        logger: this.logger,
      });
      log.info(`admin address: ${admin.address}:${this.admin.port}`);
    }
    const releaseInitHolds = await this.initializeSecrets();
    if (this.stopping) return;
    await this.clusterManager.initialized();
    if (this.xds) this.clusterManager.setEndpointSource(this.xds);
    for (const l of this.bootstrap.listeners) this.listenerManager.addStatic(l);
    // The static listeners retain the SDS secrets they use now: init's own hold on them can go.
    releaseInitHolds();
    await this.xds?.initialize();
    if (this.stopping) return;
    await this.listenerManager.startWorkers();
    // Histogram intervals for /stats roll over every stats_flush_interval (Envoy's default 5 s).
    this.statsFlush = startStatsFlush(this.stats, this.clock, this.bootstrap.statsFlushIntervalMs);
    this.stats.counter('listener_manager.workers_started').inc();
    this.stats.gauge('server.live').set(1);
    this.state = 'LIVE';
  }

  /**
   * Starts secret rotation (watched_directory), the workload agent and SDS, then waits until every static secret
   * is loaded and every SDS secret the bootstrap names had its first response: a TLS context is not served
   * without its certificate (Envoy's init waits for a context's secrets, each SDS one bounded by its
   * initial_fetch_timeout; Istio's is 0s, wait for ever, and so is the static wait). /ready says INITIALIZING
   * meanwhile. Returns the release of init's hold on the bootstrap's SDS secrets (subscribed during the wait).
   */
  private async initializeSecrets(): Promise<() => void> {
    const secrets = this.bootstrap.secrets;
    const log = this.logger.get('secret');
    this.agent?.createCertDirectory();
    secrets.start({ clock: this.clock, log, stats: this.stats });
    this.agent?.start();
    const dynamic = this.bootstrap.dynamicSecrets;
    const bootstrapSds = dynamic.all();
    let holds: (() => void)[] = [];
    if (this.xds) {
      // An SDS subscription polls a static cluster: its address is known once the static clusters initialized.
      await this.clusterManager.initialized();
      holds = bootstrapSds.map((s) => s.retain());
      dynamic.start({ watcher: this.xds, clock: this.clock, log, stats: this.stats });
    }
    const release = (): void => { for (const h of holds.splice(0)) h(); };
    const pending = [
      ...secrets.pending().map((p) => `${p.name} (${p.watchedDirectory ?? 'no watched_directory'})`),
      ...bootstrapSds.filter((s) => s.current === undefined).map((s) => `${s.name} (SDS from cluster ${s.source.clusterName})`),
    ];
    if (pending.length === 0) return release;
    log.info(`waiting for secrets ${pending.join(', ')}`);
    await Promise.all([secrets.whenReady(), dynamic.whenFetched(bootstrapSds, this.clock)]);
    return release;
  }

  /** The agent node.metadata asks for (CA_ADDRESS); a metadata error or a missing token fails the start. */
  private workloadAgent(token: TokenSource | undefined): WorkloadAgent | null {
    const config = agentConfigFromMetadata(this.bootstrap.node.metadata);
    if (!config.ok) throw new Error(`workload agent: ${config.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
    if (config.value === null) return null;
    if (token === undefined) throw new Error('workload agent: node.metadata.CA_ADDRESS is set but no bootstrap token was given (--ca-token-file or NODEVOY_CA_TOKEN)');
    return new WorkloadAgent(config.value, token, {
      clock: this.clock, random: this.random, log: this.logger.get('secret'), stats: this.stats,
      onWritten: (dir) => this.bootstrap.secrets.reloadDirectory(dir),
    });
  }

  /** The bound port of a listener by name (after start; useful with port_value 0). */
  listenerPort(name: string): number {
    const l = this.listenerManager.listeners().find((x) => x.config.name === name);
    if (!l) throw new Error(`no listener named ${name}`);
    return l.port;
  }

  get adminPort(): number | undefined {
    return this.admin?.port;
  }

  get serverState(): ServerState {
    return this.state;
  }

  /** In-flight downstream requests across all listeners. */
  activeRequests(): number {
    return this.listenerManager.activeRequests();
  }

  /** Open downstream connections across all listeners. */
  downstreamConnections(): number {
    return this.listenerManager.connections();
  }

  /** SIGTERM behaviour: stop accepting, let in-flight requests finish within drainTimeMs, then close. */
  shutdown(drainTimeMs: number): Promise<void> {
    this.stopping ??= (async () => {
      this.state = 'DRAINING';
      this.logger.get('main').info(`draining listeners (up to ${drainTimeMs} ms)`);
      await this.xds?.stop();
      await this.listenerManager.shutdown(drainTimeMs);
      await this.closeRest();
    })();
    return this.stopping;
  }

  /** Immediate stop (tests, startup failure). */
  close(): Promise<void> {
    this.stopping ??= (async () => {
      await this.xds?.stop();
      await this.listenerManager.close();
      await this.closeRest();
    })();
    return this.stopping;
  }

  private async closeRest(): Promise<void> {
    this.statsFlush?.cancel();
    this.agent?.stop();
    this.bootstrap.secrets.close();
    this.bootstrap.dynamicSecrets.close();
    // Listeners are closed: the spans of every finished request are buffered. Send them while the pools are up.
    await this.tracers.close();
    await this.clusterManager.close();
    await this.admin?.close();
    this.stats.gauge('server.live').set(0);
  }

  /**
   * POST /healthcheck/fail|ok. Envoy then drains: responses carry `connection: close` and server.live
   * reads 0 (the health_check filter that answers load balancers with 503 arrives with its own issue).
   */
  private setHealthCheckFailing(failing: boolean): void {
    this.listenerManager.setDraining(failing);
    this.stats.gauge('server.live').set(failing ? 0 : 1);
  }
}

/** Whether any config source exists (dynamic_resources, static EDS clusters, static listeners with rds, SDS secrets). */
function usesXds(b: BootstrapConfig): boolean {
  return b.dynamicResources.lds !== null || b.dynamicResources.cds !== null || b.dynamicSecrets.all().length > 0
    || b.clusters.some((c) => c.type === 'EDS') || b.listeners.some((l) => allChains(l).some((c) => c.hcm.rds !== null));
}

/** envoy.config.core.v3.Node as JSON, sent in every DiscoveryRequest. */
function xdsNode(b: BootstrapConfig): Record<string, unknown> {
  const { id, cluster, metadata, locality } = b.node;
  return {
    id, cluster, metadata,
    locality: { region: locality.region, zone: locality.zone, sub_zone: locality.subZone },
    user_agent_name: 'nodevoy', user_agent_version: NODEVOY_VERSION,
  };
}
