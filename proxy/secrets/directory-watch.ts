// Watches a secret's watched_directory (Envoy's WatchedDirectory: a file moved into the directory, as
// Kubernetes' `..data` symlink swap or an atomic rename, triggers a reload). Events are debounced through the
// injected Clock, so a burst of renames reloads once, after the last one.

import { watch, type FSWatcher } from 'node:fs';
import type { Clock, TimerHandle } from '../common/clock.ts';

/** Quiet time after the last change before reloading. */
export const WATCH_DEBOUNCE_MS = 100;

export interface DirectoryWatch {
  close(): void;
}

/** Calls `onChange` once things settle after changes in `dir`; `onError` if the directory cannot be watched. */
export function watchDirectory(dir: string, clock: Clock, onChange: () => void, onError: (message: string) => void): DirectoryWatch {
  let timer: TimerHandle | null = null;
  let watcher: FSWatcher | null = null;
  const changed = (): void => {
    timer?.cancel();
    timer = clock.setTimer(() => {
      timer = null;
      onChange();
    }, WATCH_DEBOUNCE_MS);
  };
  try {
    watcher = watch(dir, { persistent: false }, changed);
    watcher.on('error', (err) => onError(`watching ${dir}: ${err.message}`));
  } catch (err) {
    onError(`cannot watch ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return {
    close() {
      timer?.cancel();
      watcher?.close();
    },
  };
}
