// Tracing in the HTTP connection manager (Envoy's ActiveStream::traceRequest and HttpTracerUtility): per
// stream, the sampling decision (written into x-request-id, charged to http.<stat_prefix>.tracing.*), the
// span started through the OpenTelemetry API, route decorators, context injection for the router, and the
// standard tags set when the stream ends. Built only when the HCM has a `tracing` block.

import { defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT, SpanKind, trace, type Span } from '@opentelemetry/api';
import type { Random } from '../common/clock.ts';
import { formatResponseFlags } from '../common/response-flags.ts';
import { firstValue, type HeaderMap, type RequestHeaders } from '../http/headers.ts';
import type { StreamInfo } from '../http/stream-info.ts';
import type { Route } from '../route/types.ts';
import { namedCounters, type NamedCounters } from '../stats/named-counters.ts';
import type { StatsScope } from '../stats/scope.ts';
import { mutateTracingRequestHeader, type TraceReason } from './request-id.ts';
import type { TracingDriver } from './tracer-manager.ts';
import type { TracingConfig } from './tracing-schema.ts';
import { TRACE_DECISION_KEY } from './zipkin-propagator.ts';

/** Envoy's ConnectionManagerTracingStats under `http.<stat_prefix>.tracing.`. */
const TRACING_STATS = ['random_sampling', 'service_forced', 'client_enabled', 'not_traceable', 'health_check'] as const;
export type TracingStats = NamedCounters<(typeof TRACING_STATS)[number]>;

export function tracingStats(hcmScope: StatsScope): TracingStats {
  return namedCounters(hcmScope.scope('tracing'), TRACING_STATS);
}

function chargeTracingStats(stats: TracingStats, reason: TraceReason): void {
  switch (reason) {
    case 'ClientForced': stats.client_enabled.inc(); break;
    case 'Sampling': stats.random_sampling.inc(); break;
    case 'ServiceForced': stats.service_forced.inc(); break;
    default: stats.not_traceable.inc();
  }
}

/** One HCM's tracing, resolved at config time. */
export interface HttpTracing {
  /** The listener's traffic_direction: OUTBOUND = egress (CLIENT spans), anything else ingress (SERVER spans). */
  readonly operation: 'ingress' | 'egress';
  readonly config: TracingConfig;
  /** null without a provider: requests are still sampled, no span is made (Envoy's null tracer). */
  readonly driver: TracingDriver | null;
  readonly stats: TracingStats;
  readonly random: Random;
  readonly nodeId: string;
  readonly zone: string;
  /** A cluster's observability name (alt_stat_name, else its name) for the upstream_cluster.name tag. */
  readonly observabilityName: (cluster: string) => string;
}

const DECORATOR_HEADER = 'x-envoy-decorator-operation';

/** Envoy's Utility::buildOriginalUri: x-forwarded-proto://host + the original path, cut at max_path_tag_length. */
function buildOriginalUri(request: RequestHeaders, maxPathLength: number): string {
  const h = request.headers;
  const path = firstValue(h, 'x-envoy-original-path') ?? request.path;
  return `${firstValue(h, 'x-forwarded-proto') ?? request.scheme}://${request.authority}${path.length > maxPathLength ? path.slice(0, maxPathLength) : path}`;
}

/** The IP of an `ip:port` address (peer.address). */
function ipOf(address: string): string {
  const colon = address.lastIndexOf(':');
  return colon < 0 ? address : address.slice(0, colon);
}

/** Verbose tracing's timing annotations (Envoy's Tracing::Logs) from the stream's monotonic marks. */
const VERBOSE_EVENTS: readonly (readonly [keyof StreamInfo, string])[] = [
  ['lastDownstreamRxByteReceived', 'last_downstream_rx_byte_received'],
  ['firstUpstreamTxByteSent', 'first_upstream_tx_byte_sent'],
  ['firstUpstreamRxByteReceived', 'first_upstream_rx_byte_received'],
  ['firstDownstreamTxByteSent', 'first_downstream_tx_byte_sent'],
  ['lastDownstreamTxByteSent', 'last_downstream_tx_byte_sent'],
];

/** A stream's trace: its span (null = a NullSpan) and the decorated operation for x-envoy-decorator-operation. */
export class StreamTrace {
  readonly reason: TraceReason;
  readonly span: Span | null;
  private readonly tracing: HttpTracing;
  private decoratedOperation: string | null = null;
  private decoratedPropagate = true;

  private constructor(tracing: HttpTracing, reason: TraceReason, span: Span | null) {
    this.tracing = tracing;
    this.reason = reason;
    this.span = span;
  }

  /**
   * After request header processing and routing: the sampling decision, then the span (its name the host,
   * or the route's decorator operation, or, on ingress, a caller's x-envoy-decorator-operation).
   */
  static start(tracing: HttpTracing, request: RequestHeaders, info: StreamInfo, route: Route | null): StreamTrace {
    const reason = mutateTracingRequestHeader(request.headers, tracing.config.sampling, tracing.random);
    chargeTracingStats(tracing.stats, reason);
    const driver = tracing.driver;
    let span: Span | null = null;
    if (driver !== null) {
      const context = driver.propagator.extract(ROOT_CONTEXT.setValue(TRACE_DECISION_KEY, reason !== 'NotTraceable'), request.headers, defaultTextMapGetter);
      const kind = tracing.operation === 'egress' ? SpanKind.CLIENT : SpanKind.SERVER;
      span = driver.tracer.startSpan(request.authority, { kind, startTime: info.startTime }, context);
      span.setAttribute('node_id', tracing.nodeId);
      span.setAttribute('zone', tracing.zone);
    }
    const stream = new StreamTrace(tracing, reason, span);
    stream.decorate(request.headers, route);
    return stream;
  }

  private decorate(headers: HeaderMap, route: Route | null): void {
    const decorator = route?.decorator;
    if (decorator) {
      this.span?.updateName(decorator.operation);
      this.decoratedPropagate = decorator.propagate;
      this.decoratedOperation = decorator.operation;
    }
    if (this.tracing.operation === 'egress') {
      // The callee's ingress proxy names its server span after this route's operation.
      if (this.decoratedOperation !== null && this.decoratedPropagate) headers[DECORATOR_HEADER] = this.decoratedOperation;
      return;
    }
    const override = firstValue(headers, DECORATOR_HEADER);
    if (override === undefined) return;
    if (override !== '') {
      this.span?.updateName(override);
      this.decoratedOperation = null;
    }
    delete headers[DECORATOR_HEADER];
  }

  /** The router writes the span's context into the upstream request (x-b3-*, traceparent). */
  injectContext(headers: HeaderMap): void {
    const span = this.span;
    if (span !== null) this.tracing.driver?.propagator.inject(trace.setSpan(ROOT_CONTEXT, span), headers, defaultTextMapSetter);
  }

  /** Response headers on their way downstream: the decorator operation is returned to (or taken from) the other side. */
  encodeHeaders(headers: HeaderMap): void {
    if (this.tracing.operation === 'ingress') {
      if (this.decoratedOperation !== null && this.decoratedPropagate) headers[DECORATOR_HEADER] = this.decoratedOperation;
      return;
    }
    const override = firstValue(headers, DECORATOR_HEADER);
    if (override === undefined) return;
    if (override !== '') this.span?.updateName(override);
    delete headers[DECORATOR_HEADER];
  }

  /** HttpTracerUtility::finalizeDownstreamSpan: the standard tags, then the span ends (and is reported if sampled). */
  finish(request: RequestHeaders, info: StreamInfo): void {
    const span = this.span;
    if (span === null) return;
    const { config, observabilityName } = this.tracing;
    const h = request.headers;
    const requestId = firstValue(h, 'x-request-id');
    if (requestId !== undefined) span.setAttribute('guid:x-request-id', requestId);
    span.setAttribute('http.url', buildOriginalUri(request, config.maxPathTagLength));
    span.setAttribute('http.method', request.method);
    span.setAttribute('downstream_cluster', firstValue(h, 'x-envoy-downstream-service-cluster') ?? '-');
    span.setAttribute('user_agent', firstValue(h, 'user-agent') ?? '-');
    span.setAttribute('http.protocol', info.protocol);
    span.setAttribute('peer.address', ipOf(info.downstreamDirectRemoteAddress));
    const clientTraceId = firstValue(h, 'x-client-trace-id');
    if (clientTraceId !== undefined) span.setAttribute('guid:x-client-trace-id', clientTraceId);
    span.setAttribute('request_size', String(info.bytesReceived));
    span.setAttribute('response_size', String(info.bytesSent));
    // HttpTracerUtility::setCommonTags
    span.setAttribute('component', 'proxy');
    if (info.upstreamCluster !== '') {
      span.setAttribute('upstream_cluster', info.upstreamCluster);
      span.setAttribute('upstream_cluster.name', observabilityName(info.upstreamCluster));
    }
    span.setAttribute('http.status_code', String(info.responseCode));
    span.setAttribute('response_flags', formatResponseFlags(info.responseFlags));
    if (config.verbose) {
      for (const [mark, event] of VERBOSE_EVENTS) {
        const at = info[mark];
        if (typeof at === 'number') span.addEvent(event, info.startTime + (at - info.startMonotonic));
      }
    }
    if (info.responseCode === 0 || (info.responseCode >= 500 && info.responseCode < 600)) span.setAttribute('error', 'true');
    for (const tag of config.customTags) {
      const value = tag.kind === 'literal' ? tag.value : firstValue(h, tag.header) ?? tag.defaultValue;
      if (value !== '') span.setAttribute(tag.tag, value);
    }
    span.end();
  }
}
