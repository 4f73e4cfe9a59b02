// Validation of the xDS parts of a bootstrap: dynamic_resources, ConfigSource / ApiConfigSource, EDS
// clusters and HCM rds, each error with its path and kind, and the cross-check that every config source
// polls a static non-EDS cluster (Envoy's "must have a statically defined non-EDS cluster").

import { describe, expect, it } from 'vitest';
import { validateBootstrap } from '../../../proxy/config/bootstrap.ts';
import type { ConfigError } from '../../../proxy/common/result.ts';
import { dynamicBootstrap, edsCluster, rdsListener, restSource, staticClusterJson } from '../../support/xds-resources.ts';

// Test documents are mutated deep inside; typing every level would hide what each case changes.
type Json = Record<string, any>;

const LDS = 'dynamic_resources.lds_config';
const HCM = 'filter_chains[0].filters[0].typed_config';

function base(): Json {
  return structuredClone(dynamicBootstrap(18000));
}

function errorsOf(doc: Json): Pick<ConfigError, 'path' | 'kind'>[] {
  const r = validateBootstrap(doc);
  return r.ok ? [] : r.errors.map(({ path, kind }) => ({ path, kind }));
}

describe('dynamic bootstrap validation', () => {
  it('accepts LDS/CDS over REST with Envoy defaults, static EDS clusters and static rds listeners', () => {
    const doc = base();
    doc.dynamic_resources.cds_config.initial_fetch_timeout = '0s';
    doc.static_resources.clusters.push(edsCluster('static_eds'));
    doc.static_resources.listeners = [rdsListener('static_rds', 'routes')];
    const r = validateBootstrap(doc);
    if (!r.ok) throw new Error(JSON.stringify(r.errors, null, 2));
    expect(r.value.dynamicResources).toEqual({
      lds: { clusterName: 'xds_cluster', refreshDelayMs: 1000, requestTimeoutMs: 30_000, initialFetchTimeoutMs: 15_000 },
      cds: { clusterName: 'xds_cluster', refreshDelayMs: 1000, requestTimeoutMs: 30_000, initialFetchTimeoutMs: 0 },
    });
    expect(r.value.listeners[0]!.filterChains[0]!.hcm.rds).toEqual({
      routeConfigName: 'routes', configSource: { clusterName: 'xds_cluster', refreshDelayMs: 1000, requestTimeoutMs: 30_000, initialFetchTimeoutMs: 15_000 },
    });
    // An rds listener routes nothing until RDS delivers its table (Envoy's NullConfigImpl).
    expect(r.value.listeners[0]!.filterChains[0]!.routeConfig.route({ method: 'GET', path: '/', authority: 'x', scheme: 'http', headers: {} })).toBeNull();
  });

  it('defaults request_timeout to 1s', () => {
    const doc = base();
    delete doc.dynamic_resources.lds_config.api_config_source.request_timeout;
    const r = validateBootstrap(doc);
    expect(r.ok && r.value.dynamicResources.lds?.requestTimeoutMs).toBe(1000);
  });

  it.each([
    ['api_type GRPC', (d: Json) => { d.dynamic_resources.lds_config.api_config_source.api_type = 'GRPC'; }, [{ path: `${LDS}.api_config_source.api_type`, kind: 'not-implemented' }]],
    ['api_type DELTA_GRPC', (d: Json) => { d.dynamic_resources.lds_config.api_config_source.api_type = 'DELTA_GRPC'; }, [{ path: `${LDS}.api_config_source.api_type`, kind: 'not-implemented' }]],
    ['api_type AGGREGATED_GRPC', (d: Json) => { d.dynamic_resources.lds_config.api_config_source.api_type = 'AGGREGATED_GRPC'; }, [{ path: `${LDS}.api_config_source.api_type`, kind: 'not-implemented' }]],
    ['api_type 0 (DEPRECATED_AND_UNAVAILABLE_DO_NOT_USE)', (d: Json) => { d.dynamic_resources.lds_config.api_config_source.api_type = 0; }, [{ path: `${LDS}.api_config_source.api_type`, kind: 'invalid' }]],
    ['REST without refresh_delay', (d: Json) => { delete d.dynamic_resources.lds_config.api_config_source.refresh_delay; }, [{ path: `${LDS}.api_config_source.refresh_delay`, kind: 'invalid' }]],
    ['no cluster_names', (d: Json) => { delete d.dynamic_resources.lds_config.api_config_source.cluster_names; }, [{ path: `${LDS}.api_config_source.cluster_names`, kind: 'invalid' }]],
    ['two cluster_names', (d: Json) => { d.dynamic_resources.lds_config.api_config_source.cluster_names = ['xds_cluster', 'xds_cluster']; }, [{ path: `${LDS}.api_config_source.cluster_names`, kind: 'not-implemented' }]],
    ['grpc_services', (d: Json) => { d.dynamic_resources.lds_config.api_config_source.grpc_services = []; }, [{ path: `${LDS}.api_config_source.grpc_services`, kind: 'not-implemented' }]],
    ['transport_api_version V2', (d: Json) => { d.dynamic_resources.lds_config.api_config_source.transport_api_version = 'V2'; }, [{ path: `${LDS}.api_config_source.transport_api_version`, kind: 'not-implemented' }]],
    ['resource_api_version V2', (d: Json) => { d.dynamic_resources.lds_config.resource_api_version = 'V2'; }, [{ path: `${LDS}.resource_api_version`, kind: 'not-implemented' }]],
    ['a bad initial_fetch_timeout', (d: Json) => { d.dynamic_resources.lds_config.initial_fetch_timeout = '15'; }, [{ path: `${LDS}.initial_fetch_timeout`, kind: 'invalid' }]],
    ['ads', (d: Json) => { d.dynamic_resources.lds_config = { ads: {}, resource_api_version: 'V3' }; }, [{ path: `${LDS}.ads`, kind: 'not-implemented' }]],
    ['path_config_source', (d: Json) => { d.dynamic_resources.lds_config = { path_config_source: { path: '/x' } }; }, [{ path: `${LDS}.path_config_source`, kind: 'not-implemented' }]],
    ['self', (d: Json) => { d.dynamic_resources.lds_config = { self: {} }; }, [{ path: `${LDS}.self`, kind: 'not-implemented' }]],
    ['a ConfigSource without a source', (d: Json) => { d.dynamic_resources.lds_config = {}; }, [{ path: `${LDS}.api_config_source`, kind: 'invalid' }]],
    ['an unknown ConfigSource field', (d: Json) => { d.dynamic_resources.lds_config.refresh = '1s'; }, [{ path: `${LDS}.refresh`, kind: 'unknown-field' }]],
    ['ads_config', (d: Json) => { d.dynamic_resources.ads_config = { api_type: 'GRPC' }; }, [{ path: 'dynamic_resources.ads_config', kind: 'not-implemented' }]],
    ['a config source naming an unknown cluster', (d: Json) => { d.dynamic_resources.cds_config.api_config_source.cluster_names = ['nope']; },
      [{ path: 'dynamic_resources.cds_config.api_config_source.cluster_names[0]', kind: 'invalid' }]],
    ['a config source naming an EDS cluster', (d: Json) => {
      d.static_resources.clusters.push(edsCluster('eds_xds'));
      d.dynamic_resources.cds_config.api_config_source.cluster_names = ['eds_xds'];
    }, [{ path: 'dynamic_resources.cds_config.api_config_source.cluster_names[0]', kind: 'invalid' }]],
    ['an EDS cluster without eds_cluster_config', (d: Json) => { d.static_resources.clusters.push({ name: 'e', type: 'EDS' }); },
      [{ path: 'static_resources.clusters[1].eds_cluster_config', kind: 'invalid' }]],
    ['an EDS cluster with a load_assignment', (d: Json) => { d.static_resources.clusters.push({ ...edsCluster('e'), load_assignment: staticClusterJson('e', [1]).load_assignment }); },
      [{ path: 'static_resources.clusters[1].load_assignment', kind: 'invalid' }]],
    ['eds_cluster_config on a STATIC cluster', (d: Json) => { d.static_resources.clusters.push({ ...staticClusterJson('s', [1]), eds_cluster_config: { eds_config: restSource() } }); },
      [{ path: 'static_resources.clusters[1].eds_cluster_config', kind: 'invalid' }]],
    ['an EDS cluster polling an unknown cluster', (d: Json) => {
      const c = edsCluster('e');
      (c as Json).eds_cluster_config.eds_config.api_config_source.cluster_names = ['nope'];
      d.static_resources.clusters.push(c);
    }, [{ path: 'static_resources.clusters[1].eds_cluster_config.eds_config.api_config_source.cluster_names[0]', kind: 'invalid' }]],
    ['rds and route_config together', (d: Json) => {
      const l = rdsListener('l', 'r');
      (l as Json).filter_chains[0].filters[0].typed_config.route_config = { name: 'x' };
      d.static_resources.listeners = [l];
    }, [{ path: `static_resources.listeners[0].${HCM}.rds`, kind: 'invalid' }]],
    ['rds without route_config_name', (d: Json) => {
      const l = rdsListener('l', 'r');
      delete (l as Json).filter_chains[0].filters[0].typed_config.rds.route_config_name;
      d.static_resources.listeners = [l];
    }, [{ path: `static_resources.listeners[0].${HCM}.rds.route_config_name`, kind: 'invalid' }]],
    ['rds polling an unknown cluster', (d: Json) => {
      const l = rdsListener('l', 'r');
      (l as Json).filter_chains[0].filters[0].typed_config.rds.config_source.api_config_source.cluster_names = ['nope'];
      d.static_resources.listeners = [l];
    }, [{ path: `static_resources.listeners[0].${HCM}.rds.config_source.api_config_source.cluster_names[0]`, kind: 'invalid' }]],
  ] as [string, (d: Json) => void, Pick<ConfigError, 'path' | 'kind'>[]][])('rejects %s', (_, mutate, expected) => {
    const doc = base();
    mutate(doc);
    expect(errorsOf(doc)).toEqual(expected);
  });

  it('words the backing-cluster error as Envoy does', () => {
    const doc = base();
    doc.dynamic_resources.lds_config.api_config_source.cluster_names = ['nope'];
    const r = validateBootstrap(doc);
    expect(r.ok ? '' : r.errors[0]!.message).toBe(
      "envoy.config.core.v3.ApiConfigSource must have a statically defined non-EDS cluster: 'nope' does not exist, was added via api, or is an EDS cluster");
  });
});
