// Envoy's retry back-off (JitteredExponentialBackOffStrategy, "full jitter"): each retry waits
// random() % next_interval ms, then next_interval doubles, pinned at max_interval once doubling would pass it.

import type { Random } from '../../../common/clock.ts';

export class JitteredExponentialBackOff {
  private readonly maxMs: number;
  private readonly random: Random;
  private nextMs: number;

  /** `baseMs` >= 1 and `maxMs` >= baseMs (RetryBackOff validation guarantees both). */
  constructor(baseMs: number, maxMs: number, random: Random) {
    this.nextMs = baseMs;
    this.maxMs = maxMs;
    this.random = random;
  }

  /** The delay before the next retry, in ms. */
  nextBackOffMs(): number {
    const interval = this.nextMs;
    this.nextMs = interval > this.maxMs / 2 ? this.maxMs : interval * 2;
    return Math.min(this.random.nextUint32() % interval, this.maxMs);
  }
}
