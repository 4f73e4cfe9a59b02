// Wire schemas of the envoy.config.core.v3 messages that listeners, the admin and the HTTP connection
// manager share: Address / SocketAddress (where to bind), CidrRange and DataSource. No runtime behaviour here.

import { isIP } from 'node:net';
import { z } from 'zod';
import { bool, enumOf, message, uint32 } from './schema-kit.ts';

/** envoy.config.core.v3.SocketAddress; `named_port`/`resolver_name` need resolvers nodevoy lacks. */
export const SocketAddressSchema = message('envoy.config.core.v3.SocketAddress', {
  protocol: enumOf('envoy.config.core.v3.SocketAddress.Protocol', ['TCP'], ['UDP']).optional(),
  address: z.string().min(1),
  // port_specifier is a required oneof; named_port (its other member) is not implemented.
  port_value: uint32.pipe(z.number().max(65535)),
  ipv4_compat: bool.optional(),
}, { unimplemented: ['named_port', 'resolver_name', 'network_namespace_filepath'] });

export type SocketAddressWire = z.output<typeof SocketAddressSchema>;

/** envoy.config.core.v3.Address: only `socket_address` (pipes and internal addresses are not implemented). */
export const AddressSchema = message('envoy.config.core.v3.Address', {
  socket_address: SocketAddressSchema,
}, { unimplemented: ['pipe', 'envoy_internal_address'] });

/**
 * An Address that a listener or the admin binds to: Envoy binds to IP literals only (no DNS for binds),
 * so a hostname is rejected here rather than at listen().
 */
export const BindAddressSchema = AddressSchema.superRefine((a, ctx) => {
  if (isIP(a.socket_address.address) === 0) {
    ctx.addIssue({ code: 'custom', path: ['socket_address', 'address'], message: `"${a.socket_address.address}" is not an IP address (listeners bind to IP addresses, not hostnames)` });
  }
});

/** envoy.config.core.v3.CidrRange; prefix_len absent = 0, at most 32 (IPv4) or 128 (IPv6). */
export const CidrRangeSchema = message('envoy.config.core.v3.CidrRange', {
  address_prefix: z.string().refine((s) => isIP(s) !== 0, 'must be an IPv4 or IPv6 address'),
  prefix_len: uint32.optional(),
}).superRefine((r, ctx) => {
  const max = isIP(r.address_prefix) === 6 ? 128 : 32;
  if ((r.prefix_len ?? 0) > max) ctx.addIssue({ code: 'custom', path: ['prefix_len'], message: `must be at most ${max} for ${r.address_prefix}` });
});

export type CidrRangeWire = z.output<typeof CidrRangeSchema>;

/**
 * envoy.config.core.v3.DataSource: exactly one of `filename`, `inline_bytes` (base64 in JSON),
 * `inline_string`, `environment_variable`. Read by proxy/tls/data-source.ts when the config is translated.
 */
export const DataSourceSchema = message('envoy.config.core.v3.DataSource', {
  filename: z.string().min(1).optional(),
  inline_bytes: z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'inline_bytes must be base64').optional(),
  inline_string: z.string().optional(),
  environment_variable: z.string().min(1).optional(),
}, { unimplemented: ['watched_directory'] }).superRefine((d, ctx) => {
  const set = (['filename', 'inline_bytes', 'inline_string', 'environment_variable'] as const).filter((k) => d[k] !== undefined);
  if (set.length !== 1) {
    ctx.addIssue({ code: 'custom', message: set.length === 0
      ? 'a DataSource needs one of filename, inline_bytes, inline_string, environment_variable'
      : `a DataSource takes only one of filename, inline_bytes, inline_string, environment_variable (got ${set.join(', ')})` });
  }
});

export type DataSourceWire = z.output<typeof DataSourceSchema>;
