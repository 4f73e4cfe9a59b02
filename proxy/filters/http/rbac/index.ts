// Registers the RBAC filter (envoy.filters.http.rbac): its typed_config and RBACPerRoute schemas, and
// its factory, which compiles the listener's rule sets once and each RBACPerRoute entry on first use.

import type { HttpFilterFactory } from '../../../http/filter.ts';
import { registerHttpFilter } from '../registry.ts';
import { RbacFilter, compileRbacConfig, rbacStats, type RbacConfig, type RbacFilterShared } from './rbac-filter.ts';
import { RbacFilterSchema, RbacPerRouteSchema, type RbacFilterWire, type RbacPerRouteWire } from './schema.ts';

export const rbacFilter: HttpFilterFactory<RbacFilterWire, RbacPerRouteWire> = {
  name: 'envoy.filters.http.rbac',
  typeUrl: 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
  configSchema: RbacFilterSchema,
  perRouteSchema: RbacPerRouteSchema,
  create(wire, ctx) {
    const prefixes = { rules: wire.rules_stat_prefix ?? '', shadow: wire.shadow_rules_stat_prefix ?? '' };
    const listenerConfig = compileRbacConfig(wire);
    // A per-route entry is parsed once per route table, so its object identity keys its compiled form.
    const perRoute = new WeakMap<object, RbacConfig>();
    const shared: RbacFilterShared = {
      listenerConfig,
      forRoute(entry) {
        let config = perRoute.get(entry);
        if (config === undefined) perRoute.set(entry, (config = compileRbacConfig((entry as RbacPerRouteWire).rbac, prefixes)));
        return config;
      },
      stats: rbacStats(ctx.stats, prefixes),
      filterName: ctx.filterName,
    };
    return (callbacks) => new RbacFilter(shared, callbacks);
  },
};

registerHttpFilter(rbacFilter);
