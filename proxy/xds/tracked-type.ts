// Wraps a registered xDS ResourceType to keep what Envoy's subscription stats and /config_dump need:
// `<prefix>.update_attempt|update_success|update_rejected|version` and the resources of the last rejected
// response (Envoy's UpdateFailureState.failed_configuration), found by the `resources[i]` error paths.

import type { ResourceType } from '../../control-client/types.ts';
import type { Clock } from '../common/clock.ts';
import type { ConfigError } from '../common/result.ts';
import { jsonName } from '../config/schema-kit.ts';
import { xxHash64 } from '../route/xxhash64.ts';
import type { Counter, Gauge, StatsScope } from '../stats/scope.ts';

/** The raw resources (Any fields, as received) of the last rejected response, by name. */
export interface RejectedResources {
  readonly atMs: number;
  readonly resources: ReadonlyMap<string, unknown>;
}

const INDEX = /^resources\[(\d+)\]/;

export class TrackedType<T> {
  readonly type: ResourceType<T>;
  private readonly attempt: Counter | undefined;
  private readonly success: Counter | undefined;
  private readonly rejectedCount: Counter | undefined;
  private readonly version: Gauge | undefined;
  private readonly clock: Clock;
  private readonly nameField: string;
  private raw: readonly unknown[] = [];
  private rejected: RejectedResources | null = null;
  private hasResponded = false;
  private readonly firstWaiters: (() => void)[] = [];

  /**
   * `stats` is the subscription's scope (e.g. `cluster_manager.cds`), null for none; `nameField` is the raw
   * field holding a resource's name (`name`, or `cluster_name` for EDS).
   */
  constructor(inner: ResourceType<T>, stats: StatsScope | null, clock: Clock, nameField: string) {
    this.clock = clock;
    this.nameField = nameField;
    this.attempt = stats?.counter('update_attempt');
    this.success = stats?.counter('update_success');
    this.rejectedCount = stats?.counter('update_rejected');
    this.version = stats?.gauge('version');
    this.type = {
      ...inner,
      // `accepted` lets the subscription skip re-validating resources it already holds unchanged.
      validate: (resources, accepted) => {
        this.attempt?.inc();
        this.raw = resources;
        const result = inner.validate(resources, accepted);
        if (!result.ok) this.reject(result.errors);
        return result;
      },
    };
  }

  /** The response's index of a resource, for error paths (-1 when not in the last response). */
  indexOf(name: string): number {
    return this.raw.findIndex((r) => this.rawName(r) === name);
  }

  /** A resource of the last response as received (for /config_dump), or undefined. */
  rawOf(name: string): unknown {
    return this.raw[this.indexOf(name)];
  }

  /** An accepted response. Envoy's `version` stat is a hash of version_info. */
  accepted(versionInfo: string): void {
    this.success?.inc();
    this.version?.set(Number(xxHash64(versionInfo) & 0xf_ffff_ffff_ffffn));
    this.rejected = null;
    this.markResponded();
  }

  /** A response rejected by validation or by the subscriber; returns the errors (the NACK detail). */
  reject(errors: readonly ConfigError[]): readonly ConfigError[] {
    this.rejectedCount?.inc();
    const indices = new Set(errors.flatMap((e) => {
      const m = INDEX.exec(e.path);
      return m ? [Number(m[1])] : [];
    }));
    // Errors that name no resource (a malformed response) implicate all of them.
    const implicated = indices.size > 0 ? [...indices].map((i) => this.raw[i]) : this.raw;
    this.rejected = {
      atMs: this.clock.now(),
      resources: new Map(implicated.map((r) => [this.rawName(r), r] as const)),
    };
    this.markResponded();
    return errors;
  }

  /** The last rejected response since the last accepted one. */
  lastRejected(): RejectedResources | null {
    return this.rejected;
  }

  /** Resolves at the first response handled, accepted or rejected (server init waits for it). */
  firstResponse(): Promise<void> {
    if (this.hasResponded) return Promise.resolve();
    return new Promise((resolve) => this.firstWaiters.push(resolve));
  }

  private markResponded(): void {
    this.hasResponded = true;
    for (const resolve of this.firstWaiters.splice(0)) resolve();
  }

  /** The resource's name as written (snake_case or lowerCamelCase). */
  private rawName(r: unknown): string {
    if (r === null || typeof r !== 'object') return '';
    const o = r as Record<string, unknown>;
    const v = o[this.nameField] ?? o[jsonName(this.nameField)];
    return typeof v === 'string' ? v : '';
  }
}
