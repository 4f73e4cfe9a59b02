// Per proxy and type, what the control plane sent and what the proxy says it applied: last sent version,
// nonce and resource_names, last ACKed version, last NACK (error_detail.message), last request time; the status
// istioctl proxy-status shows for it (SYNCED, NOT SENT, STALE, NACKED). Proxies not heard from expire.

import type { DiscoveryRequest, XdsNode } from '../../control-client/types.ts';
import type { Clock } from '../../proxy/common/clock.ts';
import type { ProxyIdentity, XdsKind } from '../xds/snapshot.ts';

export type XdsSyncStatus = 'SYNCED' | 'NOT SENT' | 'STALE' | 'NACKED';

/** Resource Any JSON by name: what a response carried, or what the proxy holds (RDS/EDS delta answers). */
export type ResourcesByName = ReadonlyMap<string, string>;

export interface SentResponse {
  readonly version: string;
  readonly nonce: string;
  readonly atMs: number;
  /** The request's resource_names the response answered: other names are a new request (as go-control-plane). */
  readonly resourceNames: readonly string[];
  /** Every resource of that version (undefined when adopted: a version sent before a control-plane restart). */
  readonly resources?: ResourcesByName;
}

export interface TypeSync {
  /** The last response sent. */
  sent?: SentResponse;
  /**
   * The version the proxy said it runs (an ACK of `sent`) and its resources, narrowed to the names it still
   * requests (a client drops the resources it no longer names): the base of an RDS/EDS answer that carries
   * only what the proxy lacks.
   */
  running?: { readonly version: string; readonly resources: ResourcesByName };
  /** The proxy's version_info in its last request: the last version it applied ('' = none). */
  ackedVersion: string;
  /** The last request carrying error_detail: the version that nonce was sent with, and the message. */
  nack?: { readonly version: string; readonly nonce: string; readonly message: string; readonly atMs: number };
  lastRequestMs: number;
}

export interface ProxySync {
  readonly id: string;
  /** The latest node and identity the proxy sent (a restarted proxy may change its metadata). */
  node: XdsNode;
  identity: ProxyIdentity;
  lastSeenMs: number;
  readonly types: Map<XdsKind, TypeSync>;
}

/**
 * Like istioctl's xdsStatus, comparing what was sent with what the proxy reports applied; a proxy that
 * rejected the very response it was last sent is NACKED (it keeps running its previous version).
 */
export function xdsStatus(t: TypeSync | undefined): XdsSyncStatus {
  if (t?.sent === undefined) return 'NOT SENT';
  if (t.nack !== undefined && t.nack.nonce === t.sent.nonce) return 'NACKED';
  return t.ackedVersion === t.sent.version ? 'SYNCED' : 'STALE';
}

const sameNames = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((n, i) => n === b[i]);

export interface SyncTrackerOptions {
  /** A proxy with no request for this long is forgotten (it went away; anyone can POST made-up nodes). */
  readonly expireAfterMs: number;
  /** At most this many proxies are tracked; the one heard from least recently goes first. */
  readonly maxProxies: number;
}

export class SyncTracker {
  private readonly clock: Clock;
  private readonly options: SyncTrackerOptions;
  /** In order of the last request (each request moves its proxy to the end), so expiry looks only at the front. */
  private readonly proxies = new Map<string, ProxySync>();

  constructor(clock: Clock, options: SyncTrackerOptions) {
    this.clock = clock;
    this.options = options;
  }

  /** Records a request: the proxy is seen, its version_info is what it runs, error_detail is a NACK. */
  observe(identity: ProxyIdentity, kind: XdsKind, request: DiscoveryRequest): void {
    const now = this.clock.now();
    let proxy = this.proxies.get(identity.id);
    if (proxy === undefined) proxy = { id: identity.id, node: request.node, identity, lastSeenMs: now, types: new Map() };
    proxy.node = request.node;
    proxy.identity = identity;
    proxy.lastSeenMs = now;
    this.proxies.delete(identity.id);
    this.proxies.set(identity.id, proxy);
    this.evict(now);
    let t = proxy.types.get(kind);
    if (t === undefined) {
      t = { ackedVersion: '', lastRequestMs: now };
      proxy.types.set(kind, t);
    }
    t.lastRequestMs = now;
    // Both an ACK and a NACK carry the last version applied (a NACK keeps the previous good one).
    t.ackedVersion = request.version_info;
    if (request.error_detail !== undefined) {
      const version = t.sent !== undefined && t.sent.nonce === request.response_nonce ? t.sent.version : '';
      t.nack = { version, nonce: request.response_nonce, message: request.error_detail.message, atMs: now };
    }
    if (t.sent?.resources !== undefined && t.sent.version === request.version_info) t.running = { version: t.sent.version, resources: t.sent.resources };
    if (t.running !== undefined && request.resource_names.length > 0) t.running = narrowed(t.running, request.resource_names);
  }

  /** What the proxy holds of the version its request says it runs, when known (the base of a delta answer). */
  held(proxyId: string, kind: XdsKind, request: DiscoveryRequest): ResourcesByName | undefined {
    const running = this.proxies.get(proxyId)?.types.get(kind)?.running;
    return running?.version === request.version_info ? running.resources : undefined;
  }

  sent(proxyId: string, kind: XdsKind, request: DiscoveryRequest, response: { version: string; nonce: string; resources: ResourcesByName }): void {
    const t = this.proxies.get(proxyId)?.types.get(kind);
    if (t !== undefined) t.sent = { ...response, atMs: this.clock.now(), resourceNames: request.resource_names };
  }

  /**
   * The proxy already runs the current version though nothing was sent to it by this server (it got it
   * before a control-plane restart): counted as sent, so it shows SYNCED rather than NOT SENT.
   */
  adopt(proxyId: string, kind: XdsKind, request: DiscoveryRequest): void {
    const t = this.proxies.get(proxyId)?.types.get(kind);
    if (t !== undefined && t.sent === undefined) {
      t.sent = { version: request.version_info, nonce: request.response_nonce, atMs: this.clock.now(), resourceNames: request.resource_names };
    }
  }

  /**
   * True when the proxy has already seen `version` of this type for these resource_names: it runs it, or its
   * request NACKs the very response that carried it. Such a request is answered 304 or held. A request whose
   * resource_names differ from those of the last response sent is new (go-control-plane and istiod answer a
   * re-subscription), and so is one that answers that response with neither its version nor error_detail
   * (the client dropped what it held).
   */
  hasSeen(proxyId: string, kind: XdsKind, request: DiscoveryRequest, version: string): boolean {
    const sent = this.proxies.get(proxyId)?.types.get(kind)?.sent;
    if (sent !== undefined && !sameNames(sent.resourceNames, request.resource_names)) return false;
    if (request.version_info === version) return true;
    return sent !== undefined && sent.version === version && request.error_detail !== undefined && request.response_nonce === sent.nonce;
  }

  proxy(id: string): ProxySync | undefined {
    return this.proxies.get(id);
  }

  all(): readonly ProxySync[] {
    this.evict(this.clock.now());
    return [...this.proxies.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Drops proxies silent for longer than expireAfterMs, then the least recently heard beyond maxProxies. */
  private evict(now: number): void {
    for (const [id, proxy] of this.proxies) {
      if (this.proxies.size <= this.options.maxProxies && now - proxy.lastSeenMs <= this.options.expireAfterMs) break;
      this.proxies.delete(id);
    }
  }
}

/** The resources of `running` the proxy still requests (unchanged when it requests all of them). */
function narrowed(running: NonNullable<TypeSync['running']>, names: readonly string[]): NonNullable<TypeSync['running']> {
  const wanted = new Set(names);
  if ([...running.resources.keys()].every((n) => wanted.has(n))) return running;
  return { version: running.version, resources: new Map([...running.resources].filter(([n]) => wanted.has(n))) };
}
