// The control plane's HTTP server (node:http): Envoy's REST-JSON xDS (`POST /v3/discovery:<type>`, 304 when
// the proxy already has the current version), nodevoy's long-poll push on the same endpoints, per-proxy
// ACK/NACK bookkeeping, the debug pages, and the mesh graph (/graph, /graph.json) scraped from the proxies it serves.

import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HEARTBEATS_HEADER, LONG_POLL_HEADER, TRACKS_HELD_HEADER, WAIT_HEADER } from '../../control-client/long-poll-transport.ts';
import {
  DEFAULT_MAX_WAIT_SECONDS, discoveryResponseBody, listenXds, parseDiscoveryRequest, parseWait, readRequestBody, WaitList,
} from '../../control-client/rest-serving.ts';
import type { DiscoveryRequest } from '../../control-client/types.ts';
import type { Clock, Random } from '../../proxy/common/clock.ts';
import type { XdsKind } from '../xds/snapshot.ts';
import { XDS_TYPES } from '../xds/snapshot.ts';
import { CERTIFICATES_PATH, type CaService } from './ca-service.ts';
import { handleDebug, text } from './debug-endpoints.ts';
import type { DebugContext } from './debug-endpoints.ts';
import { handleGraph } from './graph-page.ts';
import { GraphScraper, type GraphScrapeOptions } from './graph-scraper.ts';
import type { MeshSource } from './mesh-source.ts';
import { formatMeshError } from './mesh-source.ts';
import { resourcesToSend, SnapshotCache, type Entry } from './snapshot-cache.ts';
import { SyncTracker } from './sync-status.ts';

/** A DiscoveryRequest body larger than this is refused (413): a request is a node and some names. */
const MAX_REQUEST_BYTES = 1 << 20;
/** How long past two long-poll waits a silent proxy's bookkeeping and cached snapshot are kept. */
const EXPIRY_GRACE_MS = 30_000;
/** Default bound on the proxies tracked (and snapshots cached): anyone can POST made-up nodes. */
export const DEFAULT_MAX_PROXIES = 10_000;
const DISCOVERY_PREFIX = '/v3/discovery:';

/** The subset of a component logger the server writes to (proxy/common/logger.ts ComponentLogger fits). */
export interface ServerLogger {
  info(msg: string): void;
  warning(msg: string): void;
}

export interface XdsServerOptions {
  readonly host: string;
  /** 0 = any free port (read it back from `port`). */
  readonly port: number;
  readonly clock: Clock;
  /** Makes nonces unique across restarts; without it nonces are a plain counter. */
  readonly random?: Random;
  readonly source: MeshSource;
  readonly logger?: ServerLogger;
  /** `DiscoveryResponse.control_plane.identifier`; default `nodevoy-control-plane`. */
  readonly identifier?: string;
  /** Longest long-poll hold granted and advertised in `x-nodevoy-long-poll`; default 60 s. */
  readonly maxWaitSeconds?: number;
  /** The CA service (`POST /v1/certificates`); absent = the control plane signs nothing (404). */
  readonly caService?: CaService;
  /** Most proxies tracked and snapshots cached, the least recently heard from evicted first; default 10,000. */
  readonly maxProxies?: number;
  /** Scrape the connected proxies' Istio metrics and serve the mesh graph; absent = no graph (404). */
  readonly graph?: GraphScrapeOptions;
}

export interface XdsServer {
  readonly host: string;
  readonly port: number;
  /** `http://host:port`. */
  readonly url: string;
  /** Requests currently held by long-poll. */
  heldRequests(): number;
  /** The mesh graph's scraper, when the server has one (`scrapeNow()` runs a round at once). */
  readonly graph?: GraphScraper;
  /** Answers held requests (304), closes every connection and stops listening. */
  close(): Promise<void>;
}

const kindOfPath = (name: string): XdsKind | undefined => (Object.hasOwn(XDS_TYPES, name) ? name as XdsKind : undefined);

export async function startXdsServer(options: XdsServerOptions): Promise<XdsServer> {
  const { clock, source } = options;
  const maxWaitSeconds = options.maxWaitSeconds ?? DEFAULT_MAX_WAIT_SECONDS;
  const identifier = options.identifier ?? 'nodevoy-control-plane';
  // A proxy polls at least once per long-poll wait: one silent for two of them (plus grace) went away.
  const expiry = { expireAfterMs: 2 * maxWaitSeconds * 1_000 + EXPIRY_GRACE_MS, maxProxies: options.maxProxies ?? DEFAULT_MAX_PROXIES };
  const cache = new SnapshotCache(source, clock, { expireAfterMs: expiry.expireAfterMs, maxEntries: expiry.maxProxies });
  const tracker = new SyncTracker(clock, expiry);
  const waiting = new WaitList(clock);
  const debug: DebugContext = { source, cache, tracker };
  const noncePrefix = options.random === undefined ? '' : `${options.random.nextUint32().toString(36)}-`;
  let nonceSeq = 0;
  /**
   * Every discovery answer advertises long-poll, so a nodevoy REST client upgrades, and that the server tracks
   * what each proxy holds by name (the SyncTracker), so a client adds names without a version reset
   * (control-client/README.md).
   */
  const advertised = { [LONG_POLL_HEADER]: String(maxWaitSeconds), [TRACKS_HELD_HEADER]: '1' };

  const graph = options.graph === undefined ? undefined : new GraphScraper(() => tracker.all(), clock, options.graph, options.logger);
  const unsubscribe = source.onChange(() => waiting.changed());
  const onClose = (): void => {
    unsubscribe();
    graph?.close();
  };

  /** The proxy's snapshot entry, or undefined once a 400 (unusable node) or 500 (build failed) is written. */
  function lookup(res: ServerResponse, kind: XdsKind, request: DiscoveryRequest): Entry | undefined {
    try {
      const entry = cache.entry(request.node);
      if (entry.ok) return entry.value;
      text(res, 400, `invalid node:\n${entry.errors.map(formatMeshError).join('\n')}\n`, advertised);
    } catch (e) {
      // The mesh source (translation) failing for this proxy is the server's fault, not the request's.
      options.logger?.warning(`xDS ${kind} for ${String(request.node['id'])}: ${(e as Error).message}`);
      text(res, 500, `cannot build ${kind} for this proxy: ${(e as Error).message}\n`, advertised);
    }
    return undefined;
  }

  /** Answers 200 with the current version if the proxy has not seen it (or 400/500); false when nothing was sent. */
  function answerIfNew(res: ServerResponse, kind: XdsKind, request: DiscoveryRequest, heartbeats: boolean): boolean {
    const entry = lookup(res, kind, request);
    if (entry === undefined) return true;
    const proxyId = entry.identity.id;
    const answer = cache.answer(entry, kind, request.resource_names);
    if (tracker.hasSeen(proxyId, kind, request, answer.version)) {
      if (request.version_info === answer.version) tracker.adopt(proxyId, kind, request);
      return false;
    }
    const nonce = `${noncePrefix}${++nonceSeq}`;
    // LDS/CDS: the full list (unchanged resources as heartbeats to a client that takes them); RDS/EDS: what this proxy lacks.
    const resourcesJson = resourcesToSend(kind, answer, tracker.held(proxyId, kind, request), heartbeats);
    tracker.sent(proxyId, kind, request, { version: answer.version, nonce, resources: answer.anyByName });
    const body = discoveryResponseBody(answer.version, resourcesJson, XDS_TYPES[kind], nonce, identifier);
    res.writeHead(200, { ...advertised, 'content-type': 'application/json' }).end(body);
    return true;
  }

  function discovery(req: IncomingMessage, res: ServerResponse, kind: XdsKind, body: string): void {
    const parsed = parseDiscoveryRequest(body, XDS_TYPES[kind]);
    if (!parsed.ok) return text(res, 400, `invalid DiscoveryRequest:\n${parsed.errors.join('\n')}\n`, advertised);
    const request = parsed.request;
    const wait = parseWait(req.headers[WAIT_HEADER], maxWaitSeconds);
    if (!wait.ok) return text(res, 400, `${wait.message}\n`, advertised);
    const entry = lookup(res, kind, request);
    if (entry === undefined) return;
    tracker.observe(entry.identity, kind, request);
    const heartbeats = req.headers[HEARTBEATS_HEADER] === '1';
    if (answerIfNew(res, kind, request, heartbeats)) return;
    const notModified = (): void => void res.writeHead(304, advertised).end();
    if (wait.seconds === 0) return notModified();
    waiting.hold(res, wait.seconds * 1_000, () => answerIfNew(res, kind, request, heartbeats), notModified);
  }

  /** Routes a request; never throws: a bad request line is a 400, any other failure a 500. */
  function route(req: IncomingMessage, res: ServerResponse, body: string): void {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://control-plane');
    } catch {
      return text(res, 400, `malformed request path "${req.url ?? ''}"\n`);
    }
    try {
      dispatch(req, res, url, body);
    } catch (e) {
      options.logger?.warning(`${req.method ?? ''} ${url.pathname}: ${(e as Error).message}`);
      if (res.headersSent) res.destroy();
      else text(res, 500, `internal error: ${(e as Error).message}\n`);
    }
  }

  function dispatch(req: IncomingMessage, res: ServerResponse, url: URL, body: string): void {
    if (url.pathname === CERTIFICATES_PATH && options.caService) return options.caService.handle(req, res, body);
    if (url.pathname.startsWith(DISCOVERY_PREFIX)) {
      const name = url.pathname.slice(DISCOVERY_PREFIX.length);
      const kind = kindOfPath(name);
      if (kind === undefined) {
        return text(res, 400, `unknown xDS type "${name}": this control plane serves ${Object.keys(XDS_TYPES).map((k) => DISCOVERY_PREFIX + k).join(', ')}\n`, advertised);
      }
      if (req.method !== 'POST') return text(res, 405, `${url.pathname} takes POST with a JSON DiscoveryRequest\n`, { allow: 'POST' });
      return discovery(req, res, kind, body);
    }
    if (req.method === 'GET' && (handleDebug(debug, url, res) || (graph !== undefined && handleGraph(graph, url, res)))) return;
    text(res, 404, `no such endpoint: ${req.method ?? ''} ${url.pathname}\n`);
  }

  const server = createServer((req, res) => readRequestBody(req, res, MAX_REQUEST_BYTES, (body) => route(req, res, body)));
  const endpoint = await listenXds(server, options.host, options.port, waiting, onClose);
  options.logger?.info(`xDS REST and debug endpoints listening on ${endpoint.url}`);
  if (graph === undefined) return endpoint;
  graph.start();
  return Object.assign(endpoint, { graph });
}
