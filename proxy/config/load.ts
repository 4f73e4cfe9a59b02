// Reads an Envoy config file and turns its text into plain data (YAML, or JSON for *.json), reporting
// unreadable files and syntax errors as ConfigErrors with line:column; maps an error path back to the
// line it came from. Knows nothing about what the data means (that is bootstrap.ts).

import { readFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { fail, ok, type ConfigError, type Result } from '../common/result.ts';
import { jsonName } from './schema-kit.ts';

/** The whole file as text; a missing or unreadable file is a ConfigError, never a throw. */
export async function readConfigText(path: string): Promise<Result<string>> {
  try {
    return ok(await readFile(path, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file'
      : code === 'EACCES' ? 'permission denied'
      : code === 'EISDIR' ? 'it is a directory'
      : (err as Error).message;
    return fail([{ path: '', kind: 'invalid', message: `cannot read config file "${path}": ${why}` }]);
  }
}

/**
 * Parses config text. `sourceName` ending in `.json` selects JSON.parse (its errors are more precise for
 * JSON); anything else is YAML 1.2 (a superset of JSON), with merge keys (`<<`) as Envoy's YAML loader allows.
 */
export function parseConfigText(text: string, sourceName: string): Result<unknown> {
  const result = sourceName.endsWith('.json') ? parseJson(text, sourceName) : parseYaml(text, sourceName);
  if (result.ok && (result.value === null || result.value === undefined)) {
    return fail([{ path: '', kind: 'invalid', message: `${sourceName} is empty` }]);
  }
  return result;
}

function parseYaml(text: string, sourceName: string): Result<unknown> {
  const doc = parseDocument(text, { merge: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return fail(doc.errors.map((e): ConfigError => {
      const at = e.linePos?.[0];
      // yaml's message is "<what> at line L, column C:\n\n<excerpt>"; keep <what>.
      const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      return { path: '', kind: 'invalid', message: at ? `${sourceName}:${at.line}:${at.col}: YAML syntax error: ${what}` : `${sourceName}: YAML syntax error: ${what}` };
    }));
  }
  try {
    return ok(doc.toJS());
  } catch (err) {
    return fail([{ path: '', kind: 'invalid', message: `${sourceName}: ${(err as Error).message}` }]);
  }
}

function parseJson(text: string, sourceName: string): Result<unknown> {
  try {
    return ok(JSON.parse(text) as unknown);
  } catch (err) {
    const message = (err as Error).message;
    const where = /\(line (\d+) column (\d+)\)/.exec(message);
    const position = /at position (\d+)/.exec(message);
    let at = '';
    if (where) at = `:${where[1]}:${where[2]}`;
    else if (position) at = lineColumn(text, Number(position[1]));
    return fail([{ path: '', kind: 'invalid', message: `${sourceName}${at}: JSON syntax error: ${message.replace(/ \(line \d+ column \d+\)$/, '')}` }]);
  }
}

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `:${line}:${offset - before.lastIndexOf('\n')}`;
}

/** The 1-based line of the field an error path names in config file `file`, when it can be found. */
export async function lineOfPath(file: string, path: string): Promise<number | undefined> {
  const text = await readConfigText(file);
  return text.ok ? lineOfPathInText(text.value, path) : undefined;
}

/**
 * The 1-based line of `path` (as ConfigError prints it: `a.b[0].c`, snake_case) in YAML/JSON `text`,
 * where keys may be written in lowerCamelCase and map keys may themselves contain dots
 * (`typed_per_filter_config.envoy.filters.http.fault`). Falls back to the deepest part that exists.
 */
export function lineOfPathInText(text: string, path: string): number | undefined {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, merge: true });
  if (doc.errors.length > 0 || !doc.contents) return undefined;
  let node: unknown = doc.contents;
  let offset = doc.contents.range?.[0];
  const tokens = tokenize(path);
  let i = 0;
  while (i < tokens.length) {
    const token = tokens[i]!;
    if (typeof token === 'number') {
      if (!isSeq(node)) break;
      const item = node.items[token] as YamlNode | undefined;
      if (!item) break;
      node = item;
      offset = item.range?.[0] ?? offset;
      i++;
      continue;
    }
    if (!isMap(node)) break;
    const match = matchKey(node.items, tokens, i);
    if (!match) break;
    node = match.pair.value;
    offset = (match.pair.key as YamlNode | null)?.range?.[0] ?? offset;
    i += match.consumed;
  }
  return offset === undefined ? undefined : counter.linePos(offset).line;
}

type PathToken = string | number;

function tokenize(path: string): PathToken[] {
  const tokens: PathToken[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) tokens.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return tokens;
}

/** Longest run of key tokens starting at `from` that names a key of the map (as written or json_name). */
function matchKey(pairs: readonly { key: unknown; value: unknown }[], tokens: readonly PathToken[], from: number) {
  let end = from;
  while (end < tokens.length && typeof tokens[end] === 'string') end++;
  for (let stop = end; stop > from; stop--) {
    const name = tokens.slice(from, stop).join('.');
    const pair = pairs.find((p) => {
      const key = isScalar(p.key) ? String(p.key.value) : String(p.key);
      return key === name || key === jsonName(name);
    });
    if (pair) return { pair, consumed: stop - from };
  }
  return undefined;
}
