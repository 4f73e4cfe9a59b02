// Tracing and access logs from the control plane: the mesh config (the `istio` ConfigMap of istio-system) and
// Telemetry resources → each sidecar HCM's `tracing` and `access_log`, as istiod writes them. Telemetry
// precedence (mesh, namespace, workload), providers, sampling (default, defaultConfig, Telemetry), turning
// things off, access log encodings, and every error and warning with its path; all of it valid Envoy.

import { describe, expect, it } from 'vitest';
import { formatIstioError, loadIstioFiles } from '../../../control-plane/istio/load.ts';
import { proxySnapshot } from '../../../control-plane/translate/index.ts';
import { ISTIO_JSON_LABELS, ISTIO_TEXT_FORMAT } from '../../../control-plane/translate/access-log.ts';
import { byName, hcmOf, identity, meshOf, service, snapshotProblems, workload } from './translate-kit.ts';

type Json = Record<string, unknown>;

const ZIPKIN_HOST = 'zipkin.istio-system.svc.cluster.local';
const ZIPKIN_CLUSTER = `outbound|9411||${ZIPKIN_HOST}`;

/** The registry: reviews (default, port 9080) with one workload, ratings in prod, and the Zipkin collector. */
const REGISTRY = service('reviews', { port: 9080 }) + workload('reviews', 'v1', '10.0.3.1')
  + service('ratings', { namespace: 'prod' }) + workload('ratings', 'v1', '10.1.0.1', 'prod') + `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: zipkin, namespace: istio-system}
spec:
  hosts: [${ZIPKIN_HOST}]
  ports: [{number: 9411, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.9.9.9}]
---
`;

const ZIPKIN_PROVIDER = `extensionProviders:
- name: zipkin
  zipkin: {service: ${ZIPKIN_HOST}, port: 9411}
`;

/** The `istio` ConfigMap with `mesh` as a literal block. */
function meshConfig(mesh: string): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: istio
  namespace: istio-system
data:
  mesh: |
${mesh.trimEnd().split('\n').map((l) => `    ${l}`).join('\n')}
---
`;
}

function telemetry(name: string, namespace: string, spec: string, version = 'v1'): string {
  return `apiVersion: telemetry.istio.io/${version}
kind: Telemetry
metadata: {name: ${name}, namespace: ${namespace}}
spec:
${spec.trimEnd().split('\n').map((l) => `  ${l}`).join('\n')}
---
`;
}

const REVIEWS = { NAMESPACE: 'default', LABELS: { app: 'reviews', version: 'v1' }, INSTANCE_IPS: '10.0.3.1', CLUSTER_ID: 'Kubernetes' };
const RATINGS = { NAMESPACE: 'prod', LABELS: { app: 'ratings', version: 'v1' }, INSTANCE_IPS: '10.1.0.1' };

/** The outbound and inbound HCMs of a proxy, and the translation's errors and warnings. */
function hcms(yaml: string, metadata: Json = REVIEWS): { outbound: Json; inbound: Json; errors: string[] } {
  const { mesh, errors } = meshOf(REGISTRY + yaml);
  const s = proxySnapshot(mesh, identity(metadata));
  const inbound = s.listeners.find((l) => String(l['name']).startsWith('inbound|'));
  return { outbound: hcmOf(byName(s.listeners, 'virtualOutbound')), inbound: inbound === undefined ? {} : hcmOf(inbound), errors };
}

const samplingOf = (hcm: Json) => ((hcm['tracing'] as Json | undefined)?.['random_sampling'] as Json | undefined)?.['value'];

/** Istio's ZipkinConfig for the registry's collector. */
const ISTIO_ZIPKIN = {
  name: 'envoy.tracers.zipkin',
  typed_config: {
    '@type': 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfig',
    collector_cluster: ZIPKIN_CLUSTER,
    collector_endpoint: '/api/v2/spans',
    collector_endpoint_version: 'HTTP_JSON',
    collector_hostname: ZIPKIN_HOST,
    trace_id_128bit: true,
    shared_span_context: false,
  },
};

const MESH_WIDE_TRACING = telemetry('mesh-default', 'istio-system', 'tracing:\n- providers: [{name: zipkin}]');

describe('the mesh config: the istio ConfigMap of istio-system', () => {
  it('without a mesh config or Telemetry, HCMs get neither tracing nor access logs', () => {
    const { outbound, inbound, errors } = hcms('');
    expect(errors).toEqual([]);
    for (const hcm of [outbound, inbound]) {
      expect(hcm).not.toHaveProperty('tracing');
      expect(hcm).not.toHaveProperty('access_log');
    }
  });

  it('is read from data.mesh; other ConfigMaps are Kubernetes objects, deferred', () => {
    const other = meshConfig(`accessLogFile: /dev/stdout`).replace('name: istio\n', 'name: istio-1-22\n');
    const r = loadIstioFiles([{ file: 'cm.yaml', text: meshConfig('accessLogFile: /dev/stdout') + other }]);
    expect(r.errors).toEqual([]);
    expect(r.resources.map((x) => `${x.kind} ${x.metadata.namespace}/${x.metadata.name}`)).toEqual(['ConfigMap istio-system/istio']);
    expect(r.deferred.map((d) => d.resource.name)).toEqual(['istio-1-22']);
  });

  it('reports every error at data.mesh.<field>, on the line inside the block', () => {
    const r = loadIstioFiles([{ file: 'cm.yaml', text: meshConfig(`accessLogFormat: "%NOPE% %RESPONSE_CODE%"
rootNamespace: istio-config
defaultConfig:
  tracing:
    sampling: 101
extensionProviders:
- name: zipkin
  zipkin: {service: zipkin}
- name: zipkin
  prometheus: {}
- name: both
  zipkin: {service: z, port: 9411}
  envoyFileAccessLog: {}
- name: log
  envoyFileAccessLog: {logFormat: {labels: {code: "%NOPE%"}}}
enableTrace: true`) }]);
    // In the schema's field order; the checks across fields (duplicate names, the format for the encoding) last.
    expect(r.errors.map(formatIstioError)).toEqual([
      'cm.yaml[0]:12 ConfigMap istio-system/istio: data.mesh.defaultConfig.tracing.sampling: sampling must be in [0.0, 100.0]',
      'cm.yaml[0]:15 ConfigMap istio-system/istio: data.mesh.extensionProviders[0].zipkin.port: required field is missing',
      'cm.yaml[0]:18 ConfigMap istio-system/istio: data.mesh.extensionProviders[2]: an extension provider is exactly one of zipkin, envoyFileAccessLog, prometheus, stackdriver, opentelemetry, datadog, lightstep, skywalking, opencensus, envoyExtAuthzHttp, envoyExtAuthzGrpc, envoyHttpAls, envoyTcpAls, envoyOtelAls, sds (found zipkin, envoyFileAccessLog)',
      'cm.yaml[0]:22 ConfigMap istio-system/istio: data.mesh.extensionProviders[3].envoyFileAccessLog.logFormat.labels: json_format.code: unknown command %NOPE% at position 0 of "%NOPE%"',
      'cm.yaml[0]:9 ConfigMap istio-system/istio: data.mesh.rootNamespace: nodevoy\'s root namespace is istio-system; another one (istio-config) is not implemented',
      'cm.yaml[0]:23 ConfigMap istio-system/istio: data.mesh.enableTrace: unknown field "enableTrace": istio.mesh.v1alpha1.MeshConfig has no such field',
      'cm.yaml[0]:16 ConfigMap istio-system/istio: data.mesh.extensionProviders[1].name: duplicate extension provider name "zipkin"',
      'cm.yaml[0]:8 ConfigMap istio-system/istio: data.mesh.accessLogFormat: unknown command %NOPE% at position 0 of "%NOPE% %RESPONSE_CODE%"',
    ]);
    expect(r.errors.find((e) => e.path === 'data.mesh.rootNamespace')?.kind).toBe('not-implemented');
  });

  it('with JSON encoding, accessLogFormat must be a JSON object of labels; a duplicate provider name is an error', () => {
    const r = loadIstioFiles([{ file: 'cm.yaml', text: meshConfig(`accessLogEncoding: JSON
accessLogFormat: "[%START_TIME%]"
extensionProviders:
- {name: a, prometheus: {}}
- {name: a, prometheus: {}}`) }]);
    expect(r.errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      'data.mesh.extensionProviders[1].name: duplicate extension provider name "a"',
      'data.mesh.accessLogFormat: with accessLogEncoding JSON, accessLogFormat must be a JSON object of labels (e.g. {"code": "%RESPONSE_CODE%"})',
    ]);
  });

  it('warns about what it accepts and does not apply: Istio\'s default install\'s mesh config', () => {
    const { errors } = hcms(meshConfig(`accessLogFile: /dev/stdout
defaultConfig:
  discoveryAddress: istiod.istio-system.svc:15012
  tracing:
    zipkin:
      address: zipkin.istio-system:9411
defaultProviders:
  metrics:
  - prometheus
enablePrometheusMerge: true
enableTracing: true
rootNamespace: istio-system
trustDomain: example.org`).replace('---\n', `  meshNetworks: 'networks: {}'\n---\n`));
    expect(errors.map((e) => e.replace(/^mesh\.yaml\[\d+\]:\d+ ConfigMap istio-system\/istio: warning: /, ''))).toEqual([
      expect.stringMatching(/^data\.mesh\.enablePrometheusMerge: accepted but not applied/),
      expect.stringMatching(/^data\.mesh\.trustDomain: not applied: the mesh's trust domain is cluster\.local .* not example\.org$/),
      expect.stringMatching(/^data\.mesh\.defaultConfig\.discoveryAddress: accepted but not applied/),
      expect.stringMatching(/^data\.mesh\.defaultConfig\.tracing\.zipkin: not applied: this configures the tracer of the proxies' bootstrap/),
      expect.stringMatching(/^data\.mesh\.enableTracing: not applied: without a Telemetry resource or defaultProviders\.tracing/),
    ]);
  });

  it('warns about providers that configure nothing: unimplemented kinds, unknown names, collectors not in the registry', () => {
    const { outbound, errors } = hcms(meshConfig(`defaultProviders:
  tracing: [otel, zipkin]
  accessLogging: [nope]
  metrics: [stackdriver]
extensionProviders:
- name: otel
  opentelemetry: {service: otel.observability.svc.cluster.local, port: 4317}
- name: missing
  zipkin: {service: jaeger.tracing.svc.cluster.local, port: 9411}
- name: wrong-port
  zipkin: {service: ${ZIPKIN_HOST}, port: 9412}
- name: other-namespace
  zipkin: {service: prod/${ZIPKIN_HOST}, port: 9411}`));
    expect(errors.map((e) => e.replace(/^mesh\.yaml\[\d+\]:\d+ ConfigMap istio-system\/istio: warning: /, ''))).toEqual([
      expect.stringMatching(/^data\.mesh\.extensionProviders\[0\]\.opentelemetry: extension provider "otel": opentelemetry providers are not implemented/),
      `data.mesh.extensionProviders[1].zipkin.service: no ServiceEntry declares the collector service "jaeger.tracing.svc.cluster.local" (IST0101 ReferencedResourceNotFound): proxies get no tracing to provider "missing" until it is in the registry`,
      `data.mesh.extensionProviders[2].zipkin.service: host "${ZIPKIN_HOST}" has no HTTP port 9412 (IST0101 ReferencedResourceNotFound): proxies get no tracing to provider "wrong-port" until it has one`,
      expect.stringMatching(/^data\.mesh\.extensionProviders\[3\]\.zipkin\.service: no ServiceEntry declares the collector service "prod\/zipkin/),
      'data.mesh.defaultProviders.tracing[1]: Istio uses the first default tracing provider only: the others are not applied',
      'data.mesh.defaultProviders.tracing[0]: provider "otel" (opentelemetry) is not implemented: the workloads get no tracing from it',
      expect.stringMatching(/^data\.mesh\.defaultProviders\.accessLogging\[0\]: no extension provider named "nope" in the mesh config \(prometheus, stackdriver, envoy, otel, missing, wrong-port, other-namespace\)/),
      expect.stringMatching(/^data\.mesh\.defaultProviders\.metrics: not applied/),
    ]);
    expect(outbound).not.toHaveProperty('tracing');
    expect(outbound).not.toHaveProperty('access_log');
  });
});

describe('the Telemetry schema', () => {
  it('reports every problem with its path; v1alpha1 and v1 read the same', () => {
    const r = loadIstioFiles([{ file: 't.yaml', text: telemetry('t', 'default', `metrics:
- providers: [{name: prometheus}]
tracing:
- randomSamplingPercentage: 101
  useRequestIdForTraceSampling: false
  customTags:
    both: {literal: {value: a}, header: {name: b}}
    none: {}
  disableContextPropagation: true
accessLogging:
- filter: {expression: response.code >= 400}
  providers: [{name: ""}]
targetRefs: [{kind: Gateway, name: g}]`, 'v1alpha1') }]);
    expect(r.errors.map((e) => `${e.path} [${e.kind}]`)).toEqual([
      'spec.tracing[0].randomSamplingPercentage [invalid]',
      'spec.tracing[0].customTags.both [invalid]',
      'spec.tracing[0].customTags.none [invalid]',
      'spec.tracing[0].useRequestIdForTraceSampling [not-implemented]',
      'spec.tracing[0].disableContextPropagation [not-implemented]',
      'spec.accessLogging[0].providers[0].name [invalid]',
      'spec.accessLogging[0].filter [not-implemented]',
      'spec.metrics [not-implemented]',
      'spec.targetRefs [not-implemented]',
    ]);
    expect(r.errors.find((e) => e.path === 'spec.accessLogging[0].filter')!.message).toMatch(/CEL access log filter, which nodevoy does not implement/);
  });

  it('warns about provider references that configure nothing', () => {
    const { errors } = hcms(meshConfig(ZIPKIN_PROVIDER) + telemetry('t', 'default', `tracing:
- providers: [{name: zipkin}, {name: other}]
- providers: [{name: envoy}]
accessLogging:
- providers: [{name: zipkin}, {name: nope}]`));
    expect(errors.map((e) => e.replace(/^mesh\.yaml\[\d+\]:\d+ Telemetry default\/t: warning: /, ''))).toEqual([
      'spec.tracing[0].providers[1]: Istio uses the first tracing provider only: the others are not applied',
      'spec.tracing[1].providers[0].name: provider "envoy" (envoyFileAccessLog) does not trace: the workloads get no tracing from it',
      'spec.accessLogging[0].providers[0].name: provider "zipkin" (zipkin) writes no access logs: the workloads get no access log from it',
      expect.stringMatching(/^spec\.accessLogging\[0\]\.providers\[1\]\.name: no extension provider named "nope"/),
    ]);
  });
});

describe('tracing', () => {
  it('a mesh-wide Telemetry traces every sidecar HCM, outbound and inbound, to the provider\'s outbound cluster as Istio does', () => {
    const { outbound, inbound, errors } = hcms(meshConfig(ZIPKIN_PROVIDER) + MESH_WIDE_TRACING);
    expect(errors).toEqual([]);
    for (const hcm of [outbound, inbound]) {
      expect(hcm['tracing']).toEqual({
        client_sampling: { value: 100 },
        random_sampling: { value: 1 },
        overall_sampling: { value: 100 },
        custom_tags: [
          { tag: 'istio.canonical_revision', literal: { value: 'latest' } },
          { tag: 'istio.canonical_service', literal: { value: 'unknown' } },
          { tag: 'istio.cluster_id', literal: { value: 'Kubernetes' } },
          { tag: 'istio.mesh_id', literal: { value: 'unknown' } },
          { tag: 'istio.namespace', literal: { value: 'default' } },
        ],
        provider: ISTIO_ZIPKIN,
      });
    }
  });

  it('the default provider traces without any Telemetry; Telemetry levels override it', () => {
    const config = meshConfig(`${ZIPKIN_PROVIDER}defaultProviders: {tracing: [zipkin]}`);
    expect(samplingOf(hcms(config).outbound)).toBe(1);
    expect(samplingOf(hcms(config + telemetry('off', 'default', 'tracing:\n- disableSpanReporting: true')).outbound)).toBeUndefined();
  });

  // [case, extra YAML, proxy metadata, expected sampling of both HCMs (undefined: no tracing)]
  it.each<[string, string, Json, number | undefined]>([
    ['Istio\'s default: 1 %', '', REVIEWS, 1],
    ['defaultConfig.tracing.sampling', 'SAMPLING', REVIEWS, 10],
    ['the mesh-wide Telemetry overrides defaultConfig', 'SAMPLING' + telemetry('mesh-default', 'istio-system', 'tracing:\n- randomSamplingPercentage: 50'), REVIEWS, 50],
    ['the namespace overrides the mesh', telemetry('mesh-default', 'istio-system', 'tracing:\n- randomSamplingPercentage: 50') + telemetry('ns', 'default', 'tracing:\n- randomSamplingPercentage: 25'), REVIEWS, 25],
    ['a workload selector overrides the namespace', telemetry('ns', 'default', 'tracing:\n- randomSamplingPercentage: 25') + telemetry('reviews', 'default', 'selector: {matchLabels: {app: reviews}}\ntracing:\n- randomSamplingPercentage: 100'), REVIEWS, 100],
    ['a selector that does not match leaves the namespace\'s', telemetry('ns', 'default', 'tracing:\n- randomSamplingPercentage: 25') + telemetry('other', 'default', 'selector: {matchLabels: {app: other}}\ntracing:\n- randomSamplingPercentage: 100'), REVIEWS, 25],
    ['another namespace\'s Telemetry does not apply', telemetry('ns', 'default', 'tracing:\n- randomSamplingPercentage: 25'), RATINGS, 1],
    ['0 % is a sampling percentage like any other', telemetry('ns', 'default', 'tracing:\n- randomSamplingPercentage: 0'), REVIEWS, 0],
    ['disableSpanReporting turns tracing off', telemetry('ns', 'default', 'tracing:\n- disableSpanReporting: true'), REVIEWS, undefined],
    ['disableSpanReporting: false turns it back on', telemetry('ns', 'default', 'tracing:\n- disableSpanReporting: true') + telemetry('w', 'default', 'selector: {matchLabels: {version: v1}}\ntracing:\n- disableSpanReporting: false'), REVIEWS, 1],
    ['an unknown provider turns tracing off', telemetry('ns', 'default', 'tracing:\n- providers: [{name: nope}]'), REVIEWS, undefined],
  ])('%s', (_name, extra, metadata, sampling) => {
    // The default provider puts every proxy under tracing; the Telemetry levels refine it.
    const yaml = meshConfig(`${ZIPKIN_PROVIDER}defaultProviders: {tracing: [zipkin]}\n${extra.startsWith('SAMPLING') ? 'defaultConfig: {tracing: {sampling: 10}}' : ''}`)
      + extra.replace('SAMPLING', '');
    const { outbound, inbound } = hcms(yaml, metadata);
    expect([samplingOf(outbound), samplingOf(inbound)]).toEqual([sampling, sampling]);
  });

  it('a second namespace-wide Telemetry of a namespace is a warning and not applied (the first in load order is)', () => {
    const { outbound, errors } = hcms(meshConfig(ZIPKIN_PROVIDER) + telemetry('a', 'default', 'tracing:\n- providers: [{name: zipkin}]\n  randomSamplingPercentage: 5')
      + telemetry('b', 'default', 'tracing:\n- providers: [{name: zipkin}]\n  randomSamplingPercentage: 7'));
    expect(samplingOf(outbound)).toBe(5);
    expect(errors).toEqual([expect.stringMatching(/Telemetry default\/b: warning: metadata\.name: namespace default already has Telemetry default\/a without a selector, loaded first/)]);
  });

  it('match.mode: CLIENT traces the outbound HCM only, SERVER the inbound one', () => {
    const client = hcms(meshConfig(ZIPKIN_PROVIDER) + telemetry('t', 'istio-system', 'tracing:\n- providers: [{name: zipkin}]\n  match: {mode: CLIENT}'));
    expect([samplingOf(client.outbound), samplingOf(client.inbound)]).toEqual([1, undefined]);
    const server = hcms(meshConfig(ZIPKIN_PROVIDER) + telemetry('t', 'istio-system', 'tracing:\n- providers: [{name: zipkin}]\n  match: {mode: SERVER}\n  randomSamplingPercentage: 3'));
    expect([samplingOf(server.outbound), samplingOf(server.inbound)]).toEqual([undefined, 3]);
  });

  it('custom tags replace the parent\'s (and defaultConfig\'s), sorted with Istio\'s tags; enableIstioTags false drops those', () => {
    const yaml = meshConfig(`${ZIPKIN_PROVIDER}defaultConfig: {tracing: {customTags: {fromMesh: {literal: {value: m}}}, maxPathTagLength: 99}}`)
      + telemetry('mesh-default', 'istio-system', `tracing:
- providers: [{name: zipkin}]
  customTags:
    zone: {environment: {name: ZONE, defaultValue: z0}}
    user: {header: {name: x-user}}`);
    const tags = (hcm: Json) => ((hcm['tracing'] as Json)['custom_tags'] as Json[]).map((t) => t['tag']);
    const { outbound } = hcms(yaml);
    expect(tags(outbound)).toEqual(['istio.canonical_revision', 'istio.canonical_service', 'istio.cluster_id', 'istio.mesh_id', 'istio.namespace', 'user', 'zone']);
    expect(((outbound['tracing'] as Json)['custom_tags'] as Json[]).slice(5)).toEqual([
      { tag: 'user', request_header: { name: 'x-user' } },
      { tag: 'zone', environment: { name: 'ZONE', default_value: 'z0' } },
    ]);
    expect((outbound['tracing'] as Json)['max_path_tag_length']).toBe(99);
    const noIstioTags = hcms(yaml + telemetry('ns', 'default', 'tracing:\n- enableIstioTags: false'));
    expect(tags(noIstioTags.outbound)).toEqual(['user', 'zone']);
    // Without Telemetry tags, defaultConfig's apply; canonical labels name the workload.
    const plain = hcms(meshConfig(`${ZIPKIN_PROVIDER}defaultConfig: {tracing: {customTags: {fromMesh: {literal: {value: m}}}}}`) + MESH_WIDE_TRACING,
      { ...REVIEWS, LABELS: { app: 'reviews', 'service.istio.io/canonical-name': 'reviews', 'service.istio.io/canonical-revision': 'v1' }, MESH_ID: 'mesh1' });
    expect((plain.outbound['tracing'] as Json)['custom_tags']).toEqual(expect.arrayContaining([
      { tag: 'fromMesh', literal: { value: 'm' } }, { tag: 'istio.canonical_service', literal: { value: 'reviews' } },
      { tag: 'istio.canonical_revision', literal: { value: 'v1' } }, { tag: 'istio.mesh_id', literal: { value: 'mesh1' } },
    ]));
  });

  // (trace_context_option is newer than the Envoy protos the suite checks against, so this one is not proto-checked.)
  it('the Zipkin provider\'s own settings: path, 64-bit ids, W3C propagation, max tag length; <namespace>/<host> services', () => {
    const { outbound } = hcms(meshConfig(`extensionProviders:
- name: zipkin
  zipkin: {service: istio-system/${ZIPKIN_HOST}, port: 9411, path: /v2/spans, enable64bitTraceId: true, traceContextOption: USE_B3_WITH_W3C_PROPAGATION, maxTagLength: 64}`) + MESH_WIDE_TRACING);
    const tracing = outbound['tracing'] as Json;
    expect(tracing['max_path_tag_length']).toBe(64);
    expect((tracing['provider'] as Json)['typed_config']).toEqual({
      ...ISTIO_ZIPKIN.typed_config, collector_endpoint: '/v2/spans', trace_id_128bit: false, trace_context_option: 'USE_B3_WITH_W3C_PROPAGATION',
    });
  });
});

describe('access logs', () => {
  const accessLog = (hcm: Json) => hcm['access_log'] as Json[] | undefined;
  const file = (path: string, logFormat?: Json): Json => ({
    name: 'envoy.access_loggers.file',
    typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog', path, ...(logFormat === undefined ? {} : { log_format: logFormat }) },
  });
  const text = (format: string) => ({ text_format_source: { inline_string: format } });
  const json = (labels: Json) => ({ json_format: labels, json_format_options: { sort_properties: false } });

  it.each<[string, string, Json]>([
    ['TEXT (default): Istio\'s format', 'accessLogFile: /dev/stdout', file('/dev/stdout', text(ISTIO_TEXT_FORMAT))],
    ['JSON: Istio\'s labels', 'accessLogFile: /var/log/a.log\naccessLogEncoding: JSON', file('/var/log/a.log', json(ISTIO_JSON_LABELS))],
    ['TEXT with accessLogFormat: a newline added', 'accessLogFile: /dev/stdout\naccessLogFormat: "%RESPONSE_CODE% %RESPONSE_FLAGS%"', file('/dev/stdout', text('%RESPONSE_CODE% %RESPONSE_FLAGS%\n'))],
    ['JSON with accessLogFormat', 'accessLogFile: /dev/stdout\naccessLogEncoding: JSON\naccessLogFormat: \'{"code": "%RESPONSE_CODE%"}\'', file('/dev/stdout', json({ code: '%RESPONSE_CODE%' }))],
  ])('the legacy accessLogFile, %s, on both HCMs', (_name, mesh, expected) => {
    const { outbound, inbound, errors } = hcms(meshConfig(mesh));
    expect(errors).toEqual([]);
    expect([accessLog(outbound), accessLog(inbound)]).toEqual([[expected], [expected]]);
  });

  it('Istio\'s built-in `envoy` provider follows the mesh config\'s encoding; a provider with its own format uses it', () => {
    const mesh = meshConfig(`accessLogEncoding: JSON
extensionProviders:
- name: text-file
  envoyFileAccessLog: {path: /tmp/text.log, logFormat: {text: "%RESPONSE_CODE%"}}
- name: json-file
  envoyFileAccessLog: {path: /tmp/json.log, logFormat: {labels: {code: "%RESPONSE_CODE%"}}, omitEmptyValues: true}
- name: istio-json
  envoyFileAccessLog: {logFormat: {labels: {}}}
- name: plain
  envoyFileAccessLog: {}`);
    const { outbound, errors } = hcms(mesh + telemetry('mesh-default', 'istio-system', 'accessLogging:\n- providers: [{name: envoy}, {name: text-file}, {name: json-file}, {name: istio-json}, {name: plain}]'));
    expect(errors).toEqual([]);
    // Sorted by provider name.
    expect(accessLog(outbound)).toEqual([
      file('/dev/stdout', json(ISTIO_JSON_LABELS)),
      file('/dev/stdout', json(ISTIO_JSON_LABELS)),
      file('/tmp/json.log', { ...json({ code: '%RESPONSE_CODE%' }), omit_empty_values: true }),
      file('/dev/stdout', text(ISTIO_TEXT_FORMAT)),
      file('/tmp/text.log', text('%RESPONSE_CODE%\n')),
    ]);
  });

  // [case, Telemetry YAML, proxy, expected providers' paths on [outbound, inbound]]
  it.each<[string, string, Json, [string[], string[]]]>([
    ['the mesh-wide Telemetry names the provider', telemetry('m', 'istio-system', 'accessLogging:\n- providers: [{name: envoy}]'), REVIEWS, [['/dev/stdout'], ['/dev/stdout']]],
    ['a namespace disables it', telemetry('m', 'istio-system', 'accessLogging:\n- providers: [{name: envoy}]') + telemetry('n', 'default', 'accessLogging:\n- disabled: true'), REVIEWS, [[], []]],
    ['a workload turns it back on with disabled: false', telemetry('m', 'istio-system', 'accessLogging:\n- providers: [{name: envoy}]') + telemetry('n', 'default', 'accessLogging:\n- disabled: true')
      + telemetry('w', 'default', 'selector: {matchLabels: {app: reviews}}\naccessLogging:\n- disabled: false'), REVIEWS, [['/dev/stdout'], ['/dev/stdout']]],
    ['another namespace keeps the mesh\'s', telemetry('m', 'istio-system', 'accessLogging:\n- providers: [{name: envoy}]') + telemetry('n', 'default', 'accessLogging:\n- disabled: true'), RATINGS, [['/dev/stdout'], ['/dev/stdout']]],
    ['a lower level naming providers replaces the set', telemetry('m', 'istio-system', 'accessLogging:\n- providers: [{name: envoy}]') + telemetry('n', 'default', 'accessLogging:\n- providers: [{name: file}]'), REVIEWS, [['/tmp/file.log'], ['/tmp/file.log']]],
    ['match.mode SERVER logs the inbound HCM only', telemetry('m', 'istio-system', 'accessLogging:\n- providers: [{name: envoy}]\n  match: {mode: SERVER}'), REVIEWS, [[], ['/dev/stdout']]],
    ['default providers log without a Telemetry', 'DEFAULT', REVIEWS, [['/tmp/file.log'], ['/tmp/file.log']]],
    ['a Telemetry with accessLogging replaces the legacy accessLogFile', telemetry('n', 'default', 'accessLogging:\n- disabled: true'), REVIEWS, [[], []]],
  ])('%s', (_name, yaml, metadata, [outboundPaths, inboundPaths]) => {
    const mesh = meshConfig(`accessLogFile: /tmp/legacy.log
extensionProviders:
- {name: file, envoyFileAccessLog: {path: /tmp/file.log}}
${yaml === 'DEFAULT' ? 'defaultProviders: {accessLogging: [file]}' : ''}`);
    const { outbound, inbound } = hcms(mesh + (yaml === 'DEFAULT' ? '' : yaml), metadata);
    const paths = (hcm: Json) => (accessLog(hcm) ?? []).map((l) => (l['typed_config'] as Json)['path']);
    expect([paths(outbound), paths(inbound)]).toEqual([outboundPaths, inboundPaths]);
  });
});

describe('emitted resources', () => {
  it('tracing and every access log form are valid Envoy and accepted by the proxy', () => {
    const yaml = REGISTRY + meshConfig(`accessLogFile: /dev/stdout
accessLogEncoding: JSON
defaultConfig: {tracing: {sampling: 12.5, maxPathTagLength: 100}}
extensionProviders:
- name: zipkin
  zipkin: {service: ${ZIPKIN_HOST}, port: 9411}
- name: text
  envoyFileAccessLog: {path: /tmp/t.log, logFormat: {text: "%RESPONSE_CODE% %UPSTREAM_CLUSTER%"}, omitEmptyValues: true}
- name: labels
  envoyFileAccessLog: {path: /tmp/j.log, logFormat: {labels: {code: "%RESPONSE_CODE%", nested: {flags: "%RESPONSE_FLAGS%"}}}}`)
      + telemetry('mesh-default', 'istio-system', `tracing:
- providers: [{name: zipkin}]
  customTags:
    a: {literal: {value: x}}
    b: {environment: {name: HOME}}
    c: {header: {name: x-c, defaultValue: none}}
accessLogging:
- providers: [{name: envoy}, {name: text}, {name: labels}]`);
    const { mesh, errors } = meshOf(yaml);
    expect(errors).toEqual([]);
    for (const metadata of [REVIEWS, RATINGS]) {
      const s = proxySnapshot(mesh, identity(metadata));
      expect(s.listeners.every((l) => 'tracing' in hcmOf(l) && 'access_log' in hcmOf(l))).toBe(true);
      expect(snapshotProblems(s)).toEqual([]);
    }
  });
});
