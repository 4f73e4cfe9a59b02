// Wire schema of envoy.config.listener.v3.Listener for the implemented subset: one TCP bind address,
// filter chains (each an HTTP connection manager, optionally behind a TLS transport socket) selected by
// FilterChainMatch, an optional default_filter_chain, and the tls_inspector listener filter.

import { z } from 'zod';
import { BindAddressSchema, CidrRangeSchema } from '../config/core-schema.ts';
import { bool, duration, enumOf, message, onlyValues, typedConfig, uint32 } from '../config/schema-kit.ts';
import { HCM_TYPE_URL, HttpConnectionManagerSchema, type HttpConnectionManagerWire } from '../http/hcm-schema.ts';
import { DownstreamTransportSocketSchema } from '../tls/tls-schema.ts';

/** Network filters by typed_config `@type`: only the HTTP connection manager is implemented. */
const networkFilterTypedConfig = typedConfig('network filter typed_config',
  (typeUrl) => (typeUrl === HCM_TYPE_URL ? HttpConnectionManagerSchema : undefined));

const NetworkFilterSchema = message('envoy.config.listener.v3.Filter', {
  name: z.string().min(1),
  typed_config: networkFilterTypedConfig,
}, { unimplemented: ['config_discovery'] });

/**
 * FilterChainMatch.server_names: exact names or `*.suffix` wildcards; Envoy rejects partial wildcards
 * (`*w.example.com`) and a bare `*` ("partial wildcards are not supported").
 */
const ServerName = z.string().min(1).superRefine((name, ctx) => {
  if (name.includes('*') && (!name.startsWith('*.') || name.indexOf('*', 1) >= 0 || name.length < 3)) {
    ctx.addIssue({ code: 'custom', message: `partial wildcards are not supported in "server_names" ("${name}"): use an exact name or "*.<suffix>"` });
  }
});

export const FilterChainMatchSchema = message('envoy.config.listener.v3.FilterChainMatch', {
  destination_port: uint32.pipe(z.number().min(1).max(65535)).optional(),
  prefix_ranges: z.array(CidrRangeSchema).optional(),
  direct_source_prefix_ranges: z.array(CidrRangeSchema).optional(),
  source_type: enumOf('envoy.config.listener.v3.FilterChainMatch.ConnectionSourceType', ['ANY', 'SAME_IP_OR_LOOPBACK', 'EXTERNAL']).optional(),
  source_prefix_ranges: z.array(CidrRangeSchema).optional(),
  source_ports: z.array(uint32.pipe(z.number().min(1).max(65535))).optional(),
  server_names: z.array(ServerName).optional(),
  transport_protocol: z.string().optional(),
  application_protocols: z.array(z.string()).optional(),
}, { unimplemented: ['address_suffix', 'suffix_len'] });

export type FilterChainMatchWire = z.output<typeof FilterChainMatchSchema>;

const FilterChainSchema = message('envoy.config.listener.v3.FilterChain', {
  filter_chain_match: FilterChainMatchSchema.optional(),
  filters: z.preprocess((v) => v ?? [], z.array(NetworkFilterSchema).superRefine((filters, ctx) => {
    if (filters.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'a filter chain without network filters closes every connection; nodevoy implements only chains with an http_connection_manager', params: { kind: 'not-implemented' } });
    }
    // The HTTP connection manager is a terminal network filter: nothing may follow it.
    for (let i = 1; i < filters.length; i++) {
      ctx.addIssue({ code: 'custom', path: [i], message: 'envoy.filters.network.http_connection_manager is a terminal filter and must be the last (and here the only) network filter' });
    }
  })),
  transport_socket: DownstreamTransportSocketSchema.optional(),
  name: z.string().optional(),
}, {
  unimplemented: ['use_proxy_proto', 'metadata', 'transport_socket_connect_timeout', 'on_demand_configuration'],
});

export type FilterChainWire = z.output<typeof FilterChainSchema>;

export const TLS_INSPECTOR = 'envoy.filters.listener.tls_inspector';
const TLS_INSPECTOR_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector';

const TlsInspectorSchema = message('envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector', {
  enable_ja3_fingerprinting: onlyValues(bool, [false], 'enable_ja3_fingerprinting').optional(),
  // Envoy's first read size, bounds (255, 65537). Accepted for compatibility: nodevoy reads the whole
  // ClientHello (up to 16 KiB) however it arrives, so the size changes nothing.
  initial_read_buffer_size: uint32.pipe(z.number().min(256).max(65536)).optional(),
}, { unimplemented: ['enable_ja4_fingerprinting', 'max_client_hello_size', 'close_connection_on_client_hello_parsing_errors'] });

/** Listener filters by typed_config `@type`: only the TLS inspector is implemented. */
const ListenerFilterSchema = message('envoy.config.listener.v3.ListenerFilter', {
  name: z.string().min(1),
  typed_config: typedConfig('listener filter typed_config', (url) => (url === TLS_INSPECTOR_TYPE_URL ? TlsInspectorSchema : undefined)),
}, { unimplemented: ['config_discovery', 'filter_disabled'] });

export type TlsInspectorWire = z.output<typeof TlsInspectorSchema>;

/** Two chains with the same match make selection ambiguous: Envoy rejects the listener. */
function rejectDuplicateMatches(chains: readonly FilterChainWire[], ctx: z.RefinementCtx): void {
  const seen = new Map<string, number>();
  chains.forEach((chain, i) => {
    const key = canonicalMatch(chain.filter_chain_match);
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else ctx.addIssue({ code: 'custom', path: [i, 'filter_chain_match'], message: `multiple filter chains with the same matching rules are defined (filter_chains[${first}] has the same filter_chain_match)` });
  });
}

/** A FilterChainMatch with defaults dropped and lists sorted, so equal matches compare equal. */
function canonicalMatch(m: FilterChainMatchWire | undefined): string {
  const sortedStrings = (v: readonly string[] | undefined) => [...(v ?? [])].sort();
  const cidrs = (v: FilterChainMatchWire['prefix_ranges']) => (v ?? []).map((r) => `${r.address_prefix}/${r.prefix_len ?? 0}`).sort();
  return JSON.stringify([
    m?.destination_port ?? 0, cidrs(m?.prefix_ranges), sortedStrings(m?.server_names), m?.transport_protocol ?? '',
    sortedStrings(m?.application_protocols), cidrs(m?.direct_source_prefix_ranges), m?.source_type ?? 'ANY',
    cidrs(m?.source_prefix_ranges), [...(m?.source_ports ?? [])].sort((a, b) => a - b),
  ]);
}

export const ListenerSchema = message('envoy.config.listener.v3.Listener', {
  name: z.string().optional(),
  address: BindAddressSchema,
  stat_prefix: z.string().optional(),
  filter_chains: z.preprocess((v) => v ?? [], z.array(FilterChainSchema).superRefine(rejectDuplicateMatches)),
  default_filter_chain: FilterChainSchema.optional(),
  listener_filters: z.array(ListenerFilterSchema).optional(),
  // Envoy default 15 s; 0 disables the timeout.
  listener_filters_timeout: duration.optional(),
  continue_on_listener_filters_timeout: bool.optional(),
  per_connection_buffer_limit_bytes: uint32.optional(),
  traffic_direction: enumOf('envoy.config.core.v3.TrafficDirection', ['UNSPECIFIED', 'INBOUND', 'OUTBOUND']).optional(),
  // false means "reachable only through use_original_dst", which needs the original_dst listener filter.
  bind_to_port: onlyValues(bool, [true], 'bind_to_port').optional(),
  enable_reuse_port: bool.optional(),
}, {
  unimplemented: ['additional_addresses', 'filter_chain_matcher', 'use_original_dst',
    'metadata', 'deprecated_v1', 'drain_type', 'transparent', 'freebind', 'socket_options',
    'tcp_fast_open_queue_length', 'udp_listener_config', 'api_listener', 'connection_balance_config', 'reuse_port',
    'access_log', 'tcp_backlog_size', 'max_connections_to_accept_per_socket_event', 'internal_listener',
    'enable_mptcp', 'ignore_global_conn_limit', 'bypass_overload_manager'],
}).superRefine((l, ctx) => {
  if (l.filter_chains.length === 0 && l.default_filter_chain === undefined) {
    ctx.addIssue({ code: 'custom', path: ['filter_chains'], message: 'no filter chains specified' });
  }
});

export type ListenerWire = z.output<typeof ListenerSchema>;

/** The HTTP connection manager of a parsed filter chain (the schema guarantees it is the only filter). */
export function hcmOfChain(chain: FilterChainWire): HttpConnectionManagerWire {
  return chain.filters[0]!.typed_config.config as HttpConnectionManagerWire;
}
