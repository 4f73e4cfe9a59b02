// Test harness for the fault filter: parses an HTTPFault, builds the filter factory with a FakeClock,
// scripted uint32 draws and a StatsStore, and runs streams against recording FilterCallbacks.

import type { Random } from '../../../proxy/common/clock.ts';
import { parseWith } from '../../../proxy/config/schema-kit.ts';
import { faultFilter } from '../../../proxy/filters/http/fault/index.ts';
import type { FaultSettings } from '../../../proxy/filters/http/fault/fault-settings.ts';
import type { FilterCallbacks, FilterStatus, HttpFilter, LocalReplyOptions } from '../../../proxy/http/filter.ts';
import type { HeaderMap, RequestHeaders } from '../../../proxy/http/headers.ts';
import { newStreamInfo } from '../../../proxy/http/stream-info.ts';
import type { Route } from '../../../proxy/route/types.ts';
import { StatsStore } from '../../../proxy/stats/store.ts';
import type { ClusterManager } from '../../../proxy/upstream/types.ts';
import { FakeClock, ScriptedRandom } from '../../support/fake-clock.ts';

export const FILTER_NAME = 'envoy.filters.http.fault';

export function parseFault(wire: unknown): FaultSettings {
  const r = parseWith(faultFilter.configSchema, wire);
  if (!r.ok) throw new Error(`unexpected config errors: ${JSON.stringify(r.errors)}`);
  return r.value;
}

/** A Random whose nextUint32() returns exactly `values` in order (then repeats the last). */
export function draws(...values: number[]): Random {
  return new ScriptedRandom(values.map((v) => v / 0x1_0000_0000));
}

/** A Random that counts its draws and always answers `value`. */
export class CountingRandom implements Random {
  count = 0;
  private readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
  next(): number { this.count++; return this.value / 0x1_0000_0000; }
  nextUint32(): number { this.count++; return this.value; }
}

/** A route forwarding to `cluster` (a fixed name, or a weighted pick that draws randomness). */
export function routeTo(cluster: string | 'weighted', perRoute?: FaultSettings): Route {
  return {
    name: 'r', virtualHost: { name: 'vh' },
    action: {
      type: 'route',
      selectCluster: (_req, random) => (cluster === 'weighted' ? { name: random.nextUint32() % 2 === 0 ? 'a' : 'b' } : { name: cluster }),
      clusterNotFoundStatus: 503, timeoutMs: 15_000, idleTimeoutMs: undefined,
      computeHash: () => undefined, rewriteRequest: () => {}, autoHostRewrite: false,
    },
    applyRequestHeaders: () => {}, applyResponseHeaders: () => {},
    perFilterConfig: (name) => (name === FILTER_NAME ? perRoute : undefined),
  };
}

export interface LocalReply {
  readonly status: number;
  readonly body: string;
  readonly opts: LocalReplyOptions;
}

/** One stream through the filter, recording what it asked of the connection manager. */
export class Stream {
  readonly request: RequestHeaders;
  readonly info = newStreamInfo(0, 0);
  readonly filter: HttpFilter;
  reply: LocalReply | null = null;
  continued = 0;
  status: FilterStatus | undefined;

  constructor(make: (cb: FilterCallbacks) => HttpFilter, headers: HeaderMap, route: Route | null, method = 'GET') {
    this.request = { method, path: '/', authority: 'svc', scheme: 'http', headers };
    const self = this;
    const callbacks = {
      info: this.info,
      request: this.request,
      route,
      clearRouteCache() {},
      sendLocalReply(status: number, body: string, opts: LocalReplyOptions = {}) {
        self.reply = { status, body, opts };
        if (opts.flags) self.info.responseFlags |= opts.flags;
        self.complete();
      },
      continueDecoding() { self.continued++; },
      perRouteConfig: <T>(name: string) => route?.perFilterConfig(name) as T | undefined,
      requestBody: () => null,
      onRequestComplete: (cb: () => void) => cb(),
      encoder: undefined as never,
      downstreamClosed: false,
    } satisfies FilterCallbacks;
    this.filter = make(callbacks);
  }

  decode(): FilterStatus {
    const r = this.filter.decodeHeaders!(this.request, true);
    if (r instanceof Promise) throw new Error('the fault filter is synchronous');
    this.status = r;
    return r;
  }

  /** The stream ends (as the connection manager calls onStreamComplete on every ending). */
  complete(): void {
    this.filter.onStreamComplete?.();
  }

  /** The downstream went away mid-stream. */
  destroy(): void {
    this.filter.onDestroy?.();
    this.filter.onStreamComplete?.();
  }
}

export interface Harness {
  readonly clock: FakeClock;
  readonly stats: StatsStore;
  stream(headers?: HeaderMap, opts?: { route?: Route | null; method?: string }): Stream;
  counter(name: string): number;
  gauge(name: string): number;
}

/** The filter configured with `wire` on a connection manager with stat_prefix `ingress`. */
export function harness(wire: unknown, random: Random): Harness {
  const clock = new FakeClock();
  const stats = new StatsStore();
  const make = faultFilter.create(parseFault(wire), {
    stats: stats.scope('http.ingress'), rootStats: stats, clock, random, clusterManager: {} as ClusterManager, filterName: FILTER_NAME, bufferLimitBytes: 1024 * 1024,
  });
  return {
    clock, stats,
    stream: (headers = {}, opts = {}) => new Stream(make, headers, opts.route === undefined ? routeTo('backend') : opts.route, opts.method),
    counter: (name) => stats.counters.get(`http.ingress.fault.${name}`)?.value() ?? 0,
    gauge: (name) => stats.gauges.get(`http.ingress.fault.${name}`)?.value() ?? 0,
  };
}
