// Parses the JSON body of a `DiscoveryResponse` (proto JSON: snake_case or lowerCamelCase field names)
// into its typed shape, collecting every error with its path. Knows nothing about the resources inside.

import type { ConfigError, Result } from '../proxy/common/result.ts';
import { fail, joinPath, ok } from '../proxy/common/result.ts';
import type { DiscoveryResponse } from './types.ts';

const FIELDS = ['version_info', 'resources', 'type_url', 'nonce', 'control_plane'] as const;
/** Fields `envoy.service.discovery.v3.DiscoveryResponse` has that nodevoy does not implement. */
const UNIMPLEMENTED = new Set(['canary', 'resource_errors']);

const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface ParsedResponse {
  /** The response's nonce and version when they could be read, so even a malformed response is NACKed by nonce. */
  readonly nonce: string;
  readonly versionInfo: string;
  readonly result: Result<DiscoveryResponse>;
}

export function parseDiscoveryResponse(body: string): ParsedResponse {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (e) {
    return { nonce: '', versionInfo: '', result: fail([{ path: '', kind: 'invalid', message: `DiscoveryResponse is not valid JSON: ${(e as Error).message}` }]) };
  }
  if (!isObject(json)) {
    return { nonce: '', versionInfo: '', result: fail([{ path: '', kind: 'invalid', message: 'DiscoveryResponse must be a JSON object' }]) };
  }
  const errors: ConfigError[] = [];
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const name = snake(key);
    if ((FIELDS as readonly string[]).includes(name)) fields[name] = value;
    else if (UNIMPLEMENTED.has(name)) errors.push({ path: key, kind: 'not-implemented', message: `field "${key}" of envoy.service.discovery.v3.DiscoveryResponse is valid xDS but nodevoy does not implement it` });
    else errors.push({ path: key, kind: 'unknown-field', message: `unknown field "${key}": envoy.service.discovery.v3.DiscoveryResponse has no such field` });
  }
  const str = (name: string): string => {
    const v = fields[name] ?? '';
    if (typeof v === 'string') return v;
    errors.push({ path: name, kind: 'invalid', message: `${name} must be a string` });
    return '';
  };
  const versionInfo = str('version_info');
  const typeUrl = str('type_url');
  const nonce = str('nonce');
  const resources = fields.resources ?? [];
  if (!Array.isArray(resources)) errors.push({ path: 'resources', kind: 'invalid', message: 'resources must be a list' });
  const controlPlane = fields.control_plane;
  let identifier: string | undefined;
  if (controlPlane !== undefined) {
    const id = isObject(controlPlane) ? controlPlane.identifier ?? '' : undefined;
    if (typeof id === 'string') identifier = id;
    else errors.push({ path: joinPath('control_plane', 'identifier'), kind: 'invalid', message: 'control_plane must be {identifier: string}' });
  }
  if (errors.length > 0) return { nonce, versionInfo, result: fail(errors) };
  return {
    nonce,
    versionInfo,
    result: ok({
      version_info: versionInfo,
      type_url: typeUrl,
      nonce,
      resources: resources as unknown[],
      ...(identifier === undefined ? {} : { control_plane: { identifier } }),
    }),
  };
}
