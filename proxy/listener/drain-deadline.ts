// The end of a drain period that a later shutdown can bring forward: a listener or connection manager
// removed or replaced by LDS drains until its deadline (--drain-time-s), and /quitquitquit or SIGTERM
// shorten every pending deadline to their own drain time.

import type { Clock, TimerHandle } from '../common/clock.ts';

export class DrainDeadline {
  /** Settles when the deadline is reached (or brought forward to now). */
  readonly reached: Promise<void>;
  private readonly clock: Clock;
  private atMs = Infinity;
  private timer: TimerHandle = { cancel: () => {} };
  private resolve: () => void = () => {};

  constructor(clock: Clock, drainTimeMs: number) {
    this.clock = clock;
    this.reached = new Promise((resolve) => { this.resolve = resolve; });
    this.shorten(drainTimeMs);
  }

  /** Brings the deadline forward to `drainTimeMs` from now, if that is sooner. */
  shorten(drainTimeMs: number): void {
    const at = this.clock.monotonicMs() + drainTimeMs;
    if (at >= this.atMs) return;
    this.atMs = at;
    this.timer.cancel();
    // A drain time of 0 ends the drain now, without waiting for a timer to fire.
    if (drainTimeMs <= 0) this.resolve();
    else this.timer = this.clock.setTimer(this.resolve, drainTimeMs);
  }

  /** The drain ended before the deadline: drops the timer. */
  cancel(): void {
    this.timer.cancel();
  }
}
