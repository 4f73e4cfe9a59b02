// Per proxy and type, what the control plane sent and what the proxy says it applied: last sent version and
// nonce, last ACKed version, last NACK (error_detail.message), last request time; and the status istioctl
// proxy-status shows for it (SYNCED, NOT SENT, STALE, NACKED).

import type { DiscoveryRequest, XdsNode } from '../../control-client/types.ts';
import type { Clock } from '../../proxy/common/clock.ts';
import type { ProxyIdentity, XdsKind } from '../xds/snapshot.ts';

export type XdsSyncStatus = 'SYNCED' | 'NOT SENT' | 'STALE' | 'NACKED';

export interface TypeSync {
  /** The last response sent: its version_info and nonce. */
  sent?: { readonly version: string; readonly nonce: string; readonly atMs: number };
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

export class SyncTracker {
  private readonly clock: Clock;
  private readonly proxies = new Map<string, ProxySync>();

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Records a request: the proxy is seen, its version_info is what it runs, error_detail is a NACK. */
  observe(identity: ProxyIdentity, kind: XdsKind, request: DiscoveryRequest): void {
    const now = this.clock.now();
    let proxy = this.proxies.get(identity.id);
    if (proxy === undefined) {
      proxy = { id: identity.id, node: request.node, identity, lastSeenMs: now, types: new Map() };
      this.proxies.set(identity.id, proxy);
    }
    proxy.node = request.node;
    proxy.identity = identity;
    proxy.lastSeenMs = now;
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
  }

  sent(proxyId: string, kind: XdsKind, version: string, nonce: string): void {
    const t = this.proxies.get(proxyId)?.types.get(kind);
    if (t !== undefined) t.sent = { version, nonce, atMs: this.clock.now() };
  }

  /**
   * The proxy already runs the current version though nothing was sent to it by this server (it got it
   * before a control-plane restart): counted as sent, so it shows SYNCED rather than NOT SENT.
   */
  adopt(proxyId: string, kind: XdsKind, request: DiscoveryRequest): void {
    const t = this.proxies.get(proxyId)?.types.get(kind);
    if (t !== undefined && t.sent === undefined) t.sent = { version: request.version_info, nonce: request.response_nonce, atMs: this.clock.now() };
  }

  /**
   * True when the proxy has already seen `version` of this type: it runs it, or its last request answers
   * (ACK or NACK) the very response that carried it. Such a request is answered 304 or held.
   */
  hasSeen(proxyId: string, kind: XdsKind, request: DiscoveryRequest, version: string): boolean {
    if (request.version_info === version) return true;
    const sent = this.proxies.get(proxyId)?.types.get(kind)?.sent;
    return sent !== undefined && sent.version === version && request.response_nonce !== '' && request.response_nonce === sent.nonce;
  }

  proxy(id: string): ProxySync | undefined {
    return this.proxies.get(id);
  }

  all(): readonly ProxySync[] {
    return [...this.proxies.values()].sort((a, b) => a.id.localeCompare(b.id));
  }
}
