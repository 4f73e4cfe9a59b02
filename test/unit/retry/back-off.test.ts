// Envoy's full-jitter back-off with scripted randomness: exact intervals, doubling, pinning at the max,
// and the retry_back_off defaults / rounding applied at config time.

import { describe, expect, it } from 'vitest';
import { JitteredExponentialBackOff } from '../../../proxy/common/back-off.ts';
import { parseWith } from '../../../proxy/config/schema-kit.ts';
import { RetryPolicySchema, translateRetryPolicy } from '../../../proxy/route/retry-policy-schema.ts';
import { ScriptedRandom } from '../../support/fake-clock.ts';

/** ScriptedRandom values whose nextUint32() is exactly `n`. */
const u32 = (...ns: number[]): ScriptedRandom => new ScriptedRandom(ns.map((n) => n / 2 ** 32));

function delays(base: number, max: number, random: ScriptedRandom, n: number): number[] {
  const b = new JitteredExponentialBackOff(base, max, random);
  return Array.from({ length: n }, () => b.nextBackOffMs());
}

describe('JitteredExponentialBackOff', () => {
  it('waits random % interval, the interval doubling 25, 50, 100, 200 and then pinned at 250', () => {
    // The largest value of each window shows the window: [0,25), [0,50), [0,100), [0,200), [0,250), [0,250).
    expect(delays(25, 250, u32(24, 49, 99, 199, 249, 249), 6)).toEqual([24, 49, 99, 199, 249, 249]);
    // A value equal to the window size wraps to 0.
    expect(delays(25, 250, u32(25, 50, 100, 200, 250), 5)).toEqual([0, 0, 0, 0, 0]);
    expect(delays(25, 250, u32(0xffff_ffff), 5)).toEqual([20, 45, 95, 95, 45]);
  });

  it('pins the interval at max once doubling would pass max / 2', () => {
    // 10 → 20 → (20 > 15) 30 → 30
    expect(delays(10, 30, u32(9, 19, 29, 29), 4)).toEqual([9, 19, 29, 29]);
    // base == max: every window is [0, base).
    expect(delays(7, 7, u32(13, 13, 13), 3)).toEqual([6, 6, 6]);
  });
});

describe('retry_back_off translation', () => {
  const policy = (wire: unknown) => {
    const r = parseWith(RetryPolicySchema, wire);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return translateRetryPolicy(r.value);
  };

  it('defaults to base 25 ms and max 10 × base', () => {
    expect(policy({ retry_on: '5xx' })).toMatchObject({ baseIntervalMs: 25, maxIntervalMs: 250 });
    expect(policy({ retry_back_off: { base_interval: '0.1s' } })).toMatchObject({ baseIntervalMs: 100, maxIntervalMs: 1000 });
    expect(policy({ retry_back_off: { base_interval: '0.1s', max_interval: '0.3s' } })).toMatchObject({ baseIntervalMs: 100, maxIntervalMs: 300 });
  });

  it('rounds a base under 1 ms up to 1 ms', () => {
    expect(policy({ retry_back_off: { base_interval: '0.0002s' } })).toMatchObject({ baseIntervalMs: 1, maxIntervalMs: 10 });
  });
});
