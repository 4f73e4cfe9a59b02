// What the xDS server serves from: a mesh that changes by generation, each proxy's identity read from its
// Node, that proxy's snapshot, and the validation/conflict report. Implemented by control-plane.ts over the
// watched directory and translation; tests and benchmarks implement it directly.

import type { XdsNode } from '../../control-client/types.ts';
import type { ConfigError, Result } from '../../proxy/common/result.ts';
import { formatConfigError } from '../../proxy/common/result.ts';
import { formatIstioError, severityMarker, severityOf, type ResourceRef, type Severity } from '../istio/load.ts';
import type { ProxyIdentity, ProxySnapshot } from '../xds/snapshot.ts';

/** A validation or conflict problem: a ConfigError plus, when known, where it came from (IstioConfigError fits). */
export interface MeshError extends ConfigError {
  readonly file?: string;
  readonly document?: number;
  readonly line?: number;
  readonly resource?: ResourceRef;
  /** Absent: `error`. A warning's resource stays in force. */
  readonly severity?: Severity;
}

export interface MeshSource {
  /** Moves whenever the mesh changes; snapshots cached per proxy are rebuilt when it does. */
  generation(): number;
  /** The proxy's identity from `DiscoveryRequest.node`, or why its metadata is unusable. */
  proxyIdentity(node: XdsNode): Result<ProxyIdentity>;
  proxySnapshot(identity: ProxyIdentity): ProxySnapshot;
  /** Runs `listener` after every generation change; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
  /** Every current validation and conflict error and warning (`/debug/config_errors`). */
  configErrors(): readonly MeshError[];
  /** True once the initial configuration is loaded (`GET /ready`). */
  ready(): boolean;
}

/** One line per entry, as `formatIstioError` prints it; an entry not tied to a file starts at `Kind ns/name`. */
export function formatMeshError(e: MeshError): string {
  if (e.file !== undefined) return formatIstioError({ ...e, file: e.file, document: e.document ?? 0 });
  const what = e.resource === undefined ? '' : `${e.resource.kind} ${e.resource.namespace ?? 'default'}/${e.resource.name ?? '?'}: `;
  return `${what}${severityMarker(e)}${formatConfigError(e)}`;
}

/** How many entries of a report are errors and how many warnings. */
export function countSeverities(report: readonly MeshError[]): { errors: number; warnings: number } {
  const warnings = report.filter((e) => severityOf(e) === 'warning').length;
  return { errors: report.length - warnings, warnings };
}
