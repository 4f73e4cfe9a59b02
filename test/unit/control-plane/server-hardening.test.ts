// The xDS server against hostile or unlucky input on real sockets: a request path URL parsing rejects is a 400
// and a failure while answering a 500, never a crash; a body crossing the size limit is refused at once; and
// what the server keeps per proxy is bounded (past generations dropped, silent proxies expired, a cap).

import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SnapshotCache } from '../../../control-plane/server/snapshot-cache.ts';
import { startXdsServer, type XdsServer } from '../../../control-plane/server/xds-server.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { cla, cluster, discover, EMPTY, FakeMesh, getJson, node } from './server-fake-mesh.ts';

const servers: XdsServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function setup(options: { maxWaitSeconds?: number; maxProxies?: number } = {}) {
  const mesh = new FakeMesh();
  const clock = new FakeClock();
  mesh.set({ ...EMPTY, clusters: [cluster('a')], endpoints: [cla('a', 1)] });
  const server = await startXdsServer({ host: '127.0.0.1', port: 0, clock, source: mesh, ...options });
  servers.push(server);
  const ask = (id: string) => discover(server.url, 'clusters', { node: node(id), version_info: '', resource_names: [], response_nonce: '' });
  const syncz = async (): Promise<string[]> => ((await getJson(`${server.url}/debug/syncz`)).body.proxies as { id: string }[]).map((p) => p.id);
  return { mesh, clock, server, ask, syncz };
}

/** Writes raw bytes on a new connection; resolves with everything the server sent once it closes the connection. */
function raw(port: number, ...writes: (string | Buffer)[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => { for (const w of writes) socket.write(w); });
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

const statusLine = (response: string): string => response.split('\r\n')[0] ?? '';

describe('xDS server: bad requests never take it down', () => {
  it.each(['//', '//[', '//a:b@', '//x:99999/'])('answers 400 to the request path %s and keeps serving', async (path) => {
    const t = await setup();
    const response = await raw(t.server.port, `GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`);
    expect(statusLine(response)).toBe('HTTP/1.1 400 Bad Request');
    expect(response).toContain('malformed request path');
    expect((await t.ask('p1')).status).toBe(200);
  });

  it('answers 500 when building a debug page fails, and keeps serving', async () => {
    const t = await setup();
    expect((await t.ask('p1')).status).toBe(200);
    // The next generation cannot be translated for any proxy: /debug/config_dump builds it.
    t.mesh.set(() => { throw new Error('translation blew up'); });
    const dump = await getJson(`${t.server.url}/debug/config_dump?proxy=p1`);
    expect(dump).toEqual({ status: 500, body: 'internal error: translation blew up\n' });
    expect((await getJson(`${t.server.url}/ready`)).status).toBe(200);
  });

  it('refuses a body over 1 MiB as soon as the limit is crossed (413) and closes the connection without reading the rest', async () => {
    const t = await setup();
    const limit = 1 << 20;
    // Announces 8 MiB but sends one byte past the limit: the server must not wait for the rest.
    const head = `POST /v3/discovery:clusters HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${8 * limit}\r\n\r\n`;
    const response = await raw(t.server.port, head, Buffer.alloc(limit + 1, 0x20));
    expect(statusLine(response)).toBe('HTTP/1.1 413 Payload Too Large');
    expect(response).toContain(`request body over ${limit} bytes`);
    expect((await t.ask('p1')).status).toBe(200);
  });
});

describe('xDS server: what it keeps per proxy is bounded', () => {
  it('keeps cached snapshots of the current generation only', () => {
    const mesh = new FakeMesh();
    mesh.set({ ...EMPTY, clusters: [cluster('a')] });
    const cache = new SnapshotCache(mesh, new FakeClock(), { expireAfterMs: 60_000, maxEntries: 100 });
    for (const id of ['p1', 'p2', 'p3']) cache.entry(node(id));
    expect(cache.size).toBe(3);
    mesh.set({ ...EMPTY, clusters: [cluster('b')] });
    cache.entry(node('p1'));
    expect(cache.size).toBe(1);
  });

  it('forgets a cached snapshot not used for 2 × the longest wait + 30 s, and keeps at most maxEntries', () => {
    const mesh = new FakeMesh();
    mesh.set({ ...EMPTY, clusters: [cluster('a')] });
    const clock = new FakeClock();
    const cache = new SnapshotCache(mesh, clock, { expireAfterMs: 50_000, maxEntries: 2 });
    cache.entry(node('p1'));
    cache.entry(node('p2'));
    cache.entry(node('p1'));
    cache.entry(node('p3')); // over the cap: p2, the least recently used, goes
    expect(mesh.builds).toBe(3);
    cache.entry(node('p1'));
    expect(mesh.builds).toBe(3);
    cache.entry(node('p2'));
    expect(mesh.builds).toBe(4);

    clock.advance(50_001);
    cache.entry(node('p4'));
    expect(cache.size).toBe(1); // p1 and p2, unused for longer than 50 s, are gone
    cache.entry(node('p1'));
    expect(mesh.builds).toBe(6);
  });

  it('expires a proxy silent for 2 × the longest wait + 30 s from /debug/syncz, and caps the proxies tracked', async () => {
    const t = await setup({ maxWaitSeconds: 10, maxProxies: 2 });
    await t.ask('p1');
    t.clock.advance(30_000);
    await t.ask('p2');
    expect(await t.syncz()).toEqual(['p1', 'p2']);
    t.clock.advance(20_001); // p1 silent for 50.001 s > 2 × 10 s + 30 s
    expect(await t.syncz()).toEqual(['p2']);

    await t.ask('p3');
    await t.ask('p2');
    await t.ask('p4'); // a third proxy: p3, heard from least recently, goes
    expect(await t.syncz()).toEqual(['p2', 'p4']);
  });
});
