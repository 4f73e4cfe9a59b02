// Wire schema of Istio's stats filter config (stats.PluginConfig, istio/proxy
// source/extensions/filters/http/istio_stats/config.proto): what istiod sends a sidecar (an empty config
// outbound, disable_host_header_fallback inbound) is implemented; metric overrides, CEL definitions, scope
// rotation, TCP reporting and the waypoint reporter are reported not implemented.

import type { z } from 'zod';
import { bool, enumOf, message } from '../../../config/schema-kit.ts';

export const PluginConfigSchema = message('stats.PluginConfig', {
  disable_host_header_fallback: bool.optional(),
  reporter: enumOf('stats.Reporter', ['UNSPECIFIED'], ['SERVER_GATEWAY']).optional(),
}, {
  unimplemented: ['tcp_reporting_duration', 'metrics', 'definitions', 'rotation_interval', 'graceful_deletion_interval'],
});

export type PluginConfigWire = z.output<typeof PluginConfigSchema>;
