// Wire schemas of the envoy.config.core.v3 messages that listeners, the admin and the HTTP connection
// manager share: Address / SocketAddress (where to bind) and CidrRange. No runtime behaviour here.

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
