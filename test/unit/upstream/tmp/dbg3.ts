import { Pool } from 'undici';
import { startUpstream } from '../../../support/upstream.ts';
const upstream = await startUpstream('u1');
async function run(label: string, gap: () => Promise<void>, warm: boolean) {
  const pool = new Pool(`http://127.0.0.1:${upstream.port}`, {});
  const before = upstream.connectionsAccepted();
  if (warm) { await new Promise<void>((resolve, reject) => pool.connect ? resolve() : resolve()); }
  for (let i = 0; i < 3; i++) {
    const res = await pool.request({ path: '/', method: 'GET' });
    await res.body.text();
    await gap();
  }
  console.log(label, upstream.connectionsAccepted() - before);
  await pool.close();
}
await run('no gap', async () => {}, false);
await run('nextTick', () => new Promise((r) => process.nextTick(r)), false);
await run('setImmediate', () => new Promise((r) => setImmediate(r)), false);
await upstream.close();
