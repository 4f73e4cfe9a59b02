import { Pool } from 'undici';
import { startUpstream } from '../../../support/upstream.ts';
const upstream = await startUpstream('u1');
for (const opts of [{}, { pipelining: 1 }, { keepAliveTimeout: 60000, keepAliveMaxTimeout: 60000 }, { headersTimeout: 0, bodyTimeout: 0 }, {allowH2: false}]) {
  const pool = new Pool(`http://127.0.0.1:${upstream.port}`, opts);
  const before = upstream.connectionsAccepted();
  for (let i = 0; i < 3; i++) {
    const res = await pool.request({ path: '/', method: 'GET' });
    await res.body.text();
  }
  console.log(JSON.stringify(opts), upstream.connectionsAccepted() - before);
  await pool.close();
}
await upstream.close();
