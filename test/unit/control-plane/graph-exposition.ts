// Istio's request metrics as a sidecar's /stats/prometheus prints them, built from a few facts per series, for the
// mesh graph's tests (scripted scrapes).

/** Envoy's default histogram buckets (Istio's). */
const BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

/** One series group of a sidecar's exposition: cumulative values, as the sidecar would print them at that moment. */
export interface Series {
  readonly reporter: 'source' | 'destination';
  /** Workload names (app = the part before `-v`); 'unknown' as Istio prints an unknown peer. */
  readonly from: string;
  readonly to: string;
  /** The service called (default: the app of `to`). */
  readonly service?: string;
  readonly code?: number;
  /** Requests so far, and each one's duration in ms (default: all 2 ms). */
  readonly count: number;
  readonly durations?: readonly number[];
}

export const appOf = (workload: string): string => (workload === 'unknown' ? 'unknown' : workload.replace(/-v\d+$/, ''));
export const versionOf = (workload: string): string => /-(v\d+)$/.exec(workload)?.[1] ?? 'unknown';

function labels(s: Series): string {
  const service = s.service ?? appOf(s.to);
  const side = (name: string, w: string): string =>
    `${name}_workload="${w}",${name}_workload_namespace="${w === 'unknown' ? 'unknown' : 'default'}",${name}_app="${appOf(w)}",${name}_version="${versionOf(w)}"`;
  return `reporter="${s.reporter}",${side('source', s.from)},${side('destination', s.to)},destination_service="${service}.default.svc.cluster.local",`
    + `destination_service_name="${service}",destination_service_namespace="default",response_code="${s.code ?? 200}",response_flags="-"`;
}

export function exposition(series: readonly Series[]): string {
  const lines = ['# TYPE istio_requests_total counter'];
  for (const s of series) lines.push(`istio_requests_total{${labels(s)}} ${s.count}`);
  lines.push('# TYPE istio_request_duration_milliseconds histogram');
  for (const s of series) {
    const durations = s.durations ?? times(s.count, 2);
    for (const le of [...BUCKETS, Infinity]) {
      lines.push(`istio_request_duration_milliseconds_bucket{le="${le === Infinity ? '+Inf' : le}",${labels(s)}} ${durations.filter((d) => d <= le).length}`);
    }
    lines.push(`istio_request_duration_milliseconds_sum{${labels(s)}} ${durations.reduce((a, b) => a + b, 0)}`);
    lines.push(`istio_request_duration_milliseconds_count{${labels(s)}} ${s.count}`);
  }
  return `${lines.join('\n')}\n`;
}

/** n requests of ms each. */
export const times = (n: number, ms: number): number[] => Array.from({ length: n }, () => ms);
