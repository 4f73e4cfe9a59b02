// Watches on named resources of a non-state-of-the-world type (RDS, EDS, SDS): per config source, one
// subscription whose resource_names are the names someone watches, re-subscribed as watches come and
// go. Each accepted resource goes to its watchers; errors they return NACK the response; the watchers of
// the resources a NACK implicates are told (Envoy's onConfigUpdateFailed: a first fetch ends warming).

import type { XdsWatch } from '../../control-client/client.ts';
import type { Clock } from '../common/clock.ts';
import type { ConfigError } from '../common/result.ts';
import { configSourceKey, type ConfigSourceConfig } from '../config/config-source.ts';
import type { XdsClientPool } from './client-pool.ts';
import type { TrackedType } from './tracked-type.ts';

/** Applies one resource (of the response `versionInfo`); returned errors (paths relative to the resource) reject the response. */
export type NamedHandler<T> = (resource: T, versionInfo: string) => readonly ConfigError[];

/** A response carrying the watched resource (or one that could not be read) was rejected. */
export type RejectedHandler = () => void;

interface Watcher<T> {
  readonly apply: NamedHandler<T>;
  readonly rejected: RejectedHandler | undefined;
}

/** A resource in force, as /config_dump shows it. */
export interface HeldResource<T> {
  readonly name: string;
  readonly resource: T;
  /** As received (Any fields without "@type"). */
  readonly raw: unknown;
  readonly versionInfo: string;
  readonly lastUpdatedMs: number;
}

interface SourceState<T> {
  readonly source: ConfigSourceConfig;
  /** Null until the first flush subscribes. */
  watch: XdsWatch | null;
  readonly handlers: Map<string, Set<Watcher<T>>>;
  readonly held: Map<string, HeldResource<T>>;
  /** The resource_names last sent (sorted, joined). */
  sentNames: string;
  /** A flush of resource_names is queued for the end of this tick. */
  flushQueued: boolean;
}

export class NamedWatches<T> {
  private readonly tracked: TrackedType<T>;
  private readonly pool: XdsClientPool;
  private readonly clock: Clock;
  private readonly sources = new Map<string, SourceState<T>>();

  constructor(tracked: TrackedType<T>, pool: XdsClientPool, clock: Clock) {
    this.tracked = tracked;
    this.pool = pool;
    this.clock = clock;
  }

  /**
   * Watches `name`; the handler runs at once with the resource already held, if any. `onRejected` runs for each
   * rejected response implicating `name`: one whose copy of it, or whose whole body, was rejected.
   */
  watch(source: ConfigSourceConfig, name: string, handler: NamedHandler<T>, onRejected?: RejectedHandler): { cancel(): void } {
    const key = configSourceKey(source);
    let state = this.sources.get(key);
    if (!state) {
      state = { source, watch: null, handlers: new Map(), held: new Map(), sentNames: '', flushQueued: false };
      this.sources.set(key, state);
    }
    const s = state;
    let handlers = s.handlers.get(name);
    if (!handlers) {
      handlers = new Set();
      s.handlers.set(name, handlers);
      this.queueFlush(key, s);
    }
    const set = handlers;
    const watcher: Watcher<T> = { apply: handler, rejected: onRejected };
    set.add(watcher);
    const current = s.held.get(name);
    if (current) handler(current.resource, current.versionInfo);
    return {
      cancel: () => {
        if (!set.delete(watcher) || set.size > 0 || s.handlers.get(name) !== set) return;
        s.handlers.delete(name);
        s.held.delete(name);
        this.queueFlush(key, s);
      },
    };
  }

  /** Every resource in force, over all config sources. */
  held(): HeldResource<T>[] {
    return [...this.sources.values()].flatMap((s) => [...s.held.values()]);
  }

  /**
   * Sends a source's resource_names once per tick however many watches came and went in it: a CDS
   * response adding N EDS clusters re-subscribes once (Envoy pauses EDS while it applies CDS), not N
   * times, each aborting the request in flight. The last watch of a source ends its subscription instead,
   * since empty resource_names would mean "every resource".
   */
  private queueFlush(key: string, state: SourceState<T>): void {
    if (state.flushQueued) return;
    state.flushQueued = true;
    queueMicrotask(() => {
      state.flushQueued = false;
      if (this.sources.get(key) !== state) return;
      const names = [...state.handlers.keys()].sort();
      if (names.length === 0) {
        state.watch?.cancel();
        this.sources.delete(key);
        return;
      }
      const joined = names.join('\n');
      if (joined === state.sentNames) return;
      state.sentNames = joined;
      if (state.watch) state.watch.setResourceNames(names);
      else {
        state.watch = this.pool.get(state.source).subscribe(this.tracked.type, names,
          (u) => this.apply(state, u.versionInfo, [...u.added, ...u.updated]), (errors) => this.rejected(state, errors));
      }
    });
  }

  /** A NACK of this source's subscription: counted once, then the watchers of every implicated name are told. */
  private rejected(state: SourceState<T>, errors: readonly ConfigError[]): void {
    const implicated = this.tracked.rejected(errors) ?? [...state.handlers.keys()];
    for (const name of implicated) {
      for (const watcher of [...state.handlers.get(name) ?? []]) watcher.rejected?.();
    }
  }

  /**
   * Runs each changed resource's handlers. A resource every handler applied is held (so later watchers and
   * /config_dump see it) even when another resource's errors reject the response.
   */
  private apply(state: SourceState<T>, versionInfo: string, changed: readonly (readonly [string, T])[]): readonly ConfigError[] | void {
    const errors: ConfigError[] = [];
    const now = this.clock.now();
    for (const [name, resource] of changed) {
      const handlers = state.handlers.get(name);
      if (!handlers) continue;
      const root = `resources[${this.tracked.indexOf(name)}]`;
      const own = [...handlers].flatMap((w) => w.apply(resource, versionInfo).map((e) => ({ ...e, path: e.path === '' ? root : `${root}.${e.path}` })));
      if (own.length > 0) errors.push(...own);
      else state.held.set(name, { name, resource, raw: this.tracked.rawOf(name), versionInfo, lastUpdatedMs: now });
    }
    if (errors.length > 0) return errors;
    this.tracked.accepted(versionInfo);
  }
}
