// Building blocks for Istio resource schemas (zod): strict lowerCamelCase messages whose unknown and
// unimplemented fields are errors naming Istio's type, Istio's duration strings (→ ms), percentages,
// enums by name and StringMatch. Envoy's snake_case handling (proxy/config/schema-kit.ts) does not apply.

import { z } from 'zod';
import { snakeCase, StrayField, strayCheck } from '../../proxy/config/schema-kit.ts';

export interface IstioMessageOptions {
  /** Istio fields of this message nodevoy does not implement: present → `not-implemented` error. */
  readonly unimplemented?: readonly string[];
}

/**
 * An Istio proto message as Kubernetes YAML writes it: lowerCamelCase field names only. `typeName` is
 * Istio's proto name (e.g. `istio.networking.v1.HTTPRetry`); fields outside `shape` are errors.
 */
export function istioMessage<S extends z.ZodRawShape>(typeName: string, shape: S, opts: IstioMessageOptions = {}) {
  const unimplemented = new Set(opts.unimplemented ?? []);
  const known = new Set(Object.keys(shape));
  // A snake_case spelling of a known field gets a hint: Istio's YAML is lowerCamelCase only.
  const bySnake = new Map([...known].map((f) => [snakeCase(f), f]));
  const object = z.object(shape).catchall(strayCheck);
  return z.preprocess((input) => {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
    const out: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(input as Record<string, unknown>)) {
      if (known.has(field)) {
        out[field] = value;
      } else if (unimplemented.has(field)) {
        out[field] = new StrayField('not-implemented',
          `field "${field}" of ${typeName} is valid Istio config but nodevoy does not implement it`);
      } else {
        const camel = bySnake.get(field);
        out[field] = new StrayField('unknown-field', `unknown field "${field}": ${typeName} has no such field` +
          (camel === undefined ? '' : ` (Istio fields are lowerCamelCase: "${camel}")`));
      }
    }
    return out;
  }, object) as unknown as z.ZodType<z.output<z.ZodObject<S, z.core.$strip>>, unknown>;
}

/** Go's time.ParseDuration units, in milliseconds. */
const UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;

/**
 * Parses an Istio duration string ("5s", "100ms", "1m", "1h", "2.5s", "1h30m": Go's time.ParseDuration
 * syntax, which Istio's YAML accepts for google.protobuf.Duration) to milliseconds; undefined if malformed.
 */
export function parseIstioDuration(text: string): number | undefined {
  if (text === '0') return 0;
  DURATION_PART.lastIndex = 0;
  let ms = 0;
  let end = 0;
  for (let m = DURATION_PART.exec(text); m !== null; m = DURATION_PART.exec(text)) {
    ms += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? Number.NaN);
    end = DURATION_PART.lastIndex;
  }
  return end === text.length && end > 0 && Number.isFinite(ms) ? ms : undefined;
}

/**
 * A duration in milliseconds, at least `minMs`. Istio's ValidateDuration also requires millisecond
 * precision ("only durations to ms precision are supported").
 */
export function istioDuration(minMs = 0) {
  return z.string({ error: 'a duration must be a string like "5s", "100ms" or "1m"' }).transform((text, ctx) => {
    const ms = parseIstioDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration (expected e.g. "5s", "100ms", "1m", "1h", "2.5s")` });
      return z.NEVER;
    }
    if (!Number.isInteger(Math.round(ms * 1e6) / 1e6)) {
      ctx.addIssue({ code: 'custom', message: `"${text}": only durations to ms precision are supported` });
      return z.NEVER;
    }
    if (ms < minMs) {
      ctx.addIssue({ code: 'custom', message: `"${text}": duration must be at least ${minMs}ms` });
      return z.NEVER;
    }
    return Math.round(ms);
  });
}

/** An Istio proto enum written by name; `unimplemented` are Istio's other values (→ not-implemented). */
export function istioEnum<const V extends readonly [string, ...string[]]>(typeName: string, implemented: V,
  unimplemented: readonly string[] = []) {
  return z.unknown().transform((raw, ctx): V[number] => {
    if (typeof raw === 'string' && (implemented as readonly string[]).includes(raw)) return raw as V[number];
    if (typeof raw === 'string' && unimplemented.includes(raw)) {
      ctx.addIssue({ code: 'custom', params: { kind: 'not-implemented' },
        message: `${typeName} value ${raw} is valid Istio config but nodevoy does not implement it` });
    } else {
      ctx.addIssue({ code: 'custom',
        message: `${JSON.stringify(raw)} is not a ${typeName} value (expected one of ${[...implemented, ...unimplemented].join(', ')})` });
    }
    return z.NEVER;
  });
}

/** uint32 as Kubernetes YAML writes it (a number). */
export const istioUint32 = z.number().int().min(0).max(0xffff_ffff);

/** A port number, 1-65535 (Istio's ValidatePort). */
export const portNumber = z.number().int().min(1, 'port number must be in 1-65535').max(65535, 'port number must be in 1-65535');

/** istio.networking.v1.Percent: a double in [0, 100]. */
export const PercentSchema = istioMessage('istio.networking.v1.Percent', {
  value: z.number().min(0, 'percentage must be in [0, 100]').max(100, 'percentage must be in [0, 100]'),
});

/** Labels: string → string (Kubernetes label values are strings; YAML `true` must be quoted). */
export const labelsSchema = z.record(z.string(), z.string({ error: 'a label value must be a string (quote it)' }));

/** istio.networking.v1.StringMatch: exactly one of exact, prefix, regex (RE2; checked as a JS RegExp). */
export const StringMatchSchema = istioMessage('istio.networking.v1.StringMatch', {
  exact: z.string().optional(),
  prefix: z.string().optional(),
  // "*" is not a regex: Istio's translation reads it as "present" (canBeConvertedToPresentMatch).
  regex: z.string().refine((r) => r === '*' || isRegExp(r), 'regex does not compile').optional(),
}).superRefine((m, ctx) => {
  const set = (['exact', 'prefix', 'regex'] as const).filter((k) => m[k] !== undefined);
  if (set.length !== 1) {
    ctx.addIssue({ code: 'custom', message: `a StringMatch needs exactly one of exact, prefix, regex (found ${set.length === 0 ? 'none' : set.join(', ')})` });
  }
});

export type StringMatch = z.output<typeof StringMatchSchema>;

function isRegExp(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

/** istio.type.v1beta1.WorkloadSelector (matchLabels in security APIs; `labels` in networking ones). */
export const WorkloadSelectorSchema = istioMessage('istio.networking.v1.WorkloadSelector', {
  labels: labelsSchema,
});

/**
 * istio.type.v1beta1.WorkloadSelector of the security APIs (`matchLabels`). Istio's validateWorkloadSelector:
 * no empty key and no wildcard in a key or value.
 */
export const MatchLabelsSelectorSchema = istioMessage('istio.type.v1beta1.WorkloadSelector', {
  matchLabels: labelsSchema.superRefine((labels, ctx) => {
    for (const [k, v] of Object.entries(labels)) {
      if (k === '') ctx.addIssue({ code: 'custom', path: [k], message: `empty key is not supported in selector: "${k}=${v}"` });
      if (k.includes('*') || v.includes('*')) ctx.addIssue({ code: 'custom', path: [k], message: `wildcard is not supported in selector: "${k}=${v}"` });
    }
  }).default({}),
});
