// One upstream Host (an endpoint of a cluster) and its connection pool: an undici Pool created on first
// use, HTTP/1.1 keep-alive or HTTP/2 prior knowledge, plaintext or TLS (tls-connector.ts), with Envoy's
// connection stats counted from the pool's connect / disconnect / connectionError events. Knows nothing
// about load balancing.

import type { X509Certificate } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Pool, buildConnector, type Dispatcher } from 'undici';
import { sslStats } from '../tls/peer-verifier.ts';
import { peerSans } from '../tls/san-matcher.ts';
import type { ClusterStatsImpl } from './cluster-stats.ts';
import { tlsConnector } from './tls-connector.ts';
import type { EndpointMetadata, LocalityConfig, UpstreamPoolConfig } from './cluster-config.ts';
import type { HealthStatus } from './load-assignment-schema.ts';
import type { Host, HostStats, OutlierMonitor } from './types.ts';

/**
 * Upper bound for keeping an idle upstream connection. Envoy's idle_timeout defaults to 1 h, but an
 * upstream that closes idle sockets sooner without a Keep-Alive hint would make us reuse dead sockets;
 * servers that send `Keep-Alive: timeout=N` lower it further (undici honours the hint).
 */
export const MAX_POOL_IDLE_MS = 60_000;

/** Http2ProtocolOptions.max_concurrent_streams default. */
const ENVOY_DEFAULT_MAX_CONCURRENT_STREAMS = 2_147_483_647;

/** Envoy's EDS health statuses that make a host unhealthy (`/failed_eds_health`). */
const FAILED_EDS_HEALTH: ReadonlySet<HealthStatus> = new Set(['UNHEALTHY', 'DRAINING', 'TIMEOUT']);

export interface HostDescription {
  readonly address: string;
  readonly port: number;
  readonly hostname: string;
  readonly weight: number;
  readonly priority: number;
  readonly locality: LocalityConfig;
  readonly metadata: EndpointMetadata;
  readonly healthStatus: HealthStatus;
}

/** `ip:port`, with IPv6 in brackets (Envoy's Address::asString). */
export function formatAddress(address: string, port: number): string {
  return isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}

type ConnectorOptions = buildConnector.BuildOptions & { useH2c?: boolean; highWaterMark?: number };

export class HostImpl implements Host {
  readonly port: number;
  readonly hostname: string;
  readonly weight: number;
  readonly priority: number;
  readonly locality: LocalityConfig;
  readonly metadata: EndpointMetadata;
  readonly healthStatus: HealthStatus;
  /** Set by the cluster's outlier detector when the cluster configures one (the resilience issue). */
  outlier: OutlierMonitor | null = null;
  /** Envoy's health flag FAILED_OUTLIER_CHECK: set by the outlier detector while the host is ejected. */
  failedOutlierCheck = false;
  /** See Host.peerUriSan / localUriSan: set at each verified TLS handshake. */
  peerUriSan = '';
  localUriSan = '';
  readonly stats: HostStats = {
    rq_active: 0, rq_total: 0, rq_success: 0, rq_error: 0, rq_timeout: 0, cx_active: 0, cx_total: 0, cx_connect_fail: 0,
  };
  private currentAddress: string;
  private currentAddressString: string;
  private readonly poolConfig: UpstreamPoolConfig;
  private readonly clusterStats: ClusterStatsImpl;
  private pool: Pool | null = null;
  /** Set by drain(): the host left its cluster (or the cluster was replaced or removed). */
  private drained = false;
  /** Pools closing gracefully after drain(); close() destroys them. */
  private readonly draining = new Set<Pool>();
  /** The pool's clients that currently hold an open connection (dedups undici's h2 GOAWAY + close). */
  private readonly connected = new Set<Dispatcher>();

  constructor(description: HostDescription, poolConfig: UpstreamPoolConfig, clusterStats: ClusterStatsImpl) {
    this.currentAddress = description.address;
    this.currentAddressString = formatAddress(description.address, description.port);
    this.port = description.port;
    this.hostname = description.hostname;
    this.weight = description.weight;
    this.priority = description.priority;
    this.locality = description.locality;
    this.metadata = description.metadata;
    this.healthStatus = description.healthStatus;
    this.poolConfig = poolConfig;
    this.clusterStats = clusterStats;
  }

  get address(): string {
    return this.currentAddress;
  }

  get addressString(): string {
    return this.currentAddressString;
  }

  /**
   * LOGICAL_DNS: new connections go to the newly resolved address; connections already open keep
   * their peer until they close (Envoy does not drain them).
   */
  setAddress(address: string): void {
    this.currentAddress = address;
    this.currentAddressString = formatAddress(address, this.port);
  }

  healthy(): boolean {
    return !this.failedOutlierCheck && !FAILED_EDS_HEALTH.has(this.healthStatus);
  }

  /**
   * Envoy's HostUtility::healthFlagsToString: every set flag in Envoy's order, or 'healthy'. DEGRADED
   * hosts are balanced as healthy (nodevoy has no degraded load tier) but flagged as Envoy does.
   */
  healthFlags(): string {
    let flags = '';
    if (this.failedOutlierCheck) flags += '/failed_outlier_check';
    if (FAILED_EDS_HEALTH.has(this.healthStatus)) flags += '/failed_eds_health';
    else if (this.healthStatus === 'DEGRADED') flags += '/degraded_eds_health';
    return flags || 'healthy';
  }

  /**
   * The pool to dispatch on; the caller dispatches at once. After drain() the load balancer no longer
   * picks this host, but a request that picked it before (Envoy: a request keeps its host) gets a one-off
   * pool that closes as soon as that request is done.
   */
  dispatcher(): Dispatcher {
    if (this.pool) return this.pool;
    const pool = this.createPool();
    if (!this.drained) return (this.pool = pool);
    // Closed after the caller's dispatch (same tick): undici's close() lets queued requests finish.
    this.draining.add(pool);
    queueMicrotask(() => {
      if (this.draining.has(pool)) void this.closeGracefully(pool);
    });
    return pool;
  }

  /**
   * Closes the pool gracefully: requests in flight finish, then its connections close (a host removed by
   * discovery, or a cluster replaced or removed by CDS). A no-op if the pool was never used.
   */
  async drain(): Promise<void> {
    this.drained = true;
    const pool = this.pool;
    this.pool = null;
    if (pool) await this.closeGracefully(pool);
  }

  private async closeGracefully(pool: Pool): Promise<void> {
    this.draining.add(pool);
    await pool.close();
    this.draining.delete(pool);
  }

  /** Destroys the pool (and any still draining): whatever is in flight is aborted (listeners are drained before this runs). */
  async close(): Promise<void> {
    const pools = [...this.draining, ...(this.pool ? [this.pool] : [])];
    this.pool = null;
    this.draining.clear();
    await Promise.all(pools.map((p) => p.destroy()));
  }

  private createPool(): Pool {
    const cfg = this.poolConfig;
    const http2 = cfg.protocol === 'http2';
    const connectorOptions: ConnectorOptions = {
      timeout: cfg.connectTimeoutMs,
      // Envoy speaks HTTP/2 upstream by prior knowledge when http2_protocol_options is set (over TLS, undici
      // offers h2 by ALPN instead).
      useH2c: http2,
      ...(cfg.bufferLimitBytes !== undefined ? { highWaterMark: cfg.bufferLimitBytes } : {}),
    };
    // cluster.<name>.ssl.* exist only for TLS clusters, as in Envoy.
    const onVerified = (socket: TLSSocket, cert: X509Certificate | undefined): void => {
      this.peerUriSan = cert ? (peerSans(cert).URI[0] ?? '') : '';
      const local = socket.getX509Certificate();
      this.localUriSan = local ? (peerSans(local).URI[0] ?? '') : '';
    };
    const connector = cfg.tls ? tlsConnector(connectorOptions, cfg.tls, sslStats(this.clusterStats.scope), onVerified) : buildConnector(connectorOptions);
    const idle = Math.min(cfg.idleTimeoutMs || MAX_POOL_IDLE_MS, MAX_POOL_IDLE_MS);
    // Envoy's HTTP/2 pool opens another connection only when max_concurrent_streams (default 2^31-1)
    // is reached, i.e. one connection per host; the server's SETTINGS may still lower the limit.
    const streams = cfg.http2.maxConcurrentStreams ?? ENVOY_DEFAULT_MAX_CONCURRENT_STREAMS;
    const pool = new Pool(`${cfg.tls ? 'https' : 'http'}://${this.currentAddressString}`, {
      // Always dial the current address (it moves for a LOGICAL_DNS host).
      connect: (opts, cb) => connector({ ...opts, hostname: this.currentAddress }, cb),
      allowH2: http2,
      // HTTP/1.1: one request per connection at a time; HTTP/2: streams multiplexed on one connection.
      pipelining: http2 ? streams : 1,
      // HTTP/1.1: circuit_breakers max_connections (per host, see UpstreamPoolConfig.maxConnections).
      ...(http2 ? { connections: 1 } : cfg.maxConnections !== undefined ? { connections: cfg.maxConnections } : {}),
      keepAliveTimeout: idle,
      keepAliveMaxTimeout: idle,
      headersTimeout: 0,
      bodyTimeout: 0,
      ...(cfg.maxRequestsPerConnection > 0 ? { maxRequestsPerClient: cfg.maxRequestsPerConnection } : {}),
      ...(http2 ? {
        h2Options: {
          maxConcurrentStreams: streams,
          ...(cfg.http2.initialConnectionWindowSize !== undefined ? { connectionWindowSize: cfg.http2.initialConnectionWindowSize } : {}),
          ...(cfg.http2.initialStreamWindowSize !== undefined ? { settings: { initialWindowSize: cfg.http2.initialStreamWindowSize } } : {}),
        },
      } : {}),
    });
    pool.on('connect', (_origin, targets) => this.onConnect(targets));
    pool.on('disconnect', (_origin, targets) => this.onDisconnect(targets));
    pool.on('connectionError', (_origin, _targets, err) => this.onConnectFail(err));
    return pool;
  }

  // Envoy counts upstream_cx_total for every connection attempt, upstream_cx_destroy for every closed
  // one (failed connects included) and upstream_cx_connect_fail for attempts that never connected.

  private onConnect(targets: readonly Dispatcher[]): void {
    const client = targets.at(-1);
    if (!client || this.connected.has(client)) return;
    this.connected.add(client);
    const s = this.clusterStats;
    s.upstream_cx_total.inc();
    s.upstream_cx_active.inc();
    this.stats.cx_total++;
    this.stats.cx_active++;
  }

  private onDisconnect(targets: readonly Dispatcher[]): void {
    const client = targets.at(-1);
    if (!client || !this.connected.delete(client)) return;
    this.clusterStats.upstream_cx_active.dec();
    this.clusterStats.upstream_cx_destroy.inc();
    this.stats.cx_active--;
  }

  private onConnectFail(err: Error & { code?: string }): void {
    const s = this.clusterStats;
    s.upstream_cx_total.inc();
    s.upstream_cx_connect_fail.inc();
    s.upstream_cx_destroy.inc();
    if (err.code === 'UND_ERR_CONNECT_TIMEOUT') s.upstream_cx_connect_timeout.inc();
    this.stats.cx_total++;
    this.stats.cx_connect_fail++;
  }
}
