// Parses the JSON body of a REST-JSON `DiscoveryRequest` (proto JSON: snake_case or lowerCamelCase, as
// Envoy's RestApiFetcher sends it) for one served type, with every problem as a message for a 400 answer.

import type { DiscoveryRequest, RpcStatus, XdsNode } from '../../control-client/types.ts';

/** `envoy.service.discovery.v3.DiscoveryRequest` fields; `resource_locators` is accepted only empty. */
const FIELDS = new Set(['version_info', 'node', 'resource_names', 'resource_locators', 'type_url', 'response_nonce', 'error_detail']);

const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export type ParsedRequest = { ok: true; request: DiscoveryRequest } | { ok: false; errors: readonly string[] };

/**
 * `typeUrl` is the type the REST path names; a request's own `type_url` may be absent (then it is this one)
 * but must not name another type. The node must carry an id: proxies are tracked by it.
 */
export function parseDiscoveryRequest(body: string, typeUrl: string): ParsedRequest {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (e) {
    return { ok: false, errors: [`DiscoveryRequest is not valid JSON: ${(e as Error).message}`] };
  }
  if (!isObject(json)) return { ok: false, errors: ['DiscoveryRequest must be a JSON object'] };
  const errors: string[] = [];
  const f: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const name = snake(key);
    if (FIELDS.has(name)) f[name] = value;
    else errors.push(`unknown field "${key}": envoy.service.discovery.v3.DiscoveryRequest has no such field`);
  }
  const str = (name: string): string => {
    const v = f[name] ?? '';
    if (typeof v === 'string') return v;
    errors.push(`${name} must be a string`);
    return '';
  };
  const versionInfo = str('version_info');
  const responseNonce = str('response_nonce');
  const requestType = str('type_url');
  if (requestType !== '' && requestType !== typeUrl) errors.push(`type_url ${requestType} does not match the path's type ${typeUrl}`);
  const names = f.resource_names ?? [];
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) errors.push('resource_names must be a list of strings');
  const locators = f.resource_locators ?? [];
  if (!Array.isArray(locators) || locators.length > 0) errors.push('resource_locators is not implemented by nodevoy (use resource_names)');
  const node = f.node;
  if (!isObject(node)) errors.push('node is required: the control plane builds each proxy\'s config from its node id and metadata');
  else if (typeof node.id !== 'string' || node.id === '') errors.push('node.id is required (a non-empty string)');
  const errorDetail = parseStatus(f.error_detail, errors);
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    request: {
      version_info: versionInfo,
      node: node as XdsNode,
      // "*" is the explicit wildcard (envoy-compat §10): the same as no names.
      resource_names: (names as string[]).filter((n) => n !== '*'),
      type_url: typeUrl,
      response_nonce: responseNonce,
      ...(errorDetail === undefined ? {} : { error_detail: errorDetail }),
    },
  };
}

/** `google.rpc.Status {code, message}`; its presence makes the request a NACK. */
function parseStatus(value: unknown, errors: string[]): RpcStatus | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) {
    errors.push('error_detail must be a google.rpc.Status object');
    return undefined;
  }
  const code = value.code ?? 0;
  const message = value.message ?? '';
  if (typeof code !== 'number' || typeof message !== 'string') {
    errors.push('error_detail must be {code: number, message: string}');
    return undefined;
  }
  return { code, message };
}
