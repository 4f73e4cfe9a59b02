// The demo's topology as a TestMesh for the mesh graph's tests: a client outside the mesh calls productpage,
// productpage calls reviews (v1 and v2), reviews-v2 calls ratings, every call through the sidecars; ratings can be
// switched to answer 503 (the injected fault). The control plane scrapes the sidecars as MeshOptions.graph says.

import type { GraphScrapeOptions } from '../../control-plane/server/graph-scraper.ts';
import type { GraphJson } from '../../control-plane/server/mesh-graph.ts';
import { SERVICE_PORT, TestMesh } from './mesh.ts';
import { send } from './proxy.ts';

export interface GraphMesh {
  readonly mesh: TestMesh;
  /** The control plane's graph page. */
  readonly pageUrl: string;
  /** From now on ratings answers 503 (true) or 200. */
  ratingsFails(fails: boolean): void;
  /** `rounds` times: outside → productpage, productpage → reviews, reviews-v2 → ratings. */
  traffic(rounds: number): Promise<void>;
  /** A scrape round of every sidecar, now. */
  scrape(): Promise<void>;
  /** GET /graph.json. */
  graph(): Promise<GraphJson>;
  close(): Promise<void>;
}

export async function startGraphMesh(graph: GraphScrapeOptions): Promise<GraphMesh> {
  let failing = false;
  const mesh = await TestMesh.start({
    workloads: [
      { name: 'productpage-v1', app: 'productpage', version: 'v1' },
      { name: 'reviews-v1', app: 'reviews', version: 'v1' },
      { name: 'reviews-v2', app: 'reviews', version: 'v2' },
      { name: 'ratings-v1', app: 'ratings', version: 'v1', handler: (_req, res) => void res.writeHead(failing ? 503 : 200).end('ratings-v1') },
    ],
    graph,
  });
  const productpage = mesh.workload('productpage-v1');
  const call = (from: string, host: string) => async () => (await mesh.call(from, host)).status === 200 ? true : undefined;
  try {
    // The first calls wait for the control plane's push to reach the sidecars.
    await mesh.until('productpage -> reviews', call('productpage-v1', `reviews:${SERVICE_PORT}`));
    await mesh.until('reviews-v2 -> ratings', call('reviews-v2', `ratings:${SERVICE_PORT}`));
  } catch (e) {
    await mesh.close();
    throw e;
  }
  const cpPort = mesh.controlPlane.server.port;
  return {
    mesh,
    pageUrl: `http://127.0.0.1:${cpPort}/graph`,
    ratingsFails: (fails) => { failing = fails; },
    async traffic(rounds) {
      for (let i = 0; i < rounds; i++) {
        await send(SERVICE_PORT, '/', { host: productpage.ip, headers: { host: `productpage:${SERVICE_PORT}` } });
        await mesh.call('productpage-v1', `reviews:${SERVICE_PORT}`);
        await mesh.call('reviews-v2', `ratings:${SERVICE_PORT}`);
      }
    },
    scrape: () => mesh.controlPlane.server.graph!.scrapeNow(),
    graph: async () => JSON.parse((await send(cpPort, '/graph.json')).body) as GraphJson,
    close: () => mesh.close(),
  };
}
