// Registers Istio's stats filter (istio.stats, stats.PluginConfig): Istio's standard metrics, reported as
// `source` on an outbound listener and `destination` on an inbound one (Envoy's traffic_direction), with this
// proxy's workload read once from node.metadata.

import type { HttpFilterFactory } from '../../../http/filter.ts';
import { workloadFromNodeMetadata } from '../../../common/workload-metadata.ts';
import { registerHttpFilter } from '../registry.ts';
import { ISTIO_STAT_NAMESPACE, IstioStatsReporter, recordIstioBuild } from './istio-stats.ts';
import { PluginConfigSchema, type PluginConfigWire } from './schema.ts';

export const istioStatsFilter: HttpFilterFactory<PluginConfigWire> = {
  name: 'istio.stats',
  typeUrl: 'type.googleapis.com/stats.PluginConfig',
  configSchema: PluginConfigSchema,
  create(wire, ctx) {
    const metadata = ctx.node?.metadata ?? {};
    // Reporter UNSPECIFIED: from the listener's direction; Istio's default (no direction) is the client side.
    const reporter = ctx.trafficDirection === 'INBOUND' ? 'destination' : 'source';
    ctx.rootStats.registerCustomNamespace(ISTIO_STAT_NAMESPACE);
    recordIstioBuild(ctx.rootStats, typeof metadata['ISTIO_VERSION'] === 'string' ? metadata['ISTIO_VERSION'] : '');
    const shared = new IstioStatsReporter({
      reporter,
      local: workloadFromNodeMetadata(metadata),
      disableHostHeaderFallback: wire.disable_host_header_fallback ?? false,
    }, { stats: ctx.rootStats, clusterManager: ctx.clusterManager, random: ctx.random });
    // Nothing to do until the stream ends (Istio reports from its access-log hook).
    return (callbacks) => ({ onStreamComplete: () => shared.report(callbacks) });
  },
};

registerHttpFilter(istioStatsFilter);
