// Reads Istio-style YAML (a directory of multi-document files) into parsed, defaulted resources. Every
// problem becomes an error carrying file, document index, line, kind/name and field path; a bad document
// is dropped and the others kept. Kinds owned by later issues are listed apart, not as errors.

import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LineCounter, parse as parseYaml, parseAllDocuments, Scalar, type Document } from 'yaml';
import { z } from 'zod';
import { formatConfigError, type ConfigError, type ConfigErrorKind } from '../../proxy/common/result.ts';
import { toConfigErrors } from '../../proxy/config/schema-kit.ts';
import { istioMessage } from './istio-kit.ts';
import { MeshConfigSchema } from './mesh-config.ts';
import {
  LOADED_KINDS, ObjectMetaSchema, classifyKind, type IstioResource, type LoadedKind, type SourceRef,
} from './resources.ts';
import { composeDocuments, splitDocuments, type ComposedDocument } from './yaml-stream.ts';

/** The resource a document declares, as far as it could be read. */
export interface ResourceRef {
  readonly kind: string;
  readonly namespace?: string;
  readonly name?: string;
}

/**
 * As Istio's analyzer grades its messages: an `error` drops the document (or the conflicting claim); a
 * `warning` keeps the resource in force but tells what will not work as written (a reference to a host,
 * port or subset that is not in the registry yet, a field accepted but not applied).
 */
export type Severity = 'error' | 'warning';

export interface IstioConfigError extends ConfigError, SourceRef {
  readonly resource?: ResourceRef;
  /** Absent: `error`. */
  readonly severity?: Severity;
}

/** A report entry's severity (absent means error). */
export const severityOf = (e: { readonly severity?: Severity | undefined }): Severity => e.severity ?? 'error';

/** A document of a kind that a later issue handles: listed, not loaded, not an error. */
export interface DeferredDocument extends SourceRef {
  readonly apiVersion: string;
  readonly resource: ResourceRef;
  readonly reason: string;
}

export interface IstioLoadResult {
  /** Valid resources, in file-name then document order. */
  readonly resources: readonly IstioResource[];
  readonly deferred: readonly DeferredDocument[];
  readonly errors: readonly IstioConfigError[];
}

export interface SourceFile {
  readonly file: string;
  readonly text: string;
}

/** The whole document of each loaded kind: Kubernetes envelope around the kind's spec. */
const DOCUMENT_SCHEMAS = Object.fromEntries(Object.entries(LOADED_KINDS).map(([kind, { spec }]) => [kind,
  istioMessage(kind, {
    apiVersion: z.string(),
    kind: z.string(),
    metadata: ObjectMetaSchema,
    spec,
    /** Written by the API server (kubectl get -o yaml); not configuration. */
    status: z.unknown().optional(),
  })])) as Record<LoadedKind, z.ZodType<Omit<IstioResource, 'source'>, unknown>>;

/** A YAML text holding one mapping (a ConfigMap's `mesh` key), parsed; `''` is an empty mapping. */
const yamlMapping = z.string().transform((text, ctx): unknown => {
  try {
    return parseYaml(text) ?? {};
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `YAML: ${(e as Error).message.split('\n')[0]}` });
    return z.NEVER;
  }
});

/** The `istio` ConfigMap of istio-system: `data.mesh` is MeshConfig YAML, read into `spec`. */
const MESH_CONFIG_MAP_SCHEMA = istioMessage('ConfigMap', {
  apiVersion: z.string(),
  kind: z.string(),
  metadata: ObjectMetaSchema,
  data: istioMessage('ConfigMap.data (of the istio mesh config)', {
    mesh: yamlMapping.pipe(MeshConfigSchema).optional(),
    /** Multi-network settings: not applied (translation warns when it declares networks). */
    meshNetworks: z.string().optional(),
  }).default({}),
  immutable: z.boolean().optional(),
}).transform(({ apiVersion, kind, metadata, data }) => ({
  apiVersion, kind, metadata, spec: data.mesh ?? MeshConfigSchema.parse({}), meshNetworks: data.meshNetworks,
})) as unknown as z.ZodType<Omit<IstioResource, 'source'>, unknown>;

/** Files read from a directory: `*.yaml` and `*.yml`, not recursive, in name order (like `kubectl apply -f DIR`). */
export const YAML_FILE = /\.ya?ml$/;

/** Reads every YAML file of `dir`. Never throws: an unreadable directory or file is an error entry. */
export async function loadIstioDirectory(dir: string): Promise<IstioLoadResult> {
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isFile() && YAML_FILE.test(d.name)).map((d) => d.name).sort();
  } catch (e) {
    return { resources: [], deferred: [], errors: [ioError(dir, e)] };
  }
  const files: SourceFile[] = [];
  const errors: IstioConfigError[] = [];
  // Read synchronously: 1,000 small files take ~5 ms this way and ~60 ms through fs/promises (several
  // thread-pool round trips per file); the parse that follows holds the event loop anyway.
  for (const name of names) {
    const file = join(dir, name);
    try {
      files.push({ file, text: readFileSync(file, 'utf8') });
    } catch (e) {
      errors.push(ioError(file, e));
    }
  }
  const loaded = loadIstioFiles(files);
  return { ...loaded, errors: [...errors, ...loaded.errors] };
}

/**
 * Parses files already read. A resource named twice (same kind, namespace and name) is an error on the
 * later document; the first one, in file-name order, is kept (as if applied first and the second refused).
 */
export function loadIstioFiles(files: readonly SourceFile[]): IstioLoadResult {
  const resources: IstioResource[] = [];
  const deferred: DeferredDocument[] = [];
  const errors: IstioConfigError[] = [];
  const firstSeen = new Map<string, SourceRef>();
  const cache = documentCache.next();
  for (const { file, text } of files) {
    const parsed = parseFile(file, text, cache);
    deferred.push(...parsed.deferred);
    errors.push(...parsed.errors);
    for (const r of parsed.resources) {
      const key = `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
      const first = firstSeen.get(key);
      if (first === undefined) {
        firstSeen.set(key, r.source);
        resources.push(r);
        continue;
      }
      errors.push({ ...r.source, resource: { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name },
        path: 'metadata.name', kind: 'invalid',
        message: `duplicate ${r.kind} ${r.metadata.namespace}/${r.metadata.name}: already defined in ${first.file} document ${first.document}; this one is ignored` });
    }
  }
  return { resources, deferred, errors };
}

/** What one YAML text holds: its loaded resources, deferred documents and errors, in document order. */
interface ParsedText {
  readonly documents: number;
  readonly resources: readonly IstioResource[];
  readonly deferred: readonly DeferredDocument[];
  readonly errors: readonly IstioConfigError[];
  /** A YAML syntax error: its message and line come from the whole file, not from the document alone. */
  readonly syntaxError: boolean;
}

/**
 * Per-document results of the previous load, keyed by the document's text (with file "", document 0,
 * lines from 1): the directory is rescanned on every change, and an unchanged document is not parsed again.
 * Each load starts a new generation holding only what it used, so a document gone from the files is dropped.
 */
class DocumentCache {
  private previous = new Map<string, ParsedText>();

  next(): (text: string) => ParsedText {
    const previous = this.previous;
    const current = new Map<string, ParsedText>();
    this.previous = current;
    return (text) => {
      const parsed = current.get(text) ?? previous.get(text) ?? parseText('', text);
      current.set(text, parsed);
      return parsed;
    };
  }
}

const documentCache = new DocumentCache();

/** Document by document (cached) when the file can be cut at its `---` lines, else as one stream. */
function parseFile(file: string, text: string, cached: (text: string) => ParsedText): ParsedText {
  const pieces = splitDocuments(text);
  if (pieces === undefined) return parseText(file, text);
  const out = { documents: 0, resources: [] as IstioResource[], deferred: [] as DeferredDocument[], errors: [] as IstioConfigError[], syntaxError: false };
  for (const piece of pieces) {
    const parsed = cached(piece.text);
    if (parsed.syntaxError) return parseText(file, text);
    const at = <T extends SourceRef>(ref: T): T => ({ ...ref, file, document: ref.document + out.documents, line: ref.line === undefined ? undefined : ref.line + piece.line - 1 });
    for (const r of parsed.resources) out.resources.push({ ...r, source: at(r.source) });
    for (const d of parsed.deferred) out.deferred.push(at(d));
    for (const e of parsed.errors) out.errors.push(at(e));
    out.documents += parsed.documents;
  }
  return out;
}

/** Reads a YAML stream one document at a time, so each Document is dropped once its resource is read. */
function parseText(file: string, text: string): ParsedText {
  const resources: IstioResource[] = [];
  const deferred: DeferredDocument[] = [];
  const errors: IstioConfigError[] = [];
  let document = 0;
  let whole: Document.Parsed[] | undefined;
  for (const { doc, lineOf } of composeDocuments(text)) {
    const source: SourceRef = { file, document, line: lineOf([]) };
    if (doc.errors.length > 0) {
      // Worded as yaml's one-shot parser does (its prettyErrors add line and column from the whole source):
      // the text is parsed again, which only happens for a text with a syntax error.
      whole ??= parseAllDocuments(text, { lineCounter: new LineCounter() });
      for (const e of whole[document]?.errors ?? []) {
        errors.push({ file, document, line: e.linePos?.[0].line, path: '', kind: 'invalid', message: `YAML: ${e.message.split('\n')[0]}` });
      }
    } else {
      const input = doc.toJS() as unknown;
      // null: an empty document (comments only, or a trailing `---`)
      const parsed = input === null ? undefined : parseDocument(input, source, (path) => embeddedMeshLine(doc, lineOf, path) ?? lineOf(path));
      if (parsed?.type === 'resource') resources.push(parsed.resource);
      else if (parsed?.type === 'deferred') deferred.push(parsed.deferred);
      else if (parsed?.type === 'errors') errors.push(...parsed.errors);
    }
    document++;
  }
  return { documents: document, resources, deferred, errors, syntaxError: whole !== undefined };
}

type ParsedDocument =
  | { readonly type: 'resource'; readonly resource: IstioResource }
  | { readonly type: 'deferred'; readonly deferred: DeferredDocument }
  | { readonly type: 'errors'; readonly errors: readonly IstioConfigError[] };

function parseDocument(input: unknown, source: SourceRef, lineOf: (path: readonly PropertyKey[]) => number | undefined): ParsedDocument {
  const error = (path: string, kind: ConfigErrorKind, message: string, resource?: ResourceRef, at: readonly PropertyKey[] = [path]): ParsedDocument =>
    ({ type: 'errors', errors: [{ ...source, line: lineOf(at) ?? source.line, resource, path, kind, message }] });
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return error('', 'invalid', 'a document must be a mapping with apiVersion, kind, metadata and spec', undefined, []);
  }
  const doc = input as Record<string, unknown>;
  if (typeof doc['apiVersion'] !== 'string') return error('apiVersion', 'invalid', 'apiVersion is required (a string)');
  if (typeof doc['kind'] !== 'string') return error('kind', 'invalid', 'kind is required (a string)');
  const resource = resourceRef(doc['kind'], doc['metadata']);
  const cls = classifyKind(doc['apiVersion'], doc['kind'], resource);
  if (cls.type === 'deferred') return { type: 'deferred', deferred: { ...source, apiVersion: doc['apiVersion'], resource, reason: cls.reason } };
  if (cls.type === 'error') return error(cls.field, cls.errorKind, cls.message, resource);
  const r = (cls.type === 'mesh-config' ? MESH_CONFIG_MAP_SCHEMA : DOCUMENT_SCHEMAS[cls.kind]).safeParse(doc);
  if (r.success) return { type: 'resource', resource: { ...r.data, source } as IstioResource };
  return {
    type: 'errors',
    errors: r.error.issues.map((issue) => {
      const [e] = toConfigErrors([issue]);
      return { ...source, line: lineOf(issue.path) ?? source.line, resource, ...e! };
    }),
  };
}

/**
 * The line of a path inside the mesh config's `data.mesh` when it is a literal block scalar (`mesh: |`), whose
 * lines are the embedded YAML's lines one for one; undefined otherwise (the caller falls back to `data.mesh`).
 */
function embeddedMeshLine(doc: Document.Parsed, lineOf: ComposedDocument['lineOf'], path: readonly PropertyKey[]): number | undefined {
  if (path.length <= 2 || path[0] !== 'data' || path[1] !== 'mesh') return undefined;
  const node = doc.getIn(['data', 'mesh'], true);
  if (!(node instanceof Scalar) || node.type !== Scalar.BLOCK_LITERAL || typeof node.value !== 'string') return undefined;
  const header = lineOf(['data', 'mesh']);
  const inner = composeDocuments(node.value).next();
  const line = inner.done === true ? undefined : inner.value.lineOf(path.slice(2));
  return header === undefined || line === undefined ? undefined : header + line;
}

function resourceRef(kind: string, metadata: unknown): ResourceRef {
  const m = (metadata !== null && typeof metadata === 'object' ? metadata : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return { kind, namespace: str(m['namespace']) ?? 'default', name: str(m['name']) };
}

function ioError(file: string, e: unknown): IstioConfigError {
  return { file, document: 0, path: '', kind: 'invalid', message: `cannot read: ${e instanceof Error ? e.message : String(e)}` };
}

/** One line per entry: `file[doc]:line Kind ns/name: path: message`, a warning as `…ns/name: warning: path: message`. */
export function formatIstioError(e: IstioConfigError): string {
  const where = `${e.file}[${e.document}]${e.line === undefined ? '' : `:${e.line}`}`;
  const what = e.resource === undefined ? '' : ` ${e.resource.kind} ${e.resource.namespace ?? 'default'}/${e.resource.name ?? '?'}`;
  return `${where}${what}: ${severityMarker(e)}${formatConfigError(e)}`;
}

/** `warning: ` for a warning; errors are printed unmarked. */
export const severityMarker = (e: { readonly severity?: Severity | undefined }): string => (severityOf(e) === 'warning' ? 'warning: ' : '');
