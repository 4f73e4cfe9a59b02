// Tests bench/lib/zipkin-collector.ts, the telemetry benchmark's collector: span arrays counted, anything else
// refused, the counts served at /counts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchCollectorCounts, spanKinds, startZipkinCollector } from '../../../bench/lib/zipkin-collector.ts';

describe('spanKinds', () => {
  it('reads the kinds of a Zipkin v2 JSON span array', () => {
    expect(spanKinds('[{"id":"a","kind":"CLIENT"},{"id":"b","kind":"SERVER"},{"id":"c"}]')).toEqual(['CLIENT', 'SERVER', '-']);
    expect(spanKinds('[]')).toEqual([]);
  });

  it.each(['', '{"id":"a"}', '[1]', '[{"kind":"CLIENT"}]', '[{"id":"a"},'])('refuses %j', (body) => {
    expect(spanKinds(body)).toBeUndefined();
  });
});

describe('startZipkinCollector', () => {
  let collector: Awaited<ReturnType<typeof startZipkinCollector>>;
  beforeAll(async () => { collector = await startZipkinCollector(0); });
  afterAll(() => collector.close());

  const post = async (path: string, body: string): Promise<number> =>
    (await fetch(`http://127.0.0.1:${collector.port}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } })).status;

  it('answers 202 to span reports and counts them; 400 to a bad report, 404 elsewhere; tells the counts at /counts', async () => {
    expect(await post('/api/v2/spans', '[{"id":"a","kind":"CLIENT"},{"id":"b","kind":"CLIENT"}]')).toBe(202);
    expect(await post('/api/v2/spans', '[{"id":"c","kind":"CLIENT"}]')).toBe(202);
    expect(await post('/api/v2/spans', 'not json')).toBe(400);
    expect(await post('/api/v1/spans', '[]')).toBe(404);
    const counts = { reports: 2, spans: 3, byKind: { CLIENT: 3 }, rejected: 2 };
    expect(collector.counts()).toEqual(counts);
    expect(await fetchCollectorCounts(collector.port)).toEqual(counts);
  });
});
