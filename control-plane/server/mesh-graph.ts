// The mesh graph's arithmetic: Istio's request metrics scraped from each proxy become per-edge request rate, 5xx
// share and p99 over a sliding window (counter and bucket increases between scrapes, resets handled), with
// Kiali-style health and a deterministic layout by call depth. No I/O and no timers: scrapes are handed in.

import type { Clock } from '../../proxy/common/clock.ts';
import { parsePrometheusText, type PromSample } from './prometheus-text.ts';

export const REQUESTS_TOTAL = 'istio_requests_total';
export const DURATION_BUCKET = 'istio_request_duration_milliseconds_bucket';
const GRAPH_METRICS: ReadonlySet<string> = new Set([REQUESTS_TOTAL, DURATION_BUCKET]);
/** What Istio prints for a fact it does not know. */
const UNKNOWN = 'unknown';

export type NodeKind = 'workload' | 'service' | 'unknown';
export type EdgeHealth = 'healthy' | 'degraded' | 'failure';
export type Reporter = 'source' | 'destination';
/** pending: not scraped yet; ok: the last scrape answered; stale: it did not (its data ages out); no-target: no address. */
export type ScrapeStatus = 'pending' | 'ok' | 'stale' | 'no-target';

export interface GraphThresholds {
  /** An edge whose 5xx share is above this is degraded (amber); default 0.001 (0.1 %, Kiali's degraded). */
  readonly degraded: number;
  /** Above this it is failing (red); default 0.05 (5 %). */
  readonly failure: number;
}

export const DEFAULT_THRESHOLDS: GraphThresholds = { degraded: 0.001, failure: 0.05 };
export const DEFAULT_WINDOW_MS = 30_000;

/** A workload as Istio's labels name it. */
export interface WorkloadRef {
  readonly name: string;
  readonly namespace: string;
  readonly app: string;
  readonly version: string;
}

/** A proxy the control plane knows (connected over xDS), and where its metrics are scraped. */
export interface GraphProxy {
  readonly id: string;
  readonly workload: WorkloadRef;
  /** `host:port` scraped, or undefined when the node names no usable address. */
  readonly target: string | undefined;
}

/** A node as the labels name it. */
export interface NodeRef {
  readonly id: string;
  readonly kind: NodeKind;
  readonly name: string;
  readonly namespace: string;
  readonly app: string;
  readonly version: string;
}

/** One edge's increases over one interval of one proxy, as one reporter saw them. */
interface EdgeCounts {
  readonly reporter: Reporter;
  readonly source: NodeRef;
  readonly target: NodeRef;
  readonly services: Set<string>;
  requests: number;
  errors: number;
  /** Cumulative bucket increases by upper bound (`le`). */
  readonly buckets: Map<number, number>;
}

/** Between two successful scrapes of one proxy. */
interface Interval {
  readonly startMs: number;
  readonly endMs: number;
  readonly edges: ReadonlyMap<string, EdgeCounts>;
}

interface ProxyState {
  previous?: { readonly atMs: number; readonly values: ReadonlyMap<string, number> };
  intervals: Interval[];
  status: ScrapeStatus;
  lastAttemptWallMs?: number;
  lastSuccessWallMs?: number;
  error?: string;
}

export interface GraphNodeJson extends NodeRef {
  /** Call depth (0 = calls in, nobody calls it) and position in that column. */
  readonly column: number;
  readonly row: number;
  /** The scrape status of its proxies (the worst of them); `none` = no proxy (a service, an outside caller). */
  readonly scrape: ScrapeStatus | 'none';
}

export interface GraphEdgeJson {
  readonly source: string;
  readonly target: string;
  /** Whose reports the numbers come from: the caller's sidecar, or (a caller without one) the callee's. */
  readonly reporter: Reporter;
  /** destination_service hosts the calls went to. */
  readonly services: readonly string[];
  /** Requests and 5xx answers in the window. */
  readonly requests: number;
  readonly errors: number;
  /** Requests per second over the window. */
  readonly request_rate: number;
  /** 5xx share of the requests, 0..1. */
  readonly error_rate: number;
  /** 99th percentile of istio_request_duration_milliseconds (histogram_quantile), null without samples. */
  readonly p99_ms: number | null;
  readonly health: EdgeHealth;
  /** Every proxy it was computed from failed its last scrape. */
  readonly stale: boolean;
}

export interface ProxyScrapeJson {
  readonly id: string;
  readonly workload: string;
  readonly target: string;
  readonly status: ScrapeStatus;
  readonly last_attempt?: string;
  readonly last_success?: string;
  readonly error?: string;
}

export interface GraphJson {
  readonly generated_at: string;
  readonly window_seconds: number;
  readonly thresholds: GraphThresholds;
  readonly nodes: readonly GraphNodeJson[];
  readonly edges: readonly GraphEdgeJson[];
  readonly proxies: readonly ProxyScrapeJson[];
}

export interface MeshGraphOptions {
  /** Rates are over the scrapes of the last windowMs (default 30 s). */
  readonly windowMs?: number;
  readonly thresholds?: GraphThresholds;
}

const isKnown = (v: string | undefined): v is string => v !== undefined && v !== '' && v !== UNKNOWN;
const UNKNOWN_NODE: NodeRef = { id: UNKNOWN, kind: 'unknown', name: UNKNOWN, namespace: '', app: '', version: '' };

export function workloadNode(w: WorkloadRef): NodeRef {
  return { id: `${w.namespace}/${w.name}`, kind: 'workload', name: w.name, namespace: w.namespace, app: w.app, version: w.version };
}

/** One side of a series: its workload when known, else (the destination) the service it was sent to, else unknown. */
function sideOf(labels: Readonly<Record<string, string>>, side: 'source' | 'destination'): NodeRef {
  const workload = labels[`${side}_workload`];
  if (isKnown(workload)) {
    return workloadNode({
      name: workload, namespace: labels[`${side}_workload_namespace`] ?? '', app: labels[`${side}_app`] ?? '', version: labels[`${side}_version`] ?? '',
    });
  }
  const service = labels['destination_service'];
  if (side === 'destination' && isKnown(service)) {
    const name = labels['destination_service_name'];
    return { id: `svc:${service}`, kind: 'service', name: isKnown(name) ? name : service, namespace: labels['destination_service_namespace'] ?? '', app: '', version: '' };
  }
  return UNKNOWN_NODE;
}

/** A bucket's `le` as a number (`+Inf` included); undefined when it is not one. */
function upperBound(le: string | undefined): number | undefined {
  if (le === undefined) return undefined;
  if (le === '+Inf' || le === 'Inf') return Infinity;
  const n = Number(le);
  return le.trim() === '' || Number.isNaN(n) ? undefined : n;
}

/** Counter increase between two scrapes, as Prometheus' rate(): a lower value is a reset, counted from 0. */
export function counterIncrease(previous: number | undefined, current: number): number {
  if (previous === undefined || current < previous) return current;
  return current - previous;
}

/**
 * Prometheus' histogram_quantile over cumulative bucket counts (by upper bound, `+Inf` required): linear
 * interpolation inside the bucket holding the rank, the first bucket starting at 0, the highest finite bound
 * when the rank falls in `+Inf`. NaN without observations. Counts are made monotonic first, as Prometheus does.
 */
export function histogramQuantile(q: number, buckets: ReadonlyMap<number, number>): number {
  const sorted = [...buckets].sort(([a], [b]) => a - b);
  if (sorted.length < 2 || sorted[sorted.length - 1]![0] !== Infinity) return NaN;
  let max = 0;
  const counts = sorted.map(([, c]) => (max = Math.max(max, c)));
  const total = counts[counts.length - 1]!;
  if (!(total > 0)) return NaN;
  let rank = q * total;
  const b = counts.findIndex((c) => c >= rank);
  if (b === sorted.length - 1) return sorted[b - 1]![0];
  if (b === 0 && sorted[0]![0] <= 0) return sorted[0]![0];
  let start = 0;
  let count = counts[b]!;
  if (b > 0) {
    start = sorted[b - 1]![0];
    count -= counts[b - 1]!;
    rank -= counts[b - 1]!;
  }
  return start + (sorted[b]![0] - start) * (rank / count);
}

export function edgeHealth(errorRate: number, thresholds: GraphThresholds): EdgeHealth {
  if (errorRate > thresholds.failure) return 'failure';
  return errorRate > thresholds.degraded ? 'degraded' : 'healthy';
}

/** The increases of one interval, by `reporter|source|target`. */
function intervalEdges(samples: readonly PromSample[], previous: ReadonlyMap<string, number> | undefined): Map<string, EdgeCounts> {
  const edges = new Map<string, EdgeCounts>();
  for (const s of samples) {
    const reporter = s.labels['reporter'];
    if (reporter !== 'source' && reporter !== 'destination') continue;
    if (Number.isNaN(s.value)) continue;
    // Zero increases are kept: an empty bucket is the lower bound of the next one.
    const increase = counterIncrease(previous?.get(s.series), s.value);
    const source = sideOf(s.labels, 'source');
    const target = sideOf(s.labels, 'destination');
    const key = `${reporter}|${source.id}|${target.id}`;
    let edge = edges.get(key);
    if (edge === undefined) {
      edge = { reporter, source, target, services: new Set(), requests: 0, errors: 0, buckets: new Map() };
      edges.set(key, edge);
    }
    const service = s.labels['destination_service'];
    if (isKnown(service)) edge.services.add(service);
    if (s.name === REQUESTS_TOTAL) {
      edge.requests += increase;
      if (s.labels['response_code']?.startsWith('5')) edge.errors += increase;
    } else {
      const le = upperBound(s.labels['le']);
      if (le !== undefined) edge.buckets.set(le, (edge.buckets.get(le) ?? 0) + increase);
    }
  }
  for (const [key, edge] of edges) if (edge.requests === 0) edges.delete(key);
  return edges;
}

/** One edge summed over proxies and intervals. */
interface EdgeTotal extends EdgeCounts {
  /** Requests per second: each proxy's requests over the time its intervals cover, summed. */
  rate: number;
  /** Some contributing proxy's last scrape answered. */
  fresh: boolean;
}

const round = (n: number, digits: number): number => Number(n.toFixed(digits));
const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());
const STATUS_ORDER: readonly ScrapeStatus[] = ['ok', 'pending', 'no-target', 'stale'];

/**
 * The scraped state of every proxy and the graph made of it. `scraped` / `failed` record one scrape each (time
 * from the clock); `json` computes the graph over the window ending now, for the proxies given (the ones connected).
 */
export class MeshGraph {
  private readonly clock: Clock;
  private readonly windowMs: number;
  private readonly thresholds: GraphThresholds;
  private readonly proxies = new Map<string, ProxyState>();

  constructor(clock: Clock, options: MeshGraphOptions = {}) {
    this.clock = clock;
    this.windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    this.thresholds = options.thresholds ?? DEFAULT_THRESHOLDS;
  }

  /**
   * A scrape answered with `text`. The first one of a proxy is the baseline; each later one adds the increases
   * since the previous (a series new since then counts from 0). Returns the malformed lines skipped.
   */
  scraped(proxyId: string, text: string): string[] {
    const state = this.state(proxyId);
    const atMs = this.clock.monotonicMs();
    const { samples, errors } = parsePrometheusText(text, GRAPH_METRICS);
    if (state.previous !== undefined) {
      state.intervals.push({ startMs: state.previous.atMs, endMs: atMs, edges: intervalEdges(samples, state.previous.values) });
    }
    state.intervals = state.intervals.filter((i) => i.endMs > atMs - this.windowMs);
    state.previous = { atMs, values: new Map(samples.map((s) => [s.series, s.value])) };
    state.status = 'ok';
    state.lastAttemptWallMs = state.lastSuccessWallMs = this.clock.now();
    delete state.error;
    return errors;
  }

  /** A scrape failed (or the proxy names no address: `no-target`): its data ages out of the window. */
  failed(proxyId: string, error: string, status: 'stale' | 'no-target' = 'stale'): void {
    const state = this.state(proxyId);
    state.status = status;
    state.error = error;
    state.lastAttemptWallMs = this.clock.now();
  }

  /** The status of a proxy's last scrape. */
  status(proxyId: string): ScrapeStatus {
    return this.proxies.get(proxyId)?.status ?? 'pending';
  }

  /** Forgets the proxies not in `ids` (gone from the control plane). */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.proxies.keys()) if (!ids.has(id)) this.proxies.delete(id);
  }

  json(proxies: readonly GraphProxy[]): GraphJson {
    const now = this.clock.monotonicMs();
    const totals = new Map<string, EdgeTotal>();
    for (const proxy of proxies) {
      const state = this.proxies.get(proxy.id);
      if (state === undefined) continue;
      const intervals = state.intervals.filter((i) => i.endMs > now - this.windowMs);
      const seconds = intervals.reduce((sum, i) => sum + (i.endMs - i.startMs), 0) / 1_000;
      for (const interval of intervals) {
        for (const [key, e] of interval.edges) {
          let t = totals.get(key);
          if (t === undefined) {
            t = { reporter: e.reporter, source: e.source, target: e.target, services: new Set(), requests: 0, errors: 0, rate: 0, buckets: new Map(), fresh: false };
            totals.set(key, t);
          }
          for (const s of e.services) t.services.add(s);
          t.requests += e.requests;
          t.errors += e.errors;
          if (seconds > 0) t.rate += e.requests / seconds;
          for (const [le, c] of e.buckets) t.buckets.set(le, (t.buckets.get(le) ?? 0) + c);
          t.fresh ||= state.status === 'ok';
        }
      }
    }
    const chosen = this.chooseReports(totals, proxies);
    const edges = chosen.map((t) => this.edgeJson(t));
    const nodes = nodesOf(proxies, chosen, (id) => this.status(id));
    return {
      generated_at: new Date(this.clock.now()).toISOString(),
      window_seconds: this.windowMs / 1_000,
      thresholds: this.thresholds,
      nodes,
      edges,
      proxies: proxies.map((p) => {
        const state = this.proxies.get(p.id);
        return {
          id: p.id, workload: workloadNode(p.workload).id, target: p.target ?? '', status: state?.status ?? 'pending',
          ...(state?.lastAttemptWallMs === undefined ? {} : { last_attempt: iso(state.lastAttemptWallMs) }),
          ...(state?.lastSuccessWallMs === undefined ? {} : { last_success: iso(state.lastSuccessWallMs) }),
          ...(state?.error === undefined ? {} : { error: state.error }),
        };
      }),
    };
  }

  /**
   * The caller's sidecar reports (reporter="source") make the edges. The callee's reports (reporter="destination")
   * stand in only for callers that report nothing themselves: an unknown caller (no sidecar), or one whose proxy
   * is not among the scraped ones that answered — and never for an edge a source report already gives.
   */
  private chooseReports(totals: ReadonlyMap<string, EdgeTotal>, proxies: readonly GraphProxy[]): EdgeTotal[] {
    const reporting = new Set(proxies.filter((p) => this.status(p.id) === 'ok').map((p) => workloadNode(p.workload).id));
    const chosen = new Map<string, EdgeTotal>();
    for (const t of totals.values()) if (t.reporter === 'source' && t.requests > 0) chosen.set(`${t.source.id}|${t.target.id}`, t);
    for (const t of totals.values()) {
      const key = `${t.source.id}|${t.target.id}`;
      if (t.reporter !== 'destination' || t.requests === 0 || chosen.has(key)) continue;
      if (t.source.kind === 'unknown' || !reporting.has(t.source.id)) chosen.set(key, t);
    }
    return [...chosen.values()].sort((a, b) => a.source.id.localeCompare(b.source.id) || a.target.id.localeCompare(b.target.id));
  }

  private edgeJson(t: EdgeTotal): GraphEdgeJson {
    const errorRate = t.errors / t.requests;
    const p99 = histogramQuantile(0.99, t.buckets);
    return {
      source: t.source.id, target: t.target.id, reporter: t.reporter, services: [...t.services].sort(),
      requests: t.requests, errors: t.errors, request_rate: round(t.rate, 3), error_rate: round(errorRate, 6),
      p99_ms: Number.isNaN(p99) ? null : round(p99, 3), health: edgeHealth(errorRate, this.thresholds), stale: !t.fresh,
    };
  }

  private state(proxyId: string): ProxyState {
    let state = this.proxies.get(proxyId);
    if (state === undefined) {
      state = { intervals: [], status: 'pending' };
      this.proxies.set(proxyId, state);
    }
    return state;
  }
}

/** Every connected proxy's workload and both ends of every edge, laid out by call depth. */
function nodesOf(proxies: readonly GraphProxy[], edges: readonly EdgeTotal[], status: (proxyId: string) => ScrapeStatus): GraphNodeJson[] {
  const refs = new Map<string, NodeRef>();
  const scrape = new Map<string, ScrapeStatus>();
  for (const p of proxies) {
    const ref = workloadNode(p.workload);
    refs.set(ref.id, ref);
    const s = status(p.id);
    const before = scrape.get(ref.id);
    // A workload's replicas: the worst status shows.
    scrape.set(ref.id, before === undefined || STATUS_ORDER.indexOf(s) > STATUS_ORDER.indexOf(before) ? s : before);
  }
  for (const ref of edges.flatMap((e) => [e.source, e.target])) {
    const known = refs.get(ref.id);
    if (known === undefined) refs.set(ref.id, ref);
    // A proxy's node metadata may lack the app/version labels its peers' reports carry.
    else if (known.app === '' && ref.app !== '') refs.set(ref.id, { ...known, app: ref.app, version: ref.version });
  }
  const place = layout([...refs.keys()], edges.map((e) => ({ source: e.source.id, target: e.target.id })));
  return [...refs.values()].sort((a, b) => a.id.localeCompare(b.id)).map((r) => ({ ...r, ...place.get(r.id)!, scrape: scrape.get(r.id) ?? 'none' }));
}

/**
 * Columns by call depth: a node nobody calls is in column 0, any other one column right of its deepest caller
 * (longest path, Kahn's order; a cycle is broken at its first node by id). Rows: by the lowest row among a
 * node's callers, then by id, so a caller's callees sit next to it. Deterministic for a given graph.
 */
export function layout(ids: readonly string[], edges: readonly { source: string; target: string }[]): Map<string, { column: number; row: number }> {
  const sorted = [...ids].sort();
  const callers = new Map<string, string[]>(sorted.map((id) => [id, []]));
  const callees = new Map<string, string[]>(sorted.map((id) => [id, []]));
  for (const e of edges) {
    if (e.source === e.target || !callers.has(e.target) || !callees.has(e.source)) continue;
    callers.get(e.target)!.push(e.source);
    callees.get(e.source)!.push(e.target);
  }
  const pending = new Map(sorted.map((id) => [id, callers.get(id)!.length]));
  const column = new Map<string, number>(sorted.map((id) => [id, 0]));
  const done = new Set<string>();
  const queue = sorted.filter((id) => pending.get(id) === 0);
  let head = 0;
  let cursor = 0;
  while (done.size < sorted.length) {
    let next: string;
    if (head < queue.length) {
      next = queue[head++]!;
    } else {
      // Only cycles are left: enter the first one by id.
      while (done.has(sorted[cursor]!)) cursor++;
      next = sorted[cursor]!;
    }
    if (done.has(next)) continue;
    done.add(next);
    for (const callee of callees.get(next)!) {
      if (done.has(callee)) continue;
      column.set(callee, Math.max(column.get(callee)!, column.get(next)! + 1));
      pending.set(callee, pending.get(callee)! - 1);
      if (pending.get(callee) === 0) queue.push(callee);
    }
  }
  const place = new Map<string, { column: number; row: number }>();
  const columns = Math.max(0, ...column.values()) + 1;
  for (let c = 0; c < columns; c++) {
    const here = sorted.filter((id) => column.get(id) === c);
    const firstCaller = new Map(here.map((id) => [id, Math.min(Infinity, ...callers.get(id)!.map((s) => place.get(s)?.row ?? Infinity))]));
    here.sort((a, b) => (firstCaller.get(a)! === firstCaller.get(b)! ? a.localeCompare(b) : firstCaller.get(a)! - firstCaller.get(b)!));
    here.forEach((id, row) => place.set(id, { column: c, row }));
  }
  return place;
}
