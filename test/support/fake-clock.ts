// A fake Clock and a scripted Random for tests: time moves only when the test calls advance(), and timers
// fire in due order, so timing logic is exact and no test sleeps.

import type { Clock, Random, TimerHandle } from '../../proxy/common/clock.ts';

interface PendingTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class FakeClock implements Clock {
  private mono: number;
  private readonly wallOffset: number;
  private seq = 0;
  private timers: PendingTimer[] = [];

  constructor(startWallMs = Date.UTC(2026, 0, 1), startMonotonicMs = 1_000) {
    this.mono = startMonotonicMs;
    this.wallOffset = startWallMs - startMonotonicMs;
  }

  now(): number {
    return this.mono + this.wallOffset;
  }

  monotonicMs(): number {
    return this.mono;
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const t: PendingTimer = { at: this.mono + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(t);
    return { cancel: () => { t.cancelled = true; } };
  }

  /** Timers not yet fired or cancelled. */
  pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by ms, firing every timer that falls due, in order (including ones they schedule). */
  advance(ms: number): void {
    const target = this.mono + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => !t.cancelled && t.at <= target)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.mono = due.at;
      due.cancelled = true;
      this.timers = this.timers.filter((t) => t !== due);
      due.fn();
    }
    this.mono = target;
    this.timers = this.timers.filter((t) => !t.cancelled);
  }
}

/** Returns the given values in order (then repeats the last); next() values must be in [0, 1). */
export class ScriptedRandom implements Random {
  private i = 0;
  private readonly values: readonly number[];
  constructor(values: readonly number[]) {
    if (values.length === 0) throw new Error('ScriptedRandom needs at least one value');
    this.values = values;
  }
  next(): number {
    const v = this.values[Math.min(this.i, this.values.length - 1)]!;
    this.i++;
    return v;
  }
  nextUint32(): number {
    return Math.floor(this.next() * 0x1_0000_0000) >>> 0;
  }
}

/** A deterministic PRNG (mulberry32) for statistical tests that need many values. */
export class SeededRandom implements Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  next(): number {
    return this.nextUint32() / 0x1_0000_0000;
  }
}
