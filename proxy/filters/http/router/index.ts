// Registers the router filter (envoy.filters.http.router): its config schema and its factory.

import { z } from 'zod';
import { message } from '../../../config/schema-kit.ts';
import type { HttpFilterFactory } from '../../../http/filter.ts';
import { registerHttpFilter } from '../registry.ts';
import { Router, routerStats, type RouterConfig } from './router.ts';
import { ShadowWriter } from './shadow-writer.ts';

const RouterSchema = message('envoy.extensions.filters.http.router.v3.Router', {
  dynamic_stats: z.boolean().optional(),
  suppress_envoy_headers: z.boolean().optional(),
}, {
  unimplemented: ['start_child_span', 'upstream_log', 'upstream_log_options', 'strict_check_headers',
    'respect_expected_rq_timeout', 'suppress_grpc_request_failure_code_stats', 'upstream_http_filters',
    'reject_connect_request_early_data'],
});

export const routerFilter: HttpFilterFactory<z.output<typeof RouterSchema>> = {
  name: 'envoy.filters.http.router',
  typeUrl: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  configSchema: RouterSchema,
  terminal: true,
  create(wire, ctx) {
    const config: RouterConfig = { suppressEnvoyHeaders: wire.suppress_envoy_headers ?? false, dynamicStats: wire.dynamic_stats ?? true };
    const deps = {
      config,
      stats: routerStats(ctx.stats),
      clusterManager: ctx.clusterManager,
      clock: ctx.clock,
      random: ctx.random,
      retryBufferLimitBytes: ctx.bufferLimitBytes,
      shadowWriter: new ShadowWriter(ctx.clusterManager, ctx.clock, config.dynamicStats),
    };
    return (callbacks) => new Router(deps, callbacks);
  },
};

registerHttpFilter(routerFilter);
