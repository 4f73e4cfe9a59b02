// `nodevoy proxy-status`: /debug/syncz printed as istioctl's table (NAME CLUSTER CDS LDS EDS RDS VERSION),
// read from a real control-plane server, and a clear failure when the control plane is unreachable.

import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { formatProxyStatus, runProxyStatus } from '../../../cli/proxy-status-command.ts';
import { startXdsServer, type XdsServer } from '../../../control-plane/server/xds-server.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { cluster, discover, EMPTY, FakeMesh, node } from '../control-plane/server-fake-mesh.ts';

const servers: XdsServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

function capture() {
  const out = new PassThrough();
  const err = new PassThrough();
  const text = { stdout: '', stderr: '' };
  out.on('data', (c: Buffer) => { text.stdout += c.toString(); });
  err.on('data', (c: Buffer) => { text.stderr += c.toString(); });
  return { io: { out, err }, text };
}

describe('nodevoy proxy-status', () => {
  it('prints one aligned row per proxy', () => {
    const types = (cds: string, lds = 'SYNCED') => ({
      clusters: { type_url: '', status: cds }, listeners: { type_url: '', status: lds },
      endpoints: { type_url: '', status: 'NOT SENT' }, routes: { type_url: '', status: 'STALE' },
    });
    const table = formatProxyStatus([
      { id: 'reviews-v1.default', cluster: 'reviews.default', namespace: 'default', version: '1.2.0', last_seen: '', types: types('SYNCED') },
      { id: 'p', cluster: 'c', namespace: 'default', version: '', last_seen: '', types: types('NACKED', 'NOT SENT') },
    ]);
    expect(table).toBe([
      'NAME                 CLUSTER           CDS      LDS        EDS        RDS     VERSION',
      'reviews-v1.default   reviews.default   SYNCED   SYNCED     NOT SENT   STALE   1.2.0',
      'p                    c                 NACKED   NOT SENT   NOT SENT   STALE   -',
      '',
    ].join('\n'));
  });

  it('reads the table from the control plane', async () => {
    const mesh = new FakeMesh();
    mesh.set({ ...EMPTY, clusters: [cluster('a')] });
    const server = await startXdsServer({ host: '127.0.0.1', port: 0, clock: new FakeClock(), source: mesh });
    servers.push(server);
    const sent = (await discover(server.url, 'clusters', { node: node('web') })).body;
    await discover(server.url, 'clusters', { node: node('web'), version_info: sent.version_info, response_nonce: sent.nonce });
    await discover(server.url, 'listeners', { node: node('api', 'shop') });
    const c = capture();
    expect(await runProxyStatus(['--control-plane', server.url], c.io)).toBe(0);
    expect(c.text.stdout.split('\n').map((l) => l.split(/\s+/).join(' '))).toEqual([
      'NAME CLUSTER CDS LDS EDS RDS VERSION',
      'api api.shop NOT SENT STALE NOT SENT NOT SENT -',
      'web web.default SYNCED NOT SENT NOT SENT NOT SENT -',
      '',
    ]);
  });

  it('exits 1 naming the control plane it could not reach', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((r) => probe.close(() => r()));
    const c = capture();
    expect(await runProxyStatus(['--control-plane', `http://127.0.0.1:${port}`], c.io)).toBe(1);
    expect(c.text.stderr).toMatch(new RegExp(`cannot read http://127\\.0\\.0\\.1:${port}/debug/syncz: fetch failed`));
  });
});
