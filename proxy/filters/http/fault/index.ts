// Registers the fault injection filter (envoy.filters.http.fault): the HTTPFault schema serves both the
// filter's typed_config and its typed_per_filter_config entries.

import type { HttpFilterFactory } from '../../../http/filter.ts';
import { registerHttpFilter } from '../registry.ts';
import { FaultFilter, faultStats, type FaultFilterShared } from './fault-filter.ts';
import { HTTPFaultSchema } from './fault-schema.ts';
import type { FaultSettings } from './fault-settings.ts';

export const faultFilter: HttpFilterFactory<FaultSettings, FaultSettings> = {
  name: 'envoy.filters.http.fault',
  typeUrl: 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
  configSchema: HTTPFaultSchema,
  perRouteSchema: HTTPFaultSchema,
  create(settings, ctx) {
    const shared: FaultFilterShared = {
      settings, filterName: ctx.filterName, stats: faultStats(ctx.stats), clock: ctx.clock, random: ctx.random,
    };
    return (callbacks) => new FaultFilter(shared, callbacks);
  },
};

registerHttpFilter(faultFilter);
