// Prometheus exposition of the stats store: the reference's naming examples line by line, histogram
// buckets/sum/count with Envoy's default bounds, `usedonly` / `filter`, and custom namespaces.

import { describe, expect, it } from 'vitest';
import { PrometheusRenderer, sanitizeName } from '../../../proxy/stats/prometheus.ts';
import { StatsStore } from '../../../proxy/stats/store.ts';

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('# HELP'));
}

describe('PrometheusRenderer', () => {
  it('renders the reference naming examples with # TYPE lines', async () => {
    const s = new StatsStore();
    s.counter('cluster.web.upstream_rq_total').inc(7);
    s.counter('cluster.web.upstream_rq_200').inc(5);
    s.counter('cluster.web.upstream_rq_2xx').inc(5);
    s.counter('cluster.web.upstream_rq_retry').inc(2);
    s.counter('cluster.web.upstream_rq_timeout').inc(1);
    s.gauge('cluster.web.outlier_detection.ejections_active').set(1);
    s.gauge('cluster.web.membership_healthy').set(3);
    s.counter('http.inbound.downstream_rq_total').inc(9);
    s.counter('http.inbound.downstream_rq_5xx').inc(2);
    s.counter('http.inbound.rbac.denied').inc(4);
    s.counter('listener.0.0.0.0_15006.downstream_cx_total').inc(3);
    s.counter('listener_manager.workers_started').inc();
    s.gauge('server.live').set(1);
    s.gauge('server.uptime').set(12);

    const out = lines(await new PrometheusRenderer(s).render());
    expect(out).toEqual([
      '# TYPE envoy_cluster_upstream_rq counter',
      'envoy_cluster_upstream_rq{envoy_response_code="200",envoy_cluster_name="web"} 5',
      '# TYPE envoy_cluster_upstream_rq_retry counter',
      'envoy_cluster_upstream_rq_retry{envoy_cluster_name="web"} 2',
      '# TYPE envoy_cluster_upstream_rq_timeout counter',
      'envoy_cluster_upstream_rq_timeout{envoy_cluster_name="web"} 1',
      '# TYPE envoy_cluster_upstream_rq_total counter',
      'envoy_cluster_upstream_rq_total{envoy_cluster_name="web"} 7',
      '# TYPE envoy_cluster_upstream_rq_xx counter',
      'envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",envoy_cluster_name="web"} 5',
      '# TYPE envoy_http_downstream_rq_total counter',
      'envoy_http_downstream_rq_total{envoy_http_conn_manager_prefix="inbound"} 9',
      '# TYPE envoy_http_downstream_rq_xx counter',
      'envoy_http_downstream_rq_xx{envoy_response_code_class="5",envoy_http_conn_manager_prefix="inbound"} 2',
      '# TYPE envoy_http_rbac_denied counter',
      'envoy_http_rbac_denied{envoy_http_conn_manager_prefix="inbound"} 4',
      '# TYPE envoy_listener_downstream_cx_total counter',
      'envoy_listener_downstream_cx_total{envoy_listener_address="0.0.0.0_15006"} 3',
      '# TYPE envoy_listener_manager_workers_started counter',
      'envoy_listener_manager_workers_started 1',
      '# TYPE envoy_cluster_membership_healthy gauge',
      'envoy_cluster_membership_healthy{envoy_cluster_name="web"} 3',
      '# TYPE envoy_cluster_outlier_detection_ejections_active gauge',
      'envoy_cluster_outlier_detection_ejections_active{envoy_cluster_name="web"} 1',
      '# TYPE envoy_server_live gauge',
      'envoy_server_live 1',
      '# TYPE envoy_server_uptime gauge',
      'envoy_server_uptime 12',
    ]);
  });

  it('groups every cluster under one family', async () => {
    const s = new StatsStore();
    s.counter('cluster.b.upstream_rq_total').inc(2);
    s.counter('cluster.a.upstream_rq_total').inc(1);
    expect(lines(await new PrometheusRenderer(s).render())).toEqual([
      '# TYPE envoy_cluster_upstream_rq_total counter',
      'envoy_cluster_upstream_rq_total{envoy_cluster_name="a"} 1',
      'envoy_cluster_upstream_rq_total{envoy_cluster_name="b"} 2',
    ]);
  });

  it('renders histograms with Envoy default buckets, _sum and _count', async () => {
    const s = new StatsStore();
    const h = s.histogram('cluster.web.upstream_rq_time');
    for (const v of [0.4, 3, 12, 700, 5_000_000]) h.record(v);
    const out = lines(await new PrometheusRenderer(s).render());
    const le = (b: string, n: number): string => `envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="web",le="${b}"} ${n}`;
    expect(out).toEqual([
      '# TYPE envoy_cluster_upstream_rq_time histogram',
      le('0.5', 1), le('1', 1), le('5', 2), le('10', 2), le('25', 3), le('50', 3), le('100', 3), le('250', 3),
      le('500', 3), le('1000', 4), le('2500', 4), le('5000', 4), le('10000', 4), le('30000', 4), le('60000', 4),
      le('300000', 4), le('600000', 4), le('1800000', 4), le('3600000', 4), le('+Inf', 5),
      'envoy_cluster_upstream_rq_time_sum{envoy_cluster_name="web"} 5000715.4',
      'envoy_cluster_upstream_rq_time_count{envoy_cluster_name="web"} 5',
    ]);
  });

  it('applies usedonly and filter (on the Envoy stat name)', async () => {
    const s = new StatsStore();
    s.counter('cluster.web.upstream_rq_total').inc();
    s.counter('cluster.web.upstream_cx_total');
    s.gauge('server.live').set(1);
    const r = new PrometheusRenderer(s);
    expect(lines(await r.render({ usedOnly: true }))).toEqual([
      '# TYPE envoy_cluster_upstream_rq_total counter',
      'envoy_cluster_upstream_rq_total{envoy_cluster_name="web"} 1',
      '# TYPE envoy_server_live gauge',
      'envoy_server_live 1',
    ]);
    expect(lines(await r.render({ filter: /^server\./ }))).toEqual(['# TYPE envoy_server_live gauge', 'envoy_server_live 1']);
    expect(await r.render({ filter: /nothing-matches/ })).toBe('');
  });

  it('emits custom namespaces without the envoy_ prefix and escapes label values', async () => {
    const s = new StatsStore();
    s.counter('istio.istio_requests_total').inc(3);
    s.counter('tcp.we"ird.downstream_cx_total').inc(1);
    const out = lines(await new PrometheusRenderer(s, { customNamespaces: ['istio'] }).render());
    expect(out).toContain('istio_requests_total 3');
    expect(out).toContain('envoy_tcp_downstream_cx_total{envoy_tcp_prefix="we\\"ird"} 1');
  });

  it('renders stats created with explicit tags as their labels, in order, under a registered namespace', async () => {
    const s = new StatsStore();
    const tags = [{ name: 'reporter', value: 'source' }, { name: 'destination_service', value: 'reviews.default.svc.cluster.local' }, { name: 'response_code', value: '200' }];
    s.registerCustomNamespace('istiocustom');
    s.counterFromTags('istiocustom.istio_requests_total', tags).inc(2);
    expect(s.counterFromTags('istiocustom.istio_requests_total', tags)).toBe(s.counterFromTags('istiocustom.istio_requests_total', [...tags]));
    s.histogramFromTags('istiocustom.istio_request_bytes', tags, [1, 10]).record(5);
    // A tag value that tag extraction would otherwise take apart (`cluster.<name>.` and a trailing `_rq_200`).
    s.scope('x').counterFromTags('cluster.web.upstream_rq_200', [{ name: 'a', value: 'b' }]).inc();
    const labels = 'reporter="source",destination_service="reviews.default.svc.cluster.local",response_code="200"';
    expect(lines(await new PrometheusRenderer(s).render())).toEqual([
      '# TYPE envoy_x_cluster_web_upstream_rq_200 counter',
      'envoy_x_cluster_web_upstream_rq_200{a="b"} 1',
      '# TYPE istio_requests_total counter',
      `istio_requests_total{${labels}} 2`,
      '# TYPE istio_request_bytes histogram',
      `istio_request_bytes_bucket{${labels},le="1"} 0`,
      `istio_request_bytes_bucket{${labels},le="10"} 1`,
      `istio_request_bytes_bucket{${labels},le="+Inf"} 1`,
      `istio_request_bytes_sum{${labels}} 5`,
      `istio_request_bytes_count{${labels}} 1`,
    ]);
    // /stats prints Envoy's flat name: the tags joined to the name.
    expect([...s.counters.keys()]).toContain('istiocustom.istio_requests_total.reporter.source.destination_service.reviews.default.svc.cluster.local.response_code.200');
  });

  it('sanitizes names like Envoy', () => {
    expect(sanitizeName('cluster.upstream-rq:x')).toBe('cluster_upstream_rq_x');
  });
});
