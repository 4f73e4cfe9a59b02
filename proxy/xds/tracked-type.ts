// Wraps a registered xDS ResourceType to keep what Envoy's subscription stats and /config_dump need:
// `<prefix>.update_attempt|update_success|update_rejected|version` and the resources of the last rejected
// response (Envoy's UpdateFailureState.failed_configuration), found by the `resources[i]` error paths.
// `rejected` is the subscription's onRejected: every NACK, whatever its cause, is counted here once.

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
  /** `raw` holds the response being handled (validate ran for it): false for a body rejected before that. */
  private rawIsCurrent = false;
  private lastRejection: RejectedResources | null = null;
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
      validate: (resources, accepted, memory) => {
        this.attempt?.inc();
        this.raw = resources;
        this.rawIsCurrent = true;
        return inner.validate(resources, accepted, memory);
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
    this.lastRejection = null;
    this.rawIsCurrent = false;
    this.markResponded();
  }

  /**
   * A NACKed response (invalid resources, a malformed body, a type mismatch, duplicate names, or errors from the
   * subscriber): counts update_rejected, keeps the implicated resources for /config_dump, and ends the first
   * fetch. Returns the names of the implicated resources, or null when the response's resources are unknown
   * (rejected before validation: every resource subscribed to is affected).
   */
  rejected(errors: readonly ConfigError[]): readonly string[] | null {
    this.rejectedCount?.inc();
    const indices = new Set(errors.flatMap((e) => {
      const m = INDEX.exec(e.path);
      return m ? [Number(m[1])] : [];
    }));
    // Errors that name no resource (e.g. the subscriber threw) implicate all of them.
    const raw = this.rawIsCurrent ? this.raw : [];
    const implicated = indices.size > 0 ? [...indices].flatMap((i) => (i < raw.length ? [raw[i]] : [])) : raw;
    this.lastRejection = {
      atMs: this.clock.now(),
      resources: new Map(implicated.map((r) => [this.rawName(r), r] as const)),
    };
    const known = this.rawIsCurrent;
    this.rawIsCurrent = false;
    this.markResponded();
    return known ? [...this.lastRejection.resources.keys()] : null;
  }

  /** The last rejected response since the last accepted one. */
  lastRejected(): RejectedResources | null {
    return this.lastRejection;
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
