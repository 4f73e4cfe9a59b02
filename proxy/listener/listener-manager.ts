// The ListenerManager: static listeners and LDS listeners with Envoy's lifecycle. A new or updated
// listener warms until its RDS route table arrives (or initial_fetch_timeout), then binds (or, when its
// socket is unchanged, takes over the bound one for new requests); a replaced or removed listener drains
// for the drain time (cut short by shutdown), then closes. Listeners bind only once workers start (end of
// server init).

import type { Clock, TimerHandle } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import type { ConfigError } from '../common/result.ts';
import type { HcmConfig } from '../http/hcm-schema.ts';
import type { ConnectionManager } from '../http/connection-manager.ts';
import type { RdsRouteConfigProvider } from '../route/rds-route-config.ts';
import type { Counter, Gauge } from '../stats/scope.ts';
import { buildConnectionManager, chainRuntimeConfig, listenerRuntimeConfig, type BuiltConnectionManager, type ConnectionManagerFactoryDeps } from './connection-manager-factory.ts';
import type { FilterChainConfig, ListenerConfig } from './listener-config.ts';
import { allChains, sameSocket } from './listener-config.ts';
import { DrainDeadline } from './drain-deadline.ts';
import { Listener, type ChainBinding } from './listener.ts';

/** One connection manager's use of a shared RDS provider; release() ends it (once). */
export interface RouteConfigHandle {
  readonly provider: RdsRouteConfigProvider;
  release(): void;
}

/** Shared RDS providers, one per (config source, route_config_name); implemented by proxy/xds. */
export interface RouteConfigProviders {
  /** `hcm` is the connection manager using the table (its http_filters check typed_per_filter_config, its stat_prefix scopes the RDS stats). */
  acquire(hcm: HcmConfig & { readonly rds: NonNullable<HcmConfig['rds']> }): RouteConfigHandle;
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
  /** The Listener as received (LDS) or as configured (static), for /config_dump. */
  readonly raw: unknown;
}

/** An LDS listener version that could not bind (Envoy's listener_create_failure); the previous version, if any, keeps serving. */
export interface ListenerCreateFailure {
  readonly versionInfo: string;
  readonly atMs: number;
  readonly message: string;
  readonly raw: unknown;
}

/** One filter chain's connection manager and the RDS table and SDS secrets it holds. */
interface ChainEntry {
  readonly config: FilterChainConfig;
  readonly built: BuiltConnectionManager;
  readonly rds: RouteConfigHandle | null;
  /** Releases the SDS secrets of the chain's TLS context (retained while the chain exists). */
  readonly releaseTls: () => void;
}

interface Entry extends ListenerEntry {
  /** Every filter chain, default_filter_chain last (the order Listener takes them in). */
  readonly chains: readonly ChainEntry[];
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
  /** Replaced and removed versions, each until its drain deadline. */
  private readonly draining = new Map<Entry, DrainDeadline>();
  /** Drains and binds under way (close and shutdown wait for them). */
  private readonly pending = new Set<Promise<unknown>>();
  private readonly staticNames = new Set<string>();
  private readonly createFailures = new Map<string, ListenerCreateFailure>();
  private readonly warmWaiters: (() => void)[] = [];
  private workersStarted = false;
  private stopped = false;
  /** POST /healthcheck/fail: every connection manager that becomes active answers with `connection: close`. */
  private healthCheckFailing = false;

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
    this.add(config, '', false, config.wire);
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
   * that name. A newer update of a warming listener replaces it. `raw` is the Listener as received.
   */
  addOrUpdate(config: ListenerConfig, versionInfo: string, raw: unknown): void {
    this.add(config, versionInfo, true, raw);
  }

  private add(config: ListenerConfig, versionInfo: string, addedViaApi: boolean, raw: unknown): void {
    const name = config.name;
    const updating = this.active.has(name) || this.warming.has(name);
    const chains = this.buildChains(config);
    const previousWarming = this.warming.get(name);
    if (previousWarming) this.retire(previousWarming);
    const entry: Entry = { config, versionInfo, lastUpdatedMs: this.deps.clock.now(), addedViaApi, raw, chains, listener: null, released: false };
    this.warming.set(name, entry);
    (updating ? this.stats.modified : this.stats.added).inc();
    this.updateGauges();
    void this.warm(entry).then(() => this.activate(entry));
  }

  /** A connection manager (and its RDS table, when it uses rds, and its TLS context's SDS secrets) per filter chain. */
  private buildChains(config: ListenerConfig): ChainEntry[] {
    const chains: ChainEntry[] = [];
    try {
      for (const chain of allChains(config)) {
        const hcm = chain.hcm;
        const rds = hcm.rds && this.deps.routeProviders ? this.deps.routeProviders.acquire({ ...hcm, rds: hcm.rds }) : null;
        const releaseTls = chain.tls?.retain() ?? (() => {});
        try {
          chains.push({ config: chain, built: buildConnectionManager(config, chain, rds?.provider ?? null, this.deps), rds, releaseTls });
        } catch (err) {
          rds?.release();
          releaseTls();
          throw err;
        }
      }
    } catch (err) {
      for (const c of chains) releaseChain(c);
      throw err;
    }
    return chains;
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
    this.createFailures.delete(name);
    this.stats.removed.inc();
    this.updateGauges();
    this.notifyIfWarm();
    return true;
  }

  /**
   * Cross-checks Envoy makes when it adds or updates listeners: no static listener's name, no two
   * listeners on one address:port, and an update on the same address:port keeps the socket, so it cannot
   * change enable_reuse_port (Envoy's "reuse port cannot be changed during an update") nor, in nodevoy,
   * ipv4_compat. `indexOf` gives a name's index in the response (error paths).
   */
  checkLds(listeners: ReadonlyMap<string, ListenerConfig>, changed: Iterable<string>, indexOf: (name: string) => number): ConfigError[] {
    const errors: ConfigError[] = [];
    for (const name of changed) {
      const at = `resources[${indexOf(name)}]`;
      if (this.staticNames.has(name)) {
        errors.push({ path: `${at}.name`, kind: 'invalid', message: `Error adding/updating listener(s) ${name}: a static listener of that name exists (static_resources.listeners); LDS cannot add, update or remove it` });
      }
      const next = listeners.get(name);
      const current = this.active.get(name)?.config;
      if (!next || !current || next.address !== current.address || next.port !== current.port) continue;
      if (next.enableReusePort !== current.enableReusePort) {
        errors.push({ path: `${at}.enable_reuse_port`, kind: 'invalid', message: `Listener ${name}: reuse port cannot be changed during an update` });
      }
      if (next.ipv4Compat !== current.ipv4Compat) {
        errors.push({ path: `${at}.address.socket_address.ipv4_compat`, kind: 'invalid', message: `Listener ${name}: ipv4_compat cannot be changed during an update (the socket on ${next.address}:${next.port} is kept)` });
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
    if (this.stopped) return;
    this.workersStarted = true;
    for (const entry of [...this.active.values()]) {
      if (this.stopped) return;
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
    return { active: [...this.active.values()], warming: [...this.warming.values()], draining: [...this.draining.keys()] };
  }

  /** LDS listeners whose newest version failed to bind, until a later version of that name serves or it is removed. */
  failures(): ReadonlyMap<string, ListenerCreateFailure> {
    return this.createFailures;
  }

  /** In-flight requests, draining listeners included. */
  activeRequests(): number {
    let n = 0;
    for (const e of [...this.active.values(), ...this.draining.keys()]) for (const c of e.chains) n += c.built.hcm.activeStreams();
    return n;
  }

  connections(): number {
    let n = 0;
    for (const l of this.listeners()) n += l.connectionCount();
    return n;
  }

  /** POST /healthcheck/fail|ok: responses carry `connection: close` (listeners activated later too). */
  setDraining(draining: boolean): void {
    this.healthCheckFailing = draining;
    for (const e of this.active.values()) for (const c of e.chains) c.built.hcm.draining = draining;
  }

  /**
   * SIGTERM, /quitquitquit: every listener drains for up to drainTimeMs, and so do listeners and connection
   * managers already draining after an LDS update (their own drain deadline is brought forward).
   */
  async shutdown(drainTimeMs: number): Promise<void> {
    this.stopped = true;
    for (const deadline of this.draining.values()) deadline.shorten(drainTimeMs);
    const deadline = new DrainDeadline(this.deps.clock, drainTimeMs);
    await Promise.all([...this.active.values()].map((e) => e.listener?.drain(deadline.reached)));
    deadline.cancel();
    await this.closeRest();
  }

  /** Immediate stop, draining listeners included. */
  async close(): Promise<void> {
    this.stopped = true;
    for (const deadline of this.draining.values()) deadline.shorten(0);
    const listeners = new Set([...this.active.values(), ...this.draining.keys()].flatMap((e) => (e.listener ? [e.listener] : [])));
    await Promise.all([...listeners].map((l) => l.close()));
    await this.closeRest();
  }

  private async closeRest(): Promise<void> {
    for (const e of this.warming.values()) this.retire(e);
    this.warming.clear();
    this.notifyIfWarm();
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    await Promise.all([...this.active.values()].map((e) => this.releaseResources(e)));
  }

  /** Waits for the chains' RDS tables, each bounded by its config source's initial_fetch_timeout (0 = forever). */
  private async warm(entry: Entry): Promise<void> {
    await Promise.all(entry.chains.map(async (c) => {
      const rds = c.rds?.provider;
      const source = c.config.hcm.rds?.configSource;
      if (!rds || !source) return;
      let timer: TimerHandle | undefined;
      const timeout = source.initialFetchTimeoutMs > 0
        ? new Promise<void>((resolve) => { timer = this.deps.clock.setTimer(resolve, source.initialFetchTimeoutMs); })
        : new Promise<void>(() => {});
      await Promise.race([rds.ready(), timeout]);
      timer?.cancel();
    }));
  }

  private async activate(entry: Entry): Promise<void> {
    const name = entry.config.name;
    if (this.warming.get(name) !== entry || this.stopped) return;
    const previous = this.active.get(name);
    for (const c of entry.chains) c.built.hcm.draining = this.healthCheckFailing;
    if (!this.workersStarted) {
      this.promote(entry);
      if (previous) this.retire(previous);
    } else if (previous?.listener && sameSocket(previous.config, entry.config)) {
      // Same socket: the bound listener takes the new settings and chains and sends new requests to the
      // new connection managers (a port_value 0 listener keeps its port).
      entry.listener = previous.listener;
      const old = entry.listener.update(listenerRuntimeConfig(entry.config), bindings(entry));
      this.promote(entry);
      this.drainSwapped(previous, old);
    } else {
      try {
        if (!(await this.bind(entry))) return;
      } catch (err) {
        if (this.warming.get(name) === entry) this.warming.delete(name);
        this.failed(entry, err);
        this.updateGauges();
        this.notifyIfWarm();
        return;
      }
      if (this.warming.get(name) !== entry) {
        // Replaced or removed while binding.
        await entry.listener?.close();
        await this.releaseResources(entry);
        return;
      }
      this.promote(entry);
      if (previous) this.drainEntry(previous);
    }
    this.updateGauges();
    this.notifyIfWarm();
  }

  private promote(entry: Entry): void {
    const name = entry.config.name;
    this.warming.delete(name);
    this.active.set(name, entry);
    this.createFailures.delete(name);
  }

  /** Binds the entry's listener; false when the manager stopped meanwhile (the socket is closed again). */
  private bind(entry: Entry): Promise<boolean> {
    return this.track((async () => {
      const listener = new Listener(listenerRuntimeConfig(entry.config), bindings(entry), this.deps.stats, this.deps.clock);
      const port = await listener.listen();
      if (this.stopped) {
        await listener.close();
        return false;
      }
      entry.listener = listener;
      this.stats.createSuccess.inc();
      this.deps.logger.get('main').info(`listener '${entry.config.name}' listening on ${entry.config.address}:${port}`);
      return true;
    })());
  }

  /** A version that could not bind: counted, logged and (LDS) reported in /config_dump; the previous version keeps serving. */
  private failed(entry: Entry, err: unknown): void {
    const message = (err as Error).message;
    this.stats.createFailure.inc();
    this.deps.logger.get('main').error(`listener '${entry.config.name}' failed: ${message}`);
    if (entry.addedViaApi) {
      this.createFailures.set(entry.config.name, { versionInfo: entry.versionInfo, atMs: this.deps.clock.now(), message, raw: entry.raw });
    }
    entry.listener = null;
    void this.releaseResources(entry);
  }

  /** A listener that stops taking connections: in-flight requests get the drain time, then it closes. */
  private drainEntry(entry: Entry): void {
    const deadline = new DrainDeadline(this.deps.clock, this.deps.drainTimeMs);
    this.draining.set(entry, deadline);
    this.updateGauges();
    void this.track((async () => {
      await entry.listener?.drain(deadline.reached);
      this.drained(entry, deadline);
      await this.releaseResources(entry);
    })());
  }

  /** The connection managers replaced on a kept socket: their streams finish (bounded by the drain time). */
  private drainSwapped(entry: Entry, hcms: readonly ConnectionManager[]): void {
    const deadline = new DrainDeadline(this.deps.clock, this.deps.drainTimeMs);
    this.draining.set(entry, deadline);
    this.updateGauges();
    void this.track((async () => {
      await Promise.race([Promise.all(hcms.map((h) => h.idle())), deadline.reached]);
      this.drained(entry, deadline);
      await this.releaseResources(entry);
    })());
  }

  private drained(entry: Entry, deadline: DrainDeadline): void {
    deadline.cancel();
    this.draining.delete(entry);
    this.updateGauges();
  }

  /** Runs `work` so that close and shutdown wait for it. */
  private track<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work);
    const done = (): void => { this.pending.delete(work); };
    work.then(done, done);
    return work;
  }

  /** A listener that never served (warming, or not yet bound): nothing to drain. */
  private retire(entry: Entry): void {
    void this.releaseResources(entry);
  }

  private async releaseResources(entry: Entry): Promise<void> {
    if (entry.released) return;
    entry.released = true;
    for (const c of entry.chains) releaseChain(c);
    await Promise.all(entry.chains.flatMap((c) => c.built.accessLoggers.map((l) => l.close())));
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

/** Lets go of what a chain holds: its RDS table, SDS secrets and tracer (each let go with its last user). */
function releaseChain(c: ChainEntry): void {
  c.rds?.release();
  c.releaseTls();
  c.built.tracer?.release();
}

/** What the Listener serves each chain with, in its order (default_filter_chain last). */
function bindings(entry: Entry): ChainBinding[] {
  return entry.chains.map((c) => ({ config: chainRuntimeConfig(c.config), hcm: c.built.hcm }));
}
