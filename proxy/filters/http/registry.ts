// The HTTP filter registry: each filter type registers once (import side effect, see ./index.ts) under
// its Envoy name and its typed_config type URL; the HTTP connection manager schema looks them up.

import type { HttpFilterFactory } from '../../http/filter.ts';

const byName = new Map<string, HttpFilterFactory>();
const byTypeUrl = new Map<string, HttpFilterFactory>();

/** Adds a filter type. Registering a name or type URL twice is a programming error and throws. */
export function registerHttpFilter<C, R>(factory: HttpFilterFactory<C, R>): void {
  const f = factory as HttpFilterFactory;
  if (byName.has(f.name)) throw new Error(`HTTP filter ${f.name} is already registered`);
  if (byTypeUrl.has(f.typeUrl)) throw new Error(`HTTP filter type ${f.typeUrl} is already registered (by ${byTypeUrl.get(f.typeUrl)?.name})`);
  byName.set(f.name, f);
  byTypeUrl.set(f.typeUrl, f);
}

/** Envoy selects an HTTP filter by its typed_config `@type`; the configured name is only a label. */
export function httpFilterByTypeUrl(typeUrl: string): HttpFilterFactory | undefined {
  return byTypeUrl.get(typeUrl);
}

/** By canonical Envoy name (e.g. `envoy.filters.http.router`). */
export function httpFilterByName(name: string): HttpFilterFactory | undefined {
  return byName.get(name);
}
