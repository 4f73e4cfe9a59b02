// Filter chain selection (Envoy's FilterChainManagerImpl): the FilterChainMatch of every chain compiled
// once, then per connection a sequential pruning over the criteria in Envoy's order — destination port,
// destination IP, server name, transport protocol, application protocols, direct source IP, source type,
// source IP, source port. At each step only the chains matching most specifically survive; a chain that
// leaves the criterion unset survives only when no chain matches it specifically.

import { isIP } from 'node:net';
import { compileCidrs } from '../http/cidr.ts';
import type { FilterChainMatchWire } from './listener-schema.ts';

/** What is known about a connection when its chain is chosen (after the listener filters). */
export interface ConnectionFacts {
  readonly destinationIp: string;
  readonly destinationPort: number;
  readonly sourceIp: string;
  readonly sourcePort: number;
  /** SNI from tls_inspector ('' = none). */
  readonly serverName: string;
  /** `tls` when tls_inspector found a ClientHello, else `raw_buffer` (Envoy's default). */
  readonly transportProtocol: string;
  /** ALPN from tls_inspector, in client order. */
  readonly applicationProtocols: readonly string[];
}

/**
 * One criterion of one chain: the specificity of its match for a connection, 0 = no match. A chain that
 * does not set the criterion scores 1 (it matches anything, least specifically).
 */
type Criterion = (c: ConnectionFacts) => number;

const ANY: Criterion = () => 1;

/** prefix_ranges and friends: the longest matching prefix wins (an explicit /0 ties with no ranges, as in Envoy's trie). */
function cidrCriterion(ranges: FilterChainMatchWire['prefix_ranges'], ip: (c: ConnectionFacts) => string): Criterion {
  if (!ranges || ranges.length === 0) return ANY;
  const compiled = ranges.map((r) => ({ matcher: compileCidrs([{ addressPrefix: r.address_prefix, prefixLen: r.prefix_len ?? 0 }]), len: r.prefix_len ?? 0 }));
  return (c) => {
    let best = 0;
    for (const r of compiled) if (r.len + 1 > best && r.matcher.contains(ip(c))) best = r.len + 1;
    return best;
  };
}

/** server_names: an exact name beats `*.example.com`, which beats `*.com`, which beats no server_names. */
function serverNameCriterion(names: readonly string[] | undefined): Criterion {
  if (!names || names.length === 0) return ANY;
  const exact = new Set(names.filter((n) => !n.startsWith('*.')).map((n) => n.toLowerCase()));
  const suffixes = names.filter((n) => n.startsWith('*.')).map((n) => n.slice(1).toLowerCase());
  return (c) => {
    const sni = c.serverName;
    if (sni === '') return 0;
    if (exact.has(sni)) return 1_000_000;
    let best = 0;
    for (const suffix of suffixes) if (sni.length > suffix.length && sni.endsWith(suffix) && suffix.length + 2 > best) best = suffix.length + 2;
    return best;
  };
}

/** application_protocols: the chain matching the connection's earliest ALPN protocol wins (Envoy tries them in order). */
function alpnCriterion(protocols: readonly string[] | undefined): Criterion {
  if (!protocols || protocols.length === 0) return ANY;
  const set = new Set(protocols);
  return (c) => {
    const i = c.applicationProtocols.findIndex((p) => set.has(p));
    return i < 0 ? 0 : 1_000 - i;
  };
}

function sourceTypeCriterion(type: FilterChainMatchWire['source_type']): Criterion {
  if (type === undefined || type === 'ANY') return ANY;
  const local = (c: ConnectionFacts): boolean => c.sourceIp === c.destinationIp || isLoopback(c.sourceIp);
  return type === 'SAME_IP_OR_LOOPBACK' ? (c) => (local(c) ? 2 : 0) : (c) => (local(c) ? 0 : 2);
}

function isLoopback(ip: string): boolean {
  if (isIP(ip) === 4) return ip.startsWith('127.');
  return ip === '::1' || ip.startsWith('::ffff:127.');
}

/** The nine criteria of one chain, in Envoy's selection order. */
function compileMatch(m: FilterChainMatchWire | undefined): readonly Criterion[] {
  const port = m?.destination_port;
  const transport = m?.transport_protocol ?? '';
  const sourcePorts = new Set(m?.source_ports ?? []);
  return [
    port === undefined ? ANY : (c) => (c.destinationPort === port ? 2 : 0),
    cidrCriterion(m?.prefix_ranges, (c) => c.destinationIp),
    serverNameCriterion(m?.server_names),
    transport === '' ? ANY : (c) => (c.transportProtocol === transport ? 2 : 0),
    alpnCriterion(m?.application_protocols),
    cidrCriterion(m?.direct_source_prefix_ranges, (c) => c.sourceIp),
    sourceTypeCriterion(m?.source_type),
    // Without the PROXY protocol the source address is the direct peer.
    cidrCriterion(m?.source_prefix_ranges, (c) => c.sourceIp),
    sourcePorts.size === 0 ? ANY : (c) => (sourcePorts.has(c.sourcePort) ? 2 : 0),
  ];
}

export interface FilterChainSelector {
  /** Index of the chosen filter chain, or -1 (the caller then uses default_filter_chain, if any). */
  select(c: ConnectionFacts): number;
}

export function compileFilterChainSelector(matches: readonly (FilterChainMatchWire | undefined)[]): FilterChainSelector {
  const chains = matches.map(compileMatch);
  if (chains.length === 1 && chains[0]!.every((criterion) => criterion === ANY)) return { select: () => 0 };
  const criteriaCount = 9;
  return {
    select(c: ConnectionFacts): number {
      let candidates = chains.map((_, i) => i);
      for (let k = 0; k < criteriaCount && candidates.length > 0; k++) {
        let best = 0;
        const scores = candidates.map((i) => {
          const score = chains[i]![k]!(c);
          if (score > best) best = score;
          return score;
        });
        candidates = best === 0 ? [] : candidates.filter((_, j) => scores[j] === best);
      }
      // Duplicate matches are rejected at config time, so at most one chain is left.
      return candidates[0] ?? -1;
    },
  };
}
