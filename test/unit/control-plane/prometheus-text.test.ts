// The Prometheus text exposition reader the mesh graph uses: the wanted series with their labels (escapes
// resolved), values incl. ±Inf/NaN and timestamps, comments and other metrics skipped, malformed lines reported.

import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../../../control-plane/server/prometheus-text.ts';

const WANTED = new Set(['istio_requests_total', 'istio_request_duration_milliseconds_bucket']);

describe('parsePrometheusText', () => {
  it('reads the wanted samples with their labels and skips comments and other metrics', () => {
    const text = [
      '# HELP istio_requests_total Total requests.',
      '# TYPE istio_requests_total counter',
      'istio_requests_total{reporter="source",source_workload="productpage-v1",response_code="200"} 42',
      'envoy_cluster_upstream_rq{envoy_cluster_name="web"} 7',
      'istio_request_duration_milliseconds_bucket{le="0.5",reporter="source"} 3',
      'istio_request_duration_milliseconds_bucket{le="+Inf",reporter="source"} 9 1767225600000',
      'istio_request_duration_milliseconds_sum{reporter="source"} 12.5',
      '',
    ].join('\n');
    const { samples, errors } = parsePrometheusText(text, WANTED);
    expect(errors).toEqual([]);
    expect(samples.map((s) => [s.name, { ...s.labels }, s.value])).toEqual([
      ['istio_requests_total', { reporter: 'source', source_workload: 'productpage-v1', response_code: '200' }, 42],
      ['istio_request_duration_milliseconds_bucket', { le: '0.5', reporter: 'source' }, 3],
      ['istio_request_duration_milliseconds_bucket', { le: '+Inf', reporter: 'source' }, 9],
    ]);
    expect(samples[0]!.series).toBe('istio_requests_total{reporter="source",source_workload="productpage-v1",response_code="200"}');
  });

  it('resolves the three escapes, keeps other backslashes, and takes spaces, a trailing comma and CRLF', () => {
    const text = 'istio_requests_total{ a = "x\\"y" , b="back\\\\slash",c="line\\nbreak",d="\\q",} 1\r\nistio_requests_total 2e3\r\n';
    const { samples, errors } = parsePrometheusText(text, WANTED);
    expect(errors).toEqual([]);
    expect({ ...samples[0]!.labels }).toEqual({ a: 'x"y', b: 'back\\slash', c: 'line\nbreak', d: '\\q' });
    expect(samples[1]).toMatchObject({ labels: {}, value: 2000, series: 'istio_requests_total' });
  });

  it('reads Go float spellings: +Inf, -Inf, NaN, exponents, a leading dot', () => {
    const text = ['+Inf', '-Inf', 'NaN', '1.5e-3', '.25', '-7'].map((v, i) => `istio_requests_total{i="${i}"} ${v}`).join('\n');
    expect(parsePrometheusText(text, WANTED).samples.map((s) => s.value)).toEqual([Infinity, -Infinity, NaN, 0.0015, 0.25, -7]);
  });

  it('a label named __proto__ is an ordinary label', () => {
    const [sample] = parsePrometheusText('istio_requests_total{__proto__="x"} 1', WANTED).samples;
    expect(sample!.labels['__proto__']).toBe('x');
    expect(Object.keys(sample!.labels)).toEqual(['__proto__']);
  });

  it('skips malformed lines, saying which and why, and keeps the rest', () => {
    const text = [
      'istio_requests_total{a="1"} 1',
      'istio_requests_total{a="1" 2',
      'istio_requests_total{a=1} 3',
      'istio_requests_total{a="1",a="2"} 4',
      'istio_requests_total{a="unterminated} 5',
      'istio_requests_total{1a="x"} 6',
      'istio_requests_total{a="1"} twelve',
      'istio_requests_total{a="1"}',
      'istio_requests_total{a="1"} 1 2 3',
      'istio_requests_total{a="2"} 10',
    ].join('\n');
    const { samples, errors } = parsePrometheusText(text, WANTED);
    expect(samples.map((s) => s.value)).toEqual([1, 10]);
    expect(errors).toEqual([
      'line 2: expected "," or "}" after the value of label a',
      'line 3: the value of label a is not quoted',
      'line 4: label a appears twice',
      'line 5: the value of label a is not terminated',
      'line 6: "1a" is not a label name',
      'line 7: "twelve" is not a sample value',
      'line 8: expected a value (and an optional timestamp) after the series',
      'line 9: expected a value (and an optional timestamp) after the series',
    ]);
  });

  it('keeps at most 20 error messages however broken the text is', () => {
    const text = Array.from({ length: 100 }, () => 'istio_requests_total{ 1').join('\n');
    expect(parsePrometheusText(text, WANTED).errors).toHaveLength(20);
  });
});
