// The trace decision packed into x-request-id (Envoy's UUID request id extension) and made by
// mutateTracingRequestHeader: kept if present, client / forced / random sampling, the overall veto.

import { describe, expect, it } from 'vitest';
import { mutateTracingRequestHeader, requestIdInteger, traceReasonOf, withTraceReason, type TracingSampling } from '../../../proxy/tracing/request-id.ts';
import { ScriptedRandom, SeededRandom } from '../../support/fake-clock.ts';

/** A UUID whose first 8 hex digits are `head` (so hash % 10000 is known) and whose trace nibble is `nibble`. */
function uuid(head: number, nibble = '4'): string {
  return `${head.toString(16).padStart(8, '0')}-1111-${nibble}222-8333-444444444444`;
}

const ALL: TracingSampling = { clientNumerator: 100, randomNumerator: 10_000, overallNumerator: 10_000 };

describe('the request id trace nibble', () => {
  it.each([
    ['4', 'NotTraceable'], ['9', 'Sampling'], ['a', 'ServiceForced'], ['b', 'ClientForced'], ['c', 'NotTraceable'],
  ] as const)('char 14 = %s reads as %s', (nibble, reason) => {
    expect(traceReasonOf(uuid(1, nibble))).toBe(reason);
  });

  it('only a 36-character id carries a reason, and only such an id is rewritten', () => {
    expect(traceReasonOf('0000000a-1111-9222')).toBe('NotTraceable');
    expect(withTraceReason('short-id-9', 'Sampling')).toBe('short-id-9');
    expect(withTraceReason(uuid(1), 'ServiceForced')[14]).toBe('a');
    expect(withTraceReason(uuid(1, 'a'), 'NotTraceable')).toBe(uuid(1, '4'));
  });

  it('the sampling integer is the first 8 hex digits, stable whatever the nibble says', () => {
    expect(requestIdInteger(uuid(0x0000_1234))).toBe(0x1234);
    expect(requestIdInteger(uuid(0xdeadbeef, '9'))).toBe(requestIdInteger(uuid(0xdeadbeef, '4')));
    expect(requestIdInteger('xyz')).toBeUndefined();
    expect(requestIdInteger('g0000000-rest')).toBeUndefined();
  });
});

describe('mutateTracingRequestHeader', () => {
  const cases: {
    name: string; headers: Record<string, string>; sampling?: Partial<TracingSampling>; draw?: number;
    reason: string; nibble?: string;
  }[] = [
    { name: 'random_sampling 100 % samples every request', headers: { 'x-request-id': uuid(9_999) }, reason: 'Sampling', nibble: '9' },
    { name: 'hash % 10000 below random_sampling is sampled', headers: { 'x-request-id': uuid(20_999) }, sampling: { randomNumerator: 1000 }, reason: 'Sampling', nibble: '9' },
    { name: 'hash % 10000 at random_sampling is not', headers: { 'x-request-id': uuid(21_000) }, sampling: { randomNumerator: 1000 }, reason: 'NotTraceable', nibble: '4' },
    { name: 'random_sampling 0 samples nothing', headers: { 'x-request-id': uuid(0) }, sampling: { randomNumerator: 0 }, reason: 'NotTraceable', nibble: '4' },
    { name: 'a decision already in the id is kept (sampled)', headers: { 'x-request-id': uuid(9_999, '9') }, sampling: { randomNumerator: 0 }, reason: 'Sampling', nibble: '9' },
    { name: 'a decision already in the id is kept (forced)', headers: { 'x-request-id': uuid(9_999, 'a') }, sampling: { randomNumerator: 0 }, reason: 'ServiceForced', nibble: 'a' },
    { name: 'a decision already in the id is kept (client)', headers: { 'x-request-id': uuid(9_999, 'b') }, sampling: { randomNumerator: 0 }, reason: 'ClientForced', nibble: 'b' },
    { name: 'x-client-trace-id with client_sampling forces the trace', headers: { 'x-request-id': uuid(9_999), 'x-client-trace-id': 'c1' }, sampling: { randomNumerator: 0 }, reason: 'ClientForced', nibble: 'b' },
    // ScriptedRandom: the uint32 draw is value × 2^32, and the client_sampling decision is draw % 100 < numerator.
    { name: 'client_sampling draws: a miss falls through to random sampling', headers: { 'x-request-id': uuid(9_999), 'x-client-trace-id': 'c1' }, sampling: { clientNumerator: 50, randomNumerator: 0 }, draw: 99 / 2 ** 32, reason: 'NotTraceable', nibble: '4' },
    { name: 'client_sampling draws: a hit', headers: { 'x-request-id': uuid(9_999), 'x-client-trace-id': 'c1' }, sampling: { clientNumerator: 50, randomNumerator: 0 }, draw: 10 / 2 ** 32, reason: 'ClientForced', nibble: 'b' },
    { name: 'x-envoy-force-trace forces the trace', headers: { 'x-request-id': uuid(9_999), 'x-envoy-force-trace': 'true' }, sampling: { randomNumerator: 0 }, reason: 'ServiceForced', nibble: 'a' },
    { name: 'client beats force', headers: { 'x-request-id': uuid(1), 'x-envoy-force-trace': '1', 'x-client-trace-id': 'c' }, reason: 'ClientForced', nibble: 'b' },
    { name: 'overall_sampling vetoes a random decision', headers: { 'x-request-id': uuid(5_000) }, sampling: { overallNumerator: 5_000 }, reason: 'NotTraceable', nibble: '4' },
    { name: 'overall_sampling vetoes a forced decision', headers: { 'x-request-id': uuid(5_000), 'x-envoy-force-trace': '1' }, sampling: { overallNumerator: 100 }, reason: 'NotTraceable', nibble: '4' },
    { name: 'overall_sampling vetoes a decision carried in the id (it is rewritten to 4)', headers: { 'x-request-id': uuid(7_000, '9') }, sampling: { overallNumerator: 5_000 }, reason: 'NotTraceable', nibble: '4' },
    { name: 'below overall_sampling a decision stands', headers: { 'x-request-id': uuid(4_999) }, sampling: { overallNumerator: 5_000 }, reason: 'Sampling', nibble: '9' },
    { name: 'no request id: not traced', headers: {}, reason: 'NotTraceable' },
    { name: 'a request id that does not start with 8 hex digits: not traced, even forced', headers: { 'x-request-id': 'not-a-uuid-at-all', 'x-envoy-force-trace': '1' }, reason: 'NotTraceable' },
  ];

  it.each(cases)('$name', ({ headers, sampling, draw, reason, nibble }) => {
    const h: Record<string, string> = { ...headers };
    const r = mutateTracingRequestHeader(h, { ...ALL, ...sampling }, new ScriptedRandom([draw ?? 0]));
    expect(r).toBe(reason);
    if (nibble !== undefined) {
      expect(h['x-request-id']![14]).toBe(nibble);
      // Only the nibble changes.
      expect(h['x-request-id']!.slice(0, 14) + h['x-request-id']!.slice(15)).toBe(headers['x-request-id']!.slice(0, 14) + headers['x-request-id']!.slice(15));
    }
  });

  it('a request id that is not a 36-character UUID can be sampled, but is not rewritten', () => {
    const h = { 'x-request-id': '00000001-custom-id' };
    expect(mutateTracingRequestHeader(h, ALL, new ScriptedRandom([0]))).toBe('Sampling');
    expect(h['x-request-id']).toBe('00000001-custom-id');
  });

  it('the decision is a stable hash of the request id: every hop decides the same', () => {
    const random = new SeededRandom(7);
    const sampling = { ...ALL, randomNumerator: 1_000 };
    for (let i = 0; i < 200; i++) {
      const id = uuid(random.nextUint32());
      const first = { 'x-request-id': id };
      const second = { 'x-request-id': id };
      expect(mutateTracingRequestHeader(first, sampling, random)).toBe(mutateTracingRequestHeader(second, sampling, random));
    }
  });

  it('random_sampling 10 % samples close to 10 % of random request ids', () => {
    const random = new SeededRandom(42);
    let sampled = 0;
    const n = 10_000;
    for (let i = 0; i < n; i++) {
      const h = { 'x-request-id': uuid(random.nextUint32()) };
      if (mutateTracingRequestHeader(h, { ...ALL, randomNumerator: 1_000 }, random) === 'Sampling') sampled++;
    }
    expect(sampled / n).toBeGreaterThan(0.09);
    expect(sampled / n).toBeLessThan(0.11);
  });
});
