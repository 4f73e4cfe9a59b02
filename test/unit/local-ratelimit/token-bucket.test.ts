// The continuous-refill token bucket: starts full, refills at tokens_per_fill / fill_interval, caps at
// max_tokens; counts, remaining and next-refill times are exact under a FakeClock.

import { describe, expect, it } from 'vitest';
import { createTokenBucket } from '../../../proxy/common/token-bucket.ts';
import { FakeClock } from '../../support/fake-clock.ts';

function drain(bucket: { consume(): boolean }): number {
  let n = 0;
  while (bucket.consume()) n++;
  return n;
}

describe('token bucket', () => {
  it('starts full: max_tokens requests pass, the next one does not', () => {
    const clock = new FakeClock();
    const bucket = createTokenBucket({ maxTokens: 5, tokensPerFill: 1, fillIntervalMs: 1000 }, clock);
    expect([bucket.maxTokens, bucket.remaining, bucket.nextRefillMs]).toEqual([5, 5, 0]);
    expect(drain(bucket)).toBe(5);
    expect(bucket.remaining).toBe(0);
    expect(bucket.consume()).toBe(false);
  });

  it.each([
    // [max, tokens_per_fill, fill_interval ms, advance ms, whole tokens back]
    [10, 1, 1000, 999, 0],
    [10, 1, 1000, 1000, 1],
    [10, 1, 1000, 3500, 3],
    [10, 5, 1000, 1000, 5],
    [10, 5, 1000, 200, 1],
    [10, 3, 1000, 1000, 3],
    [10, 3, 1000, 333, 0],
    [10, 3, 1000, 334, 1],
    [100, 100, 60_000, 600, 1],
    [10, 1, 50, 175, 3],
    // capped at max_tokens, however long the bucket sat idle
    [4, 1, 1000, 3_600_000, 4],
  ])('max %i, %i per %i ms: after %i ms, %i tokens are back', (max, perFill, interval, advance, back) => {
    const clock = new FakeClock();
    const bucket = createTokenBucket({ maxTokens: max, tokensPerFill: perFill, fillIntervalMs: interval }, clock);
    expect(drain(bucket)).toBe(max);
    clock.advance(advance);
    expect(bucket.remaining).toBe(back);
    expect(drain(bucket)).toBe(back);
  });

  it('refills continuously: fractions of a token carry over between reads', () => {
    const clock = new FakeClock();
    const bucket = createTokenBucket({ maxTokens: 2, tokensPerFill: 1, fillIntervalMs: 1000 }, clock);
    drain(bucket);
    clock.advance(600);
    expect(bucket.consume()).toBe(false);
    clock.advance(400);
    expect(bucket.consume()).toBe(true);
    expect(bucket.consume()).toBe(false);
  });

  it('a steady rate after the burst: one token per fill interval', () => {
    const clock = new FakeClock();
    const bucket = createTokenBucket({ maxTokens: 3, tokensPerFill: 1, fillIntervalMs: 100 }, clock);
    let passed = 0;
    // 10 requests every 10 ms for one second: the burst of 3, then 10 more (one per 100 ms).
    for (let t = 0; t < 1000; t += 10) {
      if (bucket.consume()) passed++;
      clock.advance(10);
    }
    expect(passed).toBe(3 + 9);
  });

  it('consume(n) takes n tokens or none', () => {
    const clock = new FakeClock();
    const bucket = createTokenBucket({ maxTokens: 5, tokensPerFill: 1, fillIntervalMs: 1000 }, clock);
    expect(bucket.consume(3)).toBe(true);
    expect(bucket.consume(3)).toBe(false);
    expect(bucket.remaining).toBe(2);
  });

  it('nextRefillMs: time until the next whole token', () => {
    const clock = new FakeClock();
    const bucket = createTokenBucket({ maxTokens: 2, tokensPerFill: 3, fillIntervalMs: 1000 }, clock);
    drain(bucket);
    // 3 tokens per second: one every 333.3 ms, rounded up to 334.
    expect(bucket.nextRefillMs).toBe(334);
    clock.advance(100);
    expect(bucket.nextRefillMs).toBe(234);
    clock.advance(234);
    expect([bucket.nextRefillMs, bucket.remaining]).toEqual([0, 1]);
  });
});
