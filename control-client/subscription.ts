// One xDS subscription (one resource type): version_info, the last nonce, resource_names, the last good
// resource set (a resource resent unchanged is not validated again), and the ACK/NACK decision for each
// DiscoveryResponse (envoy-compat §10). Transport-agnostic:
// it builds the next DiscoveryRequest and consumes response bodies; it never touches the network or timers.

import type { Clock } from '../proxy/common/clock.ts';
import type { ConfigError } from '../proxy/common/result.ts';
import { formatConfigError, joinPath } from '../proxy/common/result.ts';
import { parseDiscoveryResponse } from './discovery-response.ts';
import { RESOURCE_TYPE_URL } from './long-poll-transport.ts';
import type {
  DiscoveryRequest, NackState, RejectCallback, ResourceType, RpcStatus, SubscriptionStatus, TransportStream, UpdateCallback, ValidationMemory, XdsNode,
} from './types.ts';

/** `google.rpc.Code.INVALID_ARGUMENT`: the code nodevoy puts in a NACK's error_detail. */
export const NACK_CODE = 3;

interface Held<T> {
  readonly resource: T;
  /** The resource's wire JSON, to tell an update from a resend of the same content. */
  readonly wire: string;
  /** The resource as received (its Any's fields), handed to validate again when a heartbeat keeps it. */
  readonly raw: unknown;
}

/** One resource of a response, unpacked: a body to validate, or a heartbeat naming one the client holds. */
interface Unpacked<T> {
  readonly raw: unknown;
  readonly wire: string;
  readonly held?: Held<T>;
}

export class Subscription<T> implements TransportStream {
  readonly restPath: string;
  private readonly type: ResourceType<T>;
  /** Lent to the type's validate on every response (ValidationMemory): this subscription's only. */
  private readonly memory: ValidationMemory = new Map();
  private readonly node: XdsNode;
  private readonly onUpdate: UpdateCallback<T>;
  private readonly onRejected: RejectCallback | undefined;
  private readonly clock: Clock;
  private names: readonly string[];
  private versionInfo = '';
  private nonce = '';
  private errorDetail: RpcStatus | undefined;
  private held: ReadonlyMap<string, Held<T>> = new Map();
  /** What the server said of itself on its last answer (TRACKS_HELD_HEADER). */
  private serverTracksHeldByName = false;
  /** Requests built so far, and the number of the last one the server answered with a 200. */
  private requestSeq = 0;
  private answeredSeq = 0;
  /** Names dropped by re-subscriptions, with the number of the last request built before the drop. */
  private readonly droppedAfter = new Map<string, number>();
  /** The held resources by wire JSON, built when first needed after `held` changes. */
  private heldByWire: ReadonlyMap<string, T> | undefined;
  private lastUpdatedMs: number | undefined;
  private lastNack: NackState | undefined;
  private lastTransportFailure: { message: string; atMs: number } | undefined;

  constructor(type: ResourceType<T>, names: readonly string[], node: XdsNode, onUpdate: UpdateCallback<T>, clock: Clock, onRejected?: RejectCallback) {
    this.type = type;
    this.restPath = type.restPath;
    this.names = [...names];
    this.node = node;
    this.onUpdate = onUpdate;
    this.onRejected = onRejected;
    this.clock = clock;
  }

  /** ACK = the response's version; NACK = the previous good version plus error_detail (both echo its nonce). */
  nextRequest(): DiscoveryRequest {
    this.requestSeq++;
    return {
      version_info: this.versionInfo,
      node: this.node,
      resource_names: this.names,
      type_url: this.type.typeUrl,
      response_nonce: this.nonce,
      ...(this.errorDetail === undefined ? {} : { error_detail: this.errorDetail }),
    };
  }

  /** Never throws: a registered type's validate/name throwing is a NACK like any invalid resource. */
  onResponse(body: string): void {
    // A 200 answers the latest request (the transport drops replies to superseded ones): the server has now
    // seen every re-subscription made before that request was built.
    this.answeredSeq = this.requestSeq;
    for (const [name, seq] of this.droppedAfter) if (seq < this.answeredSeq) this.droppedAfter.delete(name);
    try {
      this.process(body);
    } catch (e) {
      this.nack([{ path: '', kind: 'invalid', message: `update rejected: ${(e as Error).message}` }], '');
    }
  }

  private process(body: string): void {
    const parsed = parseDiscoveryResponse(body);
    this.nonce = parsed.nonce;
    if (!parsed.result.ok) return this.nack(parsed.result.errors, parsed.versionInfo);
    const response = parsed.result.value;
    const errors: ConfigError[] = [];
    if (response.type_url !== this.type.typeUrl) {
      errors.push({ path: 'type_url', kind: 'invalid', message: `type URL mismatch: subscribed to ${this.type.typeUrl}, got ${response.type_url}` });
    }
    const unpacked = response.resources.map((any, i) => this.unpack(any, joinPath('resources', i), errors));
    if (errors.length > 0) return this.nack(errors, response.version_info);

    // Only resources whose wire JSON differs from every held one (and that no heartbeat keeps) are validated again.
    const items = unpacked as Unpacked<T>[];
    const heldByWire = (this.heldByWire ??= new Map([...this.held.values()].map((h) => [h.wire, h.resource] as const)));
    const accepted = items.map((u) => u.held?.resource ?? heldByWire.get(u.wire));
    const validated = this.type.validate(items.map((u) => u.raw), accepted, this.memory);
    if (!validated.ok) return this.nack(validated.errors, response.version_info);

    const received = new Map<string, Held<T>>();
    validated.value.forEach((resource, i) => {
      const name = this.type.name(resource);
      if (received.has(name)) {
        errors.push({ path: joinPath('resources', i), kind: 'invalid', message: `duplicate resource name "${name}" in one response` });
      }
      received.set(name, { resource, wire: items[i]!.wire, raw: items[i]!.raw });
    });
    if (errors.length > 0) return this.nack(errors, response.version_info);
    this.apply(received, response.version_info);
  }

  onFailure(message: string): void {
    this.lastTransportFailure = { message, atMs: this.clock.now() };
  }

  serverTracksHeld(tracks: boolean): void {
    this.serverTracksHeldByName = tracks;
  }

  /**
   * Changes resource_names (re-subscription); resources no longer named are dropped from the held set. When
   * a resource is dropped (the held set no longer is the version last ACKed) or a name neither requested nor
   * held is added, the next request carries version_info '' and no error_detail, so the server answers it with
   * every resource: a server versioning its whole snapshot (go-control-plane's REST Fetch) would answer 304 to
   * the old version, and a name removed and re-added before the server saw the removal would never come back.
   * A server that tracks what the client holds (serverTracksHeld: nodevoy's control plane) answers new names
   * under the same version, so the reset is kept for that last case only: a name added back before any request
   * built after its drop was answered.
   */
  setResourceNames(names: readonly string[]): void {
    const before = new Set(this.names);
    this.names = [...names];
    if (this.type.stateOfTheWorld || names.length === 0) return;
    const keep = new Set(names);
    const kept = new Map([...this.held].filter(([name]) => keep.has(name)));
    const added = names.filter((name) => !before.has(name) && !this.held.has(name));
    for (const name of this.held.keys()) if (!keep.has(name)) this.droppedAfter.set(name, this.requestSeq);
    if (kept.size === this.held.size && added.length === 0) return;
    this.held = kept;
    this.heldByWire = undefined;
    const unseenDrop = added.some((name) => (this.droppedAfter.get(name) ?? -1) >= this.answeredSeq);
    if (this.serverTracksHeldByName && !unseenDrop) return;
    this.versionInfo = '';
    this.errorDetail = undefined;
  }

  status(): SubscriptionStatus {
    return {
      typeUrl: this.type.typeUrl,
      resourceNames: this.names,
      versionInfo: this.versionInfo,
      resourceCount: this.held.size,
      ...(this.lastUpdatedMs === undefined ? {} : { lastUpdatedMs: this.lastUpdatedMs }),
      ...(this.lastNack === undefined ? {} : { lastNack: this.lastNack }),
      ...(this.lastTransportFailure === undefined ? {} : { lastTransportFailure: this.lastTransportFailure }),
    };
  }

  /**
   * An Any embeds the message's fields next to `@type`, which must be this subscription's type URL, or be an
   * xDS `Resource` wrapper: with a `resource` (an Any as above), or without one, a heartbeat (xDS TTL's "keep
   * what you have") for a resource this client holds, which nodevoy's long-poll server sends for unchanged
   * resources of LDS/CDS answers (long-poll-transport.ts HEARTBEATS_HEADER). undefined after an error.
   */
  private unpack(any: unknown, path: string, errors: ConfigError[]): Unpacked<T> | undefined {
    if (typeof any !== 'object' || any === null || Array.isArray(any)) {
      errors.push({ path, kind: 'invalid', message: 'a resource must be an Any object with "@type"' });
      return undefined;
    }
    const { '@type': typeUrl, ...fields } = any as Record<string, unknown>;
    if (typeUrl === RESOURCE_TYPE_URL) return this.unwrap(fields, path, errors);
    if (typeUrl !== this.type.typeUrl) {
      errors.push({ path: joinPath(path, '@type'), kind: 'invalid', message: `resource type ${String(typeUrl)} does not match the response type ${this.type.typeUrl}` });
      return undefined;
    }
    return { raw: fields, wire: JSON.stringify(fields) };
  }

  private unwrap(wrapper: Record<string, unknown>, path: string, errors: ConfigError[]): Unpacked<T> | undefined {
    const { name, resource, version: _version, ...rest } = wrapper;
    for (const field of Object.keys(rest)) {
      errors.push({ path: joinPath(path, field), kind: 'not-implemented', message: `field "${field}" of envoy.service.discovery.v3.Resource is valid xDS but nodevoy does not implement it` });
    }
    if (resource !== undefined) return this.unpack(resource, joinPath(path, 'resource'), errors);
    const held = typeof name === 'string' ? this.held.get(name) : undefined;
    if (held === undefined) {
      errors.push({ path: joinPath(path, 'name'), kind: 'invalid', message: `a heartbeat (Resource without resource) for ${JSON.stringify(name)}, which this client does not hold` });
      return undefined;
    }
    return { raw: held.raw, wire: held.wire, held };
  }

  /** Builds the new set (state of the world replaces it, otherwise merges) and hands the change to the subscriber. */
  private apply(received: ReadonlyMap<string, Held<T>>, versionInfo: string): void {
    const next = this.type.stateOfTheWorld ? new Map(received) : new Map([...this.held, ...received]);
    const added = new Map<string, T>();
    const updated = new Map<string, T>();
    for (const [name, h] of received) {
      const before = this.held.get(name);
      if (before === undefined) added.set(name, h.resource);
      else if (before.wire !== h.wire) updated.set(name, h.resource);
    }
    const removed = [...this.held.keys()].filter((name) => !next.has(name));
    const resources = new Map([...next].map(([name, h]) => [name, h.resource] as const));
    let rejected: readonly ConfigError[] | void;
    try {
      rejected = this.onUpdate({ versionInfo, added, updated, removed, resources });
    } catch (e) {
      rejected = [{ path: '', kind: 'invalid', message: `update rejected: ${(e as Error).message}` }];
    }
    if (rejected !== undefined && rejected.length > 0) return this.nack(rejected, versionInfo);
    this.held = next;
    this.heldByWire = undefined;
    this.versionInfo = versionInfo;
    this.errorDetail = undefined;
    this.lastUpdatedMs = this.clock.now();
  }

  /**
   * Keeps version_info (the last good one) and the held set; the next request carries every error. The
   * subscriber hears of every rejection (Envoy's onConfigUpdateFailed(UpdateRejected)), whatever its cause.
   */
  private nack(errors: readonly ConfigError[], rejectedVersion: string): void {
    const message = errors.map(formatConfigError).join('\n');
    this.errorDetail = { code: NACK_CODE, message };
    this.lastNack = { versionInfo: rejectedVersion, nonce: this.nonce, message, atMs: this.clock.now() };
    try {
      this.onRejected?.(errors);
    } catch {
      // The NACK stands whatever the subscriber's bookkeeping does; a throw must not reach the transport.
    }
  }
}
