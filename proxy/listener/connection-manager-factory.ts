// Builds the runtime of a filter chain's HTTP connection manager from its FilterChainConfig: HTTP filter
// instances, access loggers and the ConnectionManager, routing through the inline table or an RDS
// provider; and the socket-level and per-chain settings the Listener binds and serves with.

import type { Clock, Random } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import type { NodeConfig } from '../config/bootstrap.ts';
import { createAccessLogger, type AccessLogger } from '../access-log/access-logger.ts';
import { compileCidrs } from '../http/cidr.ts';
import type { RequestHeaderPolicy } from '../http/conn-manager-utility.ts';
import { ConnectionManager, type ConnectionManagerConfig, type HttpFilterEntry } from '../http/connection-manager.ts';
import type { FilterChainConfig, ListenerConfig } from './listener-config.ts';
import { listenerStatPrefix, type ListenerRuntimeConfig } from './listener.ts';
import type { ChainRuntimeConfig } from './served-chain.ts';
import type { RdsRouteConfigProvider } from '../route/rds-route-config.ts';
import type { StatsStore } from '../stats/store.ts';
import type { StatsScope } from '../stats/scope.ts';
import type { HcmConfig } from '../http/hcm-schema.ts';
import type { ClusterManager } from '../upstream/types.ts';
import { tracingStats, type HttpTracing } from '../tracing/http-tracer.ts';
import type { TracerHandle, TracerManager } from '../tracing/tracer-manager.ts';

export interface ConnectionManagerFactoryDeps {
  readonly stats: StatsStore;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly clusterManager: ClusterManager;
  /** The bootstrap's node, for the filters that read it (Istio's stats and peer metadata); absent = empty. */
  readonly node?: NodeConfig;
  /** Tracing providers; without it an HCM's `tracing` samples requests but makes no spans. */
  readonly tracers?: TracerManager;
}

export interface BuiltConnectionManager {
  readonly hcm: ConnectionManager;
  /** Closed when the connection manager is retired (after its drain). */
  readonly accessLoggers: readonly AccessLogger[];
  /** The tracing provider it uses (released with the chain); null without one. */
  readonly tracer: TracerHandle | null;
}

/**
 * The connection manager of a filter chain. `rds` is the chain's RDS provider when its HCM uses `rds`:
 * routing and internal_only_headers then follow whatever RouteConfiguration the provider holds.
 */
export function buildConnectionManager(l: ListenerConfig, chain: FilterChainConfig, rds: RdsRouteConfigProvider | null, deps: ConnectionManagerFactoryDeps): BuiltConnectionManager {
  const hcm = chain.hcm;
  const httpLog = deps.logger.get('http');
  const filterStats = deps.stats.scope(`http.${hcm.statPrefix}`);
  const filters: HttpFilterEntry[] = hcm.httpFilters.map((f) => ({
    name: f.name,
    disabled: f.disabled,
    create: f.factory.create(f.config, {
      stats: filterStats, rootStats: deps.stats, clock: deps.clock, random: deps.random, clusterManager: deps.clusterManager, filterName: f.name,
      bufferLimitBytes: l.perConnectionBufferLimitBytes, trafficDirection: l.trafficDirection, ...(deps.node ? { node: deps.node } : {}),
    }),
  }));
  const accessLoggers = hcm.accessLog.map((wire) => createAccessLogger(wire, { clock: deps.clock, logger: deps.logger }));
  const headerPolicy: RequestHeaderPolicy = {
    useRemoteAddress: hcm.useRemoteAddress,
    xffNumTrustedHops: hcm.xffNumTrustedHops,
    skipXffAppend: hcm.skipXffAppend,
    internalAddresses: compileCidrs(hcm.internalCidrs),
    generateRequestId: hcm.generateRequestId,
    preserveExternalRequestId: hcm.preserveExternalRequestId,
    // With rds, RouteConfiguration.internal_only_headers change with the table in force.
    get internalOnlyHeaders() { return rds ? rds.internalOnlyHeaders : hcm.internalOnlyHeaders; },
    xfcc: { forwardClientCertDetails: hcm.forwardClientCertDetails, setCurrentClientCertDetails: hcm.setCurrentClientCertDetails },
  };
  const tracer = hcm.tracing?.zipkin && deps.tracers ? deps.tracers.acquire(hcm.tracing.zipkin) : null;
  const config: ConnectionManagerConfig = {
    statPrefix: hcm.statPrefix,
    serverName: hcm.serverName,
    serverHeaderTransformation: hcm.serverHeaderTransformation,
    headerPolicy,
    alwaysSetRequestIdInResponse: hcm.alwaysSetRequestIdInResponse,
    streamIdleTimeoutMs: hcm.streamIdleTimeoutMs,
    requestTimeoutMs: hcm.requestTimeoutMs,
    maxHeadersCount: hcm.maxHeadersCount,
    headersWithUnderscoresAction: hcm.headersWithUnderscoresAction,
    via: hcm.via,
    stripHostPort: hcm.stripHostPort,
    routeConfig: rds ?? chain.routeConfig,
    filters,
    accessLoggers,
    tracing: httpTracing(l, hcm.tracing, tracer, filterStats, deps),
  };
  const onError = (err: unknown): void => httpLog.error(`filter error: ${String(err)}`);
  return { hcm: new ConnectionManager(config, { clock: deps.clock, random: deps.random, stats: deps.stats, onError }), accessLoggers, tracer };
}

/** The HCM's tracing runtime; null without a `tracing` block (then the request path does no tracing work). */
function httpTracing(l: ListenerConfig, config: HcmConfig['tracing'], tracer: TracerHandle | null, hcmStats: StatsScope,
  deps: ConnectionManagerFactoryDeps): HttpTracing | null {
  if (config === null) return null;
  const local = deps.tracers?.localInfo;
  return {
    // Envoy: OUTBOUND listeners trace egress, INBOUND and UNSPECIFIED ingress.
    operation: l.trafficDirection === 'OUTBOUND' ? 'egress' : 'ingress',
    config,
    driver: tracer?.driver ?? null,
    stats: tracingStats(hcmStats),
    random: deps.random,
    nodeId: local?.nodeId ?? '',
    zone: local?.zone ?? '',
    observabilityName: (name) => deps.clusterManager.get(name)?.observabilityName ?? name,
  };
}

/** The socket-level settings a Listener binds and serves with. */
export function listenerRuntimeConfig(l: ListenerConfig): ListenerRuntimeConfig {
  return {
    name: l.name,
    address: l.address,
    port: l.port,
    statPrefix: l.statPrefix !== '' ? l.statPrefix : listenerStatPrefix(l.address, l.port),
    enableReusePort: l.enableReusePort,
    perConnectionBufferLimitBytes: l.perConnectionBufferLimitBytes,
    ipv4Compat: l.ipv4Compat,
    chainMatches: l.filterChains.map((c) => c.match),
    hasDefaultChain: l.defaultFilterChain !== null,
    tlsInspector: l.tlsInspector,
    listenerFiltersTimeoutMs: l.listenerFiltersTimeoutMs,
    continueOnListenerFiltersTimeout: l.continueOnListenerFiltersTimeout,
  };
}

/** The per-connection settings of one filter chain (its TLS context and its HCM's connection options). */
export function chainRuntimeConfig(chain: FilterChainConfig): ChainRuntimeConfig {
  return {
    identity: chain.identity,
    tls: chain.tls,
    maxRequestHeadersKb: chain.hcm.maxRequestHeadersKb,
    idleTimeoutMs: chain.hcm.idleTimeoutMs,
    requestHeadersTimeoutMs: chain.hcm.requestHeadersTimeoutMs,
  };
}
