// The Istio resources the mesh is built from, across rescans of the config directory: a resource whose
// document becomes invalid keeps its last valid version (same kind/namespace/name) while the error is
// reported, so one bad edit does not take a service out of the mesh. A generation counter moves on change.

import { severityOf, type IstioLoadResult } from '../istio/load.ts';
import type { IstioResource } from '../istio/resources.ts';
import type { MeshError } from './mesh-source.ts';

const keyOf = (kind: string, namespace: string | undefined, name: string | undefined): string => `${kind}/${namespace ?? 'default'}/${name ?? ''}`;
const resourceKey = (r: IstioResource): string => keyOf(r.kind, r.metadata.namespace, r.metadata.name);

/** Appended to an error whose resource keeps running its previous version. */
export const KEPT_LAST_GOOD = 'the last valid version of this resource stays in force';

export class MeshStore {
  private current: readonly IstioResource[] = [];
  private currentErrors: readonly MeshError[] = [];
  private gen = 0;

  /** Increments whenever the resource set changes. */
  generation(): number {
    return this.gen;
  }

  resources(): readonly IstioResource[] {
    return this.current;
  }

  /** The last scan's errors and warnings; errors whose resource kept its last valid version say so. */
  errors(): readonly MeshError[] {
    return this.currentErrors;
  }

  /**
   * Takes a directory scan. A resource that is gone from it is kept when its own document failed (an error
   * names its kind/namespace/name) or its file could not be parsed at all (a YAML or read error with no
   * resource); a resource simply deleted from the files goes away. Warnings break nothing: their resources
   * were loaded. Returns true when the set changed.
   */
  apply(load: IstioLoadResult): boolean {
    const fresh = new Set(load.resources.map(resourceKey));
    const failures = load.errors.filter((e) => severityOf(e) === 'error');
    const brokenResources = new Set(failures.flatMap((e) => (e.resource?.name === undefined ? [] : [keyOf(e.resource.kind, e.resource.namespace, e.resource.name)])));
    const brokenFiles = new Set(failures.filter((e) => e.resource === undefined).map((e) => e.file));
    const kept = this.current.filter((r) => !fresh.has(resourceKey(r)) && (brokenResources.has(resourceKey(r)) || brokenFiles.has(r.source.file)));
    const keptKeys = new Set(kept.map(resourceKey));
    const keptFiles = new Set(kept.map((r) => r.source.file));
    this.currentErrors = load.errors.map((e) => {
      if (severityOf(e) === 'warning') return e;
      const keeps = e.resource === undefined ? keptFiles.has(e.file) : keptKeys.has(keyOf(e.resource.kind, e.resource.namespace, e.resource.name));
      return keeps ? { ...e, message: `${e.message} (${KEPT_LAST_GOOD})` } : e;
    });
    // Files in name order, documents in order: the order a fresh load of the same files would give.
    const next = [...load.resources, ...kept].sort((a, b) => compare(a.source.file, b.source.file) || a.source.document - b.source.document);
    const changed = JSON.stringify(next) !== JSON.stringify(this.current);
    if (changed) {
      this.current = next;
      this.gen++;
    }
    return changed;
  }
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
