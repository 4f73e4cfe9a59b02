// Each proxy's snapshot, built once per mesh generation and node, and what one DiscoveryRequest is answered
// with: the type's resources (filtered by resource_names) as Anys, and version_info = a short hash of them,
// so unchanged content keeps its version across mesh changes and control-plane restarts. A resource object
// that translation shares between proxies (the mesh's outbound clusters and endpoints) is serialized once, and
// an answer made of the same objects is built and hashed once per generation for every proxy selecting them.
// Only the current generation's entries are kept, and of those only nodes heard from lately (bounded).

import { createHash } from 'node:crypto';
import { RESOURCE_TYPE_URL } from '../../control-client/long-poll-transport.ts';
import type { XdsNode } from '../../control-client/types.ts';
import type { Clock } from '../../proxy/common/clock.ts';
import type { Result } from '../../proxy/common/result.ts';
import { ok } from '../../proxy/common/result.ts';
import type { EnvoyResource, ProxyIdentity, ProxySnapshot, XdsKind } from '../xds/snapshot.ts';
import { XDS_TYPES } from '../xds/snapshot.ts';
import type { MeshSource } from './mesh-source.ts';

/** The resources of one type for one request, ready to send. */
export interface TypedResources {
  readonly version: string;
  /** The JSON list of the resources, each an Any (`@type` next to its fields): hashed for the version, sent as is. */
  readonly resourcesJson: string;
  /** Each resource's Any JSON by its name, to send a proxy only what it does not hold (RDS, EDS). */
  readonly anyByName: ReadonlyMap<string, string>;
}

export interface Entry {
  readonly identity: ProxyIdentity;
  readonly generation: number;
  readonly snapshot: ProxySnapshot;
  /** Answers already computed this generation, by `kind|names`. */
  readonly answers: Map<string, TypedResources>;
}

/** The name a resource is requested by: ClusterLoadAssignment.cluster_name, otherwise `name`. */
function resourceName(kind: XdsKind, r: EnvoyResource): string {
  return String((kind === 'endpoints' ? r['cluster_name'] : r['name']) ?? '');
}

/** version_info: 16 hex digits of SHA-256 over the resources' JSON (translation emits fields in a fixed order). */
function versionOf(resourcesJson: string): string {
  return createHash('sha256').update(resourcesJson).digest('hex').slice(0, 16);
}

export interface SnapshotCacheOptions {
  /** A node with no request for this long loses its entry. */
  readonly expireAfterMs: number;
  /** At most this many entries; the least recently used goes first. */
  readonly maxEntries: number;
}

export class SnapshotCache {
  private readonly source: MeshSource;
  private readonly clock: Clock;
  private readonly options: SnapshotCacheOptions;
  /**
   * This generation's entries by node key (the Node's JSON: id, cluster and metadata all shape the snapshot), in
   * order of last use; emptied when the generation moves, since every snapshot is then rebuilt anyway.
   */
  private readonly entries = new Map<string, Entry & { lastUsedMs: number }>();
  private entriesGeneration = -1;
  /** Each resource object's Any JSON; translation reuses objects across proxies and generations. */
  private readonly anyJson = new WeakMap<EnvoyResource, string>();
  /** A number per resource object, so a selection of objects has a short key. */
  private readonly objectIds = new WeakMap<EnvoyResource, number>();
  private nextObjectId = 0;
  /** This generation's answers by type and the identity of the objects they hold, shared between proxies. */
  private shared: { generation: number; answers: Map<string, TypedResources> } = { generation: -1, answers: new Map() };

  constructor(source: MeshSource, clock: Clock, options: SnapshotCacheOptions) {
    this.source = source;
    this.clock = clock;
    this.options = options;
  }

  /** The proxy's identity and snapshot at the current generation, built on first use in each generation. */
  entry(node: XdsNode): Result<Entry> {
    const key = JSON.stringify(node);
    const generation = this.source.generation();
    const now = this.clock.monotonicMs();
    if (generation !== this.entriesGeneration) {
      this.entries.clear();
      this.entriesGeneration = generation;
    }
    let entry = this.entries.get(key);
    if (entry === undefined) {
      const identity = this.source.proxyIdentity(node);
      if (!identity.ok) return identity;
      entry = { identity: identity.value, generation, snapshot: this.source.proxySnapshot(identity.value), answers: new Map(), lastUsedMs: now };
    }
    entry.lastUsedMs = now;
    this.entries.delete(key);
    this.entries.set(key, entry);
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.options.maxEntries && now - e.lastUsedMs <= this.options.expireAfterMs) break;
      this.entries.delete(k);
    }
    return ok(entry);
  }

  /** Entries held (this generation's nodes heard from lately). */
  get size(): number {
    return this.entries.size;
  }

  /** The resources of `kind` named in `names` (empty = all), with their version. */
  answer(entry: Entry, kind: XdsKind, names: readonly string[]): TypedResources {
    const key = `${kind}|${names.join(',')}`;
    const cached = entry.answers.get(key);
    if (cached !== undefined) return cached;
    const wanted = new Set(names);
    const selected = names.length === 0 ? entry.snapshot[kind] : entry.snapshot[kind].filter((r) => wanted.has(resourceName(kind, r)));
    if (this.shared.generation !== entry.generation) this.shared = { generation: entry.generation, answers: new Map() };
    const objectsKey = `${kind}|${selected.map((r) => this.objectId(r)).join(',')}`;
    let answer = this.shared.answers.get(objectsKey);
    if (answer === undefined) {
      const anyByName = new Map(selected.map((r) => [resourceName(kind, r), this.toAny(kind, r)] as const));
      const resourcesJson = `[${[...anyByName.values()].join(',')}]`;
      answer = { version: versionOf(resourcesJson), resourcesJson, anyByName };
      this.shared.answers.set(objectsKey, answer);
    }
    entry.answers.set(key, answer);
    return answer;
  }

  private objectId(resource: EnvoyResource): number {
    let id = this.objectIds.get(resource);
    if (id === undefined) {
      id = this.nextObjectId++;
      this.objectIds.set(resource, id);
    }
    return id;
  }

  private toAny(kind: XdsKind, resource: EnvoyResource): string {
    let json = this.anyJson.get(resource);
    if (json === undefined) {
      json = JSON.stringify({ '@type': XDS_TYPES[kind], ...resource });
      this.anyJson.set(resource, json);
    }
    return json;
  }
}

/** Only Listener and Cluster responses must be the state of the world; RDS and EDS ones may carry only changes. */
const STATE_OF_THE_WORLD: ReadonlySet<XdsKind> = new Set(['listeners', 'clusters']);

/** A `Resource` without `resource`: xDS's TTL heartbeat, "keep what you have" for that name. */
const heartbeat = (name: string): string => JSON.stringify({ '@type': RESOURCE_TYPE_URL, name });

/**
 * The JSON list of resources to send for `answer`, given `held`, the resources the proxy runs (undefined when
 * not known: a new client, a control-plane restart). RDS and EDS: only what differs from `held` (as the xDS
 * protocol allows for every type but Listener and Cluster; the client merges them). LDS and CDS: every
 * resource, and to a client that takes heartbeats (nodevoy's long-poll) those it holds unchanged as heartbeats,
 * so a change to one of 300 clusters sends one cluster's body and 299 names.
 */
export function resourcesToSend(kind: XdsKind, answer: TypedResources, held: ReadonlyMap<string, string> | undefined, heartbeats = false): string {
  if (held === undefined || (STATE_OF_THE_WORLD.has(kind) && !heartbeats)) return answer.resourcesJson;
  const changed = ([name, json]: readonly [string, string]) => held.get(name) !== json;
  if (!STATE_OF_THE_WORLD.has(kind)) return `[${[...answer.anyByName].filter(changed).map(([, json]) => json).join(',')}]`;
  return `[${[...answer.anyByName].map((entry) => (changed(entry) ? entry[1] : heartbeat(entry[0]))).join(',')}]`;
}
