// Registers the local rate limit filter (envoy.filters.http.local_ratelimit): its config schemas and
// its factory, which owns the listener-level buckets and one bucket set per typed_per_filter_config.

import type { HttpFilterFactory } from '../../../http/filter.ts';
import { registerHttpFilter } from '../registry.ts';
import { buildFilterConfig, type FilterConfig } from './filter-config.ts';
import { LocalRateLimitFilter, type LocalRateLimitShared } from './local-ratelimit.ts';
import { LocalRateLimitPerRouteSchema, LocalRateLimitSchema, type LocalRateLimitWire } from './schema.ts';

export const localRateLimitFilter: HttpFilterFactory<LocalRateLimitWire, LocalRateLimitWire> = {
  name: 'envoy.filters.http.local_ratelimit',
  typeUrl: 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
  configSchema: LocalRateLimitSchema,
  perRouteSchema: LocalRateLimitPerRouteSchema,
  create(wire, ctx) {
    const deps = { clock: ctx.clock, rootStats: ctx.rootStats };
    // A per-route entry is parsed once per route table, so its object identity names its buckets
    // (Envoy: "when using per route configuration, the bucket becomes unique to that route"). They are
    // built on the first request that uses them: a bucket starts full, so that is the same as now.
    const perRoute = new WeakMap<object, FilterConfig>();
    const shared: LocalRateLimitShared = {
      listenerConfig: buildFilterConfig(wire, deps),
      forRoute(entry) {
        let config = perRoute.get(entry);
        if (config === undefined) perRoute.set(entry, (config = buildFilterConfig(entry as LocalRateLimitWire, deps)));
        return config;
      },
      filterName: ctx.filterName,
      random: ctx.random,
    };
    return (callbacks) => new LocalRateLimitFilter(shared, callbacks);
  },
};

registerHttpFilter(localRateLimitFilter);
