// CIDR ranges (envoy.config.core.v3.CidrRange {address_prefix, prefix_len}) compiled once into a
// matcher over IP strings, using node:net's BlockList (handles IPv4, IPv6 and IPv4-mapped IPv6).

import { BlockList, isIP } from 'node:net';

export interface CidrRange {
  readonly addressPrefix: string;
  readonly prefixLen: number;
}

export interface CidrMatcher {
  contains(ip: string): boolean;
}

export function compileCidrs(ranges: readonly CidrRange[]): CidrMatcher {
  if (ranges.length === 0) return { contains: () => false };
  const list = new BlockList();
  for (const r of ranges) list.addSubnet(r.addressPrefix, r.prefixLen, isIP(r.addressPrefix) === 6 ? 'ipv6' : 'ipv4');
  return {
    contains(ip: string): boolean {
      const family = isIP(ip);
      if (family === 0) return false;
      return list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
    },
  };
}
