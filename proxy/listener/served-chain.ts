// One filter chain of a bound listener: its transport (TLS handshake and peer verification, or plaintext)
// and its node:http server feeding the chain's HTTP connection manager. The Listener accepts and picks the
// chain; the connection is handed here. Owns the chain's http.<stat_prefix>.downstream_cx_* accounting and
// codec errors (malformed HTTP → 400, oversized headers → 431, headers timeout → 408, then close; access-logged
// by the connection manager).

import { createServer, STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer, type TLSSocket } from 'node:tls';
import { Failures } from '../common/error-catalogue.ts';
import type { ConnectionManager } from '../http/connection-manager.ts';
import type { Counter, Gauge, StatsScope } from '../stats/scope.ts';
import { countVerdict, verifyPeer, type SslStats } from '../tls/peer-verifier.ts';
import type { DownstreamTlsConfig } from '../tls/tls-context.ts';

/** The per-chain settings (the chain's HTTP connection manager's connection-level options). */
export interface ChainRuntimeConfig {
  /** FilterChainConfig.identity: an update keeps this runtime only for a chain with the same identity. */
  readonly identity: string;
  readonly tls: DownstreamTlsConfig | null;
  /** HCM max_request_headers_kb: larger request heads get 431. */
  readonly maxRequestHeadersKb: number;
  /** common_http_protocol_options.idle_timeout in ms (0 = none): idle keep-alive connections close. */
  readonly idleTimeoutMs: number;
  /** request_headers_timeout in ms (0 = none). */
  readonly requestHeadersTimeoutMs: number;
}

/** http.<HCM stat_prefix>.downstream_cx_* */
interface HcmConnectionStats {
  readonly cxTotal: Counter;
  readonly cxActive: Gauge;
  readonly cxHttp1Total: Counter;
  readonly cxSslTotal: Counter;
  readonly cxSslActive: Gauge;
  readonly cxProtocolError: Counter;
}

/** Told when a TLS connection is refused after its handshake (the listener logs nothing: stats say it). */
export type TlsFailureHook = (reason: string) => void;

export class ServedChain {
  private runtime: ChainRuntimeConfig;
  private current: ConnectionManager;
  private readonly rootStats: StatsScope;
  private hcmStats: HcmConnectionStats;
  private readonly ssl: () => SslStats;
  private readonly http: Server;
  private tlsServer: TlsServer | null = null;
  /** The secureContextOptions the TLS server was last given (a secret rotation replaces the object). */
  private tlsOptions: object | null = null;
  /** The connection manager's stats each open connection was counted in (decremented there on close). */
  private readonly socketHcmStats = new WeakMap<Socket, HcmConnectionStats>();
  private readonly open = new Set<Socket>();

  /** `ssl` gives the listener's `ssl.*` stats (Envoy counts TLS per listener, not per chain). */
  constructor(config: ChainRuntimeConfig, hcm: ConnectionManager, stats: StatsScope, ssl: () => SslStats, highWaterMark: number) {
    this.runtime = config;
    this.current = hcm;
    this.rootStats = stats;
    this.ssl = ssl;
    this.hcmStats = hcmConnectionStats(stats, hcm);
    this.http = createServer({
      maxHeaderSize: config.maxRequestHeadersKb * 1024,
      requireHostHeader: true,
      joinDuplicateHeaders: false,
      requestTimeout: 0,
      headersTimeout: config.requestHeadersTimeoutMs,
      keepAliveTimeout: config.idleTimeoutMs,
      highWaterMark,
    }, (req, res) => this.current.handle(req, res));
    // No parser limit on the header count: node:http would silently drop headers past it, and the limit
    // (max_headers_count) belongs to whichever connection manager serves the request, which an LDS update
    // can change on an open connection. The connection manager counts and answers 431; the head's size is
    // still bounded by max_request_headers_kb.
    this.http.maxHeadersCount = 0;
    // The server never listens: connections are handed to it. Its 'listening' handler starts node:http's
    // connection tracking (headers timeout checks, closeIdleConnections), which otherwise waits for listen().
    this.http.emit('listening');
    this.http.on('connection', (socket: Socket) => this.onHttpConnection(socket));
    this.http.on('clientError', (err: Error & { code?: string }, socket: Socket) => this.onClientError(err, socket));
    this.setTls(config.tls);
  }

  get hcm(): ConnectionManager {
    return this.current;
  }

  get config(): ChainRuntimeConfig {
    return this.runtime;
  }

  /** Serves an accepted connection (bytes the listener filters read were put back into it). */
  serve(socket: Socket): void {
    const tls = this.runtime.tls;
    if (tls) {
      // Envoy resets connections to a context whose secrets are not ready (init waits for them first).
      if (!tls.ready) {
        this.ssl().connectionError.inc();
        socket.destroy();
        return;
      }
      // A rotated secret: new handshakes take the new certificate, open connections keep theirs.
      if (tls.secureContextOptions !== this.tlsOptions) this.setTls(tls);
      // The TLS socket takes over the connection, bytes put back by the listener filters included.
      this.tlsServer!.emit('connection', socket);
      return;
    }
    this.http.emit('connection', socket);
    // A socket the listener filters paused to put bytes back resumes now that node:http listens.
    if (socket.isPaused()) socket.resume();
  }

  /**
   * An LDS update of a chain with the same identity: new requests (on new and open connections) go to
   * `next`; connections accepted from now on take the new settings. Returns the previous manager.
   */
  update(config: ChainRuntimeConfig, next: ConnectionManager): ConnectionManager {
    const previous = this.current;
    previous.draining = true;
    this.current = next;
    this.runtime = config;
    this.hcmStats = hcmConnectionStats(this.rootStats, next);
    // node:http reads these per connection (maxHeaderSize) or per check (the timeouts).
    const server = this.http as Server & { maxHeaderSize: number };
    server.maxHeaderSize = config.maxRequestHeadersKb * 1024;
    server.headersTimeout = config.requestHeadersTimeoutMs;
    server.keepAliveTimeout = config.idleTimeoutMs;
    this.setTls(config.tls);
    return previous;
  }

  connectionCount(): number {
    return this.open.size;
  }

  /** Drain step: answer in-flight requests with `connection: close`, close idle connections now. */
  startDrain(): void {
    this.current.draining = true;
    this.http.closeIdleConnections();
  }

  /** Closes every connection of this chain. */
  closeAll(): void {
    this.http.closeAllConnections();
    for (const s of this.open) s.destroy();
  }

  /** Stops node:http's connection tracking timer. */
  dispose(): void {
    this.http.close(() => undefined);
  }

  private setTls(tls: DownstreamTlsConfig | null): void {
    if (!tls) {
      this.tlsServer = null;
      this.tlsOptions = null;
      return;
    }
    if (!tls.ready) return; // composed on the first connection once its secrets are loaded
    this.tlsOptions = tls.secureContextOptions;
    const options = {
      ...tls.secureContextOptions,
      // The client certificate is asked for when a validation context exists; verifyPeer decides.
      requestCert: tls.validation.verifyChain || tls.validation.requireCertificate,
      rejectUnauthorized: false,
      ...(tls.alpnProtocols.length > 0 ? { ALPNProtocols: [...tls.alpnProtocols] } : {}),
    };
    if (this.tlsServer) {
      // Same chain, new context (LDS): new handshakes use it, open connections keep theirs.
      this.tlsServer.setSecureContext(options);
      return;
    }
    const server = new TlsServer(options);
    server.on('secureConnection', (socket: TLSSocket) => this.onHandshake(socket));
    server.on('tlsClientError', (_err: Error, socket: TLSSocket) => {
      this.ssl().connectionError.inc();
      socket.destroy();
    });
    this.tlsServer = server;
  }

  /** After the handshake: Envoy's certificate checks (chain, presence, SANs), then HTTP. */
  private onHandshake(socket: TLSSocket): void {
    const tls = this.runtime.tls;
    if (!tls) {
      socket.destroy();
      return;
    }
    const verdict = verifyPeer(socket, tls.validation);
    countVerdict(this.ssl(), verdict);
    if (!verdict.ok) {
      socket.destroy();
      return;
    }
    this.http.emit('connection', socket);
  }

  private onHttpConnection(socket: Socket): void {
    const h = this.hcmStats;
    const tls = (socket as Partial<TLSSocket>).encrypted === true;
    h.cxTotal.inc();
    h.cxActive.inc();
    h.cxHttp1Total.inc();
    if (tls) {
      h.cxSslTotal.inc();
      h.cxSslActive.inc();
    }
    this.open.add(socket);
    this.socketHcmStats.set(socket, h);
    // idle_timeout also covers a connection that never sends a request (Node's keepAliveTimeout only
    // starts after a response); node:http resets the socket timeout when a request arrives.
    if (this.runtime.idleTimeoutMs > 0) socket.setTimeout(this.runtime.idleTimeoutMs);
    socket.once('close', () => {
      this.open.delete(socket);
      h.cxActive.dec();
      if (tls) h.cxSslActive.dec();
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
    this.current.logCodecError(socket, failure);
  }
}

function hcmConnectionStats(stats: StatsScope, hcm: ConnectionManager): HcmConnectionStats {
  const hs = stats.scope(`http.${hcm.config.statPrefix}`);
  return {
    cxTotal: hs.counter('downstream_cx_total'),
    cxActive: hs.gauge('downstream_cx_active'),
    cxHttp1Total: hs.counter('downstream_cx_http1_total'),
    cxSslTotal: hs.counter('downstream_cx_ssl_total'),
    cxSslActive: hs.gauge('downstream_cx_ssl_active'),
    cxProtocolError: hs.counter('downstream_cx_protocol_error'),
  };
}
