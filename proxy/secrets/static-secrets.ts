// The bootstrap's static_resources.secrets at run time: each secret's current material, reloaded when its
// watched_directory changes (rotation). A reload is checked (chain parses, key matches the certificate)
// before it replaces the served one; a bad or half-written set keeps the old secret, logs the reason and
// counts sds.<name>.key_rotation_failed. TLS contexts subscribe to the secrets they name.

import { resolve } from 'node:path';
import type { Clock } from '../common/clock.ts';
import type { ComponentLogger } from '../common/logger.ts';
import type { ConfigError } from '../common/result.ts';
import type { Counter, StatsScope } from '../stats/scope.ts';
import { watchDirectory, type DirectoryWatch } from './directory-watch.ts';
import { loadSecretMaterial, sameMaterial, type SecretMaterial } from './secret-material.ts';
import type { SecretWire } from './secret-schema.ts';
import type { SecretLookup, TlsSecret } from './secret-scope.ts';

export interface SecretStats {
  readonly updateSuccess: Counter;
  readonly keyRotationFailed: Counter;
}

/** One named static secret. */
export class StaticSecret implements TlsSecret {
  readonly name: string;
  readonly kind: SecretMaterial['kind'];
  /** The secret as configured (file names, or inline data: /config_dump redacts the key). */
  readonly wire: SecretWire;
  /** watched_directory.path, absolute; undefined = loaded once. */
  readonly watchedDirectory: string | undefined;
  private readonly path: string;
  private material: SecretMaterial | undefined;
  private updatedAtMs = 0;
  private readonly listeners = new Set<() => void>();
  private stats: SecretStats | undefined;
  private log: ComponentLogger | undefined;
  private clock: Clock | undefined;

  constructor(wire: SecretWire, path: string, material: SecretMaterial | undefined) {
    this.name = wire.name;
    this.kind = wire.tls_certificate ? 'tls_certificate' : 'validation_context';
    this.wire = wire;
    this.path = path;
    const dir = (wire.tls_certificate ?? wire.validation_context)?.watched_directory?.path;
    this.watchedDirectory = dir === undefined ? undefined : resolve(dir);
    this.material = material;
  }

  /** undefined while the files of a watched_directory secret do not exist yet (the agent writes them). */
  get current(): SecretMaterial | undefined {
    return this.material;
  }

  /** Wall-clock ms of the last successful load (0 = at config time). */
  get lastUpdatedMs(): number {
    return this.updatedAtMs;
  }

  /** Called after each successful rotation; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Loaded with the bootstrap and watched for the server's life: nothing to hold. */
  retain(): () => void {
    return () => {};
  }

  attach(clock: Clock, log: ComponentLogger, stats: StatsScope): void {
    this.clock = clock;
    this.log = log;
    const s = stats.scope(`sds.${this.name}`);
    this.stats = { updateSuccess: s.counter('update_success'), keyRotationFailed: s.counter('key_rotation_failed') };
  }

  /** Re-reads the secret's sources; keeps the current material when the new set is unreadable or inconsistent. */
  reload(): boolean {
    const loaded = loadSecretMaterial(this.wire, this.path);
    if (!loaded.ok) {
      this.stats?.keyRotationFailed.inc();
      this.log?.warning(`secret ${this.name}: reload failed, ${this.material ? 'keeping the current one' : 'not loaded yet'}: ${loaded.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
      return false;
    }
    if (this.material && sameMaterial(this.material, loaded.value)) return true;
    this.material = loaded.value;
    this.updatedAtMs = this.clock?.now() ?? 0;
    this.stats?.updateSuccess.inc();
    this.log?.info(`secret ${this.name}: loaded${loaded.value.kind === 'tls_certificate' ? ` certificate serial ${loaded.value.chain[0]!.serialNumber.toLowerCase()}` : ''}`);
    for (const l of [...this.listeners]) l();
    return true;
  }
}

export interface SecretRuntime {
  readonly clock: Clock;
  readonly log: ComponentLogger;
  readonly stats: StatsScope;
}

/** The static secrets of one bootstrap, by name. */
export class StaticSecrets implements SecretLookup {
  private readonly byName: ReadonlyMap<string, StaticSecret>;
  private watches: DirectoryWatch[] = [];
  private runtime: SecretRuntime | undefined;
  private readonly waiters = new Set<() => void>();

  private constructor(secrets: readonly StaticSecret[]) {
    this.byName = new Map(secrets.map((s) => [s.name, s]));
  }

  static readonly empty = new StaticSecrets([]);

  /**
   * Loads every secret now (`listPath` = `static_resources.secrets`), returning those that load and the errors. Unreadable sources are config errors,
   * except files of a secret with a watched_directory that do not exist yet: such a secret starts unloaded
   * and the server's init waits for it (the workload agent, or whoever provisions the directory, writes them).
   */
  static build(wires: readonly SecretWire[], listPath: string): { readonly secrets: StaticSecrets; readonly errors: readonly ConfigError[] } {
    const errors: ConfigError[] = [];
    const secrets: StaticSecret[] = [];
    const seen = new Map<string, number>();
    wires.forEach((wire, i) => {
      const path = `${listPath}[${i}]`;
      const first = seen.get(wire.name);
      if (first !== undefined) {
        errors.push({ path: `${path}.name`, kind: 'invalid', message: `duplicate secret name "${wire.name}" (also ${listPath}[${first}])` });
        return;
      }
      seen.set(wire.name, i);
      const loaded = loadSecretMaterial(wire, path);
      const watched = (wire.tls_certificate ?? wire.validation_context)?.watched_directory !== undefined;
      if (loaded.ok) secrets.push(new StaticSecret(wire, path, loaded.value));
      else if (watched && loaded.errors.every((e) => e.message.includes('ENOENT'))) secrets.push(new StaticSecret(wire, path, undefined));
      else errors.push(...loaded.errors);
    });
    // The secrets that load are returned with the errors, so references to them are not reported too.
    return { secrets: new StaticSecrets(secrets), errors };
  }

  get(name: string): StaticSecret | undefined {
    return this.byName.get(name);
  }

  all(): readonly StaticSecret[] {
    return [...this.byName.values()];
  }

  /** Starts watching every watched_directory. Idempotent. */
  start(runtime: SecretRuntime): void {
    if (this.runtime) return;
    this.runtime = runtime;
    for (const s of this.byName.values()) s.attach(runtime.clock, runtime.log, runtime.stats);
    for (const dir of new Set(this.all().flatMap((s) => (s.watchedDirectory ? [s.watchedDirectory] : [])))) {
      this.watches.push(watchDirectory(dir, runtime.clock, () => this.reloadDirectory(dir), (m) => runtime.log.warning(m)));
    }
  }

  /** Reloads every secret watching `dir` now (the directory watch, or the agent right after it wrote). */
  reloadDirectory(dir: string): void {
    const abs = resolve(dir);
    for (const s of this.byName.values()) if (s.watchedDirectory === abs) s.reload();
    if (this.pending().length === 0) for (const w of [...this.waiters]) w();
  }

  /** Secrets not loaded yet. */
  pending(): readonly StaticSecret[] {
    return this.all().filter((s) => s.current === undefined);
  }

  /**
   * Resolves when every secret is loaded. Envoy waits for a TLS context's secrets before its listener or
   * cluster warms; Istio sets the SDS initial_fetch_timeout to 0s (wait for ever), and so does nodevoy.
   */
  whenReady(): Promise<void> {
    if (this.pending().length === 0) return Promise.resolve();
    return new Promise((done) => {
      const waiter = (): void => {
        this.waiters.delete(waiter);
        done();
      };
      this.waiters.add(waiter);
    });
  }

  close(): void {
    for (const w of this.watches) w.close();
    this.watches = [];
    this.runtime = undefined;
    for (const w of [...this.waiters]) w();
  }
}
