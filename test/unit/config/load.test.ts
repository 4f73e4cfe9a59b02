// Tests for proxy/config/load.ts: reading config files, YAML/JSON parsing with line:column errors, and
// mapping an error path back to its line.

import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lineOfPath, lineOfPathInText, parseConfigText, readConfigText } from '../../../proxy/config/load.ts';

describe('readConfigText', () => {
  it('returns the file text', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nodevoy-load-'));
    await writeFile(join(dir, 'envoy.yaml'), 'admin: {}\n');
    expect(await readConfigText(join(dir, 'envoy.yaml'))).toEqual({ ok: true, value: 'admin: {}\n' });
  });

  it('reports a missing file as a ConfigError instead of throwing', async () => {
    const r = await readConfigText('/nonexistent/envoy.yaml');
    expect(r).toEqual({ ok: false, errors: [{ path: '', kind: 'invalid', message: 'cannot read config file "/nonexistent/envoy.yaml": no such file' }] });
  });

  it('reports a directory as unreadable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nodevoy-load-'));
    const r = await readConfigText(dir);
    expect(r.ok ? '' : r.errors[0]!.message).toBe(`cannot read config file "${dir}": it is a directory`);
  });
});

describe('parseConfigText', () => {
  it.each([
    ['YAML', 'a.yaml', 'node:\n  id: x\nlist: [1, "2"]\n', { node: { id: 'x' }, list: [1, '2'] }],
    ['JSON in a .json file', 'a.json', '{"node": {"id": "x"}}', { node: { id: 'x' } }],
    ['JSON in a YAML source (JSON is YAML)', '--config-yaml', '{"node": {"id": "x"}}', { node: { id: 'x' } }],
    ['YAML anchors and merge keys', 'a.yaml', 'base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n', { base: { x: 1 }, other: { x: 1, y: 2 } }],
  ])('parses %s', (_name, source, text, expected) => {
    expect(parseConfigText(text, source)).toEqual({ ok: true, value: expected });
  });

  it.each([
    ['an unclosed flow sequence', 'a: 1\nb: [1, 2\nc: 3\n', 'envoy.yaml:3:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    ['a duplicate key', 'a: 1\na: 2\n', 'envoy.yaml:2:1: YAML syntax error: Map keys must be unique'],
    ['a nested compact mapping', 'a: b: c\n', 'envoy.yaml:1:4: YAML syntax error: Nested mappings are not allowed in compact mappings'],
  ])('reports %s with line:column', (_name, text, message) => {
    expect(parseConfigText(text, 'envoy.yaml')).toEqual({ ok: false, errors: [{ path: '', kind: 'invalid', message }] });
  });

  it('reports JSON syntax errors with line:column', () => {
    const r = parseConfigText('{\n  "a": 1\n  "b": 2\n}', 'envoy.json');
    expect(r.ok ? '' : r.errors[0]!.message).toMatch(/^envoy\.json:3:3: JSON syntax error: /);
  });

  it('rejects an empty document', () => {
    expect(parseConfigText('# nothing\n', 'envoy.yaml')).toEqual({ ok: false, errors: [{ path: '', kind: 'invalid', message: 'envoy.yaml is empty' }] });
  });
});

describe('lineOfPathInText', () => {
  const yaml = [
    'static_resources:',                                   // 1
    '  listeners:',                                        // 2
    '  - name: main',                                      // 3
    '    filterChains:',                                   // 4
    '    - filters:',                                      // 5
    '      - typed_config:',                               // 6
    '          "@type": type.googleapis.com/x',            // 7
    '          typed_per_filter_config:',                  // 8
    '            envoy.filters.http.fault:',               // 9
    '              abort: {}',                             // 10
    '          proxy100Continue: true',                    // 11
    '',
  ].join('\n');

  it.each([
    ['a top-level key', 'static_resources', 1],
    ['a list item', 'static_resources.listeners[0]', 3],
    ['a snake_case path written in lowerCamelCase', 'static_resources.listeners[0].filter_chains[0].filters', 5],
    ['"@type"', 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.@type', 7],
    ['a map key containing dots', 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.typed_per_filter_config.envoy.filters.http.fault.abort', 10],
    ['a json_name with digits', 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.proxy_100_continue', 11],
    ['a missing field (its deepest existing parent)', 'static_resources.listeners[0].address', 3],
    ['an index past the end (the list)', 'static_resources.listeners[4].name', 2],
    ['the root', '', 1],
  ])('finds %s', (_name, path, line) => {
    expect(lineOfPathInText(yaml, path)).toBe(line);
  });

  it('works on JSON text', () => {
    expect(lineOfPathInText('{\n  "admin": {\n    "address": {}\n  }\n}', 'admin.address.socket_address')).toBe(3);
  });

  it('gives up on text that does not parse', () => {
    expect(lineOfPathInText('a: [', 'a')).toBeUndefined();
  });

  it('reads the file for lineOfPath, and answers undefined for a source that is not a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nodevoy-load-'));
    await writeFile(join(dir, 'envoy.yaml'), yaml);
    expect(await lineOfPath(join(dir, 'envoy.yaml'), 'static_resources.listeners[0].name')).toBe(3);
    expect(await lineOfPath('--config-yaml', 'admin')).toBeUndefined();
  });
});
