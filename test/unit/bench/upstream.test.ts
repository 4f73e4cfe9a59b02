// Tests bench/upstream.ts: the fixed payload, and the answer to Istio's peer metadata exchange that the telemetry
// benchmark turns on (its headers only to a caller that sent its own, as an inbound sidecar).

import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBenchUpstream, type BenchUpstream } from '../../../bench/upstream.ts';

describe('the upstream with --peer-metadata', () => {
  let upstream: BenchUpstream;
  beforeAll(async () => { upstream = await startBenchUpstream({ payloadBytes: 10, peerMetadata: { id: 'sidecar~1', value: 'Cg==' } }); });
  afterAll(() => upstream.close());

  const get = (headers: Record<string, string>): Promise<Record<string, unknown>> => new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port: upstream.port, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.headers));
    }).on('error', reject).end();
  });

  it('answers a caller that sent its peer metadata with its own, as an inbound sidecar does, and nobody else', async () => {
    expect(await get({ 'x-envoy-peer-metadata-id': 'sidecar~2', 'x-envoy-peer-metadata': 'Cg==' }))
      .toMatchObject({ 'x-envoy-peer-metadata-id': 'sidecar~1', 'x-envoy-peer-metadata': 'Cg==', 'content-length': '10' });
    const plain = await get({});
    expect(plain['x-envoy-peer-metadata']).toBeUndefined();
    expect(plain['x-envoy-peer-metadata-id']).toBeUndefined();
  });
});
