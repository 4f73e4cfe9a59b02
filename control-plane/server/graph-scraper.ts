// Feeds the mesh graph: every few seconds (on the injected clock) GETs /stats/prometheus from each proxy connected
// over xDS, at its node's first INSTANCE_IPS address and STATS_PORT (default 15090, Istio's), a few at a time,
// each bounded by a timeout and a size limit. A round never overlaps the next; a proxy that does not answer is
// marked stale and skipped. Runs beside xDS serving and never holds it up (the only synchronous work is parsing
// the Istio series of an answer that is at most a few MiB).

import { request } from 'node:http';
import type { Clock, TimerHandle } from '../../proxy/common/clock.ts';
import { workloadFromNodeMetadata } from '../../proxy/common/workload-metadata.ts';
import { MeshGraph, type GraphJson, type GraphProxy, type MeshGraphOptions } from './mesh-graph.ts';
import type { ProxySync } from './sync-status.ts';

/** Istio's Prometheus port (the sidecar bootstrap's `prometheus_stats` listener). */
export const DEFAULT_STATS_PORT = 15090;
/** nodevoy's node metadata key for another port (e.g. the admin's, which serves the same page). */
export const STATS_PORT_KEY = 'STATS_PORT';
export const STATS_PATH = '/stats/prometheus';
export const DEFAULT_SCRAPE_INTERVAL_MS = 5_000;
export const DEFAULT_SCRAPE_TIMEOUT_MS = 2_000;
export const DEFAULT_MAX_CONCURRENT_SCRAPES = 8;
/** An answer larger than this is cut off and counted as a failed scrape (a sidecar's is tens of KiB). */
export const DEFAULT_MAX_SCRAPE_BYTES = 4 << 20;

export interface ScrapeAddress {
  readonly host: string;
  readonly port: number;
}

/** GETs STATS_PATH from the address; rejects on anything but a 200 with its body. */
export type StatsFetch = (address: ScrapeAddress, signal: AbortSignal) => Promise<string>;

export interface GraphScrapeOptions extends MeshGraphOptions {
  /** How often every proxy is scraped; default 5 s. The page refreshes as often. */
  readonly intervalMs?: number;
  /** A scrape not answered within this is abandoned; default 2 s. */
  readonly timeoutMs?: number;
  /** Scrapes in flight at once; default 8. */
  readonly maxConcurrent?: number;
  /** Default: an HTTP GET through node:http with DEFAULT_MAX_SCRAPE_BYTES. */
  readonly fetch?: StatsFetch;
}

/** The subset of a logger the scraper writes to (xds-server.ts ServerLogger). */
interface GraphLogger {
  info(msg: string): void;
  warning(msg: string): void;
}

type Json = Readonly<Record<string, unknown>>;
const metadataOf = (node: Json): Json => {
  const m = node['metadata'];
  return typeof m === 'object' && m !== null && !Array.isArray(m) ? m as Json : {};
};

/** Where a proxy's metrics are: its identity's instance IP (INSTANCE_IPS' first) and STATS_PORT, or why not. */
export function scrapeAddress(proxy: Pick<ProxySync, 'node' | 'identity'>): ScrapeAddress | { readonly error: string } {
  const raw = metadataOf(proxy.node)[STATS_PORT_KEY];
  const port = raw === undefined ? DEFAULT_STATS_PORT : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) {
    return { error: `node.metadata.${STATS_PORT_KEY} must be a port number, got ${JSON.stringify(raw)}` };
  }
  return { host: proxy.identity.instanceIp, port };
}

const formatAddress = (a: ScrapeAddress): string => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`);

/** The proxy as the graph names it: its workload as Istio's stats filter labels it from the same node metadata. */
export function graphProxy(proxy: Pick<ProxySync, 'id' | 'node' | 'identity'>): GraphProxy {
  const w = workloadFromNodeMetadata(metadataOf(proxy.node));
  const address = scrapeAddress(proxy);
  return {
    id: proxy.id,
    workload: { name: w.workloadName || proxy.id, namespace: w.namespace || proxy.identity.namespace, app: w.appName, version: w.appVersion },
    target: 'error' in address ? undefined : formatAddress(address),
  };
}

/** node:http GET of STATS_PATH, at most maxBytes of body. */
export function httpStatsFetch(maxBytes = DEFAULT_MAX_SCRAPE_BYTES): StatsFetch {
  return (address, signal) => new Promise<string>((resolve, reject) => {
    const req = request({ host: address.host, port: address.port, path: STATS_PATH, signal, agent: false, headers: { accept: 'text/plain' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`HTTP ${res.statusCode ?? 0} for ${STATS_PATH}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= maxBytes) {
          chunks.push(chunk);
          return;
        }
        // Settled first: the whole answer may already be parsed, and its 'end' would come next.
        reject(new Error(`the answer is larger than ${maxBytes} bytes`));
        req.destroy();
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export class GraphScraper {
  readonly graph: MeshGraph;
  readonly intervalMs: number;
  private readonly proxies: () => readonly ProxySync[];
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly maxConcurrent: number;
  private readonly fetch: StatsFetch;
  private readonly logger: GraphLogger | undefined;
  private readonly inFlight = new Set<AbortController>();
  private timer: TimerHandle | undefined;
  private current: Promise<void> | undefined;
  private closed = false;

  /** `proxies`: the connected proxies (the SyncTracker's). */
  constructor(proxies: () => readonly ProxySync[], clock: Clock, options: GraphScrapeOptions = {}, logger?: GraphLogger) {
    this.proxies = proxies;
    this.clock = clock;
    this.graph = new MeshGraph(clock, options);
    this.intervalMs = options.intervalMs ?? DEFAULT_SCRAPE_INTERVAL_MS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_SCRAPE_TIMEOUT_MS;
    this.maxConcurrent = Math.max(1, options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT_SCRAPES);
    this.fetch = options.fetch ?? httpStatsFetch();
    this.logger = logger;
  }

  /** Scrapes every intervalMs from now on; a round still running when the next is due makes that one skip. */
  start(): void {
    const tick = (): void => {
      if (this.closed) return;
      if (this.current === undefined) void this.scrapeNow();
      this.timer = this.clock.setTimer(tick, this.intervalMs);
    };
    this.timer = this.clock.setTimer(tick, this.intervalMs);
  }

  /** One round over every connected proxy, after the round in progress if any; resolves when it is done. */
  scrapeNow(): Promise<void> {
    const next = (this.current ?? Promise.resolve()).then(() => this.round());
    this.current = next;
    void next.finally(() => {
      if (this.current === next) this.current = undefined;
    });
    return next;
  }

  /** The graph now, for /graph.json. */
  json(): GraphJson & { readonly interval_seconds: number } {
    return { ...this.graph.json(this.proxies().map(graphProxy)), interval_seconds: this.intervalMs / 1_000 };
  }

  /** Stops the timer and abandons the scrapes in flight. */
  close(): void {
    this.closed = true;
    this.timer?.cancel();
    for (const controller of this.inFlight) controller.abort(new Error('the control plane is closing'));
  }

  private async round(): Promise<void> {
    const proxies = this.proxies();
    this.graph.retain(new Set(proxies.map((p) => p.id)));
    const queue: { id: string; address: ScrapeAddress }[] = [];
    for (const p of proxies) {
      const address = scrapeAddress(p);
      if ('error' in address) this.graph.failed(p.id, address.error, 'no-target');
      else queue.push({ id: p.id, address });
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < queue.length && !this.closed) {
        const item = queue[next++]!;
        await this.scrapeOne(item.id, item.address);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.maxConcurrent, queue.length) }, worker));
  }

  private async scrapeOne(id: string, address: ScrapeAddress): Promise<void> {
    const controller = new AbortController();
    const timer = this.clock.setTimer(() => controller.abort(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    this.inFlight.add(controller);
    const before = this.graph.status(id);
    try {
      const text = await this.fetch(address, controller.signal);
      if (this.closed) return;
      const skipped = this.graph.scraped(id, text);
      if (before === 'stale') this.logger?.info(`mesh graph: ${id} answers again at ${formatAddress(address)}`);
      if (skipped.length > 0) this.logger?.warning(`mesh graph: ${id}: malformed lines skipped: ${skipped.join('; ')}`);
    } catch (e) {
      if (this.closed) return;
      const reason = controller.signal.aborted && controller.signal.reason instanceof Error ? controller.signal.reason : (e as Error);
      const message = `GET http://${formatAddress(address)}${STATS_PATH}: ${reason.message}`;
      this.graph.failed(id, message);
      if (before === 'ok') this.logger?.warning(`mesh graph: ${id} is stale: ${message}`);
    } finally {
      timer.cancel();
      this.inFlight.delete(controller);
    }
  }
}
