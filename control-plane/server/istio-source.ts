// The MeshSource for Istio YAML: the mesh store's resources translated into a mesh (on every change), each
// proxy's snapshot from that mesh, and the report of load, validation and conflict errors. Translation is
// passed in (control-plane/translate), so serving does not depend on how it is done.

import type { XdsNode } from '../../control-client/types.ts';
import type { Result } from '../../proxy/common/result.ts';
import type { IstioLoadResult } from '../istio/load.ts';
import type { IstioResource } from '../istio/resources.ts';
import { proxyIdentity, proxySnapshot, translateMesh, type Mesh, type MeshOptions } from '../translate/index.ts';
import type { ProxyIdentity, ProxySnapshot } from '../xds/snapshot.ts';
import type { MeshError, MeshSource } from './mesh-source.ts';
import { MeshStore } from './mesh-store.ts';

/** What translation provides (control-plane/translate/index.ts). Never throws by contract; a throw is reported. */
export interface Translation<M> {
  proxyIdentity(node: XdsNode): Result<ProxyIdentity>;
  /** The whole mesh from the resources, with every validation and conflict error. */
  translateMesh(resources: readonly IstioResource[]): { readonly mesh: M; readonly errors: readonly MeshError[] };
  proxySnapshot(mesh: M, identity: ProxyIdentity): ProxySnapshot;
}

export interface IstioMeshSource extends MeshSource {
  /** Takes a directory scan; translates and notifies listeners when the resources changed. */
  update(load: IstioLoadResult): void;
}

export function createIstioMeshSource<M>(translation: Translation<M>): IstioMeshSource {
  const store = new MeshStore();
  const listeners = new Set<() => void>();
  let mesh: M | undefined;
  let translationErrors: readonly MeshError[] = [];
  let loaded = false;

  function translate(): void {
    try {
      const translated = translation.translateMesh(store.resources());
      mesh = translated.mesh;
      translationErrors = translated.errors;
    } catch (e) {
      // Keep serving the previous mesh; the failure is a config error like any other.
      translationErrors = [{ path: '', kind: 'invalid', message: `translation failed, the previous mesh stays in force: ${(e as Error).message}` }];
    }
  }

  return {
    generation: () => store.generation(),
    proxyIdentity: (node) => translation.proxyIdentity(node),
    proxySnapshot(identity) {
      if (mesh === undefined) return { listeners: [], routes: [], clusters: [], endpoints: [] };
      return translation.proxySnapshot(mesh, identity);
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    configErrors: () => [...store.errors(), ...translationErrors],
    ready: () => loaded,
    update(load) {
      const changed = store.apply(load);
      if (changed || !loaded) translate();
      loaded = true;
      if (changed) for (const listener of [...listeners]) listener();
    },
  };
}

/**
 * nodevoy's Istio translation (control-plane/translate) with the mesh's options: the control plane serving a
 * CA (`--ca-dir`) turns `workloadCertificates` on, since its sidecars hold SVIDs (Istio's auto mTLS).
 */
export function istioTranslation(options: MeshOptions = {}): Translation<Mesh> {
  return { proxyIdentity, translateMesh: (resources) => translateMesh(resources, options), proxySnapshot };
}

/** The translation without workload certificates: plaintext unless a policy asks for mTLS. */
export const ISTIO_TRANSLATION: Translation<Mesh> = istioTranslation();
