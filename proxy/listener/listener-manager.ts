// The ListenerManager: static listeners and LDS listeners with Envoy's lifecycle. A new or updated
// listener warms until its RDS route table arrives (or initial_fetch_timeout), then binds (or, when its
// socket is unchanged, takes over the bound one for new requests); a replaced or removed listener drains
// for the drain time, then closes. Listeners bind only once workers start (end of server init).

import type { Clock, TimerHandle } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import type { ConfigError } from '../common/result.ts';
import type { HcmConfig } from '../http/hcm-schema.ts';
import type { ConnectionManager } from '../http/connection-manager.ts';
import type { RdsRouteConfigProvider } from '../route/rds-route-config.ts';
import type { Counter, Gauge } from '../stats/scope.ts';
import { buildConnectionManager, listenerRuntimeConfig, type BuiltConnectionManager, type ConnectionManagerFactoryDeps } from './connection-manager-factory.ts';
import type { ListenerConfig } from './listener-config.ts';
import { sameSocket } from './listener-config.ts';
import { Listener } from './listener.ts';

/** Shared RDS providers, one per (config source, route_config_name); implemented by proxy/xds. */
export interface RouteConfigProviders {
  acquire(hcm: HcmConfig & { readonly rds: NonNullable<HcmConfig['rds']> }): RdsRouteConfigProvider;
  release(provider: RdsRouteConfigProvider): void;
}

export interface ListenerManagerDeps extends ConnectionManagerFactoryDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  /** --drain-time-s: how long a removed or replaced listener lets in-flight requests finish. */
  readonly drainTimeMs: number;
  /** Needed only when some HCM uses rds. */
  readonly routeProviders?: RouteConfigProviders;
}

/** One listener version as /config_dump reports it. */
export interface ListenerEntry {
  readonly config: ListenerConfig;
  /** The LDS version_info that brought it ('' for static listeners). */
  readonly versionInfo: string;
  readonly lastUpdatedMs: number;
  readonly addedViaApi: boolean;
}

interface Entry extends ListenerEntry {
  readonly built: BuiltConnectionManager;
  readonly rds: RdsRouteConfigProvider | null;
  /** The bound listener; null until it binds (or takes over its predecessor's socket). */
  listener: Listener | null;
  released: boolean;
}

interface ManagerStats {
  readonly active: Gauge;
  readonly warming: Gauge;
  readonly draining: Gauge;
  readonly added: Counter;
  readonly modified: Counter;
  readonly removed: Counter;
  readonly createSuccess: Counter;
  readonly createFailure: Counter;
}

export class ListenerManager {
  private readonly deps: ListenerManagerDeps;
  private readonly stats: ManagerStats;
  private readonly active = new Map<string, Entry>();
  private readonly warming = new Map<string, Entry>();
  private readonly draining = new Set<Entry>();
  private readonly drainDone = new Set<Promise<void>>();
  private readonly staticNames = new Set<string>();
  private readonly warmWaiters: (() => void)[] = [];
  private workersStarted = false;
  private stopped = false;

  constructor(deps: ListenerManagerDeps) {
    this.deps = deps;
    const lm = deps.stats.scope('listener_manager');
    this.stats = {
      active: lm.gauge('total_listeners_active'),
      warming: lm.gauge('total_listeners_warming'),
      draining: lm.gauge('total_listeners_draining'),
      added: lm.counter('listener_added'),
      modified: lm.counter('listener_modified'),
      removed: lm.counter('listener_removed'),
      createSuccess: lm.counter('listener_create_success'),
      createFailure: lm.counter('listener_create_failure'),
    };
  }

  /** A static_resources listener (warms like any other when it uses rds). */
  addStatic(config: ListenerConfig): void {
    this.staticNames.add(config.name);
    this.addOrUpdate(config, '', false);
  }

  isStatic(name: string): boolean {
    return this.staticNames.has(name);
  }

  /** The newest config of a listener (warming, else active). */
  configOf(name: string): ListenerConfig | undefined {
    return (this.warming.get(name) ?? this.active.get(name))?.config;
  }

  /**
   * LDS add or update (Envoy's addOrUpdateListener): the listener warms, then replaces the active one of
   * that name. A newer update of a warming listener replaces it.
   */
  addOrUpdate(config: ListenerConfig, versionInfo: string, addedViaApi = true): void {
    const name = config.name;
    const updating = this.active.has(name) || this.warming.has(name);
    const previousWarming = this.warming.get(name);
    if (previousWarming) this.retire(previousWarming);
    const rds = config.hcm.rds && this.deps.routeProviders ? this.deps.routeProviders.acquire({ ...config.hcm, rds: config.hcm.rds }) : null;
    const entry: Entry = {
      config, versionInfo, lastUpdatedMs: this.deps.clock.now(), addedViaApi,
      built: buildConnectionManager(config, rds, this.deps), rds, listener: null, released: false,
    };
    this.warming.set(name, entry);
    (updating ? this.stats.modified : this.stats.added).inc();
    this.updateGauges();
    void this.warm(entry).then(() => this.activate(entry));
  }

  /** LDS removal: the listener stops accepting now and drains in-flight requests for the drain time. */
  remove(name: string): boolean {
    const warming = this.warming.get(name);
    const active = this.active.get(name);
    if (!warming && !active) return false;
    this.warming.delete(name);
    if (warming) this.retire(warming);
    this.active.delete(name);
    if (active) this.drainEntry(active);
    this.stats.removed.inc();
    this.updateGauges();
    this.notifyIfWarm();
    return true;
  }

  /**
   * Cross-checks Envoy makes when it adds or updates listeners: no static listener's name, and no two
   * listeners on one address:port. `indexOf` gives a name's index in the response (error paths).
   */
  checkLds(listeners: ReadonlyMap<string, ListenerConfig>, changed: Iterable<string>, indexOf: (name: string) => number): ConfigError[] {
    const errors: ConfigError[] = [];
    for (const name of changed) {
      if (this.staticNames.has(name)) {
        errors.push({ path: `resources[${indexOf(name)}].name`, kind: 'invalid', message: `Error adding/updating listener(s) ${name}: a static listener of that name exists (static_resources.listeners); LDS cannot add, update or remove it` });
      }
    }
    const byAddress = new Map<string, string>();
    for (const e of this.active.values()) if (!e.addedViaApi && e.config.port !== 0) byAddress.set(`${e.config.address}:${e.config.port}`, e.config.name);
    for (const [name, l] of listeners) {
      if (l.port === 0 || this.staticNames.has(name)) continue;
      const key = `${l.address}:${l.port}`;
      const owner = byAddress.get(key);
      if (owner !== undefined && owner !== name) {
        errors.push({ path: `resources[${indexOf(name)}].address`, kind: 'invalid', message: `Error adding/updating listener(s) ${name}: address ${key} is already used by listener ${owner}` });
      } else {
        byAddress.set(key, name);
      }
    }
    return errors;
  }

  /** Binds every active listener (end of server init); later listeners bind as soon as they are warm. */
  async startWorkers(): Promise<void> {
    await this.whenWarm();
    this.workersStarted = true;
    for (const entry of this.active.values()) {
      if (entry.listener) continue;
      try {
        await this.bind(entry);
      } catch (err) {
        // A static listener that cannot bind fails the start, as in Envoy; an LDS one is dropped.
        if (!entry.addedViaApi) throw err;
        this.failed(entry, err);
      }
    }
  }

  /** Resolves once no listener is warming. */
  whenWarm(): Promise<void> {
    if (this.warming.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.warmWaiters.push(resolve));
  }

  /** Bound listeners taking new connections. */
  listeners(): Listener[] {
    return [...this.active.values()].flatMap((e) => (e.listener ? [e.listener] : []));
  }

  entries(): { readonly active: readonly ListenerEntry[]; readonly warming: readonly ListenerEntry[]; readonly draining: readonly ListenerEntry[] } {
    return { active: [...this.active.values()], warming: [...this.warming.values()], draining: [...this.draining] };
  }

  /** In-flight requests, draining listeners included. */
  activeRequests(): number {
    let n = 0;
    for (const e of [...this.active.values(), ...this.draining]) n += e.built.hcm.activeStreams();
    return n;
  }

  connections(): number {
    let n = 0;
    for (const l of this.listeners()) n += l.connectionCount();
    return n;
  }

  /** POST /healthcheck/fail: responses carry `connection: close`. */
  setDraining(draining: boolean): void {
    for (const e of this.active.values()) e.built.hcm.draining = draining;
  }

  /** SIGTERM: every listener drains for up to drainTimeMs. */
  async shutdown(drainTimeMs: number): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.active.values()].map((e) => e.listener?.drain(drainTimeMs)));
    await this.closeRest();
  }

  /** Immediate stop. */
  async close(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.active.values(), ...this.draining].map((e) => e.listener?.close()));
    await this.closeRest();
  }

  private async closeRest(): Promise<void> {
    for (const e of this.warming.values()) this.retire(e);
    this.warming.clear();
    this.notifyIfWarm();
    await Promise.all(this.drainDone);
    await Promise.all([...this.active.values()].map((e) => this.releaseResources(e)));
  }

  /** Waits for the listener's RDS table, bounded by its config source's initial_fetch_timeout (0 = forever). */
  private async warm(entry: Entry): Promise<void> {
    const rds = entry.rds;
    const source = entry.config.hcm.rds?.configSource;
    if (!rds || !source) return;
    let timer: TimerHandle | undefined;
    const timeout = source.initialFetchTimeoutMs > 0
      ? new Promise<void>((resolve) => { timer = this.deps.clock.setTimer(resolve, source.initialFetchTimeoutMs); })
      : new Promise<void>(() => {});
    await Promise.race([rds.ready(), timeout]);
    timer?.cancel();
  }

  private async activate(entry: Entry): Promise<void> {
    const name = entry.config.name;
    if (this.warming.get(name) !== entry || this.stopped) return;
    const previous = this.active.get(name);
    if (this.workersStarted) {
      const reusable = previous?.listener && sameSocket(previous.config, entry.config)
        && JSON.stringify(listenerRuntimeConfig(previous.config)) === JSON.stringify(listenerRuntimeConfig(entry.config));
      if (reusable && previous.listener) {
        // Same socket: the bound listener sends new requests to the new connection manager.
        entry.listener = previous.listener;
        const old = entry.listener.swapConnectionManager(entry.built.hcm);
        this.warming.delete(name);
        this.active.set(name, entry);
        this.drainSwapped(previous, old);
      } else {
        try {
          await this.bind(entry);
        } catch (err) {
          if (this.warming.get(name) === entry) this.warming.delete(name);
          this.failed(entry, err);
          this.updateGauges();
          this.notifyIfWarm();
          return;
        }
        if (this.warming.get(name) !== entry) {
          // Replaced or removed while binding.
          void entry.listener?.close();
          await this.releaseResources(entry);
          return;
        }
        this.warming.delete(name);
        this.active.set(name, entry);
        if (previous) this.drainEntry(previous);
      }
    } else {
      this.warming.delete(name);
      this.active.set(name, entry);
      if (previous) this.retire(previous);
    }
    this.updateGauges();
    this.notifyIfWarm();
  }

  private async bind(entry: Entry): Promise<void> {
    const listener = new Listener(listenerRuntimeConfig(entry.config), entry.built.hcm, this.deps.stats, this.deps.clock);
    entry.listener = listener;
    const port = await listener.listen();
    this.stats.createSuccess.inc();
    this.deps.logger.get('main').info(`listener '${entry.config.name}' listening on ${entry.config.address}:${port}`);
  }

  private failed(entry: Entry, err: unknown): void {
    this.stats.createFailure.inc();
    this.deps.logger.get('main').error(`listener '${entry.config.name}' failed: ${(err as Error).message}`);
    entry.listener = null;
    void this.releaseResources(entry);
  }

  /** A listener that stops taking connections: in-flight requests get the drain time, then it closes. */
  private drainEntry(entry: Entry): void {
    this.draining.add(entry);
    this.updateGauges();
    const done = (async () => {
      await entry.listener?.drain(this.deps.drainTimeMs);
      await this.releaseResources(entry);
      this.draining.delete(entry);
      this.updateGauges();
    })();
    this.drainDone.add(done);
    void done.finally(() => this.drainDone.delete(done));
  }

  /** The connection manager replaced on a kept socket: its streams finish (bounded by the drain time). */
  private drainSwapped(entry: Entry, hcm: ConnectionManager): void {
    this.draining.add(entry);
    const done = (async () => {
      let timer: TimerHandle | undefined;
      await Promise.race([hcm.idle(), new Promise<void>((resolve) => { timer = this.deps.clock.setTimer(resolve, this.deps.drainTimeMs); })]);
      timer?.cancel();
      await this.releaseResources(entry);
      this.draining.delete(entry);
      this.updateGauges();
    })();
    this.drainDone.add(done);
    void done.finally(() => this.drainDone.delete(done));
  }

  /** A listener that never served (warming, or not yet bound): nothing to drain. */
  private retire(entry: Entry): void {
    void this.releaseResources(entry);
  }

  private async releaseResources(entry: Entry): Promise<void> {
    if (entry.released) return;
    entry.released = true;
    if (entry.rds) this.deps.routeProviders?.release(entry.rds);
    await Promise.all(entry.built.accessLoggers.map((l) => l.close()));
  }

  private notifyIfWarm(): void {
    if (this.warming.size > 0) return;
    for (const resolve of this.warmWaiters.splice(0)) resolve();
  }

  private updateGauges(): void {
    this.stats.active.set(this.active.size);
    this.stats.warming.set(this.warming.size);
    this.stats.draining.set(this.draining.size);
  }
}
