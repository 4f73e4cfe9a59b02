// Time, timers and randomness as injected services (DESIGN principle 4). Components take a Clock and
// a Random instead of calling Date.now(), setTimeout() or Math.random(), so tests can drive them exactly.

export interface TimerHandle {
  /** Cancels the timer; calling it after the timer fired is a no-op. */
  cancel(): void;
}

export interface Clock {
  /** Wall-clock milliseconds since the epoch (for START_TIME and logs). */
  now(): number;
  /** Monotonic milliseconds (for durations and timeouts); never goes backwards. */
  monotonicMs(): number;
  /** Runs fn once after ms milliseconds. The timer never keeps the process alive on its own. */
  setTimer(fn: () => void, ms: number): TimerHandle;
}

export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, 2^32). */
  nextUint32(): number;
}

const MAX_TIMER_MS = 0x7fff_ffff;

export const realClock: Clock = {
  now: () => Date.now(),
  monotonicMs: () => performance.now(),
  setTimer(fn, ms) {
    // setTimeout fires after 1 ms for delays above 2^31-1 ms (~24.8 days): chain shorter timers instead,
    // so a 30-day route timeout or a huge client-supplied fault delay means what it says.
    let t: NodeJS.Timeout;
    const arm = (remaining: number): void => {
      t = remaining > MAX_TIMER_MS ? setTimeout(() => arm(remaining - MAX_TIMER_MS), MAX_TIMER_MS) : setTimeout(fn, remaining);
      t.unref();
    };
    arm(ms);
    return { cancel: () => clearTimeout(t) };
  },
};

export const realRandom: Random = {
  next: () => Math.random(),
  nextUint32: () => (Math.random() * 0x1_0000_0000) >>> 0,
};
