// Each proxy's snapshot, built once per mesh generation and node, and what one DiscoveryRequest is answered
// with: the type's resources (filtered by resource_names) as Anys, and version_info = a short hash of them,
// so unchanged content keeps its version across mesh changes and control-plane restarts. A resource object
// that translation shares between proxies (the mesh's outbound clusters) is serialized once.

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
    const resourcesJson = `[${selected.map((r) => this.toAny(kind, r)).join(',')}]`;
    const answer = { version: versionOf(resourcesJson), resourcesJson };
    entry.answers.set(key, answer);
    return answer;
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
