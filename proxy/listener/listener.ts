// One bound Listener: accepts on the listener's socket_address, runs the listener filters (tls_inspector:
// peeks the ClientHello for `tls`, SNI and ALPN), picks the filter chain (FilterChainMatch, else
// default_filter_chain, else close with no_filter_chain_match) and hands the connection to it. Owns
// listener.<prefix>.downstream_cx_* and ssl.* accounting and graceful drain. A listener without listener
// filters hands each connection over synchronously (no peeking).

import { createServer, isIP, type Server, type Socket } from 'node:net';
import type { Clock, TimerHandle } from '../common/clock.ts';
import type { ConnectionManager } from '../http/connection-manager.ts';
import type { Counter, Gauge, StatsScope } from '../stats/scope.ts';
import { parseClientHello } from '../tls/client-hello.ts';
import { sslStats, type SslStats } from '../tls/peer-verifier.ts';
import { compileFilterChainSelector, type ConnectionFacts, type FilterChainSelector } from './filter-chain-selector.ts';
import type { FilterChainMatchWire } from './listener-schema.ts';
import { ServedChain, type ChainRuntimeConfig } from './served-chain.ts';

export interface ListenerRuntimeConfig {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  /** Listener.stat_prefix, else the address as Envoy writes it (`0.0.0.0_15006`). */
  readonly statPrefix: string;
  /** enable_reuse_port: SO_REUSEPORT, so several nodevoy processes can share the port. */
  readonly enableReusePort: boolean;
  /** per_connection_buffer_limit_bytes: the socket buffer high-water mark. */
  readonly perConnectionBufferLimitBytes: number;
  /** socket_address.ipv4_compat: an IPv6 wildcard also accepts IPv4 (Envoy's default is IPv6 only). */
  readonly ipv4Compat: boolean;
  /** The filter_chain_match of each filter chain, in order (default_filter_chain not included). */
  readonly chainMatches: readonly (FilterChainMatchWire | undefined)[];
  /** Whether the last chain binding is default_filter_chain. */
  readonly hasDefaultChain: boolean;
  /** listener_filters has tls_inspector. */
  readonly tlsInspector: boolean;
  readonly listenerFiltersTimeoutMs: number;
  readonly continueOnListenerFiltersTimeout: boolean;
}

/** A filter chain's settings and the connection manager it serves with. */
export interface ChainBinding {
  readonly config: ChainRuntimeConfig;
  readonly hcm: ConnectionManager;
}

/** listener.<stat_prefix>.* */
interface ListenerStats {
  readonly cxTotal: Counter;
  readonly cxActive: Gauge;
  readonly cxDestroy: Counter;
  readonly noFilterChainMatch: Counter;
}

/** tls_inspector.* (Envoy roots them at the server scope). */
interface TlsInspectorStats {
  readonly tlsFound: Counter;
  readonly tlsNotFound: Counter;
  readonly sniFound: Counter;
  readonly sniNotFound: Counter;
  readonly alpnFound: Counter;
  readonly alpnNotFound: Counter;
  readonly clientHelloTooLarge: Counter;
  readonly connectionClosed: Counter;
}

/** Envoy's stat-name form of an address: `127.0.0.1_10000`, `[::]_80` → `::_80`. */
export function listenerStatPrefix(address: string, port: number): string {
  return `${address.replace(/^\[|\]$/g, '')}_${port}`;
}

export class Listener {
  private runtime: ListenerRuntimeConfig;
  private readonly server: Server;
  private readonly rootStats: StatsScope;
  private readonly clock: Clock;
  private stats: ListenerStats;
  /** listener.<prefix>.ssl.*, created with the first TLS chain (plaintext listeners have none, as in Envoy). */
  private ssl: SslStats | null = null;
  private readonly inspectorStats: TlsInspectorStats;
  private selector: FilterChainSelector;
  private chains: ServedChain[];
  /** Chains an update replaced: their connections finish, then close. */
  private readonly retired = new Set<ServedChain>();
  private readonly sockets = new Set<Socket>();
  private boundPort = 0;

  constructor(config: ListenerRuntimeConfig, chains: readonly ChainBinding[], stats: StatsScope, clock: Clock) {
    this.runtime = config;
    this.rootStats = stats;
    this.clock = clock;
    this.stats = listenerStats(stats, config);
    this.inspectorStats = tlsInspectorStats(stats);
    this.selector = compileFilterChainSelector(config.chainMatches);
    this.chains = chains.map((b) => this.newChain(b));
    this.server = createServer({ noDelay: true, keepAlive: true, highWaterMark: config.perConnectionBufferLimitBytes }, (socket) => this.onAccept(socket));
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

  /** The connection managers new connections go to, one per filter chain (default_filter_chain last). */
  get hcms(): ConnectionManager[] {
    return this.chains.map((c) => c.hcm);
  }

  /**
   * A listener update that keeps the socket (LDS; see sameSocket in listener-config.ts). A chain whose
   * identity (match and transport socket) is unchanged keeps its open connections: new requests on them
   * go to its new connection manager. Chains that changed or went away drain: in-flight requests finish
   * with `connection: close`, idle connections close now. Connections accepted from now on are matched
   * against the new chains with the new settings. Returns the previous connection managers, so the caller
   * can wait for them to go idle.
   */
  update(config: ListenerRuntimeConfig, chains: readonly ChainBinding[]): ConnectionManager[] {
    const previous: ConnectionManager[] = [];
    const kept = new Set<ServedChain>();
    const next = chains.map((binding) => {
      const same = this.chains.find((c) => !kept.has(c) && c.config.identity === binding.config.identity);
      if (!same) return this.newChain(binding);
      kept.add(same);
      previous.push(same.update(binding.config, binding.hcm));
      return same;
    });
    for (const chain of this.chains) {
      if (kept.has(chain)) continue;
      previous.push(chain.hcm);
      chain.startDrain();
      this.retired.add(chain);
    }
    this.chains = next;
    this.runtime = config;
    this.stats = listenerStats(this.rootStats, config);
    this.ssl = null;
    this.selector = compileFilterChainSelector(config.chainMatches);
    (this.server as Server & { highWaterMark: number }).highWaterMark = config.perConnectionBufferLimitBytes;
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
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const chain of this.everyChain()) chain.startDrain();
    await Promise.race([closed, deadline]);
    this.closeConnections();
    await closed;
    this.dispose();
  }

  /** Immediate close of the socket and every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.closeConnections();
    await closed;
    this.dispose();
  }

  private everyChain(): ServedChain[] {
    return [...this.chains, ...this.retired];
  }

  private closeConnections(): void {
    for (const chain of this.everyChain()) chain.closeAll();
    for (const s of this.sockets) s.destroy();
  }

  private dispose(): void {
    for (const chain of this.everyChain()) chain.dispose();
    this.retired.clear();
  }

  private newChain(binding: ChainBinding): ServedChain {
    return new ServedChain(binding.config, binding.hcm, this.rootStats, () => (this.ssl ??= sslStats(this.rootStats.scope(`listener.${this.runtime.statPrefix}`))),
      this.runtime.perConnectionBufferLimitBytes);
  }

  private onAccept(socket: Socket): void {
    const s = this.stats;
    s.cxTotal.inc();
    s.cxActive.inc();
    this.sockets.add(socket);
    // Until a chain's server takes the socket, nothing else listens for its errors (a reset while inspecting).
    socket.on('error', () => socket.destroy());
    socket.once('close', () => {
      this.sockets.delete(socket);
      s.cxActive.dec();
      s.cxDestroy.inc();
    });
    if (this.runtime.tlsInspector) this.inspect(socket);
    else this.dispatch(socket, this.facts(socket, 'raw_buffer', '', []));
  }

  /**
   * envoy.filters.listener.tls_inspector: reads until the first bytes show a ClientHello (complete) or
   * not TLS, then puts them back for the chain. Bounded by listener_filters_timeout.
   */
  private inspect(socket: Socket): void {
    const st = this.inspectorStats;
    const chunks: Buffer[] = [];
    let timer: TimerHandle | null = null;
    const finish = (): Buffer => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      timer?.cancel();
      socket.pause();
      const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      socket.unshift(data);
      return data;
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      const hello = parseClientHello(chunks.length === 1 ? chunk : Buffer.concat(chunks));
      if (hello.kind === 'need-more') return;
      finish();
      if (hello.kind === 'too-large') {
        st.clientHelloTooLarge.inc();
        socket.destroy();
        return;
      }
      if (hello.kind === 'not-tls') {
        st.tlsNotFound.inc();
        this.dispatch(socket, this.facts(socket, 'raw_buffer', '', []));
        return;
      }
      st.tlsFound.inc();
      (hello.serverName !== '' ? st.sniFound : st.sniNotFound).inc();
      (hello.alpn.length > 0 ? st.alpnFound : st.alpnNotFound).inc();
      this.dispatch(socket, this.facts(socket, 'tls', hello.serverName, hello.alpn));
    };
    const onEnd = (): void => {
      st.connectionClosed.inc();
      timer?.cancel();
      socket.destroy();
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    const timeoutMs = this.runtime.listenerFiltersTimeoutMs;
    if (timeoutMs > 0) {
      socket.once('close', () => timer?.cancel());
      timer = this.clock.setTimer(() => {
        finish();
        // Envoy: the socket is closed unless continue_on_listener_filters_timeout picks a chain with what is known.
        if (this.runtime.continueOnListenerFiltersTimeout) this.dispatch(socket, this.facts(socket, 'raw_buffer', '', []));
        else socket.destroy();
      }, timeoutMs);
    }
  }

  private facts(socket: Socket, transportProtocol: string, serverName: string, applicationProtocols: readonly string[]): ConnectionFacts {
    return {
      destinationIp: socket.localAddress ?? '',
      destinationPort: socket.localPort ?? 0,
      sourceIp: socket.remoteAddress ?? '',
      sourcePort: socket.remotePort ?? 0,
      serverName,
      transportProtocol,
      applicationProtocols,
    };
  }

  /** Hands the connection to its filter chain; none matching (and no default_filter_chain) closes it. */
  private dispatch(socket: Socket, facts: ConnectionFacts): void {
    const index = this.selector.select(facts);
    const chain = index >= 0 ? this.chains[index] : this.runtime.hasDefaultChain ? this.chains.at(-1) : undefined;
    if (!chain) {
      this.stats.noFilterChainMatch.inc();
      socket.destroy();
      return;
    }
    chain.serve(socket);
  }
}

function listenerStats(stats: StatsScope, config: ListenerRuntimeConfig): ListenerStats {
  const ls = stats.scope(`listener.${config.statPrefix}`);
  return {
    cxTotal: ls.counter('downstream_cx_total'),
    cxActive: ls.gauge('downstream_cx_active'),
    cxDestroy: ls.counter('downstream_cx_destroy'),
    noFilterChainMatch: ls.counter('no_filter_chain_match'),
  };
}

function tlsInspectorStats(stats: StatsScope): TlsInspectorStats {
  const t = stats.scope('tls_inspector');
  return {
    tlsFound: t.counter('tls_found'),
    tlsNotFound: t.counter('tls_not_found'),
    sniFound: t.counter('sni_found'),
    sniNotFound: t.counter('sni_not_found'),
    alpnFound: t.counter('alpn_found'),
    alpnNotFound: t.counter('alpn_not_found'),
    clientHelloTooLarge: t.counter('client_hello_too_large'),
    connectionClosed: t.counter('connection_closed'),
  };
}
