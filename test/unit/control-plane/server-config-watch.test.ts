// Watching a real temporary directory: the first scan, a debounced rescan after a file changes (the debounce
// runs on the fake clock), several quick edits giving one scan, and a missing directory reported, not thrown.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { IstioLoadResult } from '../../../control-plane/istio/load.ts';
import { watchIstioDirectory, type DirectoryWatch } from '../../../control-plane/server/config-watch.ts';
import { eventually } from '../control-client/fake-xds-server.ts';
import { CountingClock } from './server-fake-mesh.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const se = (name: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec: {hosts: [${name}.example.com], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}
`;

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nodevoy-watch-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function watchDir(dir: string) {
  const clock = new CountingClock();
  const scans: IstioLoadResult[] = [];
  const errors: string[] = [];
  const watch: DirectoryWatch = watchIstioDirectory(dir, { clock, debounceMs: 50, onChange: (r) => scans.push(r), onError: (m) => errors.push(m) });
  cleanups.push(() => watch.close());
  const names = (r: IstioLoadResult | undefined) => r?.resources.map((x) => x.metadata.name) ?? [];
  return { clock, scans, errors, watch, names };
}

describe('watchIstioDirectory', () => {
  it('scans at start, then rescans once the debounce has passed after a change', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.yaml'), se('a'));
    const w = watchDir(dir);
    await w.watch.ready;
    expect(w.scans.map(w.names)).toEqual([['a']]);

    writeFileSync(join(dir, 'b.yaml'), se('b'));
    await eventually(() => w.clock.armed > 0, 'the file event to arm the debounce');
    w.clock.advance(49);
    expect(w.scans).toHaveLength(1);
    // A second edit within the debounce restarts it.
    const armed = w.clock.armed;
    writeFileSync(join(dir, 'c.yml'), se('c'));
    await eventually(() => w.clock.armed > armed, 'the second event to re-arm the debounce');
    w.clock.advance(49);
    expect(w.scans).toHaveLength(1);
    w.clock.advance(1);
    await eventually(() => w.scans.length === 2, 'the rescan');
    expect(w.names(w.scans[1])).toEqual(['a', 'b', 'c']);
  });

  it('hands over invalid documents as errors, never throwing', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.yaml'), 'kind: [unclosed\n');
    const w = watchDir(dir);
    await w.watch.ready;
    expect(w.scans[0]!.errors[0]).toMatchObject({ file: join(dir, 'a.yaml'), message: expect.stringMatching(/^YAML:/) });
  });

  it('reports a missing directory through the scan and onError', async () => {
    const w = watchDir(join(tempDir(), 'missing'));
    await w.watch.ready;
    expect(w.scans[0]!.errors[0]!.message).toMatch(/cannot read/);
    expect(w.errors[0]).toMatch(/cannot watch/);
  });
});
