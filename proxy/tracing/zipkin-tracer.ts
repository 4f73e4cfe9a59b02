// Envoy's Zipkin tracer behind the @opentelemetry/api Tracer interface: starts a root span, a child of
// the caller's span (egress, or ingress without shared_span_context), or a server span sharing the caller's
// span id (ingress with shared_span_context), keeping the trace id and the sampled flag. Ids come from the
// injected Random, times from the injected Clock.

import { context as otelContext, INVALID_SPAN_CONTEXT, ROOT_CONTEXT, SpanKind, trace, type Context, type Span, type SpanOptions, type Tracer } from '@opentelemetry/api';
import type { Random } from '../common/clock.ts';
import { TRACE_DECISION_KEY, ZIPKIN_EXTRACTION_KEY, type ZipkinExtraction } from './zipkin-propagator.ts';
import { timeInputMs, ZipkinSpan, type ZipkinSpanSettings } from './zipkin-span.ts';

export interface ZipkinTracerSettings extends ZipkinSpanSettings {
  readonly random: Random;
  /** trace_id_128bit: new traces get a random high half. */
  readonly traceId128bit: boolean;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

type ActiveSpanFn = (span: Span) => unknown;

export class ZipkinTracer implements Tracer {
  private readonly settings: ZipkinTracerSettings;

  constructor(settings: ZipkinTracerSettings) {
    this.settings = settings;
  }

  /** Envoy's random(): a uniform 64-bit id as 16 hex digits. */
  private randomId(): string {
    const r = this.settings.random;
    return hex8(r.nextUint32()) + hex8(r.nextUint32());
  }

  /**
   * `options.kind` CLIENT = egress (the listener's traffic_direction OUTBOUND), anything else ingress.
   * The Context carries the local decision (TRACE_DECISION_KEY) and what ZipkinPropagator extracted.
   */
  startSpan(name: string, options: SpanOptions = {}, context: Context = ROOT_CONTEXT): Span {
    const extraction = context.getValue(ZIPKIN_EXTRACTION_KEY) as ZipkinExtraction | undefined;
    if (extraction?.invalid === true) return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    const decision = context.getValue(TRACE_DECISION_KEY);
    const sampled = extraction?.sampled ?? (decision === undefined || decision === true);
    const kind = options.kind === SpanKind.CLIENT ? 'CLIENT' : 'SERVER';
    const startTimeMs = options.startTime === undefined ? this.settings.clock.now() : timeInputMs(options.startTime);
    const parent = extraction?.parent ?? null;
    let ids: { traceIdHigh: string; traceId: string; spanId: string; parentId: string };
    if (parent === null) {
      const id = this.randomId();
      ids = { traceIdHigh: this.settings.traceId128bit ? this.randomId() : '', traceId: id, spanId: id, parentId: '' };
    } else if (kind === 'CLIENT' || !this.settings.sharedSpanContext) {
      ids = { traceIdHigh: parent.traceIdHigh, traceId: parent.traceId, spanId: this.randomId(), parentId: parent.spanId };
    } else {
      // Zipkin's shared span: the server side of the caller's span, same id and parent.
      ids = { traceIdHigh: parent.traceIdHigh, traceId: parent.traceId, spanId: parent.spanId, parentId: parent.parentId };
    }
    const span = new ZipkinSpan({ name, kind, sampled, startTimeMs, ...ids }, this.settings);
    if (options.attributes) span.setAttributes(options.attributes);
    return span;
  }

  startActiveSpan<F extends ActiveSpanFn>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends ActiveSpanFn>(name: string, options: SpanOptions, fn: F): ReturnType<F>;
  startActiveSpan<F extends ActiveSpanFn>(name: string, options: SpanOptions, context: Context, fn: F): ReturnType<F>;
  startActiveSpan<F extends ActiveSpanFn>(name: string, ...args: [F] | [SpanOptions, F] | [SpanOptions, Context, F]): ReturnType<F> {
    const fn = args[args.length - 1] as F;
    const options = args.length > 1 ? args[0] as SpanOptions : {};
    const parent = args.length === 3 ? args[1] : otelContext.active();
    const span = this.startSpan(name, options, parent);
    return otelContext.with(trace.setSpan(parent, span), () => fn(span)) as ReturnType<F>;
  }
}
