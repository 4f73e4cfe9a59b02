// Subset load balancing (Cluster.lb_subset_config): hosts are grouped by the values of each selector's
// keys in endpoint metadata `envoy.lb`; a request's metadata_match picks the subset with exactly those
// keys and values, otherwise the selector's or the cluster's fallback_policy applies (NO_FALLBACK →
// no host, ANY_ENDPOINT → the whole cluster, DEFAULT_SUBSET → hosts matching default_subset).

import type { SubsetFallbackPolicy } from '../cluster-schema.ts';
import type { SubsetConfig } from '../cluster-config.ts';
import type { Host, LoadBalancerContext } from '../types.ts';
import { PriorityLoadBalancer, type LoadBalancerDeps } from './priority-load-balancer.ts';
import type { LoadBalancer } from './types.ts';

/** Endpoint metadata namespace the subset LB reads. */
export const LB_METADATA_NAMESPACE = 'envoy.lb';

interface SelectorEntry {
  readonly fallbackPolicy: SubsetFallbackPolicy | null;
  /** Value key (see valueKey) → balancer over that subset. */
  readonly subsets: ReadonlyMap<string, LoadBalancer>;
}

const keySetKey = (keys: readonly string[]): string => keys.join('\u0000');
/** Protobuf Values compare by value; JSON of the values in sorted-key order identifies a subset. */
const valueKey = (keys: readonly string[], values: Readonly<Record<string, unknown>>): string => JSON.stringify(keys.map((k) => values[k]));

function lbMetadata(host: Host): Readonly<Record<string, unknown>> | undefined {
  return host.metadata[LB_METADATA_NAMESPACE];
}

export class SubsetLoadBalancer implements LoadBalancer {
  private readonly selectors = new Map<string, SelectorEntry>();
  private readonly anyEndpoint: LoadBalancer;
  private readonly defaultSubset: LoadBalancer;
  private readonly fallbackPolicy: SubsetFallbackPolicy;
  private readonly deps: LoadBalancerDeps;

  constructor(hostsByPriority: readonly (readonly Host[])[], config: SubsetConfig, deps: LoadBalancerDeps) {
    this.deps = deps;
    this.fallbackPolicy = config.fallbackPolicy;
    this.anyEndpoint = new PriorityLoadBalancer(hostsByPriority, deps);
    const defaults = Object.entries(config.defaultSubset);
    this.defaultSubset = new PriorityLoadBalancer(hostsByPriority.map((hosts) => hosts.filter((h) => {
      const md = lbMetadata(h);
      return defaults.every(([k, v]) => md !== undefined && k in md && JSON.stringify(md[k]) === JSON.stringify(v));
    })), deps);

    let subsetCount = 0;
    for (const selector of config.selectors) {
      const groups = new Map<string, Host[][]>();
      hostsByPriority.forEach((hosts, p) => {
        for (const host of hosts) {
          const md = lbMetadata(host);
          if (!md || !selector.keys.every((k) => k in md)) continue;
          const key = valueKey(selector.keys, md);
          let group = groups.get(key);
          if (!group) groups.set(key, (group = hostsByPriority.map(() => [])));
          group[p]!.push(host);
        }
      });
      const subsets = new Map<string, LoadBalancer>();
      for (const [key, group] of groups) subsets.set(key, new PriorityLoadBalancer(group, deps));
      subsetCount += subsets.size;
      this.selectors.set(keySetKey(selector.keys), { fallbackPolicy: selector.fallbackPolicy, subsets });
    }
    deps.stats.lb_subsets_active.set(subsetCount);
  }

  chooseHost(ctx: LoadBalancerContext): Host | null {
    const criteria = ctx.metadataMatch;
    let policy = this.fallbackPolicy;
    if (criteria !== undefined) {
      const keys = Object.keys(criteria).sort();
      const selector = this.selectors.get(keySetKey(keys));
      if (selector) {
        const subset = selector.subsets.get(valueKey(keys, criteria));
        if (subset) {
          // A matching subset answers even when it yields no host (Envoy does not fall back then).
          this.deps.stats.lb_subsets_selected.inc();
          return subset.chooseHost(ctx);
        }
        policy = selector.fallbackPolicy ?? policy;
      }
    }
    return this.fallback(policy, ctx);
  }

  private fallback(policy: SubsetFallbackPolicy, ctx: LoadBalancerContext): Host | null {
    if (policy === 'NO_FALLBACK') return null;
    const host = (policy === 'ANY_ENDPOINT' ? this.anyEndpoint : this.defaultSubset).chooseHost(ctx);
    if (host) this.deps.stats.lb_subsets_fallback.inc();
    return host;
  }
}
