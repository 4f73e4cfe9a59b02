// The proxy server: builds the runtime from a validated BootstrapConfig (cluster manager, one
// connection manager and Listener per listener, access loggers, admin server), tracks the server state
// for /ready, and shuts down gracefully (drain listeners, close pools, flush logs).

import { realClock, realRandom, type Clock, type Random, type TimerHandle } from '../common/clock.ts';
import { createLogger, type Logger } from '../common/logger.ts';
import type { BootstrapConfig, ListenerConfig } from '../config/bootstrap.ts';
import { createAccessLogger, type AccessLogger } from '../access-log/access-logger.ts';
import { startAdminServer, type AdminServer } from '../admin/admin-server.ts';
import type { ServerState } from '../admin/types.ts';
import { buildConfigDump } from '../admin/config-dump.ts';
import { compileCidrs } from '../http/cidr.ts';
import { ConnectionManager, type ConnectionManagerConfig, type HttpFilterEntry } from '../http/connection-manager.ts';
import { Listener, listenerStatPrefix } from '../listener/listener.ts';
import { StatsStore } from '../stats/store.ts';
import { startStatsFlush } from '../stats/flush.ts';
import { createClusterManager, type DnsResolver } from '../upstream/cluster-manager.ts';
import type { ClusterManager } from '../upstream/types.ts';
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
}

export class Server {
  readonly stats = new StatsStore();
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly bootstrap: BootstrapConfig;
  readonly clusterManager: ClusterManager;
  private readonly listeners: Listener[] = [];
  private readonly accessLoggers: AccessLogger[] = [];
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
    for (const l of this.bootstrap.listeners) this.listeners.push(this.buildListener(l));
  }

  /** Builds the runtime and binds every listener and the admin server. */
  static async start(options: ServerOptions): Promise<Server> {
    const server = new Server(options);
    try {
      await server.bind();
    } catch (err) {
      await server.close();
      throw err;
    }
    return server;
  }

  private async bind(): Promise<void> {
    this.state = 'INITIALIZING';
    await this.clusterManager.initialized();
    const log = this.logger.get('main');
    const admin = this.bootstrap.admin;
    if (admin) {
      this.admin = await startAdminServer({ host: admin.address, port: admin.port }, {
        stats: this.stats,
        clusterManager: this.clusterManager,
        listeners: () => this.listeners.map((l) => ({ name: l.config.name, address: `${l.config.address}:${l.port}` })),
        configDump: () => buildConfigDump(this.bootstrap.configDump, new Date(this.startedAt).toISOString()),
        serverInfo: () => ({
          version: `nodevoy/${NODEVOY_VERSION}/Clean/RELEASE/OpenSSL`,
          node: this.bootstrap.node,
          commandLineOptions: this.options.commandLineOptions ?? {},
          uptimeSeconds: Math.floor((this.clock.now() - this.startedAt) / 1000),
        }),
        state: () => this.state,
        quit: () => this.options.onQuit?.(),
        setHealthCheckFailing: (failing: boolean) => this.setHealthCheckFailing(failing),
        logger: this.logger,
      });
      log.info(`admin address: ${admin.address}:${this.admin.port}`);
    }
    for (const l of this.listeners) {
      const port = await l.listen();
      log.info(`listener '${l.config.name}' listening on ${l.config.address}:${port}`);
    }
    // Histogram intervals for /stats roll over every stats_flush_interval (Envoy's default 5 s).
    this.statsFlush = startStatsFlush(this.stats, this.clock, this.bootstrap.statsFlushIntervalMs);
    this.stats.counter('listener_manager.workers_started').inc();
    this.stats.gauge('server.live').set(1);
    this.state = 'LIVE';
  }

  private buildListener(l: ListenerConfig): Listener {
    const hcm = l.hcm;
    const httpLog = this.logger.get('http');
    const deps = { clock: this.clock, random: this.random, stats: this.stats, onError: (err: unknown) => httpLog.error(`filter error: ${String(err)}`) };
    const filterStats = this.stats.scope(`http.${hcm.statPrefix}`);
    const filters: HttpFilterEntry[] = hcm.httpFilters.map((f) => ({
      name: f.name,
      disabled: f.disabled,
      create: f.factory.create(f.config, {
        stats: filterStats, rootStats: this.stats, clock: this.clock, random: this.random, clusterManager: this.clusterManager, filterName: f.name,
        bufferLimitBytes: l.perConnectionBufferLimitBytes,
      }),
    }));
    const accessLoggers = hcm.accessLog.map((wire) => {
      const logger = createAccessLogger(wire, { clock: this.clock, logger: this.logger });
      this.accessLoggers.push(logger);
      return logger;
    });
    const config: ConnectionManagerConfig = {
      statPrefix: hcm.statPrefix,
      serverName: hcm.serverName,
      serverHeaderTransformation: hcm.serverHeaderTransformation,
      headerPolicy: {
        useRemoteAddress: hcm.useRemoteAddress,
        xffNumTrustedHops: hcm.xffNumTrustedHops,
        skipXffAppend: hcm.skipXffAppend,
        internalAddresses: compileCidrs(hcm.internalCidrs),
        generateRequestId: hcm.generateRequestId,
        preserveExternalRequestId: hcm.preserveExternalRequestId,
        internalOnlyHeaders: hcm.internalOnlyHeaders,
      },
      alwaysSetRequestIdInResponse: hcm.alwaysSetRequestIdInResponse,
      streamIdleTimeoutMs: hcm.streamIdleTimeoutMs,
      requestTimeoutMs: hcm.requestTimeoutMs,
      maxHeadersCount: hcm.maxHeadersCount,
      headersWithUnderscoresAction: hcm.headersWithUnderscoresAction,
      via: hcm.via,
      stripHostPort: hcm.stripHostPort,
      routeConfig: l.routeConfig,
      filters,
      accessLoggers,
    };
    return new Listener({
      name: l.name,
      address: l.address,
      port: l.port,
      statPrefix: l.statPrefix !== '' ? l.statPrefix : listenerStatPrefix(l.address, l.port),
      maxRequestHeadersKb: hcm.maxRequestHeadersKb,
      idleTimeoutMs: hcm.idleTimeoutMs,
      requestHeadersTimeoutMs: hcm.requestHeadersTimeoutMs,
      enableReusePort: l.enableReusePort,
      perConnectionBufferLimitBytes: l.perConnectionBufferLimitBytes,
      ipv4Compat: l.ipv4Compat,
    }, new ConnectionManager(config, deps), this.stats, this.clock);
  }

  /** The bound port of a listener by name (after start; useful with port_value 0). */
  listenerPort(name: string): number {
    const l = this.listeners.find((x) => x.config.name === name);
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
    let n = 0;
    for (const l of this.listeners) n += l.hcm.activeStreams();
    return n;
  }

  /** Open downstream connections across all listeners. */
  downstreamConnections(): number {
    let n = 0;
    for (const l of this.listeners) n += l.connectionCount();
    return n;
  }

  /** SIGTERM behaviour: stop accepting, let in-flight requests finish within drainTimeMs, then close. */
  shutdown(drainTimeMs: number): Promise<void> {
    this.stopping ??= (async () => {
      this.state = 'DRAINING';
      this.logger.get('main').info(`draining listeners (up to ${drainTimeMs} ms)`);
      await Promise.all(this.listeners.map((l) => l.drain(drainTimeMs)));
      await this.closeRest();
    })();
    return this.stopping;
  }

  /** Immediate stop (tests, startup failure). */
  close(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all(this.listeners.map((l) => l.close()));
      await this.closeRest();
    })();
    return this.stopping;
  }

  private async closeRest(): Promise<void> {
    this.statsFlush?.cancel();
    await this.clusterManager.close();
    await Promise.all(this.accessLoggers.map((l) => l.close()));
    await this.admin?.close();
    this.stats.gauge('server.live').set(0);
  }

  /**
   * POST /healthcheck/fail|ok. Envoy then drains: responses carry `connection: close` and server.live
   * reads 0 (the health_check filter that answers load balancers with 503 arrives with its own issue).
   */
  private setHealthCheckFailing(failing: boolean): void {
    for (const l of this.listeners) l.hcm.draining = failing;
    this.stats.gauge('server.live').set(failing ? 0 : 1);
  }
}
