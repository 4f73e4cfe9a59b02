// /clusters text (Envoy's `<cluster>::<fact>::<value>` lines, exact) and JSON rendering for fake clusters.

import { describe, expect, it } from 'vitest';
import { renderClustersJson, renderClustersText } from '../../../proxy/admin/clusters.ts';
import { fakeCluster, fakeHost } from './fake-cluster.ts';

describe('renderClustersText', () => {
  it('prints thresholds, host stats alphabetically and host facts', () => {
    const web = fakeCluster('web', [
      fakeHost('10.0.0.1', 80, { hostname: 'web-1', stats: { rq_total: 7, rq_success: 6, rq_error: 1, cx_total: 2, cx_active: 1 },
        locality: { region: 'eu', zone: 'eu-1a', subZone: 'rack1' } }),
      fakeHost('10.0.0.2', 8080, { health: '/failed_outlier_check', canary: true, weight: 5, priority: 1 }),
    ], { addedViaApi: true });
    const api = fakeCluster('api', []);
    expect(renderClustersText([web, api])).toBe([
      'api::observability_name::api',
      'api::default_priority::max_connections::1024',
      'api::default_priority::max_pending_requests::1024',
      'api::default_priority::max_requests::1024',
      'api::default_priority::max_retries::3',
      'api::high_priority::max_connections::1024',
      'api::high_priority::max_pending_requests::1024',
      'api::high_priority::max_requests::1024',
      'api::high_priority::max_retries::5',
      'api::added_via_api::false',
      'web::observability_name::web',
      'web::default_priority::max_connections::1024',
      'web::default_priority::max_pending_requests::1024',
      'web::default_priority::max_requests::1024',
      'web::default_priority::max_retries::3',
      'web::high_priority::max_connections::1024',
      'web::high_priority::max_pending_requests::1024',
      'web::high_priority::max_requests::1024',
      'web::high_priority::max_retries::5',
      'web::added_via_api::true',
      'web::10.0.0.1:80::cx_active::1',
      'web::10.0.0.1:80::cx_connect_fail::0',
      'web::10.0.0.1:80::cx_total::2',
      'web::10.0.0.1:80::rq_active::0',
      'web::10.0.0.1:80::rq_error::1',
      'web::10.0.0.1:80::rq_success::6',
      'web::10.0.0.1:80::rq_timeout::0',
      'web::10.0.0.1:80::rq_total::7',
      'web::10.0.0.1:80::hostname::web-1',
      'web::10.0.0.1:80::health_flags::healthy',
      'web::10.0.0.1:80::weight::1',
      'web::10.0.0.1:80::region::eu',
      'web::10.0.0.1:80::zone::eu-1a',
      'web::10.0.0.1:80::sub_zone::rack1',
      'web::10.0.0.1:80::canary::false',
      'web::10.0.0.1:80::priority::0',
      'web::10.0.0.1:80::success_rate::-1',
      'web::10.0.0.1:80::local_origin_success_rate::-1',
      'web::10.0.0.2:8080::cx_active::0',
      'web::10.0.0.2:8080::cx_connect_fail::0',
      'web::10.0.0.2:8080::cx_total::0',
      'web::10.0.0.2:8080::rq_active::0',
      'web::10.0.0.2:8080::rq_error::0',
      'web::10.0.0.2:8080::rq_success::0',
      'web::10.0.0.2:8080::rq_timeout::0',
      'web::10.0.0.2:8080::rq_total::0',
      'web::10.0.0.2:8080::hostname::',
      'web::10.0.0.2:8080::health_flags::/failed_outlier_check',
      'web::10.0.0.2:8080::weight::5',
      'web::10.0.0.2:8080::region::',
      'web::10.0.0.2:8080::zone::',
      'web::10.0.0.2:8080::sub_zone::',
      'web::10.0.0.2:8080::canary::true',
      'web::10.0.0.2:8080::priority::1',
      'web::10.0.0.2:8080::success_rate::-1',
      'web::10.0.0.2:8080::local_origin_success_rate::-1',
      '',
    ].join('\n'));
  });
});

describe('renderClustersJson', () => {
  it('follows the admin Clusters proto shape', () => {
    const c = fakeCluster('web', [fakeHost('10.0.0.1', 80, { health: '/failed_eds_health', stats: { rq_total: 3, cx_active: 2 } })], { statName: 'web_alt' });
    const body = JSON.parse(renderClustersJson([c]));
    const status = body.cluster_statuses[0];
    expect(status.name).toBe('web');
    expect(status.observability_name).toBe('web_alt');
    expect(status.circuit_breakers.thresholds[1]).toEqual({ priority: 'HIGH', max_connections: 1024, max_pending_requests: 1024, max_requests: 1024, max_retries: 5 });
    const host = status.host_statuses[0];
    expect(host.address).toEqual({ socket_address: { address: '10.0.0.1', port_value: 80 } });
    expect(host.stats).toContainEqual({ name: 'rq_total', value: '3' });
    expect(host.stats).toContainEqual({ name: 'cx_active', type: 'GAUGE', value: '2' });
    expect(host.health_status).toEqual({ eds_health_status: 'UNHEALTHY' });
  });
});
