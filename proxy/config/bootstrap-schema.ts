// Wire schema of envoy.config.bootstrap.v3.Bootstrap for the implemented subset: node, admin,
// static listeners, clusters and secrets, dynamic_resources (LDS/CDS over REST), stats_flush_interval. Every other
// Bootstrap field is reported as not implemented. Cross-references are checked in bootstrap.ts.

import { z } from 'zod';
import { BindAddressSchema } from './core-schema.ts';
import { bool, duration, message, onlyValues, struct } from './schema-kit.ts';
import { ListenerSchema } from '../listener/listener-schema.ts';
import { ClusterSchema } from '../upstream/cluster-schema.ts';
import { ConfigSourceSchema } from './config-source.ts';

const LocalitySchema = message('envoy.config.core.v3.Locality', {
  region: z.string().optional(),
  zone: z.string().optional(),
  sub_zone: z.string().optional(),
});

/**
 * envoy.config.core.v3.Node: the proxy's identity (xDS requests, /server_info, add_user_agent).
 * user_agent_name/user_agent_version are accepted but change nothing: Envoy overwrites them with its
 * own identity at startup (server.cc), whatever the bootstrap says.
 */
export const NodeSchema = message('envoy.config.core.v3.Node', {
  id: z.string().optional(),
  cluster: z.string().optional(),
  metadata: struct.optional(),
  locality: LocalitySchema.optional(),
  user_agent_name: z.string().optional(),
  user_agent_version: z.string().optional(),
}, {
  unimplemented: ['dynamic_parameters', 'user_agent_build_version', 'extensions', 'client_features', 'listening_addresses'],
});

/**
 * envoy.config.bootstrap.v3.Admin. Without `address` there is no admin server. access_log_path is
 * accepted only as /dev/null (nodevoy does not log admin requests: same outcome); profile_path only
 * serves Envoy's CPU profiler, which nodevoy does not have; with no global connection limit in nodevoy,
 * ignore_global_conn_limit changes nothing.
 */
export const AdminSchema = message('envoy.config.bootstrap.v3.Admin', {
  address: BindAddressSchema.optional(),
  access_log_path: onlyValues(z.string(), ['/dev/null'], 'access_log_path').optional(),
  profile_path: z.string().optional(),
  ignore_global_conn_limit: bool.optional(),
}, { unimplemented: ['access_log', 'socket_options', 'allow_paths'] });

export const StaticResourcesSchema = message('envoy.config.bootstrap.v3.Bootstrap.StaticResources', {
  listeners: z.array(ListenerSchema).optional(),
  clusters: z.array(ClusterSchema).optional(),
  // Secrets (proxy/secrets/secret-schema.ts) are validated by bootstrap.ts before the rest of the bootstrap,
  // because the TLS contexts of listeners and clusters resolve secret names while they are parsed.
  secrets: z.array(z.unknown()).optional(),
});

/** Bootstrap.DynamicResources: one LDS and one CDS source (ADS needs gRPC, which nodevoy does not speak yet). */
export const DynamicResourcesSchema = message('envoy.config.bootstrap.v3.Bootstrap.DynamicResources', {
  lds_config: ConfigSourceSchema.optional(),
  cds_config: ConfigSourceSchema.optional(),
}, { unimplemented: ['ads_config', 'lds_resources_locator', 'cds_resources_locator'] });

export const BootstrapSchema = message('envoy.config.bootstrap.v3.Bootstrap', {
  node: NodeSchema.optional(),
  static_resources: StaticResourcesSchema.optional(),
  dynamic_resources: DynamicResourcesSchema.optional(),
  admin: AdminSchema.optional(),
  // Period of the stats flush (histogram intervals, see stats/flush.ts); Envoy allows [1ms, 300s).
  stats_flush_interval: duration.refine((ms) => ms >= 1 && ms < 300_000, 'must be at least 1ms and less than 300s').optional(),
}, {
  unimplemented: ['node_context_params', 'cluster_manager', 'hds_config', 'flags_path',
    'stats_sinks', 'deferred_stat_options', 'stats_config', 'stats_flush_on_admin', 'watchdog', 'watchdogs',
    'tracing', 'layered_runtime', 'overload_manager', 'enable_dispatcher_stats', 'header_prefix',
    'stats_server_version_override', 'use_tcp_for_dns_lookups', 'dns_resolution_config',
    'typed_dns_resolver_config', 'bootstrap_extensions', 'fatal_actions', 'config_sources',
    'default_config_source', 'default_socket_interface', 'certificate_provider_instances', 'inline_headers',
    'perf_tracing_file_path', 'default_regex_engine', 'xds_delegate_extension', 'xds_config_tracker_extension',
    'listener_manager', 'application_log_config', 'grpc_async_client_manager_config', 'memory_allocator_manager'],
});

export type BootstrapWire = z.output<typeof BootstrapSchema>;
