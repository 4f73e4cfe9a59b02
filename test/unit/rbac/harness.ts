// Test harness for the RBAC filter: parses configs with the filter's own schemas, builds the factory on
// a StatsStore, and runs one request through it with recording FilterCallbacks and a StreamInfo whose
// connection facts (addresses, SNI, TLS peer) the test chooses.

import { parseWith } from '../../../proxy/config/schema-kit.ts';
import { rbacFilter } from '../../../proxy/filters/http/rbac/index.ts';
import type { RbacFilterWire, RbacPerRouteWire } from '../../../proxy/filters/http/rbac/schema.ts';
import type { FilterCallbacks, FilterStatus, LocalReplyOptions } from '../../../proxy/http/filter.ts';
import type { HeaderMap, RequestHeaders } from '../../../proxy/http/headers.ts';
import { newStreamInfo, type SslConnectionInfo, type StreamInfo } from '../../../proxy/http/stream-info.ts';
import type { Route } from '../../../proxy/route/types.ts';
import { StatsStore } from '../../../proxy/stats/store.ts';
import type { ClusterManager } from '../../../proxy/upstream/types.ts';
import { FakeClock, SeededRandom } from '../../support/fake-clock.ts';

export const FILTER_NAME = 'envoy.filters.http.rbac';

export function parseFilter(wire: unknown): RbacFilterWire {
  const r = parseWith(rbacFilter.configSchema, wire);
  if (!r.ok) throw new Error(`unexpected config errors: ${JSON.stringify(r.errors)}`);
  return r.value;
}

export function parsePerRoute(wire: unknown): RbacPerRouteWire {
  const r = parseWith(rbacFilter.perRouteSchema!, wire);
  if (!r.ok) throw new Error(`unexpected config errors: ${JSON.stringify(r.errors)}`);
  return r.value;
}

/** The connection a request arrives on; defaults: plaintext 10.0.0.1:5000 → 10.0.0.2:8080, no XFF. */
export interface Conn {
  readonly local?: string;
  readonly directRemote?: string;
  readonly remote?: string;
  readonly sni?: string;
  readonly ssl?: SslConnectionInfo;
}

export interface Req {
  readonly path?: string;
  readonly method?: string;
  readonly headers?: HeaderMap;
  readonly conn?: Conn;
}

export function requestOf(req: Req): RequestHeaders {
  return { method: req.method ?? 'GET', path: req.path ?? '/', authority: 'svc', scheme: 'http', headers: { ...req.headers } };
}

export function infoOf(conn: Conn = {}): StreamInfo {
  const info = newStreamInfo(0, 0);
  info.downstreamLocalAddress = conn.local ?? '10.0.0.2:8080';
  info.downstreamDirectRemoteAddress = conn.directRemote ?? '10.0.0.1:5000';
  info.downstreamRemoteAddress = conn.remote ?? info.downstreamDirectRemoteAddress;
  info.requestedServerName = conn.sni ?? '';
  if (conn.ssl !== undefined) info.downstreamSsl = conn.ssl;
  return info;
}

/** A route whose typed_per_filter_config for the RBAC filter is `perRoute` (parsed RBACPerRoute). */
export function routeWith(perRoute: RbacPerRouteWire | undefined): Route {
  return {
    name: 'r', virtualHost: { name: 'vh' },
    action: {
      type: 'route', selectCluster: () => ({ name: 'backend' }), clusterNotFoundStatus: 503, timeoutMs: 15_000,
      idleTimeoutMs: undefined, computeHash: () => undefined, rewriteRequest: () => {}, autoHostRewrite: false,
    },
    applyRequestHeaders: () => {}, applyResponseHeaders: () => {},
    perFilterConfig: (name) => (name === FILTER_NAME ? perRoute : undefined),
  };
}

export interface Outcome {
  readonly status: FilterStatus;
  readonly reply: { status: number; body: string; opts: LocalReplyOptions } | null;
  readonly info: StreamInfo;
}

export interface Harness {
  run(req?: Req, route?: Route | null): Outcome;
  /** A counter under `http.ingress.`. */
  counter(name: string): number;
  readonly stats: StatsStore;
}

/** The filter configured with `wire` on a connection manager with stat_prefix `ingress`. */
export function harness(wire: unknown): Harness {
  const stats = new StatsStore();
  const make = rbacFilter.create(parseFilter(wire), {
    stats: stats.scope('http.ingress'), rootStats: stats, clock: new FakeClock(), random: new SeededRandom(1),
    clusterManager: {} as ClusterManager, filterName: FILTER_NAME, bufferLimitBytes: 1024 * 1024,
  });
  return {
    stats,
    counter: (name) => stats.counters.get(`http.ingress.${name}`)?.value() ?? 0,
    run(req = {}, route = null) {
      const request = requestOf(req);
      const info = infoOf(req.conn);
      let reply: Outcome['reply'] = null;
      const callbacks = {
        info, request, route,
        clearRouteCache() {},
        sendLocalReply(status: number, body: string, opts: LocalReplyOptions = {}) {
          reply = { status, body, opts };
          if (opts.details) info.responseCodeDetails = opts.details;
        },
        continueDecoding() {},
        perRouteConfig: <T>(name: string) => route?.perFilterConfig(name) as T | undefined,
        requestBody: () => null,
        onRequestComplete: (cb: () => void) => cb(),
        encoder: undefined as never,
        downstreamClosed: false,
      } satisfies FilterCallbacks;
      const status = make(callbacks).decodeHeaders!(request, true);
      if (status instanceof Promise) throw new Error('the RBAC filter is synchronous');
      return { status, reply, info };
    },
  };
}
