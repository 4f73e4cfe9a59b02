// Schema of the Telemetry spec (telemetry.istio.io v1alpha1/v1, one shape): which tracing and access log
// providers (named in the mesh config's extensionProviders) the selected workloads use, with the sampling
// percentage, span reporting switch and custom tags of tracing. Metrics overrides, CEL access log filters and
// targetRefs are not implemented: they are reported, never ignored.

import { z } from 'zod';
import { MatchLabelsSelectorSchema, istioEnum, istioMessage } from './istio-kit.ts';

const NS = 'istio.telemetry.v1';

/** Which side of a call an entry applies to: CLIENT (outbound listeners), SERVER (inbound), or both. */
export const WORKLOAD_MODES = ['CLIENT_AND_SERVER', 'CLIENT', 'SERVER'] as const;
export type WorkloadMode = (typeof WORKLOAD_MODES)[number];

const ProviderRefSchema = istioMessage(`${NS}.ProviderRef`, {
  name: z.string().min(1, 'a provider reference needs the name of a MeshConfig extensionProvider'),
});

const selector = (typeName: string) => istioMessage(`${NS}.${typeName}`, {
  mode: istioEnum(`${NS}.WorkloadMode`, WORKLOAD_MODES).default('CLIENT_AND_SERVER'),
});

/** A field Istio has whose effect nodevoy lacks: any value is a `not-implemented` error with the reason. */
const notImplemented = (message: string) => z.unknown().transform((_v, ctx) => {
  ctx.addIssue({ code: 'custom', params: { kind: 'not-implemented' }, message });
  return z.NEVER;
});

/**
 * A custom span tag as Istio writes it (Telemetry's istio.telemetry.v1.Tracing.CustomTag, and the mesh config's
 * istio.mesh.v1alpha1.Tracing.CustomTag, one shape): exactly one of literal, environment, header.
 */
export function customTagSchema(ns: string, unimplemented: readonly string[] = []) {
  const named = (typeName: string) => istioMessage(`${ns}.${typeName}`, {
    name: z.string().min(1, 'name is required'),
    defaultValue: z.string().optional(),
  });
  return istioMessage(`${ns}.CustomTag`, {
    literal: istioMessage(`${ns}.Literal`, { value: z.string() }).optional(),
    environment: named('Environment').optional(),
    header: named('RequestHeader').optional(),
  }, { unimplemented }).superRefine((t, ctx) => {
    const set = (['literal', 'environment', 'header'] as const).filter((k) => t[k] !== undefined);
    if (set.length !== 1) ctx.addIssue({ code: 'custom', message: `a custom tag needs exactly one of literal, environment, header (found ${set.length === 0 ? 'none' : set.join(', ')})` });
  });
}

const CustomTagSchema = customTagSchema(`${NS}.Tracing`, ['formatter']);

export type TelemetryCustomTag = z.output<typeof CustomTagSchema>;

const TracingSchema = istioMessage(`${NS}.Tracing`, {
  match: selector('Tracing.TracingSelector').optional(),
  /** Istio uses the first provider only (one tracer per proxy and direction). */
  providers: z.array(ProviderRefSchema).default([]),
  /** Absent: inherited, else the mesh config's defaultConfig.tracing.sampling (Istio's traceSampling, 1 %). */
  randomSamplingPercentage: z.number().min(0, 'randomSamplingPercentage must be in [0.0, 100.0]').max(100, 'randomSamplingPercentage must be in [0.0, 100.0]').optional(),
  disableSpanReporting: z.boolean().optional(),
  /** When set, replaces the parent level's tags entirely. */
  customTags: z.record(z.string(), CustomTagSchema).optional(),
  /** Istio's service tags (istio.canonical_service, …) on every span; default true. */
  enableIstioTags: z.boolean().optional(),
  useRequestIdForTraceSampling: z.boolean().superRefine((v, ctx) => {
    if (v) return;
    ctx.addIssue({ code: 'custom', params: { kind: 'not-implemented' },
      message: 'useRequestIdForTraceSampling: false needs Envoy\'s request_id_extension (UuidRequestIdConfig), which nodevoy does not implement: the sampling decision always comes from x-request-id' });
  }).optional(),
}, { unimplemented: ['disableContextPropagation'] });

export type TelemetryTracing = z.output<typeof TracingSchema>;

const AccessLoggingSchema = istioMessage(`${NS}.AccessLogging`, {
  match: selector('AccessLogging.LogSelector').optional(),
  providers: z.array(ProviderRefSchema).default([]),
  /** true turns the providers off; false is needed to turn back on what a parent level disabled. */
  disabled: z.boolean().optional(),
  filter: notImplemented('access log filter expressions (CEL) need Envoy\'s CEL access log filter, which nodevoy does not implement; leave the filter out to log every request').optional(),
});

export type TelemetryAccessLogging = z.output<typeof AccessLoggingSchema>;

export const TelemetrySpecSchema = istioMessage(`${NS}.Telemetry`, {
  /** Absent or empty: the whole namespace (the mesh, in the root namespace). */
  selector: MatchLabelsSelectorSchema.optional(),
  tracing: z.array(TracingSchema).default([]),
  accessLogging: z.array(AccessLoggingSchema).default([]),
  metrics: notImplemented('metrics overrides are not implemented: nodevoy\'s sidecars always report Istio\'s standard metrics with their standard labels (docs/observability.md)').optional(),
}, { unimplemented: ['targetRef', 'targetRefs'] });

export type TelemetrySpec = z.output<typeof TelemetrySpecSchema>;
