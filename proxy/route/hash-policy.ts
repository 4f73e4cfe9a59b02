// RouteAction.hash_policy (Envoy's HashPolicyImpl): the request hash that RING_HASH/MAGLEV use. Implements
// `header` and `connection_properties.source_ip` with Envoy's xxHash64 and its combining rule, so keys
// equal Envoy's for the same request.

import { z } from 'zod';
import { message, bool } from '../config/schema-kit.ts';
import type { RequestHeaders } from '../http/headers.ts';
import { xxHash64 } from './xxhash64.ts';

const HeaderHashSchema = message('envoy.config.route.v3.RouteAction.HashPolicy.Header', {
  header_name: z.string().min(1),
}, { unimplemented: ['regex_rewrite'] });

const ConnectionPropertiesSchema = message('envoy.config.route.v3.RouteAction.HashPolicy.ConnectionProperties', {
  source_ip: bool.optional(),
});

export const HashPolicySchema = message('envoy.config.route.v3.RouteAction.HashPolicy', {
  header: HeaderHashSchema.optional(),
  connection_properties: ConnectionPropertiesSchema.optional(),
  terminal: bool.optional(),
}, { unimplemented: ['cookie', 'query_parameter', 'filter_state'] }).superRefine((p, ctx) => {
  if ((p.header === undefined) === (p.connection_properties === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'a HashPolicy needs exactly one of header, connection_properties' });
  }
});

export type HashPolicyWire = z.output<typeof HashPolicySchema>;

type HashMethod = (request: RequestHeaders, downstreamAddress: string) => bigint | undefined;

interface CompiledMethod {
  readonly evaluate: HashMethod;
  readonly terminal: boolean;
}

/** The IP of an `ip:port` or `[v6]:port` address (Envoy hashes addressAsString(), without the port). */
export function ipOf(address: string): string {
  if (address.startsWith('[')) {
    const end = address.indexOf(']');
    return end < 0 ? address : address.slice(1, end);
  }
  const colon = address.indexOf(':');
  // One colon: IPv4 with a port. None or several: a bare IPv4 / IPv6 address.
  return colon >= 0 && address.indexOf(':', colon + 1) < 0 ? address.slice(0, colon) : address;
}

function compileMethod(p: HashPolicyWire): HashMethod {
  if (p.header !== undefined) {
    const name = p.header.header_name.toLowerCase();
    return (request) => {
      const v = request.headers[name];
      if (v === undefined) return undefined;
      // HeaderHashMethod: several values are sorted and hashed as one stream.
      return xxHash64(Array.isArray(v) ? [...v].sort().join('') : v);
    };
  }
  if (p.connection_properties?.source_ip === true) {
    return (_request, downstreamAddress) => (downstreamAddress === '' ? undefined : xxHash64(ipOf(downstreamAddress)));
  }
  return () => undefined;
}

/** RouteAction.hash_policy compiled; undefined when the route has none. */
export type RequestHasher = (request: RequestHeaders, downstreamAddress: string) => bigint | undefined;

export function compileHashPolicies(policies: readonly HashPolicyWire[] | undefined): RequestHasher | undefined {
  if (policies === undefined || policies.length === 0) return undefined;
  const methods: CompiledMethod[] = policies.map((p) => ({ evaluate: compileMethod(p), terminal: p.terminal ?? false }));
  return (request, downstreamAddress) => {
    let hash: bigint | undefined;
    for (const m of methods) {
      const next = m.evaluate(request, downstreamAddress);
      if (next !== undefined) {
        // HashPolicyImpl::generateHash: rotate the previous value left by one, then xor.
        const old = hash === undefined ? 0n : ((hash << 1n) | (hash >> 63n)) & 0xffff_ffff_ffff_ffffn;
        hash = old ^ next;
      }
      if (m.terminal && hash !== undefined) break;
    }
    return hash;
  };
}
