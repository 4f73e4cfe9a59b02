// The xDS v3 wire messages as JSON (snake_case, as Envoy's REST-JSON transport sends them) and the
// contracts of control-client: how a resource type is registered, what a subscriber is told, what a
// transport does. Knows no concrete resource type (Listener, Cluster...): those are registered from outside.

import type { ConfigError, Result } from '../proxy/common/result.ts';

/** `envoy.config.core.v3.Node` as JSON; opaque here, sent verbatim in every request (Envoy's default). */
export type XdsNode = Readonly<Record<string, unknown>>;

/** `google.rpc.Status` in `DiscoveryRequest.error_detail`: its presence makes the request a NACK. */
export interface RpcStatus {
  readonly code: number;
  readonly message: string;
}

/** `envoy.service.discovery.v3.DiscoveryRequest` (state of the world). */
export interface DiscoveryRequest {
  /** Last version of this type applied successfully; empty before the first ACK. */
  readonly version_info: string;
  readonly node: XdsNode;
  /** Empty = wildcard (LDS/CDS take every resource). */
  readonly resource_names: readonly string[];
  readonly type_url: string;
  /** Nonce of the response this request ACKs or NACKs; empty before the first response. */
  readonly response_nonce: string;
  readonly error_detail?: RpcStatus;
}

/** `envoy.service.discovery.v3.DiscoveryResponse` after parsing (resources are Any JSON: `@type` + fields). */
export interface DiscoveryResponse {
  readonly version_info: string;
  readonly resources: readonly unknown[];
  readonly type_url: string;
  readonly nonce: string;
  /** `control_plane.identifier`, kept for status/debug output. */
  readonly control_plane?: { readonly identifier: string };
}

/**
 * Scratch space one subscription lends its type's `validate` on every call, for the type to remember what it
 * parsed (e.g. the virtual hosts of a route table, so a response changing one of hundreds re-parses one).
 * Wrappers pass it through; a type that ignores it, or a call without it, validates everything.
 */
export type ValidationMemory = Map<string, unknown>;

/** ResourceType.validate's contract, as a function. */
export type Validate<T> = (resources: readonly unknown[], accepted?: readonly (T | undefined)[], memory?: ValidationMemory) => Result<readonly T[]>;

/**
 * A resource type registered into the client, by its xDS type URL. `validate` translates the wire JSON of
 * every resource in one response (each Any with `@type` removed) and returns every error; error paths are
 * rooted at the response's `resources` field, e.g. `resources[1].connect_timeout`.
 */
export interface ResourceType<T> {
  /** e.g. `type.googleapis.com/envoy.config.cluster.v3.Cluster`. */
  readonly typeUrl: string;
  /** REST path suffix: `POST /v3/discovery:<restPath>` (`listeners`, `routes`, `clusters`, `endpoints`, `secrets`). */
  readonly restPath: string;
  /**
   * True for LDS and CDS: each response is the full set, so a resource absent from it is removed.
   * False for RDS/EDS/SDS: a response carries only changed resources; removal is implied by parents.
   */
  readonly stateOfTheWorld: boolean;
  /**
   * One T per input resource, in the same order, or every error. `accepted[i]`, when set, is the value this
   * subscription already accepted for a resource with exactly `resources[i]`'s wire JSON: it passed validation
   * before, so return it as is instead of validating again (a control plane resends unchanged resources in
   * every state-of-the-world response). Absent or undefined = validate.
   */
  validate(resources: readonly unknown[], accepted?: readonly (T | undefined)[], memory?: ValidationMemory): Result<readonly T[]>;
  /** The resource's name (Listener.name, Cluster.name, ClusterLoadAssignment.cluster_name, ...). */
  name(resource: T): string;
}

/** What a subscriber receives for an accepted response. */
export interface ResourceUpdate<T> {
  readonly versionInfo: string;
  /** Names not held before. */
  readonly added: ReadonlyMap<string, T>;
  /** Names held before whose wire content changed. */
  readonly updated: ReadonlyMap<string, T>;
  /** Names held before and absent from a state-of-the-world response (always empty otherwise). */
  readonly removed: readonly string[];
  /** The whole set held after this update (the new last-good set). */
  readonly resources: ReadonlyMap<string, T>;
}

/**
 * Applies an accepted update. Returning errors (e.g. a reference the proxy cannot resolve) rejects it:
 * the response is NACKed with them and the previous set stays the last good one. A throw counts as one error.
 */
export type UpdateCallback<T> = (update: ResourceUpdate<T>) => void | readonly ConfigError[];

/**
 * Told of every rejected (NACKed) response, whatever rejected it: a malformed body, a type mismatch, `validate`,
 * duplicate names or `onUpdate` (Envoy's `onConfigUpdateFailed(UpdateRejected)`: e.g. an RDS or EDS first fetch
 * that was rejected ends warming). `errors` are those sent in the NACK, paths rooted at the response.
 */
export type RejectCallback = (errors: readonly ConfigError[]) => void;

/** The last rejected response of a type, as `/config_dump` shows it (Envoy's `error_state`). */
export interface NackState {
  readonly versionInfo: string;
  readonly nonce: string;
  readonly message: string;
  readonly atMs: number;
}

/** Per-type status for `/config_dump` and debug pages. */
export interface SubscriptionStatus {
  readonly typeUrl: string;
  readonly resourceNames: readonly string[];
  /** Last ACKed version ('' = none yet). */
  readonly versionInfo: string;
  /** Wall-clock ms of the last accepted update. */
  readonly lastUpdatedMs?: number;
  readonly lastNack?: NackState;
  /** The last time the transport could not reach the server (or got a status other than 200/304). */
  readonly lastTransportFailure?: { readonly message: string; readonly atMs: number };
  readonly resourceCount: number;
}

/** One subscription as a transport sees it: what to send, where to hand what comes back. */
export interface TransportStream {
  readonly restPath: string;
  /** The request to send now (carries the ACK/NACK of the last response). */
  nextRequest(): DiscoveryRequest;
  /** A 200 response body, as text; parsed and validated by the subscription. */
  onResponse(body: string): void;
  onFailure(message: string): void;
  /** After each 200 or 304: whether the server said it tracks what this client holds (TRACKS_HELD_HEADER). */
  serverTracksHeld?(tracks: boolean): void;
}

export interface TransportSession {
  /** Sends a request now (e.g. resource_names changed), cancelling a pending wait or in-flight request. */
  poke(): void;
  /** Stops this session: no more requests, timers cancelled. */
  close(): void;
}

/** A way of exchanging DiscoveryRequest/DiscoveryResponse with a management server. Never throws into callers. */
export interface XdsTransport {
  open(stream: TransportStream): TransportSession;
  /** Closes every session and the connections; resolves once sockets are closed. */
  stop(): Promise<void>;
}
