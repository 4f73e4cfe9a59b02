// envoy.config.core.v3.ConfigSource / ApiConfigSource (envoy-compat.md §1): the wire schema for the subset
// nodevoy implements (REST-JSON polling of one static cluster, transport V3) and its translation into the
// ConfigSourceConfig the xDS wiring uses. Cross-references (the named cluster) are checked by callers.

import { z } from 'zod';
import type { ConfigError } from '../common/result.ts';
import { duration, enumOf, message, positiveDuration } from './schema-kit.ts';

/** ConfigSource.initial_fetch_timeout default: 15 s (0 = wait forever). */
export const DEFAULT_INITIAL_FETCH_TIMEOUT_MS = 15_000;
/** ApiConfigSource.request_timeout default: 1 s. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 1_000;

const API_CONFIG_SOURCE = 'envoy.config.core.v3.ApiConfigSource';

/** ApiVersion: AUTO (0) is treated as V3, V2 no longer exists. */
const apiVersion = (field: string) => enumOf(`envoy.config.core.v3.ApiVersion (${field})`, ['AUTO', 'V3'], ['V2'], ['AUTO', 'V2', 'V3']);

const ApiConfigSourceSchema = message(API_CONFIG_SOURCE, {
  // Value 0 (DEPRECATED_AND_UNAVAILABLE_DO_NOT_USE) is rejected as Envoy rejects it.
  api_type: enumOf(`${API_CONFIG_SOURCE}.ApiType`, ['REST'], ['GRPC', 'DELTA_GRPC', 'AGGREGATED_GRPC', 'AGGREGATED_DELTA_GRPC'],
    ['DEPRECATED_AND_UNAVAILABLE_DO_NOT_USE', 'REST', 'GRPC', 'DELTA_GRPC', 'AGGREGATED_GRPC', 'AGGREGATED_DELTA_GRPC']),
  transport_api_version: apiVersion('transport_api_version').optional(),
  cluster_names: z.array(z.string().min(1)).optional(),
  refresh_delay: positiveDuration.optional(),
  request_timeout: positiveDuration.optional(),
}, { unimplemented: ['grpc_services', 'rate_limit_settings', 'set_node_on_first_message_only', 'config_validators'] })
  .superRefine((a, ctx) => {
    // Envoy: "refresh_delay is required for REST API configuration sources".
    if (a.refresh_delay === undefined) ctx.addIssue({ code: 'custom', path: ['refresh_delay'], message: 'refresh_delay is required for REST API configuration sources' });
    const names = a.cluster_names ?? [];
    // Envoy rotates over several cluster_names on failure; nodevoy polls exactly one.
    if (names.length === 0) ctx.addIssue({ code: 'custom', path: ['cluster_names'], message: 'API configs must have a cluster name defined (one static cluster)' });
    if (names.length > 1) ctx.addIssue({ code: 'custom', path: ['cluster_names'], message: 'more than one cluster name (Envoy rotates between them) is valid Envoy config but nodevoy does not implement it', params: { kind: 'not-implemented' } });
  });

/** ConfigSource: only `api_config_source` is implemented among the config_source_specifier oneof. */
export const ConfigSourceSchema = message('envoy.config.core.v3.ConfigSource', {
  api_config_source: ApiConfigSourceSchema.optional(),
  initial_fetch_timeout: duration.optional(),
  resource_api_version: apiVersion('resource_api_version').optional(),
}, { unimplemented: ['path', 'path_config_source', 'ads', 'self', 'authorities'] })
  .superRefine((c, ctx) => {
    // The oneof is required; its other members are reported as not implemented by message() already.
    const other = ['path', 'pathConfigSource', 'path_config_source', 'ads', 'self'].some((k) => k in c);
    if (c.api_config_source === undefined && !other) ctx.addIssue({ code: 'custom', path: ['api_config_source'], message: 'required field is missing (one of api_config_source, ads, path_config_source, self)' });
  });

export type ConfigSourceWire = z.output<typeof ConfigSourceSchema>;

/** A validated REST ConfigSource with Envoy's defaults applied. */
export interface ConfigSourceConfig {
  /** api_config_source.cluster_names[0]: a static, non-EDS cluster (checked by the caller). */
  readonly clusterName: string;
  readonly refreshDelayMs: number;
  readonly requestTimeoutMs: number;
  /** 0 = wait forever for the first response. */
  readonly initialFetchTimeoutMs: number;
}

/** Applies the defaults to a schema-valid ConfigSource (api_config_source is present after the schema). */
export function translateConfigSource(wire: ConfigSourceWire): ConfigSourceConfig {
  const api = wire.api_config_source!;
  return Object.freeze({
    clusterName: api.cluster_names?.[0] ?? '',
    refreshDelayMs: api.refresh_delay ?? 0,
    requestTimeoutMs: api.request_timeout ?? DEFAULT_REQUEST_TIMEOUT_MS,
    initialFetchTimeoutMs: wire.initial_fetch_timeout ?? DEFAULT_INITIAL_FETCH_TIMEOUT_MS,
  });
}

/** Config sources with the same key share one xDS client (one management server connection). */
export function configSourceKey(c: ConfigSourceConfig): string {
  return `${c.clusterName}|${c.refreshDelayMs}|${c.requestTimeoutMs}`;
}

/** Envoy's check (Utility::checkApiConfigSourceSubscriptionBackingCluster) on the cluster an ApiConfigSource names. */
export function backingClusterError(clusterName: string): string {
  return `envoy.config.core.v3.ApiConfigSource must have a statically defined non-EDS cluster: '${clusterName}' does not exist, was added via api, or is an EDS cluster`;
}

/**
 * The cluster an ApiConfigSource polls must be a static, non-EDS cluster (Envoy's primary clusters):
 * the management server has to be reachable before any dynamic config exists. `path` is the ConfigSource's.
 */
export function checkBackingCluster(source: ConfigSourceConfig, path: string, primaryClusters: ReadonlySet<string>): ConfigError[] {
  if (primaryClusters.has(source.clusterName)) return [];
  return [{ path: `${path}.api_config_source.cluster_names[0]`, kind: 'invalid', message: backingClusterError(source.clusterName) }];
}
