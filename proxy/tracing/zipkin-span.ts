// A Zipkin span behind the @opentelemetry/api Span interface (Envoy's Zipkin::Span): ids, CLIENT/SERVER
// kind, tags (attributes), annotations (events), and its Zipkin v2 JSON form as Envoy's JsonV2Serializer
// writes it. Ending a sampled span hands it to the tracer's sink (the reporter); nothing else is sent here.

import { SpanStatusCode, TraceFlags, type Exception, type Span, type SpanAttributes, type SpanAttributeValue, type SpanContext, type SpanStatus, type TimeInput } from '@opentelemetry/api';
import type { Clock } from '../common/clock.ts';
import { traceIdHex } from './b3.ts';

/** Where finished sampled spans go (the reporter). */
export interface SpanSink {
  report(span: ZipkinSpan): void;
}

/** Zipkin v2 Endpoint: the proxy's service name (node.cluster) and local address. */
export interface ZipkinEndpoint {
  readonly serviceName?: string;
  readonly ipv4?: string;
  readonly ipv6?: string;
  readonly port: number;
}

/** What every span of one tracer shares. */
export interface ZipkinSpanSettings {
  readonly localEndpoint: ZipkinEndpoint;
  /** shared_span_context: SERVER spans are marked `shared` (Envoy's serializer does so for every finished one). */
  readonly sharedSpanContext: boolean;
  readonly clock: Clock;
  readonly sink: SpanSink | null;
}

/** A new span's ids and kind, and its name and wall-clock start in ms (the stream's start, as Envoy's annotation timestamp). */
export type ZipkinSpanInit = Pick<ZipkinSpan, 'name' | 'kind' | 'traceIdHigh' | 'traceId' | 'spanId' | 'parentId' | 'sampled'> & { readonly startTimeMs: number };

export interface ZipkinAnnotation {
  readonly timestamp: number;
  readonly value: string;
}

/** OpenTelemetry TimeInput (epoch ms, Date or HrTime) in epoch ms. */
export function timeInputMs(t: TimeInput): number {
  if (typeof t === 'number') return t;
  if (t instanceof Date) return t.getTime();
  return t[0] * 1000 + t[1] / 1e6;
}

function isTimeInput(v: unknown): v is TimeInput {
  return typeof v === 'number' || v instanceof Date || Array.isArray(v);
}

export class ZipkinSpan implements Span {
  name: string;
  readonly kind: 'CLIENT' | 'SERVER';
  /** 16 hex digits, '' for a 64-bit trace id. */
  readonly traceIdHigh: string;
  readonly traceId: string;
  readonly spanId: string;
  /** '' = no parent. */
  readonly parentId: string;
  readonly sampled: boolean;
  /** Microseconds since the epoch. */
  readonly timestamp: number;
  /** Microseconds; set when the span ends. */
  duration: number | undefined;
  /** Envoy's tags (binary annotations): a later value for a key replaces the earlier one. */
  readonly tags = new Map<string, string>();
  annotations: ZipkinAnnotation[] | null = null;
  private readonly settings: ZipkinSpanSettings;
  private readonly startMonotonicMs: number;
  private ended = false;

  constructor(init: ZipkinSpanInit, settings: ZipkinSpanSettings) {
    this.name = init.name;
    this.kind = init.kind;
    this.traceIdHigh = init.traceIdHigh;
    this.traceId = init.traceId;
    this.spanId = init.spanId;
    this.parentId = init.parentId;
    this.sampled = init.sampled;
    this.timestamp = Math.round(init.startTimeMs * 1000);
    this.settings = settings;
    this.startMonotonicMs = settings.clock.monotonicMs();
  }

  spanContext(): SpanContext {
    return { traceId: traceIdHex(this).padStart(32, '0'), spanId: this.spanId, traceFlags: this.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE };
  }

  /** Envoy's Span::setTag: tags with an empty name or value are not recorded. */
  setAttribute(key: string, value: SpanAttributeValue): this {
    const v = Array.isArray(value) ? value.join(',') : value === undefined || value === null ? '' : String(value);
    if (key !== '' && v !== '') this.tags.set(key, v);
    return this;
  }

  setAttributes(attributes: SpanAttributes): this {
    for (const [k, v] of Object.entries(attributes)) if (v !== undefined) this.setAttribute(k, v);
    return this;
  }

  /** Envoy's Span::log: a timestamped annotation (verbose tracing's timing events). */
  addEvent(name: string, attributesOrStartTime?: SpanAttributes | TimeInput, startTime?: TimeInput): this {
    const t = isTimeInput(attributesOrStartTime) ? attributesOrStartTime : startTime;
    const ms = t === undefined ? this.settings.clock.now() : timeInputMs(t);
    (this.annotations ??= []).push({ timestamp: Math.round(ms * 1000), value: name });
    return this;
  }

  /** Zipkin v2 has no links. */
  addLink(): this {
    return this;
  }

  addLinks(): this {
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (status.code === SpanStatusCode.ERROR) this.tags.set('error', 'true');
    return this;
  }

  /** Envoy's setOperation (a route decorator or x-envoy-decorator-operation): the Zipkin span name. */
  updateName(name: string): this {
    this.name = name;
    return this;
  }

  recordException(_exception: Exception, time?: TimeInput): void {
    this.tags.set('error', 'true');
    if (time !== undefined) this.addEvent('exception', time);
  }

  /** Envoy's finishSpan: the duration from the span's monotonic start, then, if sampled, the report. */
  end(endTime?: TimeInput): void {
    if (this.ended) return;
    this.ended = true;
    const ms = endTime === undefined
      ? this.settings.clock.monotonicMs() - this.startMonotonicMs
      : timeInputMs(endTime) - this.timestamp / 1000;
    this.duration = Math.max(0, Math.round(ms * 1000));
    if (this.sampled) this.settings.sink?.report(this);
  }

  isRecording(): boolean {
    return this.sampled && !this.ended;
  }

  /** Zipkin API v2 JSON (one span: Envoy writes one per CS/SR annotation, and its spans carry exactly one). */
  toJsonV2(): Record<string, unknown> {
    const out: Record<string, unknown> = { traceId: traceIdHex(this) };
    if (this.parentId !== '') out.parentId = this.parentId;
    out.id = this.spanId;
    out.kind = this.kind;
    if (this.name !== '') out.name = this.name;
    out.timestamp = this.timestamp;
    if (this.duration !== undefined) out.duration = this.duration;
    out.localEndpoint = this.settings.localEndpoint;
    if (this.tags.size > 0) out.tags = Object.fromEntries(this.tags);
    if (this.annotations !== null) out.annotations = this.annotations;
    // JsonV2Serializer: `shared` on a SERVER span once it has its SS annotation, i.e. after finish.
    if (this.kind === 'SERVER' && this.settings.sharedSpanContext && this.ended) out.shared = true;
    return out;
  }
}
