// Reads a proxy's identity from `DiscoveryRequest.node`: Istio's node metadata keys (NAMESPACE,
// SERVICE_ACCOUNT, LABELS, INSTANCE_IPS, CLUSTER_ID, MESH_ID) plus nodevoy's APP_PORTS and OUTBOUND_PORT, with the defaults
// docs/mesh.md lists. Every unusable value is an error with its path under `node`.

import { isIP } from 'node:net';
import { fail, ok, type ConfigError, type Result } from '../../proxy/common/result.ts';
import type { ProxyIdentity } from '../xds/snapshot.ts';

export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_SERVICE_ACCOUNT = 'default';
export const DEFAULT_INSTANCE_IP = '127.0.0.1';
export const DEFAULT_OUTBOUND_PORT = 15001;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parses a Node (its JSON has the same keys in snake_case and lowerCamelCase: id, cluster, metadata).
 * Istio's sidecar ids (`sidecar~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local`) supply the
 * instance IP and namespace when the metadata leaves them out, as Istio's ParseServiceNodeWithMetadata does.
 */
export function proxyIdentity(node: unknown): Result<ProxyIdentity> {
  const errors: ConfigError[] = [];
  const err = (path: string, message: string) => errors.push({ path: `node${path === '' ? '' : `.${path}`}`, kind: 'invalid', message });
  if (!isObject(node)) return fail([{ path: 'node', kind: 'invalid', message: 'a DiscoveryRequest needs a node (an object with id and metadata)' }]);
  const id = node['id'];
  if (typeof id !== 'string' || id === '') err('id', 'node.id is required (a non-empty string)');
  const cluster = node['cluster'] ?? '';
  if (typeof cluster !== 'string') err('cluster', 'node.cluster must be a string');
  const rawMeta = node['metadata'] ?? {};
  const meta: Json = isObject(rawMeta) ? rawMeta : {};
  if (!isObject(rawMeta)) err('metadata', 'node.metadata must be an object (a google.protobuf.Struct)');
  const fromId = parseSidecarId(typeof id === 'string' ? id : '');

  const str = (key: string, fallback: string): string => {
    const v = meta[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'string' && v !== '') return v;
    err(`metadata.${key}`, `${key} must be a non-empty string`);
    return fallback;
  };
  const namespace = str('NAMESPACE', fromId?.namespace ?? DEFAULT_NAMESPACE);
  const serviceAccount = str('SERVICE_ACCOUNT', DEFAULT_SERVICE_ACCOUNT);
  const labels = stringMap(meta['LABELS'], 'metadata.LABELS', err);
  const instanceIp = instanceIpOf(meta['INSTANCE_IPS'], fromId?.ip, err);
  const appPorts = appPortsOf(meta['APP_PORTS'], err);
  const outboundPort = portOf(meta['OUTBOUND_PORT'], 'metadata.OUTBOUND_PORT', DEFAULT_OUTBOUND_PORT, true, err);
  const clusterId = str('CLUSTER_ID', '');
  const meshId = str('MESH_ID', '');
  if (errors.length > 0) return fail(errors);
  return ok(Object.freeze({
    id: id as string, cluster: cluster as string, namespace, serviceAccount,
    labels: Object.freeze(labels), instanceIp, appPorts: Object.freeze(appPorts), outboundPort, clusterId, meshId,
  }));
}

type Report = (path: string, message: string) => void;

function parseSidecarId(id: string): { ip: string; namespace: string } | undefined {
  const parts = id.split('~');
  if (parts.length !== 4 || isIP(parts[1] ?? '') === 0) return undefined;
  const dot = (parts[2] ?? '').indexOf('.');
  return { ip: parts[1]!, namespace: dot < 0 ? DEFAULT_NAMESPACE : parts[2]!.slice(dot + 1) };
}

/** A map given as an object or, as Istio sometimes writes Struct-valued metadata, as its JSON text. */
function objectOrJson(v: unknown, path: string, err: Report): Json | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') {
    try {
      const parsed: unknown = JSON.parse(v);
      if (isObject(parsed)) return parsed;
    } catch { /* reported below */ }
    err(path, 'must be a map or a JSON object string');
    return undefined;
  }
  if (isObject(v)) return v;
  err(path, 'must be a map');
  return undefined;
}

function stringMap(v: unknown, path: string, err: Report): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(objectOrJson(v, path, err) ?? {})) {
    if (typeof value === 'string') out[k] = value;
    else err(`${path}.${k}`, 'a label value must be a string');
  }
  return out;
}

function instanceIpOf(v: unknown, fromId: string | undefined, err: Report): string {
  if (v === undefined || v === null || v === '') return fromId ?? DEFAULT_INSTANCE_IP;
  const list = typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v : undefined;
  const first = list?.[0];
  const ip = typeof first === 'string' ? first.trim() : '';
  if (isIP(ip) === 0) {
    err('metadata.INSTANCE_IPS', 'INSTANCE_IPS must be a comma-separated list of IP addresses (the first is the workload address)');
    return DEFAULT_INSTANCE_IP;
  }
  return ip;
}

function appPortsOf(v: unknown, err: Report): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [servicePort, appPort] of Object.entries(objectOrJson(v, 'metadata.APP_PORTS', err) ?? {})) {
    const path = `metadata.APP_PORTS.${servicePort}`;
    if (!/^\d+$/.test(servicePort) || Number(servicePort) < 1 || Number(servicePort) > 65535) {
      err(path, 'APP_PORTS keys are service port numbers');
      continue;
    }
    out[servicePort] = portOf(appPort, path, 0, false, err);
  }
  return out;
}

/** A port as a number or a decimal string; `allowZero` for "pick an ephemeral port". */
function portOf(v: unknown, path: string, fallback: number, allowZero: boolean, err: Report): number {
  if (v === undefined || v === null) return fallback;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  if (Number.isInteger(n) && n >= (allowZero ? 0 : 1) && n <= 65535) return n;
  err(path, `must be a port number (${allowZero ? 0 : 1}-65535)`);
  return fallback;
}
