// Invalid Istio resources: each case names the exact field path, error kind and line of its problem.

import { describe, expect, it } from 'vitest';
import { loadIstioFiles } from '../../../control-plane/istio/load.ts';

const HEAD: Record<string, string> = {
  VirtualService: 'apiVersion: networking.istio.io/v1\nkind: VirtualService',
  DestinationRule: 'apiVersion: networking.istio.io/v1beta1\nkind: DestinationRule',
  ServiceEntry: 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry',
  WorkloadEntry: 'apiVersion: networking.istio.io/v1alpha3\nkind: WorkloadEntry',
  EnvoyFilter: 'apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter',
  PeerAuthentication: 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication',
  AuthorizationPolicy: 'apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy',
};

/** A document: header lines 1-2, metadata line 3, `spec:` line 4, the given spec lines from line 5. */
const doc = (kind: string, spec: string) => `${HEAD[kind]}\nmetadata: {name: r}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
const route = 'http:\n- route:\n  - destination: {host: a}';
const lrl = `workloadSelector: {labels: {app: a}}
configPatches:
- applyTo: HTTP_FILTER
  match: {context: SIDECAR_INBOUND}
  patch:
    operation: INSERT_BEFORE
    value:
      name: envoy.filters.http.local_ratelimit
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
        stat_prefix: rl`;

describe('invalid Istio resources', () => {
  it.each([
    // [name, kind, spec, path, error kind, message (substring), line]
    ['VS without hosts', 'VirtualService', route, 'spec.hosts', 'invalid', 'required field is missing', 5],
    ['VS snake_case field', 'VirtualService', `hosts: [a]\n${route}\n  per_try_timeout: 2s`, 'spec.http[0].per_try_timeout', 'unknown-field', 'unknown field "per_try_timeout": istio.networking.v1.HTTPRoute has no such field', 9],
    ['VS snake_case hint', 'VirtualService', `hosts: [a]\n${route}\n  retries: {attempts: 1, per_try_timeout: 2s}`, 'spec.http[0].retries.per_try_timeout', 'unknown-field', '(Istio fields are lowerCamelCase: "perTryTimeout")', 9],
    ['VS tcp routes', 'VirtualService', 'hosts: [a]\ntcp: []', 'spec.tcp', 'not-implemented', 'field "tcp" of istio.networking.v1.VirtualService is valid Istio config but nodevoy does not implement it', 6],
    ['VS corsPolicy', 'VirtualService', `hosts: [a]\n${route}\n  corsPolicy: {}`, 'spec.http[0].corsPolicy', 'not-implemented', 'corsPolicy', 9],
    ['route without destination', 'VirtualService', 'hosts: [a]\nhttp:\n- timeout: 1s', 'spec.http[0].route', 'invalid', 'needs route destinations or a redirect', 7],
    ['route and redirect', 'VirtualService', `hosts: [a]\n${route}\n  redirect: {uri: /x}`, 'spec.http[0].redirect', 'invalid', 'cannot both be set', 9],
    ['bad duration', 'VirtualService', `hosts: [a]\n${route}\n  timeout: 10`, 'spec.http[0].timeout', 'invalid', 'a duration must be a string', 9],
    ['malformed duration', 'VirtualService', `hosts: [a]\n${route}\n  timeout: 10 sec`, 'spec.http[0].timeout', 'invalid', '"10 sec" is not a duration', 9],
    ['sub-ms duration', 'VirtualService', `hosts: [a]\n${route}\n  retries: {attempts: 1, perTryTimeout: 1500us}`, 'spec.http[0].retries.perTryTimeout', 'invalid', 'only durations to ms precision', 9],
    ['zero perTryTimeout', 'VirtualService', `hosts: [a]\n${route}\n  retries: {attempts: 1, perTryTimeout: 0s}`, 'spec.http[0].retries.perTryTimeout', 'invalid', 'at least 1ms', 9],
    ['bad retryOn', 'VirtualService', `hosts: [a]\n${route}\n  retries: {attempts: 1, retryOn: "5xx,bogus"}`, 'spec.http[0].retries.retryOn', 'invalid', '"bogus" is not a retryOn policy', 9],
    ['two-way StringMatch', 'VirtualService', `hosts: [a]\nhttp:\n- match:\n  - uri: {exact: /a, prefix: /b}\n  route:\n  - destination: {host: a}`, 'spec.http[0].match[0].uri', 'invalid', 'exactly one of exact, prefix, regex (found exact, prefix)', 8],
    ['bad regex', 'VirtualService', `hosts: [a]\nhttp:\n- match:\n  - headers: {x: {regex: "(("}}\n  route:\n  - destination: {host: a}`, 'spec.http[0].match[0].headers.x.regex', 'invalid', 'regex does not compile', 8],
    ['fault percentage > 100', 'VirtualService', `hosts: [a]\n${route}\n  fault: {abort: {httpStatus: 503, percentage: {value: 150}}}`, 'spec.http[0].fault.abort.percentage.value', 'invalid', 'percentage must be in [0, 100]', 9],
    ['abort status', 'VirtualService', `hosts: [a]\n${route}\n  fault: {abort: {httpStatus: 99}}`, 'spec.http[0].fault.abort.httpStatus', 'invalid', 'httpStatus must be in [200, 599]', 9],
    ['negative weight', 'VirtualService', 'hosts: [a]\nhttp:\n- route:\n  - destination: {host: a}\n    weight: -1', 'spec.http[0].route[0].weight', 'invalid', 'weight must be >= 0', 9],
    ['destination port', 'VirtualService', 'hosts: [a]\nhttp:\n- route:\n  - destination: {host: a, port: {number: 70000}}', 'spec.http[0].route[0].destination.port.number', 'invalid', 'port number must be in 1-65535', 8],
    ['DR unknown lb', 'DestinationRule', 'host: a\ntrafficPolicy: {loadBalancer: {simple: FASTEST}}', 'spec.trafficPolicy.loadBalancer.simple', 'invalid', '"FASTEST" is not a istio.networking.v1.LoadBalancerSettings.SimpleLB value', 6],
    ['DR PASSTHROUGH', 'DestinationRule', 'host: a\ntrafficPolicy: {loadBalancer: {simple: PASSTHROUGH}}', 'spec.trafficPolicy.loadBalancer.simple', 'not-implemented', 'value PASSTHROUGH is valid Istio config but nodevoy does not implement it', 6],
    ['DR two hash keys', 'DestinationRule', 'host: a\ntrafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x, useSourceIp: true}}}', 'spec.trafficPolicy.loadBalancer.consistentHash', 'invalid', 'exactly one of httpHeaderName, useSourceIp', 6],
    ['DR tls MUTUAL without key', 'DestinationRule', 'host: a\ntrafficPolicy: {tls: {mode: MUTUAL, clientCertificate: /c.pem}}', 'spec.trafficPolicy.tls.privateKey', 'invalid', 'privateKey is required for mode MUTUAL', 6],
    ['DR tls ISTIO_MUTUAL with files', 'DestinationRule', 'host: a\ntrafficPolicy: {tls: {mode: ISTIO_MUTUAL, caCertificates: /ca.pem}}', 'spec.trafficPolicy.tls.caCertificates', 'invalid', 'caCertificates cannot be set with mode ISTIO_MUTUAL', 6],
    ['DR tls credentialName', 'DestinationRule', 'host: a\ntrafficPolicy: {tls: {mode: SIMPLE, credentialName: s}}', 'spec.trafficPolicy.tls.credentialName', 'not-implemented', 'credentialName', 6],
    ['DR tls unknown mode', 'DestinationRule', 'host: a\ntrafficPolicy: {tls: {mode: STRICT}}', 'spec.trafficPolicy.tls.mode', 'invalid', 'TLSmode value', 6],
    ['PA unknown mode', 'PeerAuthentication', 'mtls: {mode: ON}', 'spec.mtls.mode', 'invalid', 'is not a istio.security.v1.PeerAuthentication.MutualTLS.Mode value', 5],
    ['PA port level without selector', 'PeerAuthentication', 'portLevelMtls: {8080: {mode: DISABLE}}', 'spec.portLevelMtls', 'invalid', 'mesh/namespace peer authentication cannot have port level mTLS', 5],
    ['PA port 0', 'PeerAuthentication', 'selector: {matchLabels: {app: a}}\nportLevelMtls: {0: {mode: DISABLE}}', 'spec.portLevelMtls.0', 'invalid', 'port cannot be 0', 6],
    ['PA wildcard selector', 'PeerAuthentication', 'selector: {matchLabels: {app: "a*"}}', 'spec.selector.matchLabels.app', 'invalid', 'wildcard is not supported in selector', 5],
    ['PA selector labels', 'PeerAuthentication', 'selector: {labels: {app: a}}', 'spec.selector.labels', 'unknown-field', 'istio.type.v1beta1.WorkloadSelector has no such field', 5],
    ['AP CUSTOM', 'AuthorizationPolicy', 'action: CUSTOM\nrules: [{}]', 'spec.action', 'not-implemented', 'value CUSTOM is valid Istio config but nodevoy does not implement it', 5],
    ['AP provider', 'AuthorizationPolicy', 'provider: {name: x}', 'spec.provider', 'not-implemented', 'provider', 5],
    ['AP DENY without rules', 'AuthorizationPolicy', 'action: DENY', 'spec.rules', 'invalid', 'DENY action without `rules` is meaningless', 5],
    ['AP empty from', 'AuthorizationPolicy', 'rules: [{from: []}]', 'spec.rules[0].from', 'invalid', '`from` must not be empty', 5],
    ['AP empty source', 'AuthorizationPolicy', 'rules: [{from: [{source: {}}]}]', 'spec.rules[0].from[0].source', 'invalid', '`from.source` must not be empty', 5],
    ['AP requestPrincipals', 'AuthorizationPolicy', 'rules: [{from: [{source: {requestPrincipals: ["*"]}}]}]', 'spec.rules[0].from[0].source.requestPrincipals', 'not-implemented', 'requestPrincipals', 5],
    ['AP bad ipBlock', 'AuthorizationPolicy', 'rules: [{from: [{source: {ipBlocks: ["10.0.0.0/33"]}}]}]', 'spec.rules[0].from[0].source.ipBlocks[0]', 'invalid', 'invalid IP address or CIDR range: "10.0.0.0/33"', 5],
    ['AP empty principal', 'AuthorizationPolicy', 'rules: [{from: [{source: {principals: [""]}}]}]', 'spec.rules[0].from[0].source.principals[0]', 'invalid', 'empty value not allowed, found in principals', 5],
    ['AP empty operation', 'AuthorizationPolicy', 'rules: [{to: [{operation: {}}]}]', 'spec.rules[0].to[0].operation', 'invalid', '`to.operation` must not be empty', 5],
    ['AP numeric port', 'AuthorizationPolicy', 'rules: [{to: [{operation: {ports: [8080]}}]}]', 'spec.rules[0].to[0].operation.ports[0]', 'invalid', 'ports values are strings (quote numbers)', 5],
    ['AP bad port', 'AuthorizationPolicy', 'rules: [{to: [{operation: {ports: ["http"]}}]}]', 'spec.rules[0].to[0].operation.ports[0]', 'invalid', 'invalid port "http"', 5],
    ['AP path template', 'AuthorizationPolicy', 'rules: [{to: [{operation: {paths: ["/a/{*}"]}}]}]', 'spec.rules[0].to[0].operation.paths[0]', 'not-implemented', 'uri_template', 5],
    ['AP when without values', 'AuthorizationPolicy', 'rules: [{when: [{key: source.ip}]}]', 'spec.rules[0].when[0]', 'invalid', 'at least one of `values` or `notValues` must be set for key source.ip', 5],
    ['AP when unknown key', 'AuthorizationPolicy', 'rules: [{when: [{key: source.name, values: [a]}]}]', 'spec.rules[0].when[0].key', 'invalid', 'unknown attribute source.name', 5],
    ['AP when JWT claim', 'AuthorizationPolicy', 'rules: [{when: [{key: "request.auth.claims[iss]", values: [a]}]}]', 'spec.rules[0].when[0].key', 'not-implemented', 'request.auth.claims[iss]', 5],
    ['AP when bad header key', 'AuthorizationPolicy', 'rules: [{when: [{key: "request.headers", values: [a]}]}]', 'spec.rules[0].when[0].key', 'invalid', 'request.headers[<NAME>]', 5],
    ['AP when bad source.ip', 'AuthorizationPolicy', 'rules: [{when: [{key: source.ip, values: [nope]}]}]', 'spec.rules[0].when[0].key', 'invalid', 'invalid value "nope" for key source.ip', 5],
    ['DR maxEjectionPercent', 'DestinationRule', 'host: a\ntrafficPolicy:\n  outlierDetection: {maxEjectionPercent: 101}', 'spec.trafficPolicy.outlierDetection.maxEjectionPercent', 'invalid', 'maxEjectionPercent must be in [0, 100]', 7],
    ['DR negative maxConnections', 'DestinationRule', 'host: a\ntrafficPolicy:\n  connectionPool:\n    tcp: {maxConnections: -1}', 'spec.trafficPolicy.connectionPool.tcp.maxConnections', 'invalid', '', 8],
    ['DR duplicate subset', 'DestinationRule', 'host: a\nsubsets:\n- name: v1\n- name: v1', 'spec.subsets[1].name', 'invalid', 'duplicate subset name "v1"', 8],
    ['DR label value not a string', 'DestinationRule', 'host: a\nsubsets:\n- name: v1\n  labels: {canary: true}', 'spec.subsets[0].labels.canary', 'invalid', 'a label value must be a string (quote it)', 8],
    ['DR duplicate port settings', 'DestinationRule', 'host: a\ntrafficPolicy:\n  portLevelSettings:\n  - port: {number: 80}\n  - port: {number: 80}', 'spec.trafficPolicy.portLevelSettings[1].port.number', 'invalid', 'port 80 has two portLevelSettings', 9],
    ['SE bad resolution', 'ServiceEntry', 'hosts: [a]\nresolution: MAGIC', 'spec.resolution', 'invalid', 'Resolution value', 6],
    ['SE endpoint port name', 'ServiceEntry', 'hosts: [a]\nports: [{number: 80, name: http}]\nendpoints:\n- address: 10.0.0.1\n  ports: {grpc: 9000}', 'spec.endpoints[0].ports.grpc', 'invalid', 'endpoint port "grpc" names no port of this ServiceEntry', 9],
    ['SE bad protocol', 'ServiceEntry', 'hosts: [a]\nports: [{number: 80, protocol: SMTP}]', 'spec.ports[0].protocol', 'invalid', 'protocol must be one of', 6],
    ['SE selector and endpoints', 'ServiceEntry', 'hosts: [a]\nworkloadSelector: {labels: {app: a}}\nendpoints: [{address: 10.0.0.1}]', 'spec.workloadSelector', 'invalid', 'workloadSelector and endpoints cannot both be set', 6],
    ['WE without address', 'WorkloadEntry', 'labels: {app: a}', 'spec.address', 'invalid', 'required field is missing', 5],
    ['WE locality', 'WorkloadEntry', 'address: 10.0.0.1\nlocality: us/east', 'spec.locality', 'not-implemented', 'locality', 6],
    ['EF other applyTo', 'EnvoyFilter', lrl.replace('HTTP_FILTER', 'CLUSTER'), 'spec.configPatches[0].applyTo', 'not-implemented', 'applyTo "CLUSTER": nodevoy supports EnvoyFilter only as a local rate limit patch', 7],
    ['EF outbound', 'EnvoyFilter', lrl.replace('SIDECAR_INBOUND', 'SIDECAR_OUTBOUND'), 'spec.configPatches[0].match.context', 'not-implemented', 'match.context "SIDECAR_OUTBOUND"', 8],
    ['EF merge', 'EnvoyFilter', lrl.replace('INSERT_BEFORE', 'MERGE'), 'spec.configPatches[0].patch.operation', 'not-implemented', 'patch.operation "MERGE"', 10],
    ['EF other filter', 'EnvoyFilter', lrl.replace('name: envoy.filters.http.local_ratelimit', 'name: envoy.filters.http.lua'), 'spec.configPatches[0].patch.value.name', 'not-implemented', 'patch.value.name "envoy.filters.http.lua"', 12],
    ['EF wrong type', 'EnvoyFilter', lrl.replace('local_ratelimit.v3.LocalRateLimit', 'lua.v3.Lua'), 'spec.configPatches[0].patch.value.typed_config.@type', 'invalid', 'takes a type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit', 14],
    ['EF priority', 'EnvoyFilter', `${lrl}\npriority: 1`, 'spec.priority', 'not-implemented', 'priority', 16],
    ['metadata name', 'VirtualService', `hosts: [a]\n${route}`, 'metadata.name', 'invalid', 'DNS-1123', 3, 'metadata: {name: Bad_Name}'],
    ['top-level stray', 'VirtualService', `hosts: [a]\n${route}\n`, 'specs', 'unknown-field', 'unknown field "specs": VirtualService has no such field', 10, undefined, 'specs: {}'],
  ] as const)('%s', (_name, kind, spec, path, errorKind, message, line, metadata?: string, extra?: string) => {
    let text = doc(kind, spec);
    if (metadata !== undefined) text = text.replace('metadata: {name: r}', metadata);
    if (extra !== undefined) text = `${text}${extra}\n`;
    const r = loadIstioFiles([{ file: 'bad.yaml', text }]);
    expect(r.resources).toEqual([]);
    expect(r.errors.map((e) => [e.path, e.kind])).toEqual([[path, errorKind]]);
    expect(r.errors[0]!.message).toContain(message);
    expect(r.errors[0]!.line).toBe(line);
    expect(r.errors[0]!.resource?.kind).toBe(kind);
  });

  it('reports every error of a resource, and keeps the valid resources of the file', () => {
    const bad = doc('VirtualService', 'hosts: []\nhttp:\n- route:\n  - destination: {host: ""}\n  timeout: 5');
    const good = doc('DestinationRule', 'host: a');
    const r = loadIstioFiles([{ file: 'mix.yaml', text: `${bad}---\n${good}` }]);
    expect(r.resources.map((x) => x.kind)).toEqual(['DestinationRule']);
    expect(r.errors.map((e) => [e.document, e.path, e.line])).toEqual([
      [0, 'spec.hosts', 5], [0, 'spec.http[0].route[0].destination.host', 8], [0, 'spec.http[0].timeout', 9],
    ]);
    expect(r.errors.every((e) => e.resource?.name === 'r' && e.resource.namespace === 'default')).toBe(true);
  });
});
