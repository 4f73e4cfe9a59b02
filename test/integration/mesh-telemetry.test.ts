// Telemetry from the control plane, end to end: a mesh of real sidecars whose config directory holds Istio's mesh
// config (the `istio` ConfigMap: a zipkin provider and a file access log provider) and one mesh-wide Telemetry
// turning on 100 % tracing and access logging. A request across two sidecars gives one trace with a span from
// each sidecar at a test Zipkin collector (a registry ServiceEntry), and an access log line from each sidecar in
// Istio's format; a request to a host the mesh does not know is logged with NR.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestMesh, SERVICE_PORT } from '../support/mesh.ts';
import { startZipkinCollector, type ReceivedSpan, type ZipkinCollector } from '../support/zipkin-collector.ts';

const ZIPKIN_HOST = 'zipkin.istio-system.svc.cluster.local';
const REVIEWS_HOST = 'reviews.default.svc.cluster.local';
/** Reports are sent when 5 spans are buffered (Envoy's min_flush_spans), so 5 calls flush each sidecar's. */
const CALLS = 5;

function config(collectorPort: number, accessLog: string): string {
  return `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    extensionProviders:
    - name: zipkin
      zipkin: {service: ${ZIPKIN_HOST}, port: 9411}
    - name: file
      envoyFileAccessLog: {path: ${accessLog}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: zipkin, namespace: istio-system}
spec:
  hosts: [${ZIPKIN_HOST}]
  ports: [{number: 9411, name: http-zipkin, protocol: HTTP, targetPort: ${collectorPort}}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing:
  - providers: [{name: zipkin}]
    randomSamplingPercentage: 100
  accessLogging:
  - providers: [{name: file}]
`;
}

/** Istio's text format, the fields this test reads. */
const LINE = new RegExp('^\\[[^\\]]+\\] "(?<method>\\S+) (?<path>\\S+) HTTP/1\\.1" (?<code>\\d+) (?<flags>\\S+) (?<details>\\S+) \\S+ "[^"]*" \\d+ \\d+ \\d+ \\S+ '
  + '"[^"]*" "[^"]*" "(?<requestId>[^"]*)" "(?<authority>[^"]*)" "(?<upstreamHost>[^"]*)" (?<cluster>\\S+) (?<upstreamLocal>\\S+) (?<downstreamLocal>\\S+) '
  + '(?<downstreamRemote>\\S+) (?<sni>\\S+) (?<route>\\S+)$');

describe('Telemetry from the control plane: tracing and access logs across two sidecars', () => {
  let mesh: TestMesh;
  let zipkin: ZipkinCollector;
  let accessLog: string;

  beforeAll(async () => {
    zipkin = await startZipkinCollector();
    accessLog = join(mkdtempSync(join(tmpdir(), 'nodevoy-mesh-telemetry-')), 'access.log');
    mesh = await TestMesh.start({
      workloads: [{ name: 'productpage-v1', app: 'productpage', version: 'v1' }, { name: 'reviews-v1', app: 'reviews', version: 'v1' }],
      files: { 'telemetry.yaml': config(zipkin.port, accessLog) },
    });
  });

  afterAll(async () => {
    await mesh?.close();
    await zipkin?.close();
  });

  it('the control plane reports no problem with the mesh config and the Telemetry', async () => {
    expect((await mesh.configErrors()).errors).toEqual([]);
  });

  it('a request across two sidecars gives one trace with a span from each sidecar', async () => {
    const ids: string[] = [];
    for (let i = 0; i < CALLS; i++) {
      const r = await mesh.call('productpage-v1', `${REVIEWS_HOST}:${SERVICE_PORT}`, `/reviews/${i}`);
      expect([r.status, r.body]).toEqual([200, 'reviews-v1']);
    }
    await zipkin.waitForReports(2);
    const spans = zipkin.spans();
    expect(spans).toHaveLength(2 * CALLS);
    for (const report of zipkin.reports) {
      expect([report.method, report.url, report.headers['host']]).toEqual(['POST', '/api/v2/spans', ZIPKIN_HOST]);
    }
    const byTrace = new Map<string, ReceivedSpan[]>();
    for (const s of spans) byTrace.set(s.traceId, [...(byTrace.get(s.traceId) ?? []), s]);
    expect(byTrace.size).toBe(CALLS);
    for (const [traceId, trace] of byTrace) {
      // Istio's ZipkinConfig: 128-bit trace ids, no shared span context (the server span is the client's child).
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      const client = trace.find((s) => s.kind === 'CLIENT')!;
      const server = trace.find((s) => s.kind === 'SERVER')!;
      expect(client.localEndpoint.serviceName).toBe('productpage.default');
      expect(server.localEndpoint.serviceName).toBe('reviews.default');
      expect(server.parentId).toBe(client.id);
      expect(server.id).not.toBe(client.id);
      expect(server.shared).toBeUndefined();
      expect(client.tags).toMatchObject({
        'upstream_cluster': `outbound|${SERVICE_PORT}||${REVIEWS_HOST}`, 'http.status_code': '200',
        'istio.canonical_service': 'unknown', 'istio.namespace': 'default', 'istio.cluster_id': 'Kubernetes',
      });
      expect(server.tags).toMatchObject({ 'upstream_cluster': `inbound|${SERVICE_PORT}||`, 'http.status_code': '200' });
      ids.push(client.tags!['guid:x-request-id']!);
    }
    expect(new Set(ids).size).toBe(CALLS);
  });

  it('each sidecar writes an access log line in Istio\'s format; a host the mesh does not know is NR', async () => {
    const unknown = await mesh.call('productpage-v1', 'nowhere.example.com', '/missing');
    expect(unknown.status).toBe(404);
    const productpage = mesh.workload('productpage-v1');
    const reviews = mesh.workload('reviews-v1');
    // File access logs are flushed every second (Envoy's file_flush_interval).
    const lines = await mesh.until('the access log lines', async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      let text = '';
      try {
        text = readFileSync(accessLog, 'utf8');
      } catch { /* not written yet */ }
      const all = text.split('\n').filter((l) => l !== '');
      return all.length >= 2 * CALLS + 1 ? all : undefined;
    }, 200);
    const parsed = lines.map((l) => {
      const m = LINE.exec(l);
      expect(m, l).not.toBeNull();
      return m!.groups!;
    });
    const outbound = parsed.filter((p) => p['cluster']!.startsWith('outbound|'));
    const inbound = parsed.filter((p) => p['cluster']!.startsWith('inbound|'));
    expect([outbound.length, inbound.length]).toEqual([CALLS, CALLS]);
    expect(outbound[0]).toMatchObject({
      method: 'GET', path: '/reviews/0', code: '200', flags: '-', details: 'via_upstream', authority: `${REVIEWS_HOST}:${SERVICE_PORT}`,
      upstreamHost: `${reviews.ip}:${SERVICE_PORT}`, cluster: `outbound|${SERVICE_PORT}||${REVIEWS_HOST}`, route: 'default',
      downstreamLocal: expect.stringMatching(new RegExp(`^${productpage.ip.replaceAll('.', '\\.')}:\\d+$`)),
      upstreamLocal: expect.stringMatching(/^127\.\d+\.\d+\.\d+:\d+$/),
    });
    // The callee's sidecar: over auto mTLS (Istio's SNI), to the application through the inbound cluster.
    expect(inbound[0]).toMatchObject({
      method: 'GET', path: '/reviews/0', code: '200', flags: '-', details: 'via_upstream', cluster: `inbound|${SERVICE_PORT}||`,
      upstreamHost: `127.0.0.1:${reviews.app.port}`, downstreamLocal: `${reviews.ip}:${SERVICE_PORT}`,
      sni: `outbound_.${SERVICE_PORT}_._.${REVIEWS_HOST}`, route: 'default',
    });
    // Both sidecars log the same request id (the caller's sidecar made it and sent it on).
    expect(inbound.map((p) => p['requestId'])).toEqual(outbound.map((p) => p['requestId']));
    expect(parsed.find((p) => p['path'] === '/missing')).toMatchObject({
      code: '404', flags: 'NR', details: 'route_not_found', authority: 'nowhere.example.com', upstreamHost: '-', cluster: '-',
    });
  });
});
