// Reads Istio-style YAML (a directory of multi-document files) into parsed, defaulted resources. Every
// problem becomes an error carrying file, document index, line, kind/name and field path; a bad document
// is dropped and the others kept. Kinds owned by later issues are listed apart, not as errors.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import { z } from 'zod';
import { formatConfigError, type ConfigError, type ConfigErrorKind } from '../../proxy/common/result.ts';
import { toConfigErrors } from '../../proxy/config/schema-kit.ts';
import { istioMessage } from './istio-kit.ts';
import {
  LOADED_KINDS, ObjectMetaSchema, classifyKind, type IstioResource, type LoadedKind, type SourceRef,
} from './resources.ts';

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
  for (const name of names) {
    const file = join(dir, name);
    try {
      files.push({ file, text: await readFile(file, 'utf8') });
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
  for (const { file, text } of files) {
    for (const r of parseFile(file, text, deferred, errors)) {
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

function parseFile(file: string, text: string, deferred: DeferredDocument[], errors: IstioConfigError[]): IstioResource[] {
  const lineCounter = new LineCounter();
  const resources: IstioResource[] = [];
  parseAllDocuments(text, { lineCounter }).forEach((doc, document) => {
    const lineOf = (path: readonly PropertyKey[]) => nodeLine(doc, lineCounter, path);
    const source: SourceRef = { file, document, line: lineOf([]) };
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        errors.push({ file, document, line: e.linePos?.[0].line, path: '', kind: 'invalid', message: `YAML: ${e.message.split('\n')[0]}` });
      }
      return;
    }
    const input = doc.toJS() as unknown;
    if (input === null) return; // an empty document (comments only, or a trailing `---`)
    const parsed = parseDocument(input, source, lineOf);
    if (parsed.type === 'resource') resources.push(parsed.resource);
    else if (parsed.type === 'deferred') deferred.push(parsed.deferred);
    else errors.push(...parsed.errors);
  });
  return resources;
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
  const cls = classifyKind(doc['apiVersion'], doc['kind']);
  if (cls.type === 'deferred') return { type: 'deferred', deferred: { ...source, apiVersion: doc['apiVersion'], resource, reason: cls.reason } };
  if (cls.type === 'error') return error(cls.field, cls.errorKind, cls.message, resource);
  const r = DOCUMENT_SCHEMAS[cls.kind].safeParse(doc);
  if (r.success) return { type: 'resource', resource: { ...r.data, source } as IstioResource };
  return {
    type: 'errors',
    errors: r.error.issues.map((issue) => {
      const [e] = toConfigErrors([issue]);
      return { ...source, line: lineOf(issue.path) ?? source.line, resource, ...e! };
    }),
  };
}

function resourceRef(kind: string, metadata: unknown): ResourceRef {
  const m = (metadata !== null && typeof metadata === 'object' ? metadata : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return { kind, namespace: str(m['namespace']) ?? 'default', name: str(m['name']) };
}

/** 1-based line of the deepest node on `path` that exists in the document. */
function nodeLine(doc: Document.Parsed, lineCounter: LineCounter, path: readonly PropertyKey[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true) as unknown;
    const range = (node as { range?: readonly number[] } | null | undefined)?.range;
    if (range?.[0] !== undefined) return lineCounter.linePos(range[0]).line;
  }
  return undefined;
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
