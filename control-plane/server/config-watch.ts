// Watches an Istio config directory: fs.watch events, debounced on the injected clock (an editor's save is
// several events), trigger a rescan with loadIstioDirectory; every scan's result goes to onChange. Scans never
// overlap and never throw: an unreadable directory is an error entry in the result.

import { watch, type FSWatcher } from 'node:fs';
import type { Clock, TimerHandle } from '../../proxy/common/clock.ts';
import type { IstioLoadResult } from '../istio/load.ts';
import { loadIstioDirectory } from '../istio/load.ts';

/** Quiet time after the last file event before rescanning. */
export const DEFAULT_DEBOUNCE_MS = 20;

export interface WatchOptions {
  readonly clock: Clock;
  /** Called with the first scan and after every change; an exception it throws is reported to onError. */
  onChange(result: IstioLoadResult): void;
  onError?(message: string): void;
  readonly debounceMs?: number;
}

export interface DirectoryWatch {
  /** Settles once the first scan has been handed to onChange. */
  readonly ready: Promise<void>;
  close(): void;
}

export function watchIstioDirectory(dir: string, options: WatchOptions): DirectoryWatch {
  const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  let timer: TimerHandle | undefined;
  let scanning = false;
  let rescan = false;
  let closed = false;

  async function scan(): Promise<void> {
    if (scanning) {
      rescan = true;
      return;
    }
    scanning = true;
    do {
      rescan = false;
      const result = await loadIstioDirectory(dir);
      if (closed) break;
      try {
        options.onChange(result);
      } catch (e) {
        options.onError?.(`applying ${dir}: ${(e as Error).message}`);
      }
    } while (rescan && !closed);
    scanning = false;
  }

  const changed = (): void => {
    timer?.cancel();
    timer = options.clock.setTimer(() => {
      timer = undefined;
      void scan();
    }, debounceMs);
  };

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, changed);
    // The directory itself went away: report it through a rescan (which lists the read error).
    watcher.on('error', (e) => {
      options.onError?.(`watching ${dir}: ${e.message}`);
      changed();
    });
  } catch (e) {
    // A directory that does not exist yet cannot be watched; the first scan reports it.
    options.onError?.(`cannot watch ${dir}: ${(e as Error).message}`);
  }

  return {
    ready: scan(),
    close() {
      closed = true;
      timer?.cancel();
      watcher?.close();
    },
  };
}
