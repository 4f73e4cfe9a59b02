// Virtual host selection on :authority, as Envoy's RouteMatcher::findVirtualHost: exact domains, then
// suffix wildcards (`*.foo.com`) longest first, then prefix wildcards (`foo.*`) longest first, then `*`.
// Built once from validated domains (no duplicates); per request it does Map lookups only.

interface WildcardLevel<V> {
  /** Length of the fixed part of the domains at this level (e.g. ".foo.com" = 8). */
  readonly length: number;
  readonly byFixedPart: Map<string, V>;
}

export interface DomainEntry<V> {
  /** Domain as configured (lower-cased by the selector). */
  readonly domain: string;
  readonly value: V;
}

export class VirtualHostSelector<V> {
  private readonly exact = new Map<string, V>();
  private readonly suffixes: WildcardLevel<V>[];
  private readonly prefixes: WildcardLevel<V>[];
  private readonly fallback: V | null;
  private readonly ignorePort: boolean;

  /** `ignorePort`: RouteConfiguration.ignore_port_in_host_matching. */
  constructor(entries: readonly DomainEntry<V>[], ignorePort: boolean) {
    this.ignorePort = ignorePort;
    const suffixes = new Map<number, Map<string, V>>();
    const prefixes = new Map<number, Map<string, V>>();
    let fallback: V | null = null;
    for (const { domain, value } of entries) {
      const d = domain.toLowerCase();
      if (d === '*') fallback ??= value;
      else if (d.startsWith('*')) addLevel(suffixes, d.slice(1), value);
      else if (d.endsWith('*')) addLevel(prefixes, d.slice(0, -1), value);
      else if (!this.exact.has(d)) this.exact.set(d, value);
    }
    this.suffixes = sortedLevels(suffixes);
    this.prefixes = sortedLevels(prefixes);
    this.fallback = fallback;
  }

  /** The virtual host for an authority, or null (Envoy answers 404 with flag NR). */
  select(authority: string): V | null {
    let host = authority.toLowerCase();
    if (this.ignorePort) host = stripPort(host);
    const exact = this.exact.get(host);
    if (exact !== undefined) return exact;
    // The wildcard must match at least one character, hence the strict length comparisons.
    for (const level of this.suffixes) {
      if (host.length <= level.length) continue;
      const v = level.byFixedPart.get(host.slice(host.length - level.length));
      if (v !== undefined) return v;
    }
    for (const level of this.prefixes) {
      if (host.length <= level.length) continue;
      const v = level.byFixedPart.get(host.slice(0, level.length));
      if (v !== undefined) return v;
    }
    return this.fallback;
  }
}

function addLevel<V>(levels: Map<number, Map<string, V>>, fixed: string, value: V): void {
  let level = levels.get(fixed.length);
  if (!level) levels.set(fixed.length, level = new Map());
  if (!level.has(fixed)) level.set(fixed, value);
}

function sortedLevels<V>(levels: Map<number, Map<string, V>>): WildcardLevel<V>[] {
  return [...levels].sort((a, b) => b[0] - a[0]).map(([length, byFixedPart]) => ({ length, byFixedPart }));
}

/** Drops `:port` from a host (HeaderUtility::getPortStart): `[v6]:port` keeps the brackets, bare IPv6 has no port. */
export function stripPort(host: string): string {
  const colon = host.lastIndexOf(':');
  if (colon < 0) return host;
  if (host.startsWith('[')) return host.lastIndexOf(']') === colon - 1 ? host.slice(0, colon) : host;
  return host.indexOf(':') === colon ? host.slice(0, colon) : host;
}
