// Watches on named resources of a non-state-of-the-world type (RDS, EDS): per config source, one
// subscription whose resource_names are the names someone watches, re-subscribed as watches come and
// go. Each accepted resource goes to its watchers; errors they return NACK the response.

import type { XdsWatch } from '../../control-client/client.ts';
import type { Clock } from '../common/clock.ts';
import type { ConfigError } from '../common/result.ts';
import { configSourceKey, type ConfigSourceConfig } from '../config/config-source.ts';
import type { XdsClientPool } from './client-pool.ts';
import type { TrackedType } from './tracked-type.ts';

/** Applies one resource; returned errors (paths relative to the resource) reject the response. */
export type NamedHandler<T> = (resource: T) => readonly ConfigError[];

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
  readonly watch: XdsWatch;
  readonly handlers: Map<string, Set<NamedHandler<T>>>;
  readonly held: Map<string, HeldResource<T>>;
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

  /** Watches `name`; the handler runs at once with the resource already held, if any. */
  watch(source: ConfigSourceConfig, name: string, handler: NamedHandler<T>): { cancel(): void } {
    const key = configSourceKey(source);
    let state = this.sources.get(key);
    const isNewName = !state?.handlers.has(name);
    if (!state) {
      const handlers = new Map<string, Set<NamedHandler<T>>>([[name, new Set()]]);
      const held = new Map<string, HeldResource<T>>();
      const watch = this.pool.get(source).subscribe(this.tracked.type, [name], (update) => this.apply(handlers, held, update.versionInfo, [...update.added, ...update.updated]));
      state = { watch, handlers, held };
      this.sources.set(key, state);
    } else if (isNewName) {
      state.handlers.set(name, new Set());
      state.watch.setResourceNames([...state.handlers.keys()].sort());
    }
    const s = state;
    s.handlers.get(name)!.add(handler);
    const current = s.held.get(name);
    if (current) handler(current.resource);
    return {
      cancel: () => {
        const set = s.handlers.get(name);
        if (!set?.delete(handler) || set.size > 0) return;
        s.handlers.delete(name);
        s.held.delete(name);
        // Empty resource_names would mean "every resource": the last watch ends the subscription instead.
        if (s.handlers.size === 0) {
          s.watch.cancel();
          this.sources.delete(key);
        } else {
          s.watch.setResourceNames([...s.handlers.keys()].sort());
        }
      },
    };
  }

  /** Every resource in force, over all config sources. */
  held(): HeldResource<T>[] {
    return [...this.sources.values()].flatMap((s) => [...s.held.values()]);
  }

  private apply(handlers: Map<string, Set<NamedHandler<T>>>, held: Map<string, HeldResource<T>>, versionInfo: string,
    changed: readonly (readonly [string, T])[]): readonly ConfigError[] | void {
    const errors: ConfigError[] = [];
    for (const [name, resource] of changed) {
      const root = `resources[${this.tracked.indexOf(name)}]`;
      for (const handler of handlers.get(name) ?? []) {
        errors.push(...handler(resource).map((e) => ({ ...e, path: e.path === '' ? root : `${root}.${e.path}` })));
      }
    }
    if (errors.length > 0) return this.tracked.reject(errors);
    const now = this.clock.now();
    for (const [name, resource] of changed) {
      if (handlers.has(name)) held.set(name, { name, resource, raw: this.tracked.rawOf(name), versionInfo, lastUpdatedMs: now });
    }
    this.tracked.accepted(versionInfo);
  }
}
