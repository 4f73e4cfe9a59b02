// The mesh store across rescans: a resource whose document turns invalid keeps its last valid version (and the
// error says so), a deleted one goes, a file that no longer parses keeps its resources, warnings break
// nothing, and the generation moves only when the resource set changes.

import { describe, expect, it } from 'vitest';
import { loadIstioFiles, type IstioConfigError, type IstioLoadResult } from '../../../control-plane/istio/load.ts';
import { KEPT_LAST_GOOD, MeshStore } from '../../../control-plane/server/mesh-store.ts';

const se = (name: string, port = 80) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [${name}.example.com]
  ports: [{number: ${port}, name: http, protocol: HTTP}]
  resolution: DNS
`;
const badSe = (name: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [${name}.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
  bogus: 1
`;

const scan = (files: Record<string, string>) => loadIstioFiles(Object.entries(files).map(([file, text]) => ({ file, text })));
const summary = (store: MeshStore) => store.resources().map((r) => {
  const port = (r.spec as { ports: { number: number }[] }).ports[0]!.number;
  return `${r.metadata.name}:${port}`;
});

describe('MeshStore', () => {
  it('keeps the last valid version of a resource whose document became invalid, and reports the error', () => {
    const store = new MeshStore();
    expect(store.apply(scan({ 'a.yaml': `${se('a', 80)}---\n${se('b', 80)}` }))).toBe(true);
    expect(store.generation()).toBe(1);
    store.apply(scan({ 'a.yaml': `${se('a', 8080)}---\n${badSe('b')}` }));
    expect(summary(store)).toEqual(['a:8080', 'b:80']);
    expect(store.errors()).toHaveLength(1);
    expect(store.errors()[0]).toMatchObject({ path: 'spec.bogus', resource: { kind: 'ServiceEntry', name: 'b' } });
    expect(store.errors()[0]!.message).toContain(KEPT_LAST_GOOD);
    // Fixed: the new version replaces the kept one, and the error is gone.
    store.apply(scan({ 'a.yaml': `${se('a', 8080)}---\n${se('b', 81)}` }));
    expect(summary(store)).toEqual(['a:8080', 'b:81']);
    expect(store.errors()).toEqual([]);
  });

  it('reports an invalid resource that never had a valid version without inventing one', () => {
    const store = new MeshStore();
    store.apply(scan({ 'a.yaml': badSe('b') }));
    expect(store.resources()).toEqual([]);
    expect(store.errors()[0]!.message).not.toContain(KEPT_LAST_GOOD);
  });

  it('drops a resource deleted from the files', () => {
    const store = new MeshStore();
    store.apply(scan({ 'a.yaml': se('a'), 'b.yaml': se('b') }));
    store.apply(scan({ 'a.yaml': se('a') }));
    expect(summary(store)).toEqual(['a:80']);
  });

  it('keeps the resources of a file that stopped parsing as YAML', () => {
    const store = new MeshStore();
    store.apply(scan({ 'a.yaml': se('a'), 'b.yaml': se('b') }));
    store.apply(scan({ 'a.yaml': se('a'), 'b.yaml': 'kind: [unclosed\n' }));
    expect(summary(store)).toEqual(['a:80', 'b:80']);
    expect(store.errors()[0]).toMatchObject({ file: 'b.yaml', message: expect.stringContaining(KEPT_LAST_GOOD) });
  });

  it('a warning neither drops its resource nor keeps a deleted one alive', () => {
    const store = new MeshStore();
    store.apply(scan({ 'a.yaml': se('a'), 'b.yaml': se('b') }));
    const warn = (over: Partial<IstioConfigError>): IstioConfigError =>
      ({ file: 'b.yaml', document: 0, path: 'spec', kind: 'invalid', message: 'heads up', severity: 'warning', ...over });
    // b.yaml's resource is deleted; warnings name it and its file: an error would keep it, a warning does not.
    const withWarnings = (load: IstioLoadResult, errors: IstioConfigError[]): IstioLoadResult => ({ ...load, errors: [...load.errors, ...errors] });
    const warnings = [warn({}), warn({ resource: { kind: 'ServiceEntry', namespace: 'default', name: 'b' } })];
    store.apply(withWarnings(scan({ 'a.yaml': se('a') }), warnings));
    expect(summary(store)).toEqual(['a:80']);
    // A resource in the scan with a warning is in force, and the warning is reported as it came.
    const onA = warn({ file: 'a.yaml', resource: { kind: 'ServiceEntry', namespace: 'default', name: 'a' } });
    store.apply(withWarnings(scan({ 'a.yaml': se('a', 81) }), [onA]));
    expect(summary(store)).toEqual(['a:81']);
    expect(store.errors()).toEqual([onA]);
  });

  it('moves the generation only when the resources change', () => {
    const store = new MeshStore();
    store.apply(scan({ 'a.yaml': se('a') }));
    expect(store.apply(scan({ 'a.yaml': se('a') }))).toBe(false);
    expect(store.generation()).toBe(1);
    expect(store.apply(scan({ 'a.yaml': se('a', 90) }))).toBe(true);
    expect(store.generation()).toBe(2);
  });
});
