// Envoy's JitteredExponentialBackOffStrategy ("full jitter"), used for request retries (router) and for
// reconnecting to an unreachable management server (control-client): each attempt waits
// random() % next_interval ms, then next_interval doubles, pinned at max_interval once doubling would pass it.

import type { Random } from './clock.ts';

export class JitteredExponentialBackOff {
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly random: Random;
  private nextMs: number;

  /** `baseMs` >= 1 and `maxMs` >= baseMs (RetryBackOff validation guarantees both). */
  constructor(baseMs: number, maxMs: number, random: Random) {
    this.baseMs = baseMs;
    this.nextMs = baseMs;
    this.maxMs = maxMs;
    this.random = random;
  }

  /** The delay before the next attempt, in ms. */
  nextBackOffMs(): number {
    const interval = this.nextMs;
    this.nextMs = interval > this.maxMs / 2 ? this.maxMs : interval * 2;
    return Math.min(this.random.nextUint32() % interval, this.maxMs);
  }

  /** After a success the next failure starts again from the base interval. */
  reset(): void {
    this.nextMs = this.baseMs;
  }
}
