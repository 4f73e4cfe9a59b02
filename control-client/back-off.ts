// Exponential back-off with full jitter for an unreachable management server, the strategy Envoy's xDS
// client uses (JitteredExponentialBackOffStrategy: wait random % interval, the interval doubling up to a cap).

import type { Random } from '../proxy/common/clock.ts';

/** Envoy's xDS gRPC mux retry defaults: 500 ms initial interval, 30 s cap. */
export const DEFAULT_BACK_OFF = { baseMs: 500, maxMs: 30_000 } as const;

export interface BackOffSettings {
  readonly baseMs: number;
  readonly maxMs: number;
}

export class JitteredBackOff {
  private readonly settings: BackOffSettings;
  private readonly random: Random;
  private intervalMs: number;

  constructor(settings: BackOffSettings, random: Random) {
    this.settings = settings;
    this.random = random;
    this.intervalMs = settings.baseMs;
  }

  /** The delay before the next attempt; each call doubles the window, pinned at maxMs. */
  nextMs(): number {
    const window = this.intervalMs;
    this.intervalMs = Math.min(window * 2, this.settings.maxMs);
    return this.random.nextUint32() % window;
  }

  /** After a success the next failure starts again from the base interval. */
  reset(): void {
    this.intervalMs = this.settings.baseMs;
  }
}
