// Each proxy's snapshot, built once per mesh generation and node, and what one DiscoveryRequest is answered
// with: the type's resources (filtered by resource_names) as Anys, and version_info = a short hash of them,
// so unchanged content keeps its version across mesh changes and control-plane restarts. A resource object
// that translation shares between proxies (the mesh's outbound clusters and endpoints) is serialized once, and
// an answer made of the same objects is built and hashed once per generation for every proxy selecting them.

import { createHash } from 'node:crypto';
import type { XdsNode } from '../../control-client/types.ts';
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

export class SnapshotCache {
  private readonly source: MeshSource;
  /** By node key (the Node's JSON: id, cluster and metadata all shape the snapshot). */
  private readonly entries = new Map<string, Entry>();
  /** Each resource object's Any JSON; translation reuses objects across proxies and generations. */
  private readonly anyJson = new WeakMap<EnvoyResource, string>();
  /** A number per resource object, so a selection of objects has a short key. */
  private readonly objectIds = new WeakMap<EnvoyResource, number>();
  private nextObjectId = 0;
  /** This generation's answers by type and the identity of the objects they hold, shared between proxies. */
  private shared: { generation: number; answers: Map<string, TypedResources> } = { generation: -1, answers: new Map() };

  constructor(source: MeshSource) {
    this.source = source;
  }

  /** The proxy's identity (read once per node) and snapshot at the current generation, rebuilt when the generation moved. */
  entry(node: XdsNode): Result<Entry> {
    const key = JSON.stringify(node);
    const generation = this.source.generation();
    const cached = this.entries.get(key);
    if (cached !== undefined && cached.generation === generation) return ok(cached);
    const identity = cached === undefined ? this.source.proxyIdentity(node) : ok(cached.identity);
    if (!identity.ok) return identity;
    const entry: Entry = { identity: identity.value, generation, snapshot: this.source.proxySnapshot(identity.value), answers: new Map() };
    this.entries.set(key, entry);
    return ok(entry);
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

interface Delivery {
  readonly version: string;
  readonly anyByName: ReadonlyMap<string, string>;
}

/**
 * What each proxy holds of RDS and EDS, so a response carries only the resources it does not already hold (as
 * the xDS protocol allows for every type but Listener and Cluster; the client merges them). The proxy's request
 * names the version it runs: when that is the last version sent to it, its content becomes the base; any
 * other version (a new client, a control-plane restart) gets every resource.
 */
export class DeliveredResources {
  /** By `proxy id|kind`: the last answer sent, and the one the proxy last said it runs. */
  private readonly byProxy = new Map<string, { sent?: Delivery; running?: Delivery }>();

  /** The JSON list to send for `answer` (recorded as sent): all of it, or what the proxy's running version lacks. */
  resourcesJson(proxyId: string, kind: XdsKind, runningVersion: string, answer: TypedResources): string {
    if (STATE_OF_THE_WORLD.has(kind)) return answer.resourcesJson;
    const key = `${proxyId}|${kind}`;
    const state = this.byProxy.get(key) ?? {};
    this.byProxy.set(key, state);
    if (state.sent !== undefined && state.sent.version === runningVersion) state.running = state.sent;
    const base = state.running?.version === runningVersion ? state.running.anyByName : undefined;
    state.sent = answer;
    if (base === undefined) return answer.resourcesJson;
    return `[${[...answer.anyByName].filter(([name, json]) => base.get(name) !== json).map(([, json]) => json).join(',')}]`;
  }
}
