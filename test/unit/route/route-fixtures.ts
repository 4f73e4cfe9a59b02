// Shared helpers for the route tests: build a route table from wire config and make requests.

import { parseWith } from '../../../proxy/config/schema-kit.ts';
import type { Result } from '../../../proxy/common/result.ts';
import type { HeaderMap, RequestHeaders } from '../../../proxy/http/headers.ts';
import { RouteConfigurationSchema } from '../../../proxy/route/route-config-schema.ts';
import { buildRouteConfig, type BuildRouteConfigOptions } from '../../../proxy/route/route-config.ts';
import type { RouteConfig } from '../../../proxy/route/types.ts';

export const ROOT = 'route_config';

/** Parses and builds; the same two steps the listener translation runs. */
export function translate(input: unknown, opts: Partial<BuildRouteConfigOptions> = {}): Result<RouteConfig> {
  const parsed = parseWith(RouteConfigurationSchema, input, ROOT);
  if (!parsed.ok) return parsed;
  return buildRouteConfig(parsed.value, { path: ROOT, ...opts });
}

/** Builds a route table that must be valid. */
export function table(input: unknown, opts: Partial<BuildRouteConfigOptions> = {}): RouteConfig {
  const r = translate(input, opts);
  if (!r.ok) throw new Error(`unexpected config errors: ${JSON.stringify(r.errors, null, 2)}`);
  return r.value;
}

/** One virtual host `*` with the given routes. */
export function singleHost(routes: unknown[], extra: Record<string, unknown> = {}): unknown {
  return { name: 'rc', virtual_hosts: [{ name: 'vh', domains: ['*'], routes }], ...extra };
}

export function req(path: string, opts: { authority?: string; headers?: HeaderMap; method?: string; scheme?: string } = {}): RequestHeaders {
  return {
    method: opts.method ?? 'GET',
    path,
    authority: opts.authority ?? 'example.com',
    scheme: opts.scheme ?? 'http',
    headers: { ...opts.headers },
  };
}
