// Building blocks for Envoy v3 config schemas (zod): messages that accept snake_case and lowerCamelCase,
// reject unknown fields and unimplemented Envoy fields with different wording, protobuf JSON scalars
// (Duration strings, wrappers, enums by name, 64-bit ints as strings) and `Any` typed configs.
// Translation code works on the parsed (snake_case) output; zod issues become ConfigErrors with paths.

import { z } from 'zod';
import { joinPath, type ConfigError, type ConfigErrorKind, type Result } from '../common/result.ts';

/**
 * A field name as written that did not land in the message's shape; reported by the catchall. Shared by
 * every strict message builder (Envoy's here, Istio's in control-plane/istio/istio-kit.ts).
 */
export class StrayField {
  readonly kind: ConfigErrorKind;
  readonly message: string;
  constructor(kind: ConfigErrorKind, message: string) {
    this.kind = kind;
    this.message = message;
  }
}

/** The catchall of a strict message: turns StrayField values into issues with their kind. */
export const strayCheck = z.unknown().superRefine((v, ctx) => {
  if (v instanceof StrayField) ctx.addIssue({ code: 'custom', message: v.message, params: { kind: v.kind } });
});

export function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * protobuf's json_name for a field: the letter after each `_` upper-cased, digits kept
 * (`proxy_100_continue` → `proxy100Continue`, which snakeCase cannot invert).
 */
export function jsonName(field: string): string {
  return field.replace(/_([^_])/g, (_m, c: string) => c.toUpperCase());
}

export interface MessageOptions {
  /** Envoy fields of this message that nodevoy does not implement: present → `not-implemented` error. */
  readonly unimplemented?: readonly string[];
}

/**
 * An Envoy proto message. `typeName` is the proto's full name (for messages); `shape` lists the fields
 * nodevoy implements, in snake_case. The parsed value always has snake_case keys.
 */
export function message<S extends z.ZodRawShape>(typeName: string, shape: S, opts: MessageOptions = {}) {
  const unimplemented = new Set(opts.unimplemented ?? []);
  const known = new Set(Object.keys(shape));
  // Each field as it may be written (proto name or json_name) → its proto name.
  const fieldOf = new Map<string, string>();
  for (const f of [...known, ...unimplemented]) {
    fieldOf.set(f, f);
    fieldOf.set(jsonName(f), f);
  }
  const object = z.object(shape).catchall(strayCheck);
  return z.preprocess((input) => {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
    const out: Record<string, unknown> = {};
    for (const [written, value] of Object.entries(input as Record<string, unknown>)) {
      const key = fieldOf.get(written) ?? snakeCase(written);
      if (known.has(key)) {
        if (key in out) {
          out[written] = new StrayField('invalid', `field "${key}" is given twice (as snake_case and lowerCamelCase)`);
        } else {
          out[key] = value;
        }
      } else if (unimplemented.has(key)) {
        out[written] = new StrayField('not-implemented',
          `field "${key}" of ${typeName} is valid Envoy config but nodevoy does not implement it`);
      } else {
        out[written] = new StrayField('unknown-field', `unknown field "${written}": ${typeName} has no such field`);
      }
    }
    return out;
  }, object) as unknown as z.ZodType<z.output<typeof object>, unknown>;
}

/**
 * google.protobuf.Duration in its JSON form ("5s", "0.25s", "1.000340012s") or {seconds, nanos};
 * parsed to milliseconds.
 */
export const duration = z.union([
  z.string().regex(/^\d+(\.\d{1,9})?s$/, 'a Duration must look like "5s" or "0.25s"').transform((s) => Number(s.slice(0, -1)) * 1000),
  z.object({ seconds: z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)]).optional(), nanos: z.number().int().min(0).max(999_999_999).optional() })
    .strict().transform((d) => Number(d.seconds ?? 0) * 1000 + (d.nanos ?? 0) / 1e6),
], { error: 'a Duration must be a string like "5s" or "0.25s" (or {seconds, nanos})' });

/** Duration that must be > 0. */
export const positiveDuration = duration.refine((ms) => ms > 0, 'must be greater than 0s');

/** UInt32Value / uint32 (protobuf JSON accepts numbers and numeric strings). */
export const uint32 = z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)])
  .pipe(z.number().int().min(0).max(0xffff_ffff));

/** uint64 / int64: JSON allows strings; values stay numbers (safe-integer range). */
export const uint64 = z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)])
  .pipe(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER));

export const int64 = z.union([z.number(), z.string().regex(/^-?\d+$/).transform(Number)])
  .pipe(z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER));

/** BoolValue / bool. */
export const bool = z.boolean();

/** google.protobuf.Struct: opaque, keys kept as written. */
export const struct = z.record(z.string(), z.unknown());

/**
 * A proto enum by name (numbers are accepted as protobuf JSON allows). `implemented` are the values
 * nodevoy supports; `unimplemented` are Envoy's other values (→ not-implemented, not "invalid").
 */
export function enumOf<const V extends readonly [string, ...string[]]>(typeName: string, implemented: V,
  unimplemented: readonly string[] = [], numbering?: readonly string[]) {
  const names = numbering ?? [...implemented, ...unimplemented];
  return z.union([z.string(), z.number().int()]).transform((raw, ctx): V[number] => {
    const name = typeof raw === 'number' ? names[raw] : raw;
    if (name !== undefined && (implemented as readonly string[]).includes(name)) return name as V[number];
    if (name !== undefined && unimplemented.includes(name)) {
      ctx.addIssue({ code: 'custom', message: `${typeName} value ${name} is valid Envoy config but nodevoy does not implement it`, params: { kind: 'not-implemented' } });
    } else {
      ctx.addIssue({ code: 'custom', message: `${String(raw)} is not a ${typeName} value (expected one of ${names.join(', ')})` });
    }
    return z.NEVER;
  });
}

/** Lookup for `Any` payloads: returns the schema for a type URL, or undefined when nodevoy lacks it. */
export type TypedConfigLookup = (typeUrl: string) => z.ZodType | undefined;

export interface TypedConfig<T = unknown> {
  readonly typeUrl: string;
  readonly config: T;
}

/**
 * The TypedStruct wrappers (udpa.type.v1 and its successor xds.type.v3): a message written as a Struct
 * `value` with its type in `type_url`. Istio's EnvoyFilters write filter configs this way; Envoy unwraps
 * them wherever it reads an Any (Config::Utility::translateOpaqueConfig).
 */
const TYPED_STRUCT_TYPE_URLS: ReadonlySet<string> = new Set([
  'type.googleapis.com/udpa.type.v1.TypedStruct',
  'type.googleapis.com/xds.type.v3.TypedStruct',
]);

const TypedStructSchema = message('xds.type.v3.TypedStruct', {
  type_url: z.string().min(1, 'type_url must name the proto type of value'),
  value: struct.optional(),
});

/** An `Any` resolved to the message it carries, TypedStruct unwrapped. */
export interface AnyPayload {
  /** The carried message's type URL: the Any's "@type", or a TypedStruct's type_url. */
  readonly typeUrl: string;
  /** The carried message's fields as written (an absent TypedStruct value is an empty message). */
  readonly fields: Record<string, unknown>;
  /** Where typeUrl and fields are written relative to the Any, for error paths. */
  readonly typeUrlPath: readonly string[];
  readonly fieldsPath: readonly string[];
}

/** `google.protobuf.Any` in JSON form, `{"@type": "type.googleapis.com/...", ...fields}`, not yet parsed. */
export function anyPayload(what: string): z.ZodType<AnyPayload, unknown> {
  return z.unknown().transform((input, ctx): AnyPayload => {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      ctx.addIssue({ code: 'custom', message: `${what} must be an object with "@type"` });
      return z.NEVER;
    }
    const { '@type': typeUrl, ...fields } = input as Record<string, unknown>;
    if (typeof typeUrl !== 'string') {
      ctx.addIssue({ code: 'custom', message: `${what} needs an "@type" naming its proto type` });
      return z.NEVER;
    }
    if (!TYPED_STRUCT_TYPE_URLS.has(typeUrl)) return { typeUrl, fields, typeUrlPath: ['@type'], fieldsPath: [] };
    const wrapper = TypedStructSchema.safeParse(fields);
    if (!wrapper.success) {
      forwardIssues(ctx, wrapper.error.issues);
      return z.NEVER;
    }
    return { typeUrl: wrapper.data.type_url, fields: wrapper.data.value ?? {}, typeUrlPath: ['type_url'], fieldsPath: ['value'] };
  });
}

/**
 * `google.protobuf.Any` parsed with the schema `lookup` gives for its type; a TypedStruct is parsed as
 * the message its type_url names, errors pathed under `value`.
 */
export function typedConfig(what: string, lookup: TypedConfigLookup): z.ZodType<TypedConfig, unknown> {
  return anyPayload(what).transform((any, ctx): TypedConfig => {
    const schema = lookup(any.typeUrl);
    if (!schema) {
      ctx.addIssue({ code: 'custom', path: [...any.typeUrlPath], message: `${what} type ${any.typeUrl} is not implemented by nodevoy`, params: { kind: 'not-implemented' } });
      return z.NEVER;
    }
    const parsed = schema.safeParse(any.fields);
    if (!parsed.success) {
      forwardIssues(ctx, parsed.error.issues, any.fieldsPath);
      return z.NEVER;
    }
    return { typeUrl: any.typeUrl, config: parsed.data };
  });
}

/**
 * Re-raises issues of a nested parse (an `Any` payload parsed with a schema chosen at parse time) on
 * `ctx`, under `prefix`, keeping each issue's kind.
 */
export function forwardIssues(ctx: z.RefinementCtx, issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): void {
  for (const issue of issues) {
    ctx.addIssue({ code: 'custom', message: messageOf(issue), path: [...prefix, ...issue.path], params: { kind: kindOf(issue) } });
  }
}

/** `a.b[0].c` → ['a', 'b', 0, 'c'] (a ConfigError path back into a zod issue path). */
function issuePath(path: string): (string | number)[] {
  return (path.match(/[^.[\]]+/g) ?? []).map((k) => (/^\d+$/.test(k) ? Number(k) : k));
}

/**
 * Re-raises the ConfigErrors of a translation run inside a transform (paths relative to the value being
 * transformed) as issues on `ctx`, under `prefix`, keeping each error's kind.
 */
export function addConfigErrors(ctx: z.RefinementCtx, errors: readonly ConfigError[], prefix: readonly PropertyKey[] = []): void {
  for (const e of errors) ctx.addIssue({ code: 'custom', path: [...prefix, ...issuePath(e.path)], message: e.message, params: { kind: e.kind } });
}

/**
 * A field nodevoy implements only with some values (usually Envoy's default): any other value is a
 * `not-implemented` error naming the field, rather than being silently ignored.
 */
export function onlyValues<T>(schema: z.ZodType<T, unknown>, allowed: readonly T[], field: string): z.ZodType<T, unknown> {
  return schema.superRefine((value, ctx) => {
    if (allowed.includes(value)) return;
    ctx.addIssue({
      code: 'custom',
      message: `${field}: ${JSON.stringify(value)} is valid Envoy config but nodevoy implements only ${allowed.map((v) => JSON.stringify(v)).join(' or ')}`,
      params: { kind: 'not-implemented' },
    });
  });
}

/** zod's wording for an absent required field ("expected object, received undefined") said plainly. */
function messageOf(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) return 'required field is missing';
  return issue.message;
}

function kindOf(issue: z.core.$ZodIssue): ConfigErrorKind {
  const kind = (issue as { params?: { kind?: ConfigErrorKind } }).params?.kind;
  return kind ?? 'invalid';
}

/** Converts zod issues into ConfigErrors rooted at `rootPath`. */
export function toConfigErrors(issues: readonly z.core.$ZodIssue[], rootPath = ''): ConfigError[] {
  return issues.map((issue) => ({
    path: issue.path.reduce<string>((p, k) => joinPath(p, typeof k === 'number' ? k : String(k)), rootPath),
    kind: kindOf(issue),
    message: messageOf(issue),
  }));
}

/** Parses `input` with `schema`, returning every problem as a ConfigError. */
export function parseWith<T>(schema: z.ZodType<T, unknown>, input: unknown, rootPath = ''): Result<T> {
  const r = schema.safeParse(input);
  return r.success ? { ok: true, value: r.data } : { ok: false, errors: toConfigErrors(r.error.issues, rootPath) };
}
