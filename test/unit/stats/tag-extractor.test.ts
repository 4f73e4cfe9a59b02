// Table tests for Envoy's default tag extraction (well_known_names.cc): tag-extracted names and tags in
// Envoy's order, including the documented gotchas (dotted cluster names, the `admin` listener).

import { describe, expect, it } from 'vitest';
import { TagProducer } from '../../../proxy/stats/tag-extractor.ts';

describe('TagProducer (Envoy default tags)', () => {
  const producer = new TagProducer();
  const cases: { stat: string; name: string; tags: [string, string][] }[] = [
    { stat: 'cluster.web.upstream_rq_total', name: 'cluster.upstream_rq_total', tags: [['envoy.cluster_name', 'web']] },
    { stat: 'cluster.web.upstream_rq_200', name: 'cluster.upstream_rq',
      tags: [['envoy.response_code', '200'], ['envoy.cluster_name', 'web']] },
    { stat: 'cluster.web.upstream_rq_2xx', name: 'cluster.upstream_rq_xx',
      tags: [['envoy.response_code_class', '2'], ['envoy.cluster_name', 'web']] },
    { stat: 'cluster.web.outlier_detection.ejections_active', name: 'cluster.outlier_detection.ejections_active',
      tags: [['envoy.cluster_name', 'web']] },
    // The cluster-name token stops at the first '.', so a dotted name leaks into the metric name.
    { stat: 'cluster.a.b.upstream_rq_total', name: 'cluster.b.upstream_rq_total', tags: [['envoy.cluster_name', 'a']] },
    { stat: 'http.ingress_http.downstream_rq_total', name: 'http.downstream_rq_total',
      tags: [['envoy.http_conn_manager_prefix', 'ingress_http']] },
    { stat: 'http.ingress_http.downstream_rq_5xx', name: 'http.downstream_rq_xx',
      tags: [['envoy.response_code_class', '5'], ['envoy.http_conn_manager_prefix', 'ingress_http']] },
    { stat: 'http.inbound.rbac.denied', name: 'http.rbac.denied', tags: [['envoy.http_conn_manager_prefix', 'inbound']] },
    { stat: 'http.ingress.fault.downstream.aborts_injected', name: 'http.fault.aborts_injected',
      tags: [['envoy.fault_downstream_cluster', 'downstream'], ['envoy.http_conn_manager_prefix', 'ingress']] },
    { stat: 'http_local_rate_limiter.http_local_rate_limit.rate_limited', name: 'http_local_rate_limit.rate_limited',
      tags: [['envoy.local_http_ratelimit_prefix', 'http_local_rate_limiter']] },
    { stat: 'listener.0.0.0.0_15006.downstream_cx_total', name: 'listener.downstream_cx_total',
      tags: [['envoy.listener_address', '0.0.0.0_15006']] },
    { stat: 'listener.[__1]_80.downstream_cx_total', name: 'listener.downstream_cx_total',
      tags: [['envoy.listener_address', '[__1]_80']] },
    { stat: 'listener.0.0.0.0_80.http.ingress.downstream_rq_2xx', name: 'listener.http.downstream_rq_xx',
      tags: [['envoy.response_code_class', '2'], ['envoy.http_conn_manager_prefix', 'ingress'], ['envoy.listener_address', '0.0.0.0_80']] },
    // `admin` is excluded from the listener-address tag (negative match).
    { stat: 'listener.admin.downstream_cx_total', name: 'listener.admin.downstream_cx_total', tags: [] },
    { stat: 'listener_manager.worker_0.dispatcher.loop_duration_us', name: 'listener_manager.worker_dispatcher.loop_duration_us',
      tags: [['envoy.worker_id', '0']] },
    { stat: 'vhost.vh.vcluster.other.upstream_rq_200', name: 'vhost.vcluster.upstream_rq',
      tags: [['envoy.response_code', '200'], ['envoy.virtual_cluster', 'other'], ['envoy.virtual_host', 'vh']] },
    { stat: 'http.ingress.rds.my.routes.update_success', name: 'http.rds.update_success',
      tags: [['envoy.rds_route_config', 'my.routes'], ['envoy.http_conn_manager_prefix', 'ingress']] },
    { stat: 'tcp.db.downstream_cx_total', name: 'tcp.downstream_cx_total', tags: [['envoy.tcp_prefix', 'db']] },
    { stat: 'listener_manager.workers_started', name: 'listener_manager.workers_started', tags: [] },
    { stat: 'server.live', name: 'server.live', tags: [] },
  ];
  for (const c of cases) {
    it(c.stat, () => {
      const r = producer.produceTags(c.stat);
      expect(r.name).toBe(c.name);
      expect(r.tags.map((t) => [t.name, t.value])).toEqual(c.tags);
    });
  }
});
