// Istio's workload facts (istio/proxy extensions/common/metadata_object: WorkloadMetadataObject) and their three
// encodings: a proxy's own node.metadata (NAME, WORKLOAD_NAME, NAMESPACE, CLUSTER_ID, OWNER, LABELS), the
// google.protobuf.Struct its peer metadata exchange sends (base64 in x-envoy-peer-metadata), and the endpoint
// metadata string istiod puts on each EDS endpoint (`filter_metadata.istio.workload`). Pure functions.

import { decodeStruct, encodeStruct, type StructFields, type StructValue } from './protobuf-struct.ts';

/** Istio's pod labels for the canonical service and revision (set by its injector). */
export const CANONICAL_NAME_LABEL = 'service.istio.io/canonical-name';
export const CANONICAL_REVISION_LABEL = 'service.istio.io/canonical-revision';
/** Istio agent's CLUSTER_ID default: the name of the local Kubernetes cluster. */
export const DEFAULT_CLUSTER_ID = 'Kubernetes';
/** The revision of a workload without a version label (Istio's canonical revision default). */
export const DEFAULT_CANONICAL_REVISION = 'latest';

/** WorkloadType, as the suffix Istio writes in OWNER (`…/deployments/<name>`) and the struct's `type`. */
export type WorkloadType = 'pod' | 'deployment' | 'job' | 'cronjob' | '';

/** What one side of a request knows about a workload ('' = unknown). */
export interface WorkloadMetadata {
  /** NAME: the pod (instance) name. */
  readonly instanceName: string;
  readonly namespace: string;
  /** WORKLOAD_NAME: the deployment (or other owner) name. */
  readonly workloadName: string;
  /** CLUSTER_ID. */
  readonly clusterName: string;
  readonly canonicalName: string;
  readonly canonicalRevision: string;
  /** Labels `app` and `version`. */
  readonly appName: string;
  readonly appVersion: string;
  readonly workloadType: WorkloadType;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** LABELS as a map, or as its JSON text (Istio writes Struct-valued metadata either way); {} otherwise. */
function labelsOf(v: unknown): Json {
  if (isObject(v)) return v;
  if (typeof v !== 'string') return {};
  try {
    const parsed: unknown = JSON.parse(v);
    return isObject(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

const OWNER_PREFIX = 'kubernetes://apis/apps/v1/namespaces/';
const WORKLOAD_TYPES: ReadonlySet<string> = new Set(['pod', 'deployment', 'job', 'cronjob']);

/** Istio's parseOwner: the type from `kubernetes://apis/apps/v1/namespaces/<ns>/<type>s/<workload>`. */
function parseOwner(owner: string, workload: string): WorkloadType {
  if (owner.length <= workload.length + 2) return '';
  const head = owner.slice(0, owner.length - workload.length - 2);
  const type = head.slice(head.lastIndexOf('/') + 1);
  return WORKLOAD_TYPES.has(type) ? (type as WorkloadType) : '';
}

/**
 * Istio's labels.CanonicalService: the canonical service is the `service.istio.io/canonical-name` label, else
 * `app.kubernetes.io/name`, else `app`, else the workload name; the revision `service.istio.io/canonical-revision`,
 * else `app.kubernetes.io/version`, else `version`, else `latest`.
 */
export function canonicalService(labels: Readonly<Record<string, unknown>>, workloadName: string): { name: string; revision: string } {
  return {
    name: str(labels[CANONICAL_NAME_LABEL]) || str(labels['app.kubernetes.io/name']) || str(labels['app']) || workloadName,
    revision: str(labels[CANONICAL_REVISION_LABEL]) || str(labels['app.kubernetes.io/version']) || str(labels['version']) || DEFAULT_CANONICAL_REVISION,
  };
}

/**
 * This proxy's workload from its bootstrap node.metadata. Istio's injector and agent fill in what a plain
 * bootstrap may leave out, so nodevoy applies their defaults: the workload name is WORKLOAD_NAME, else NAME;
 * the canonical service and revision as canonicalService() (the injector's pod labels); CLUSTER_ID `Kubernetes`.
 */
export function workloadFromNodeMetadata(metadata: Readonly<Json>): WorkloadMetadata {
  const labels = labelsOf(metadata['LABELS']);
  const instanceName = str(metadata['NAME']);
  const workloadName = str(metadata['WORKLOAD_NAME']) || instanceName;
  const canonical = canonicalService(labels, workloadName);
  return {
    instanceName,
    namespace: str(metadata['NAMESPACE']),
    workloadName,
    clusterName: str(metadata['CLUSTER_ID']) || DEFAULT_CLUSTER_ID,
    canonicalName: canonical.name,
    canonicalRevision: canonical.revision,
    appName: str(labels['app']),
    appVersion: str(labels['version']),
    workloadType: parseOwner(str(metadata['OWNER']), workloadName),
  };
}

/** Istio's convertWorkloadMetadataToStruct: what x-envoy-peer-metadata carries. */
export function workloadToStruct(w: WorkloadMetadata): StructFields {
  const out: Record<string, StructValue> = {};
  if (w.instanceName !== '') out['NAME'] = w.instanceName;
  if (w.namespace !== '') out['NAMESPACE'] = w.namespace;
  if (w.workloadName !== '') out['WORKLOAD_NAME'] = w.workloadName;
  if (w.clusterName !== '') out['CLUSTER_ID'] = w.clusterName;
  const labels: Record<string, StructValue> = {};
  if (w.canonicalName !== '') labels[CANONICAL_NAME_LABEL] = w.canonicalName;
  if (w.canonicalRevision !== '') labels[CANONICAL_REVISION_LABEL] = w.canonicalRevision;
  if (w.appName !== '') labels['app'] = w.appName;
  if (w.appVersion !== '') labels['version'] = w.appVersion;
  out['LABELS'] = labels;
  if (w.workloadType !== '') out['OWNER'] = `${OWNER_PREFIX}${w.namespace}/${w.workloadType}s/${w.workloadName}`;
  return out;
}

/** Istio's convertStructToWorkloadMetadata (no additional labels): the reverse of workloadToStruct. */
export function workloadFromStruct(fields: Readonly<Record<string, StructValue>>): WorkloadMetadata {
  const labels = isObject(fields['LABELS']) ? fields['LABELS'] as Json : {};
  const workloadName = str(fields['WORKLOAD_NAME']);
  return {
    instanceName: str(fields['NAME']),
    namespace: str(fields['NAMESPACE']),
    workloadName,
    clusterName: str(fields['CLUSTER_ID']),
    canonicalName: str(labels[CANONICAL_NAME_LABEL]),
    canonicalRevision: str(labels[CANONICAL_REVISION_LABEL]),
    appName: str(labels['app']),
    appVersion: str(labels['version']),
    workloadType: parseOwner(str(fields['OWNER']), workloadName),
  };
}

/** The x-envoy-peer-metadata value: the struct's protobuf encoding in standard base64 (Envoy's Base64::encode). */
export function encodePeerMetadataHeader(w: WorkloadMetadata): string {
  return encodeStruct(workloadToStruct(w)).toString('base64');
}

/** Standard base64, padding optional (Envoy's Base64::decodeWithoutPadding); Node's decoder skips bad characters. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** An x-envoy-peer-metadata value back to the workload; undefined when it is not a base64 protobuf Struct. */
export function decodePeerMetadataHeader(value: string): WorkloadMetadata | undefined {
  if (!BASE64.test(value)) return undefined;
  try {
    return workloadFromStruct(decodeStruct(Buffer.from(value, 'base64')));
  } catch {
    return undefined;
  }
}

/**
 * Istio's endpoint encoding (pilot's AppendLbEndpointMetadata, `filter_metadata.istio.workload` of an EDS endpoint):
 * `<workload name>;<namespace>;<canonical service>;<canonical revision>;<cluster id>`, the revision left empty when
 * it is the default `latest` (the stats filter reads an empty one as `latest`).
 */
export function endpointWorkloadString(workloadName: string, namespace: string, labels: Readonly<Record<string, unknown>>,
  clusterId: string): string {
  const { name, revision } = canonicalService(labels, workloadName);
  return `${workloadName};${namespace};${name};${revision === DEFAULT_CANONICAL_REVISION ? '' : revision};${clusterId}`;
}

/** Istio's convertEndpointMetadata: undefined with fewer than five parts. App and version stay unknown. */
export function workloadFromEndpointString(encoded: string): WorkloadMetadata | undefined {
  const parts = encoded.split(';');
  if (parts.length < 5) return undefined;
  return {
    instanceName: '', workloadName: parts[0]!, namespace: parts[1]!, canonicalName: parts[2]!, canonicalRevision: parts[3]!,
    clusterName: parts[4]!, appName: '', appVersion: '', workloadType: '',
  };
}
