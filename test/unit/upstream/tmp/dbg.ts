import { startUpstream } from '../../../support/upstream.ts';
import { harness, staticCluster } from '../helpers.ts';
const upstream = await startUpstream('u1');
const h = harness(staticCluster([[{ ip: '127.0.0.1', port: upstream.port }]]));
for (let i = 0; i < 3; i++) {
  const host = h.cluster.chooseHost({})!;
  const res = await host.dispatcher().request({ path: '/', method: 'GET', headers: { host: 'svc' } });
  console.log(res.statusCode, res.headers.connection, res.headers['keep-alive'], await res.body.text(), upstream.connectionsAccepted());
}
await h.cm.close(); await upstream.close();
