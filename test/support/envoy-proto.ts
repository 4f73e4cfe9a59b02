// Checks JSON (or YAML turned into data) against Envoy's own v3 protobuf definitions, as strictly as Envoy's
// JSON parser does for static config: every unknown field, bad scalar, enum name, Duration and Any @type is
// reported with its path. The .proto files come from node_modules/@grpc/grpc-js-xds/deps (never vendored), plus
// the config messages of Istio's filters (istio-protos.ts), which istio-proxy's Envoy build adds.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';
import type { Enum, Field, Root, Type } from 'protobufjs';
import { joinPath } from '../../proxy/common/result.ts';
import { ISTIO_PROTOS } from './istio-protos.ts';

const BOOTSTRAP = 'envoy.config.bootstrap.v3.Bootstrap';
/** protobuf's type resolver only accepts Any type URLs with this prefix (the part after it is the type name). */
const TYPE_URL_PREFIX = 'type.googleapis.com/';

// ---------------------------------------------------------------------------------------------------------
// Loading: every envoy/**/*.proto whose imports are all present, so any Any @type can be looked up by name.

const require = createRequire(import.meta.url);
const protoDeps = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
/** Import roots, in protoc -I order; protobufjs's own folder supplies google/protobuf/descriptor.proto. */
const includeDirs = [
  ...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((dir) => path.join(protoDeps, dir)),
  path.dirname(require.resolve('protobufjs/package.json')),
];
const bundledProtos = new Set(Object.keys(protobuf.common).filter((name) => name.endsWith('.proto')));
const importStatement = /^import\s+(?:public\s+|weak\s+)?"([^"]+)"/gm;

function locateProto(importPath: string): string | undefined {
  for (const dir of includeDirs) {
    const file = path.join(dir, importPath);
    if (existsSync(file)) return file;
  }
  return undefined;
}

/**
 * The package leaves out some imports (Envoy's v2 API, opencensus, prometheus, opentelemetry): a file is
 * loadable only if everything it imports, transitively, is present.
 */
function importsComplete(importPath: string, known: Map<string, boolean>): boolean {
  if (bundledProtos.has(importPath)) return true;
  const cached = known.get(importPath);
  if (cached !== undefined) return cached;
  const file = locateProto(importPath);
  known.set(importPath, file !== undefined); // provisional answer breaks import cycles
  if (file === undefined) return false;
  let complete = true;
  for (const match of readFileSync(file, 'utf8').matchAll(importStatement)) {
    if (!importsComplete(match[1]!, known)) complete = false;
  }
  known.set(importPath, complete);
  return complete;
}

let cachedRoot: Root | undefined;

/** Envoy's v3 API as a protobufjs Root (field names as in the .proto files); loaded once per process. */
export function envoyProtoRoot(): Root {
  if (cachedRoot) return cachedRoot;
  const known = new Map<string, boolean>();
  const envoyFiles = readdirSync(path.join(protoDeps, 'envoy-api', 'envoy'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.proto'))
    .map((file) => `envoy/${file.split(path.sep).join('/')}`);
  // No Envoy file imports the TypedStruct carriers, but typed_config may hold them.
  const entryFiles = [...envoyFiles, 'xds/type/v3/typed_struct.proto', 'udpa/type/v1/typed_struct.proto']
    .filter((file) => importsComplete(file, known));
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => locateProto(target) ?? target;
  root.loadSync(entryFiles.map((file) => locateProto(file)!), { keepCase: true });
  // Istio's filter configs (istio.stats, the peer metadata exchange): what the istio-proxy build of Envoy knows.
  for (const text of ISTIO_PROTOS) protobuf.parse(text, root, { keepCase: true });
  root.resolveAll();
  cachedRoot = root;
  return root;
}

// ---------------------------------------------------------------------------------------------------------
// The strict walk over the protobuf JSON mapping (https://protobuf.dev/programming-guides/json/).

/** Well-known types whose JSON form is not an object of their fields; inside an Any they sit under "value". */
const specialJsonTypes = new Set([
  'google.protobuf.Any', 'google.protobuf.Duration', 'google.protobuf.Timestamp', 'google.protobuf.FieldMask',
  'google.protobuf.Struct', 'google.protobuf.Value', 'google.protobuf.ListValue',
  'google.protobuf.DoubleValue', 'google.protobuf.FloatValue', 'google.protobuf.Int64Value',
  'google.protobuf.UInt64Value', 'google.protobuf.Int32Value', 'google.protobuf.UInt32Value',
  'google.protobuf.BoolValue', 'google.protobuf.StringValue', 'google.protobuf.BytesValue',
]);
/** Carriers of an untyped Struct plus a type URL, which Envoy converts (strictly) into the named message. */
const typedStructTypes = new Set(['xds.type.v3.TypedStruct', 'udpa.type.v1.TypedStruct']);

const integerRanges: Record<string, readonly [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n], sint32: [-(2n ** 31n), 2n ** 31n - 1n], sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n], fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n], sint64: [-(2n ** 63n), 2n ** 63n - 1n], sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n], fixed64: [0n, 2n ** 64n - 1n],
};
/** Duration's JSON form: seconds with up to 9 fractional digits and an "s" suffix, within ±10000 years. */
const durationPattern = /^-?(\d+)(\.\d{1,9})?s$/;
const maxDurationSeconds = 315_576_000_000n;
const timestampPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const base64Pattern = /^[A-Za-z0-9+/\-_]*={0,2}$/;

const fieldIndexes = new WeakMap<Type, Map<string, Field>>();

/** A message's fields by proto name and by JSON name (lowerCamelCase or an explicit json_name). */
function fieldIndex(type: Type): Map<string, Field> {
  let index = fieldIndexes.get(type);
  if (!index) {
    index = new Map();
    for (const field of type.fieldsArray) {
      index.set(field.name, field);
      index.set(field.jsonName, field);
    }
    fieldIndexes.set(type, index);
  }
  return index;
}

const fullName = (type: Type | Enum): string => type.fullName.replace(/^\./, '');
const describe = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'string' ? JSON.stringify(value) : typeof value === 'object' ? 'an object' : String(value));
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

class StrictWalk {
  readonly errors: string[] = [];
  private readonly root: Root;

  constructor(root: Root) {
    this.root = root;
  }

  private error(at: string, message: string): void {
    this.errors.push(`${at === '' ? '(root)' : at}: ${message}`);
  }

  message(type: Type, value: unknown, at: string): void {
    const name = fullName(type);
    if (specialJsonTypes.has(name)) {
      this.wellKnown(type, name, value, at);
      return;
    }
    if (!isObject(value)) {
      this.error(at, `expected an object for ${name}, got ${describe(value)}`);
      return;
    }
    this.fields(type, value, at, new Set());
  }

  /** Checks an object's keys as fields of `type`; `skip` holds keys handled by the caller (Any's "@type"). */
  private fields(type: Type, value: Record<string, unknown>, at: string, skip: ReadonlySet<string>): void {
    const index = fieldIndex(type);
    const seen = new Map<Field, string>();
    const oneofsSet = new Map<string, string>();
    for (const [key, fieldValue] of Object.entries(value)) {
      if (skip.has(key)) continue;
      const where = joinPath(at, key);
      const field = index.get(key);
      if (!field) {
        this.error(where, `unknown field "${key}" in ${fullName(type)}`);
        continue;
      }
      const sameField = seen.get(field);
      if (sameField !== undefined) {
        this.error(where, `field "${field.name}" given twice (as "${sameField}" and "${key}")`);
        continue;
      }
      seen.set(field, key);
      if (fieldValue === null) continue; // JSON null means "not set" for every field type
      // protobuf's JSON parser: "'x' has already been set (either directly or as part of a oneof)".
      const oneof = field.partOf;
      if (oneof) {
        const other = oneofsSet.get(oneof.name);
        if (other !== undefined) this.error(where, `oneof "${oneof.name}" is already set by "${other}"`);
        else oneofsSet.set(oneof.name, key);
      }
      this.fieldValue(field, fieldValue, where);
    }
  }

  private fieldValue(field: Field, value: unknown, at: string): void {
    if (field instanceof protobuf.MapField) {
      if (!isObject(value)) {
        this.error(at, `expected an object (map) for "${field.name}", got ${describe(value)}`);
        return;
      }
      const keyType = field.keyType;
      for (const [key, entry] of Object.entries(value)) {
        const where = joinPath(at, key);
        if (keyType === 'bool' ? key !== 'true' && key !== 'false' : keyType !== 'string' && !this.integerOk(keyType, key)) {
          this.error(where, `map key ${JSON.stringify(key)} is not a valid ${keyType}`);
        }
        this.singular(field, entry, where);
      }
    } else if (field.repeated) {
      if (!Array.isArray(value)) {
        this.error(at, `expected an array for repeated "${field.name}", got ${describe(value)}`);
        return;
      }
      value.forEach((element, i) => this.singular(field, element, joinPath(at, i)));
    } else {
      this.singular(field, value, at);
    }
  }

  private singular(field: Field, value: unknown, at: string): void {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) this.message(resolved, value, at);
    else if (resolved instanceof protobuf.Enum) this.enumValue(resolved, value, at);
    else this.scalar(field.type, value, at);
  }

  private enumValue(type: Enum, value: unknown, at: string): void {
    if (fullName(type) === 'google.protobuf.NullValue' && value === null) return;
    if (typeof value === 'string') {
      if (!Object.hasOwn(type.values, value)) {
        this.error(at, `unknown enum value ${JSON.stringify(value)} for ${fullName(type)} (one of ${Object.keys(type.values).join(', ')})`);
      }
      return;
    }
    // proto3 enums are open: any int32 number is accepted.
    if (!(typeof value === 'number' && this.integerOk('int32', value))) {
      this.error(at, `expected an enum name of ${fullName(type)}, got ${describe(value)}`);
    }
  }

  private scalar(protoType: string, value: unknown, at: string): void {
    const ok = (() => {
      if (protoType in integerRanges) return (typeof value === 'number' || typeof value === 'string') && this.integerOk(protoType, value);
      switch (protoType) {
        case 'double': case 'float':
          return typeof value === 'number' || (typeof value === 'string' && (/^(NaN|-?Infinity)$/.test(value) || (value.trim() !== '' && Number.isFinite(Number(value)))));
        case 'bool': return typeof value === 'boolean';
        case 'string': return typeof value === 'string';
        case 'bytes': return typeof value === 'string' && base64Pattern.test(value);
        default: return false;
      }
    })();
    if (!ok) this.error(at, `expected ${protoType}, got ${describe(value)}`);
  }

  /** Integers may be JSON numbers or decimal strings, within the type's range. */
  private integerOk(protoType: string, value: number | string): boolean {
    const range = integerRanges[protoType];
    if (!range) return false;
    let n: bigint;
    if (typeof value === 'number') {
      if (!Number.isInteger(value)) return false;
      n = BigInt(value);
    } else {
      if (!/^-?\d+$/.test(value)) return false;
      n = BigInt(value);
    }
    return n >= range[0] && n <= range[1];
  }

  private wellKnown(type: Type, name: string, value: unknown, at: string): void {
    switch (name) {
      case 'google.protobuf.Any': return this.any(value, at);
      case 'google.protobuf.Duration': {
        const match = typeof value === 'string' ? durationPattern.exec(value) : null;
        if (!match) this.error(at, `expected a Duration string like "1.5s", got ${describe(value)}`);
        else if (BigInt(match[1]!) > maxDurationSeconds) this.error(at, `Duration ${value as string} is out of range`);
        return;
      }
      case 'google.protobuf.Timestamp':
        if (!(typeof value === 'string' && timestampPattern.test(value))) this.error(at, `expected an RFC 3339 Timestamp, got ${describe(value)}`);
        return;
      case 'google.protobuf.FieldMask':
        if (typeof value !== 'string') this.error(at, `expected a FieldMask string, got ${describe(value)}`);
        return;
      case 'google.protobuf.Struct':
        if (!isObject(value)) this.error(at, `expected an object for google.protobuf.Struct, got ${describe(value)}`);
        return;
      case 'google.protobuf.ListValue':
        if (!Array.isArray(value)) this.error(at, `expected an array for google.protobuf.ListValue, got ${describe(value)}`);
        return;
      case 'google.protobuf.Value':
        return; // any JSON value
      default: // the wrappers: the bare value of their single field
        this.singular(type.fields['value']!, value, at);
    }
  }

  private any(value: unknown, at: string): void {
    if (!isObject(value)) {
      this.error(at, `expected an object with "@type" for google.protobuf.Any, got ${describe(value)}`);
      return;
    }
    const typeUrl = value['@type'];
    const where = joinPath(at, '@type');
    if (typeof typeUrl !== 'string') {
      this.error(where, 'google.protobuf.Any needs a string "@type"');
      return;
    }
    const packed = this.typeForUrl(typeUrl, where);
    if (!packed) return;
    const name = fullName(packed);
    if (specialJsonTypes.has(name)) {
      for (const key of Object.keys(value)) {
        if (key !== '@type' && key !== 'value') this.error(joinPath(at, key), `unknown field "${key}" in an Any holding ${name} (only "value")`);
      }
      if (value['value'] !== undefined) this.wellKnown(packed, name, value['value'], joinPath(at, 'value'));
      return;
    }
    this.fields(packed, value, at, new Set(['@type']));
    if (typedStructTypes.has(name)) this.typedStruct(value, at);
  }

  /** Envoy unpacks a TypedStruct's `value` into the message named by its `type_url` (Config::Utility::translateOpaqueConfig). */
  private typedStruct(value: Record<string, unknown>, at: string): void {
    const typeUrl = value['type_url'] ?? value['typeUrl'];
    if (typeof typeUrl !== 'string') return;
    const target = this.typeForUrl(typeUrl, joinPath(at, 'type_url'));
    if (target) this.message(target, value['value'] ?? {}, joinPath(at, 'value'));
  }

  private typeForUrl(typeUrl: string, at: string): Type | undefined {
    if (!typeUrl.startsWith(TYPE_URL_PREFIX)) {
      this.error(at, `type URL ${JSON.stringify(typeUrl)} must start with "${TYPE_URL_PREFIX}"`);
      return undefined;
    }
    return this.lookupType(typeUrl.slice(TYPE_URL_PREFIX.length), at);
  }

  lookupType(name: string, at: string): Type | undefined {
    const found = this.root.lookup(`.${name}`);
    if (found instanceof protobuf.Type) return found;
    this.error(at, `no message type ${name} in Envoy's v3 protos`);
    return undefined;
  }
}

/**
 * Every problem in `json` read as the protobuf JSON mapping of `typeName` (a full message name such as
 * "envoy.config.cluster.v3.Cluster", or a type URL), each as "<path>: <message>"; [] when Envoy would accept it.
 */
export function validateEnvoyJson(typeName: string, json: unknown): string[] {
  const walk = new StrictWalk(envoyProtoRoot());
  const name = typeName.startsWith(TYPE_URL_PREFIX) ? typeName.slice(TYPE_URL_PREFIX.length) : typeName;
  const type = walk.lookupType(name, '');
  if (type) walk.message(type, json, '');
  return walk.errors;
}

/** validateEnvoyJson for a whole bootstrap file (what `envoy -c` reads). */
export function validateEnvoyBootstrap(json: unknown): string[] {
  return validateEnvoyJson(BOOTSTRAP, json);
}
