// Subset load balancing: selectors, metadata_match, and every fallback policy.

import { describe, expect, it } from 'vitest';
import { harness, staticCluster, uint32s } from './helpers.ts';

const ENDPOINTS = [
  { ip: '10.0.0.1', lb: { version: 'v1', stage: 'prod' } },
  { ip: '10.0.0.2', lb: { version: 'v1', stage: 'canary' } },
  { ip: '10.0.0.3', lb: { version: 'v2', stage: 'prod' } },
  { ip: '10.0.0.4' },
];

function subsetCluster(lbSubsetConfig: Record<string, unknown>) {
  return harness(staticCluster([ENDPOINTS], { lb_subset_config: lbSubsetConfig }), uint32s(0));
}

function chooseMany(cluster: { chooseHost(ctx: object): { address: string } | null }, metadataMatch: Record<string, unknown> | undefined, n = 6) {
  return new Set(Array.from({ length: n }, () => cluster.chooseHost(metadataMatch ? { metadataMatch } : {})?.address ?? null));
}

describe('subset load balancing', () => {
  const selectors = [{ keys: ['version'] }, { keys: ['stage', 'version'] }];

  it('routes to the subset whose keys and values equal the criteria', () => {
    const { cluster, stats } = subsetCluster({ subset_selectors: selectors });
    expect(chooseMany(cluster, { version: 'v1' })).toEqual(new Set(['10.0.0.1', '10.0.0.2']));
    expect(chooseMany(cluster, { version: 'v2' })).toEqual(new Set(['10.0.0.3']));
    expect(chooseMany(cluster, { stage: 'canary', version: 'v1' })).toEqual(new Set(['10.0.0.2']));
    expect(stats.counter('cluster.c.lb_subsets_selected').value()).toBe(18);
    // version: v1, v2; (stage, version): (prod, v1), (canary, v1), (prod, v2).
    expect(stats.gauge('cluster.c.lb_subsets_active').value()).toBe(5);
  });

  it.each([
    ['NO_FALLBACK (default)', {}, [null]],
    ['ANY_ENDPOINT', { fallback_policy: 'ANY_ENDPOINT' }, ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']],
    ['DEFAULT_SUBSET', { fallback_policy: 'DEFAULT_SUBSET', default_subset: { stage: 'prod' } }, ['10.0.0.1', '10.0.0.3']],
    ['DEFAULT_SUBSET matching nothing', { fallback_policy: 'DEFAULT_SUBSET', default_subset: { stage: 'qa' } }, [null]],
  ])('falls back with %s when no subset matches', (_what, policy, expected) => {
    const { cluster } = subsetCluster({ subset_selectors: selectors, ...policy });
    expect(chooseMany(cluster, { version: 'v3' }, 8)).toEqual(new Set(expected));
    // Keys that correspond to no selector, and requests without criteria, also fall back.
    expect(chooseMany(cluster, { zone: 'a' }, 8)).toEqual(new Set(expected));
    expect(chooseMany(cluster, undefined, 8)).toEqual(new Set(expected));
  });

  it('lets a selector override the cluster fallback policy for its keys', () => {
    const { cluster, stats } = subsetCluster({
      fallback_policy: 'NO_FALLBACK',
      subset_selectors: [{ keys: ['version'], fallback_policy: 'ANY_ENDPOINT' }, { keys: ['stage'] }],
    });
    expect(chooseMany(cluster, { version: 'v9' }, 8)).toEqual(new Set(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']));
    expect(chooseMany(cluster, { stage: 'qa' })).toEqual(new Set([null]));
    expect(stats.counter('cluster.c.lb_subsets_fallback').value()).toBe(8);
  });

  it('a matched subset answers even when it has no healthy host (no fallback)', () => {
    const { cluster } = harness(staticCluster([[
      { ip: '10.0.0.1', lb: { version: 'v1' }, health: 'UNHEALTHY' },
      { ip: '10.0.0.2', lb: { version: 'v2' } },
    ]], {
      lb_subset_config: { fallback_policy: 'ANY_ENDPOINT', subset_selectors: [{ keys: ['version'] }] },
      common_lb_config: { healthy_panic_threshold: { value: 0 } },
    }));
    expect(cluster.chooseHost({ metadataMatch: { version: 'v1' } })).toBeNull();
  });

  it('ignores metadata_match when subsetting is not configured', () => {
    const { cluster } = harness(staticCluster([ENDPOINTS]), uint32s(0));
    expect(chooseMany(cluster, { version: 'v2' }, 4).size).toBe(4);
  });
});
