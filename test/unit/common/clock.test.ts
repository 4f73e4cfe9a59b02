// The real Clock's timers: delays beyond setTimeout's 2^31-1 ms limit are chained, not fired at once.

import { describe, expect, it, vi } from 'vitest';
import { realClock } from '../../../proxy/common/clock.ts';

describe('realClock', () => {
  it('keeps timers longer than 2^31-1 ms pending until they are due (Node would fire them after 1 ms)', () => {
    vi.useFakeTimers();
    try {
      const month = 30 * 24 * 3600 * 1000;
      let fired = false;
      realClock.setTimer(() => { fired = true; }, month);
      vi.advanceTimersByTime(1000);
      expect(fired).toBe(false);
      vi.advanceTimersByTime(month - 1001);
      expect(fired).toBe(false);
      vi.advanceTimersByTime(1);
      expect(fired).toBe(true);
      let cancelled = false;
      realClock.setTimer(() => { cancelled = true; }, month).cancel();
      vi.advanceTimersByTime(month);
      expect(cancelled).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});
