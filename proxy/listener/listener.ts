// One bound Listener: a node:http server on the listener's socket_address whose requests go to the
// listener's HTTP connection manager. Owns connection accounting (listener.<addr>.downstream_cx_*),
// codec errors (malformed HTTP → 400, oversized headers → 431, then close), and graceful drain.

import { createServer, STATUS_CODES, type Server } from 'node:http';
import { isIP, type Socket } from 'node:net';
import { Failures } from '../common/error-catalogue.ts';
import type { ConnectionManager } from '../http/connection-manager.ts';
import type { Counter, Gauge, StatsScope } from '../stats/scope.ts';

export interface ListenerRuntimeConfig {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  /** Listener.stat_prefix, else the address as Envoy writes it (`0.0.0.0_15006`). */
  readonly statPrefix: string;
  /** HCM max_request_headers_kb: larger request heads get 431. */
  readonly maxRequestHeadersKb: number;
  /** common_http_protocol_options.idle_timeout in ms (0 = none): idle keep-alive connections close. */
  readonly idleTimeoutMs: number;
  /** request_headers_timeout in ms (0 = none). */
  readonly requestHeadersTimeoutMs: number;
  /** enable_reuse_port: SO_REUSEPORT, so several nodevoy processes can share the port. */
  readonly enableReusePort: boolean;
  /** per_connection_buffer_limit_bytes: the socket buffer high-water mark. */
  readonly perConnectionBufferLimitBytes: number;
  /** socket_address.ipv4_compat: an IPv6 wildcard also accepts IPv4 (Envoy's default is IPv6 only). */
  readonly ipv4Compat: boolean;
}

/** listener.<stat_prefix>.downstream_cx_* */
interface ListenerStats {
  readonly cxTotal: Counter;
  readonly cxActive: Gauge;
  readonly cxDestroy: Counter;
}

/** http.<HCM stat_prefix>.downstream_cx_* */
interface HcmConnectionStats {
  readonly cxTotal: Counter;
  readonly cxActive: Gauge;
  readonly cxHttp1Total: Counter;
  readonly cxProtocolError: Counter;
}

/** Envoy's stat-name form of an address: `127.0.0.1_10000`, `[::]_80` → `::_80`. */
export function listenerStatPrefix(address: string, port: number): string {
  return `${address.replace(/^\[|\]$/g, '')}_${port}`;
}

export class Listener {
  private runtime: ListenerRuntimeConfig;
  private readonly server: Server;
  private readonly rootStats: StatsScope;
  private stats: ListenerStats;
  private hcmStats: HcmConnectionStats;
  private readonly sockets = new Set<Socket>();
  /** The connection manager's stats each open connection was counted in (decremented there on close). */
  private readonly socketHcmStats = new WeakMap<Socket, HcmConnectionStats>();
  private boundPort = 0;
  private current: ConnectionManager;

  constructor(config: ListenerRuntimeConfig, hcm: ConnectionManager, stats: StatsScope) {
    this.runtime = config;
    this.current = hcm;
    this.rootStats = stats;
    this.stats = listenerStats(stats, config);
    this.hcmStats = hcmConnectionStats(stats, hcm);
    this.server = createServer({
      maxHeaderSize: config.maxRequestHeadersKb * 1024,
      requireHostHeader: true,
      joinDuplicateHeaders: false,
      noDelay: true,
      keepAlive: true,
      requestTimeout: 0,
      headersTimeout: config.requestHeadersTimeoutMs,
      keepAliveTimeout: config.idleTimeoutMs,
      highWaterMark: config.perConnectionBufferLimitBytes,
    }, (req, res) => this.current.handle(req, res));
    // No parser limit on the header count: node:http would silently drop headers past it, and the limit
    // (max_headers_count) belongs to whichever connection manager serves the request, which an LDS update
    // can change on an open connection. The connection manager counts and answers 431; the head's size is
    // still bounded by max_request_headers_kb.
    this.server.maxHeadersCount = 0;
    this.server.on('connection', (socket: Socket) => this.onConnection(socket));
    this.server.on('clientError', (err: Error & { code?: string }, socket: Socket) => this.onClientError(err, socket));
  }

  /** Binds the socket; resolves with the bound port (useful with port_value 0). */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(new Error(`listener ${this.config.name}: cannot bind ${this.config.address}:${this.config.port}: ${err.message}`));
      this.server.once('error', onError);
      const { address, port, enableReusePort, ipv4Compat } = this.config;
      this.server.listen({ host: address, port, reusePort: enableReusePort, ipv6Only: isIP(address) === 6 && !ipv4Compat }, () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        this.boundPort = typeof addr === 'object' && addr ? addr.port : this.config.port;
        resolve(this.boundPort);
      });
    });
  }

  get port(): number {
    return this.boundPort;
  }

  /** The settings in force (the newest LDS version's, after update()). */
  get config(): ListenerRuntimeConfig {
    return this.runtime;
  }

  /** The connection manager new requests go to. */
  get hcm(): ConnectionManager {
    return this.current;
  }

  /**
   * A listener update that keeps the socket (LDS; see sameSocket in listener-config.ts): new
   * requests, on new and open connections, go to `next`; the previous connection manager finishes its
   * streams, answering them with `connection: close`. Connections accepted from now on take the new
   * settings (header size limit, timeouts, buffer limit) and count in the new stat prefixes. Returns the
   * previous connection manager so the caller can wait for it to go idle.
   */
  update(config: ListenerRuntimeConfig, next: ConnectionManager): ConnectionManager {
    const previous = this.current;
    previous.draining = true;
    this.current = next;
    this.runtime = config;
    this.stats = listenerStats(this.rootStats, config);
    this.hcmStats = hcmConnectionStats(this.rootStats, next);
    // node:http reads these per connection (maxHeaderSize, highWaterMark) or per check (the timeouts).
    const server = this.server as Server & { maxHeaderSize: number; highWaterMark: number };
    server.maxHeaderSize = config.maxRequestHeadersKb * 1024;
    server.headersTimeout = config.requestHeadersTimeoutMs;
    server.keepAliveTimeout = config.idleTimeoutMs;
    server.highWaterMark = config.perConnectionBufferLimitBytes;
    return previous;
  }

  /** Open downstream connections. */
  connectionCount(): number {
    return this.sockets.size;
  }

  /**
   * Graceful drain: stop accepting, answer in-flight requests with `connection: close`, close idle
   * connections, and once `deadline` settles close whatever is left.
   */
  async drain(deadline: Promise<void>): Promise<void> {
    this.hcm.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    await Promise.race([closed, deadline]);
    this.server.closeAllConnections();
    await closed;
  }

  /** Immediate close of the socket and every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private onConnection(socket: Socket): void {
    const s = this.stats;
    const h = this.hcmStats;
    s.cxTotal.inc();
    s.cxActive.inc();
    h.cxTotal.inc();
    h.cxActive.inc();
    h.cxHttp1Total.inc();
    this.sockets.add(socket);
    this.socketHcmStats.set(socket, h);
    // idle_timeout also covers a connection that never sends a request (Node's keepAliveTimeout only
    // starts after a response); node:http resets the socket timeout when a request arrives.
    if (this.runtime.idleTimeoutMs > 0) socket.setTimeout(this.runtime.idleTimeoutMs);
    socket.once('close', () => {
      this.sockets.delete(socket);
      s.cxActive.dec();
      h.cxActive.dec();
      s.cxDestroy.inc();
    });
  }

  /**
   * Codec errors: Envoy answers malformed HTTP/1 with 400, oversized headers with 431 and a request-headers
   * timeout with 408, then closes. If a response is already being written on the connection (a pipelined
   * bad request), a reply would corrupt it: the connection is closed instead.
   */
  private onClientError(err: Error & { code?: string }, socket: Socket): void {
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent === true) {
      socket.destroy();
      return;
    }
    (this.socketHcmStats.get(socket) ?? this.hcmStats).cxProtocolError.inc();
    const failure = err.code === 'HPE_HEADER_OVERFLOW' ? Failures.headersTooLarge
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? Failures.requestHeadersTimeout : Failures.malformedRequest;
    socket.end(`HTTP/1.1 ${failure.status} ${STATUS_CODES[failure.status]}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
  }
}

function listenerStats(stats: StatsScope, config: ListenerRuntimeConfig): ListenerStats {
  const ls = stats.scope(`listener.${config.statPrefix}`);
  return { cxTotal: ls.counter('downstream_cx_total'), cxActive: ls.gauge('downstream_cx_active'), cxDestroy: ls.counter('downstream_cx_destroy') };
}

function hcmConnectionStats(stats: StatsScope, hcm: ConnectionManager): HcmConnectionStats {
  const hs = stats.scope(`http.${hcm.config.statPrefix}`);
  return {
    cxTotal: hs.counter('downstream_cx_total'),
    cxActive: hs.gauge('downstream_cx_active'),
    cxHttp1Total: hs.counter('downstream_cx_http1_total'),
    cxProtocolError: hs.counter('downstream_cx_protocol_error'),
  };
}
