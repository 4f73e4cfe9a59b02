// The periodic stats flush (bootstrap `stats_flush_interval`, default 5 s): closes every histogram's
// interval so /stats shows interval and cumulative quantiles as Envoy does. Not on the request path.

import type { Clock, TimerHandle } from '../common/clock.ts';
import type { StatsStore } from './store.ts';

/** Envoy's default `stats_flush_interval`. */
export const DEFAULT_STATS_FLUSH_INTERVAL_MS = 5000;

/** Merges histograms every intervalMs until the returned handle is cancelled. */
export function startStatsFlush(store: StatsStore, clock: Clock, intervalMs = DEFAULT_STATS_FLUSH_INTERVAL_MS): TimerHandle {
  let timer: TimerHandle;
  const tick = (): void => {
    store.mergeHistograms();
    timer = clock.setTimer(tick, intervalMs);
  };
  timer = clock.setTimer(tick, intervalMs);
  return { cancel: () => timer.cancel() };
}
