// Secrets fetched over SDS (SdsSecretConfig with sds_config): one DynamicSecret per config source, kind and
// name, shared by every TLS context naming it, as Envoy's SecretManagerImpl shares its SDS providers. A secret
// is subscribed from the first listener or cluster that retains it to the last release; each accepted version
// swaps its material whole (new handshakes take it, open connections keep theirs). Before its first version it
// is pending: contexts using it are not ready. Knows no transport: the xDS wiring is injected (SecretWatcher).

import type { Clock, TimerHandle } from '../common/clock.ts';
import type { ComponentLogger } from '../common/logger.ts';
import { fail, ok, type ConfigError } from '../common/result.ts';
import { checkBackingCluster, configSourceKey, type ConfigSourceConfig } from '../config/config-source.ts';
import type { Counter, StatsScope } from '../stats/scope.ts';
import { sameMaterial, type SecretMaterial } from './secret-material.ts';
import type { LoadedSecret, SecretWire } from './secret-schema.ts';
import type { SecretKind, SecretLookup, TlsSecret } from './secret-scope.ts';

/** Applies one version of a Secret; returned errors (paths relative to the Secret) reject the response. */
export type SecretHandler = (secret: LoadedSecret, versionInfo: string) => readonly ConfigError[];

/** The SDS subscriptions (proxy/xds), as the secrets see them. */
export interface SecretWatcher {
  /**
   * Watches the Secret `name` of `source`: `apply` runs for each version (at once with the one already held),
   * `rejected` for each rejected response implicating it.
   */
  watchSecret(source: ConfigSourceConfig, name: string, apply: SecretHandler, rejected: () => void): { cancel(): void };
}

export interface DynamicSecretRuntime {
  readonly watcher: SecretWatcher;
  readonly clock: Clock;
  readonly log: ComponentLogger;
  readonly stats: StatsScope;
}

/** Envoy's SDS stats, `sds.<name>.*` (shared with the static secret of the same name). */
interface SdsStats {
  readonly updateSuccess: Counter;
  readonly updateRejected: Counter;
  readonly initFetchTimeout: Counter;
}

export class DynamicSecret implements TlsSecret {
  readonly name: string;
  readonly kind: SecretKind;
  readonly source: ConfigSourceConfig;
  private loaded: LoadedSecret | undefined;
  private version = '';
  private updatedAtMs = 0;
  private refs = 0;
  private watch: { cancel(): void } | null = null;
  private runtime: DynamicSecretRuntime | undefined;
  private stats: SdsStats | undefined;
  private readonly listeners = new Set<() => void>();
  private responded = false;
  private firstWaiters: (() => void)[] = [];

  constructor(name: string, kind: SecretKind, source: ConfigSourceConfig) {
    this.name = name;
    this.kind = kind;
    this.source = source;
  }

  get current(): SecretMaterial | undefined {
    return this.loaded?.material;
  }

  get wire(): SecretWire | undefined {
    return this.loaded?.wire;
  }

  /** The version_info of the response that brought the current material ('' = none yet). */
  get versionInfo(): string {
    return this.version;
  }

  /** Wall-clock ms of the last accepted version (0 = none yet). */
  get lastUpdatedMs(): number {
    return this.updatedAtMs;
  }

  /** Some listener or cluster uses it (it is subscribed once the server runs). */
  get inUse(): boolean {
    return this.refs > 0;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  retain(): () => void {
    this.refs++;
    this.subscribe();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.refs === 0) this.unsubscribe();
    };
  }

  /** The server runs: stats, logs and the watcher; subscribes if something already retains it. */
  attach(runtime: DynamicSecretRuntime): void {
    this.runtime = runtime;
    const s = runtime.stats.scope(`sds.${this.name}`);
    this.stats = { updateSuccess: s.counter('update_success'), updateRejected: s.counter('update_rejected'), initFetchTimeout: s.counter('init_fetch_timeout') };
    if (this.refs > 0) this.subscribe();
  }

  detach(): void {
    this.unsubscribe();
    this.runtime = undefined;
    this.markResponded();
  }

  /** Resolves at the first response handled for it, accepted or rejected (Envoy's SdsApi init target). */
  firstResponse(): Promise<void> {
    if (this.responded) return Promise.resolve();
    return new Promise((resolve) => this.firstWaiters.push(resolve));
  }

  /** initial_fetch_timeout passed before the first response. */
  initialFetchTimedOut(): void {
    this.stats?.initFetchTimeout.inc();
    this.runtime?.log.warning(`secret ${this.name}: no SDS response within initial_fetch_timeout (${this.source.initialFetchTimeoutMs} ms); TLS contexts using it reset connections until it arrives`);
  }

  private subscribe(): void {
    if (this.watch || !this.runtime) return;
    this.watch = this.runtime.watcher.watchSecret(this.source, this.name, (secret, versionInfo) => this.apply(secret, versionInfo), () => this.rejected());
  }

  private unsubscribe(): void {
    this.watch?.cancel();
    this.watch = null;
  }

  /**
   * Envoy keeps one provider per kind of secret (SecretManagerImpl): a Secret of the other kind under this name
   * is rejected rather than leaving the contexts using it without material.
   */
  private apply(secret: LoadedSecret, versionInfo: string): readonly ConfigError[] {
    if (secret.material.kind !== this.kind) {
      return [{ path: secret.material.kind, kind: 'invalid', message: `secret "${this.name}" holds a ${secret.material.kind}, but a TLS context uses it as a ${this.kind}` }];
    }
    const rotated = !this.loaded || !sameMaterial(this.loaded.material, secret.material);
    this.loaded = secret;
    this.version = versionInfo;
    this.updatedAtMs = this.runtime?.clock.now() ?? 0;
    this.stats?.updateSuccess.inc();
    this.markResponded();
    if (!rotated) return [];
    const m = secret.material;
    this.runtime?.log.info(`secret ${this.name}: version ${versionInfo} from SDS${m.kind === 'tls_certificate' ? `, certificate serial ${m.chain[0]!.serialNumber.toLowerCase()}` : ''}`);
    for (const l of [...this.listeners]) l();
    return [];
  }

  private rejected(): void {
    this.stats?.updateRejected.inc();
    // As Envoy's SdsApi::onConfigUpdateFailed: a rejected first fetch lets server init continue.
    this.markResponded();
  }

  private markResponded(): void {
    this.responded = true;
    const waiters = this.firstWaiters;
    this.firstWaiters = [];
    for (const w of waiters) w();
  }
}

/** Every SDS secret of one proxy, created as TLS contexts name them (bootstrap, LDS, CDS). */
export class DynamicSecrets {
  private readonly byKey = new Map<string, DynamicSecret>();
  private runtime: DynamicSecretRuntime | undefined;

  /** The shared secret for (source, kind, name); created unsubscribed on first use. */
  get(name: string, source: ConfigSourceConfig, kind: SecretKind): DynamicSecret {
    const key = `${configSourceKey(source)}|${kind}|${name}`;
    let secret = this.byKey.get(key);
    if (!secret) {
      secret = new DynamicSecret(name, kind, source);
      this.byKey.set(key, secret);
      if (this.runtime) secret.attach(this.runtime);
    }
    return secret;
  }

  all(): readonly DynamicSecret[] {
    return [...this.byKey.values()];
  }

  /** The secrets some listener or cluster uses (/config_dump, /certs). */
  inUse(): readonly DynamicSecret[] {
    return this.all().filter((s) => s.inUse);
  }

  /**
   * Resolves `SdsSecretConfig`s during a parse: static names against `statics`, SDS ones here. An sds_config
   * must poll a static non-EDS cluster (`primaryClusters`), as every ApiConfigSource.
   */
  lookup(statics: SecretLookup, primaryClusters: ReadonlySet<string>): SecretLookup {
    return {
      get: (name) => statics.get(name),
      sds: (name, source, kind, path) => {
        const errors = checkBackingCluster(source, path, primaryClusters);
        return errors.length > 0 ? fail(errors) : ok(this.get(name, source, kind));
      },
    };
  }

  /** The server runs: secrets retained so far subscribe, later ones as they are retained. Idempotent. */
  start(runtime: DynamicSecretRuntime): void {
    if (this.runtime) return;
    this.runtime = runtime;
    for (const s of this.byKey.values()) s.attach(runtime);
  }

  /**
   * Resolves once each of `secrets` had its first response or its source's initial_fetch_timeout passed
   * (0 = wait for ever, as Istio configures it), or close().
   */
  async whenFetched(secrets: readonly DynamicSecret[], clock: Clock): Promise<void> {
    await Promise.all(secrets.map(async (s) => {
      const timeoutMs = s.source.initialFetchTimeoutMs;
      if (timeoutMs === 0) return s.firstResponse();
      let timer: TimerHandle | undefined;
      const timedOut = new Promise<boolean>((resolve) => { timer = clock.setTimer(() => resolve(true), timeoutMs); });
      if (await Promise.race([s.firstResponse().then(() => false), timedOut])) s.initialFetchTimedOut();
      timer?.cancel();
    }));
  }

  close(): void {
    for (const s of this.byKey.values()) s.detach();
    this.runtime = undefined;
  }
}
