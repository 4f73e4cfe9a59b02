// The Zipkin tracer's context propagation as an @opentelemetry/api TextMapPropagator: extract() reads B3
// (and, with USE_B3_WITH_W3C_PROPAGATION, traceparent) into the Context for ZipkinTracer.startSpan;
// inject() writes the active ZipkinSpan's ids into the upstream request (Envoy's injectContext).

import { createContextKey, trace, type Context, type TextMapGetter, type TextMapPropagator, type TextMapSetter } from '@opentelemetry/api';
import { B3ExtractionError, B3_FIELDS, extractContext, extractSampled, injectB3, type B3Context } from './b3.ts';
import { ZipkinSpan } from './zipkin-span.ts';

/** The HCM's local decision (Envoy's Tracing::Decision.traced), set in the Context the span starts from. */
export const TRACE_DECISION_KEY = createContextKey('nodevoy.tracing.decision');

/** What extract() found in the request headers. */
export interface ZipkinExtraction {
  /** The sampling decision the headers carry; undefined = none (the local decision applies). */
  readonly sampled: boolean | undefined;
  /** The caller's span context; null = start a root span. */
  readonly parent: B3Context | null;
  /** Malformed B3 ids: Envoy starts no span at all (NullSpan), so nothing is reported or injected. */
  readonly invalid: boolean;
}

export const ZIPKIN_EXTRACTION_KEY = createContextKey('nodevoy.tracing.zipkin.extraction');

const INVALID: ZipkinExtraction = Object.freeze({ sampled: undefined, parent: null, invalid: true });

export class ZipkinPropagator<Carrier = unknown> implements TextMapPropagator<Carrier> {
  private readonly w3c: boolean;

  constructor(w3c: boolean) {
    this.w3c = w3c;
  }

  inject(context: Context, carrier: Carrier, setter: TextMapSetter<Carrier>): void {
    const span = trace.getSpan(context);
    if (!(span instanceof ZipkinSpan)) return;
    injectB3((name, value) => setter.set(carrier, name, value), span, this.w3c);
  }

  extract(context: Context, carrier: Carrier, getter: TextMapGetter<Carrier>): Context {
    const get = (name: string): string | undefined => {
      const v = getter.get(carrier, name);
      return Array.isArray(v) ? v[0] : v;
    };
    let extraction: ZipkinExtraction;
    try {
      const sampled = extractSampled(get, this.w3c);
      extraction = { sampled, parent: extractContext(get, this.w3c), invalid: false };
    } catch (err) {
      if (!(err instanceof B3ExtractionError)) throw err;
      extraction = INVALID;
    }
    return context.setValue(ZIPKIN_EXTRACTION_KEY, extraction);
  }

  fields(): string[] {
    return this.w3c ? [...B3_FIELDS, 'traceparent'] : [...B3_FIELDS];
  }
}
