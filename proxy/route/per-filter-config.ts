// typed_per_filter_config of route configurations, virtual hosts and routes: each entry (keyed by the
// HTTP filter's configured name) is parsed with that filter's per-route schema at build time.
// Entries may be the filter's own message (also as a TypedStruct) or an envoy.config.route.v3.FilterConfig wrapper.

import { z } from 'zod';
import { anyPayload, message, bool, toConfigErrors, type AnyPayload } from '../config/schema-kit.ts';
import { joinPath, type ConfigError } from '../common/result.ts';

/** Schema of a filter's per-route config (without "@type"), or undefined when no filter has that name. */
export type PerFilterConfigLookup = (filterName: string) => z.ZodType | undefined;

const FILTER_CONFIG_TYPE = 'type.googleapis.com/envoy.config.route.v3.FilterConfig';

const FilterConfigSchema = message('envoy.config.route.v3.FilterConfig', {
  config: z.record(z.string(), z.unknown()),
  is_optional: bool.optional(),
}, { unimplemented: ['disabled'] });

/** The raw map as the route schema keeps it; parsed by parsePerFilterConfigs once filters are known. */
export const typedPerFilterConfigField = z.record(z.string(), z.unknown()).optional();

/**
 * Parses every entry of one level's typed_per_filter_config, pushing errors under `path`. The Any's
 * "@type" is not checked against the filter (the lookup gives only the schema of its per-route message).
 */
export function parsePerFilterConfigs(raw: Readonly<Record<string, unknown>> | undefined, lookup: PerFilterConfigLookup | undefined,
  path: string, errors: ConfigError[]): ReadonlyMap<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [name, value] of Object.entries(raw ?? {})) {
    const at = joinPath(joinPath(path, 'typed_per_filter_config'), name);
    let any = unpack(value, at, errors);
    if (any === null) continue;
    let optional = false;
    let anyPath = at;
    if (any.typeUrl === FILTER_CONFIG_TYPE) {
      const wrapper = FilterConfigSchema.safeParse(any.fields);
      if (!wrapper.success) { errors.push(...toConfigErrors(wrapper.error.issues, at)); continue; }
      optional = wrapper.data.is_optional ?? false;
      anyPath = joinPath(at, 'config');
      any = unpack(wrapper.data.config, anyPath, errors);
      if (any === null) continue;
    }
    const schema = lookup?.(name);
    if (schema === undefined) {
      // FilterConfig.is_optional: an entry for a filter this proxy does not run may be ignored.
      if (!optional) errors.push({ path: at, kind: 'invalid', message: `no HTTP filter named "${name}" in this connection manager takes per-route config` });
      continue;
    }
    const parsed = schema.safeParse(any.fields);
    if (parsed.success) out.set(name, parsed.data);
    else errors.push(...toConfigErrors(parsed.error.issues, any.fieldsPath.reduce(joinPath, anyPath)));
  }
  return out;
}

const entryAny = anyPayload('a typed_per_filter_config entry');

function unpack(value: unknown, path: string, errors: ConfigError[]): AnyPayload | null {
  const r = entryAny.safeParse(value);
  if (r.success) return r.data;
  errors.push(...toConfigErrors(r.error.issues, path));
  return null;
}
