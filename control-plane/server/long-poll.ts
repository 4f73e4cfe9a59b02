// nodevoy's long-poll push on the REST-JSON endpoints (control-client/README.md): a request carrying
// `x-nodevoy-wait: <s>` for a version the proxy has already seen is held until the mesh changes into a
// version it has not seen (answered then) or the wait expires (304). Timers run on the injected clock.

import type { ServerResponse } from 'node:http';
import type { Clock, TimerHandle } from '../../proxy/common/clock.ts';

/** The longest hold the server grants; a longer `x-nodevoy-wait` is cut to this. Advertised to clients. */
export const DEFAULT_MAX_WAIT_SECONDS = 60;

export type ParsedWait = { ok: true; seconds: number } | { ok: false; message: string };

/** `x-nodevoy-wait`: absent = plain REST (0); otherwise non-negative seconds, capped at `maxSeconds`. */
export function parseWait(value: string | string[] | undefined, maxSeconds: number): ParsedWait {
  if (value === undefined) return { ok: true, seconds: 0 };
  const seconds = Number(Array.isArray(value) ? value[0] : value);
  if (!Number.isFinite(seconds) || seconds < 0) return { ok: false, message: `x-nodevoy-wait must be a non-negative number of seconds, got "${String(value)}"` };
  return { ok: true, seconds: Math.min(seconds, maxSeconds) };
}

interface Held {
  /** Answers the request if there is something new for it; true when answered. */
  readonly tryAnswer: () => boolean;
  readonly expire: () => void;
  readonly timer: TimerHandle;
}

/** The held requests. A request leaves the list when answered, when its wait expires or when its client goes away. */
export class WaitList {
  private readonly clock: Clock;
  private readonly held = new Set<Held>();

  constructor(clock: Clock) {
    this.clock = clock;
  }

  get size(): number {
    return this.held.size;
  }

  /** Holds `res` for `waitMs`: `tryAnswer` runs on every mesh change, `expire` (304) when the wait runs out. */
  hold(res: ServerResponse, waitMs: number, tryAnswer: () => boolean, expire: () => void): void {
    const held: Held = {
      tryAnswer,
      expire,
      timer: this.clock.setTimer(() => {
        this.held.delete(held);
        expire();
      }, waitMs),
    };
    this.held.add(held);
    res.on('close', () => this.release(held));
  }

  /** The mesh changed: every held request that now has something new is answered. */
  changed(): void {
    for (const held of [...this.held]) {
      if (held.tryAnswer()) this.release(held);
    }
  }

  /** Server shutdown: every held request is answered as if its wait had expired. */
  expireAll(): void {
    for (const held of [...this.held]) {
      this.release(held);
      held.expire();
    }
  }

  private release(held: Held): void {
    held.timer.cancel();
    this.held.delete(held);
  }
}
