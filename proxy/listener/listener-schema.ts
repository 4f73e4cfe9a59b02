// Wire schema of envoy.config.listener.v3.Listener for the implemented subset: one TCP bind address and
// exactly one filter chain whose only network filter is the HTTP connection manager.
// Filter chain matching, TLS transport sockets and listener filters arrive with the mTLS work.

import { z } from 'zod';
import { BindAddressSchema } from '../config/core-schema.ts';
import { bool, enumOf, message, onlyValues, typedConfig, uint32 } from '../config/schema-kit.ts';
import { HCM_TYPE_URL, HttpConnectionManagerSchema, type HttpConnectionManagerWire } from '../http/hcm-schema.ts';

/** Network filters by typed_config `@type`: only the HTTP connection manager is implemented. */
const networkFilterTypedConfig = typedConfig('network filter typed_config',
  (typeUrl) => (typeUrl === HCM_TYPE_URL ? HttpConnectionManagerSchema : undefined));

const NetworkFilterSchema = message('envoy.config.listener.v3.Filter', {
  name: z.string().min(1),
  typed_config: networkFilterTypedConfig,
}, { unimplemented: ['config_discovery'] });

const FilterChainSchema = message('envoy.config.listener.v3.FilterChain', {
  filters: z.preprocess((v) => v ?? [], z.array(NetworkFilterSchema).superRefine((filters, ctx) => {
    if (filters.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'a filter chain without network filters closes every connection; nodevoy implements only chains with an http_connection_manager', params: { kind: 'not-implemented' } });
    }
    // The HTTP connection manager is a terminal network filter: nothing may follow it.
    for (let i = 1; i < filters.length; i++) {
      ctx.addIssue({ code: 'custom', path: [i], message: 'envoy.filters.network.http_connection_manager is a terminal filter and must be the last (and here the only) network filter' });
    }
  })),
  name: z.string().optional(),
}, {
  unimplemented: ['filter_chain_match', 'use_proxy_proto', 'metadata', 'transport_socket',
    'transport_socket_connect_timeout', 'on_demand_configuration'],
});

export const ListenerSchema = message('envoy.config.listener.v3.Listener', {
  name: z.string().optional(),
  address: BindAddressSchema,
  stat_prefix: z.string().optional(),
  filter_chains: z.preprocess((v) => v ?? [], z.array(FilterChainSchema).superRefine((chains, ctx) => {
    if (chains.length === 0) ctx.addIssue({ code: 'custom', message: 'no filter chains specified' });
    if (chains.length > 1) {
      ctx.addIssue({ code: 'custom', path: [1], message: 'more than one filter chain needs filter_chain_match, which nodevoy does not implement yet (it arrives with mTLS)', params: { kind: 'not-implemented' } });
    }
  })),
  per_connection_buffer_limit_bytes: uint32.optional(),
  traffic_direction: enumOf('envoy.config.core.v3.TrafficDirection', ['UNSPECIFIED', 'INBOUND', 'OUTBOUND']).optional(),
  // false means "reachable only through use_original_dst", which needs the original_dst listener filter.
  bind_to_port: onlyValues(bool, [true], 'bind_to_port').optional(),
  enable_reuse_port: bool.optional(),
}, {
  unimplemented: ['additional_addresses', 'filter_chain_matcher', 'use_original_dst', 'default_filter_chain',
    'metadata', 'deprecated_v1', 'drain_type', 'listener_filters', 'listener_filters_timeout',
    'continue_on_listener_filters_timeout', 'transparent', 'freebind', 'socket_options',
    'tcp_fast_open_queue_length', 'udp_listener_config', 'api_listener', 'connection_balance_config', 'reuse_port',
    'access_log', 'tcp_backlog_size', 'max_connections_to_accept_per_socket_event', 'internal_listener',
    'enable_mptcp', 'ignore_global_conn_limit', 'bypass_overload_manager'],
});

export type ListenerWire = z.output<typeof ListenerSchema>;

/** Path, relative to the listener, of the HTTP connection manager config (the only filter of the only chain). */
export const HCM_PATH_IN_LISTENER = 'filter_chains[0].filters[0].typed_config';

/** The HTTP connection manager of a parsed listener (the schema guarantees there is exactly one). */
export function hcmOf(listener: ListenerWire): HttpConnectionManagerWire {
  return listener.filter_chains[0]!.filters[0]!.typed_config.config as HttpConnectionManagerWire;
}
