// Loading Istio YAML: the seed articles' files, multi-document handling, kinds left to later issues,
// duplicates, and a table of invalid resources with their exact field paths and lines.

import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineCounter, parse, parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { formatIstioError, loadIstioDirectory, loadIstioFiles } from '../../../control-plane/istio/load.ts';
import { parseIstioDuration } from '../../../control-plane/istio/istio-kit.ts';
import type { DestinationRule, EnvoyFilter, IstioResource, VirtualService } from '../../../control-plane/istio/resources.ts';
import { splitDocuments } from '../../../control-plane/istio/yaml-stream.ts';

/** ../shared beside the checkout (CI clones elsewhere, with shared/ next to the clone). */
const SEEDS = fileURLToPath(new URL('../../../../shared/seeds/yaml', import.meta.url));
const load = (text: string) => loadIstioFiles([{ file: 'mesh.yaml', text }]);
const summary = (rs: readonly IstioResource[]) => rs.map((r) => `${r.kind} ${r.metadata.namespace}/${r.metadata.name}`);

function one<K extends IstioResource['kind']>(rs: readonly IstioResource[], kind: K, name: string): Extract<IstioResource, { kind: K }> {
  const r = rs.find((x) => x.kind === kind && x.metadata.name === name);
  if (r === undefined) throw new Error(`${kind} ${name} not loaded`);
  return r as Extract<IstioResource, { kind: K }>;
}

describe('seed YAML', async () => {
  const names = (await readdir(SEEDS)).filter((n) => n.endsWith('.yaml')).sort();
  const perFile = await Promise.all(names.map(async (n) => loadIstioFiles([{ file: n, text: await readFile(join(SEEDS, n), 'utf8') }])));
  const byFile = new Map(names.map((n, i) => [n, perFile[i]!]));

  it.each(names)('%s loads with zero errors', (name) => {
    expect(byFile.get(name)!.errors.map(formatIstioError)).toEqual([]);
  });

  it('loads every traffic resource and lists the other kinds apart', () => {
    const loaded = names.flatMap((n) => summary(byFile.get(n)!.resources).map((s) => `${n}: ${s}`));
    expect(loaded).toEqual([
      '000-product-service.yaml: VirtualService default/product-service',
      '000-product-service.yaml: DestinationRule default/product-service',
      '001-payment-service.yaml: VirtualService production/payment-service',
      '001-payment-service.yaml: DestinationRule production/payment-service',
      '001-payment-service.yaml: VirtualService production/techoral-api',
      '001-payment-service.yaml: PeerAuthentication istio-system/default',
      '001-payment-service.yaml: PeerAuthentication production/legacy-service-permissive',
      '001-payment-service.yaml: AuthorizationPolicy production/deny-all',
      '001-payment-service.yaml: AuthorizationPolicy production/payment-service-policy',
      '002-production-mesh.yaml: VirtualService default/payment-service',
      '002-production-mesh.yaml: DestinationRule default/payment-service',
      '002-production-mesh.yaml: PeerAuthentication production/default',
      '002-production-mesh.yaml: AuthorizationPolicy production/payment-access',
      '002-production-mesh.yaml: VirtualService default/payment-fault-test',
      '002-production-mesh.yaml: EnvoyFilter production/payment-ratelimit',
      '003-order-payment.yaml: PeerAuthentication production/default',
      '003-order-payment.yaml: AuthorizationPolicy production/payment-service-authz',
      '003-order-payment.yaml: DestinationRule default/order-service',
      '003-order-payment.yaml: VirtualService default/order-service',
      '003-order-payment.yaml: VirtualService default/payment-service',
      '003-order-payment.yaml: DestinationRule default/payment-service',
      '003-order-payment.yaml: VirtualService default/api-routing',
      '004-reviews.yaml: VirtualService default/reviews-route',
      '004-reviews.yaml: PeerAuthentication production/default',
    ]);
    const deferred = names.flatMap((n) => byFile.get(n)!.deferred.map((d) => `${n}[${d.document}] ${d.apiVersion} ${d.resource.kind}`));
    expect(deferred).toEqual([
      '001-payment-service.yaml[2] networking.istio.io/v1beta1 Gateway',
      '002-production-mesh.yaml[0] networking.istio.io/v1beta1 Sidecar',
      '002-production-mesh.yaml[6] networking.istio.io/v1beta1 Gateway',
      '002-production-mesh.yaml[8] v1 Namespace',
      '002-production-mesh.yaml[9] gateway.networking.k8s.io/v1 Gateway',
      '003-order-payment.yaml[2] apps/v1 Deployment',
      '003-order-payment.yaml[7] networking.istio.io/v1beta1 Gateway',
    ]);
    for (const d of perFile.flatMap((f) => f.deferred)) expect(d.reason).toMatch(new RegExp(`^kind ${d.resource.kind} is handled by a later issue`));
  });

  it('parses values: durations to ms, retryOn tokens, weights, defaults', () => {
    const payment = byFile.get('001-payment-service.yaml')!.resources;
    const vs = one(payment, 'VirtualService', 'payment-service') as VirtualService;
    expect(vs.spec.gateways).toEqual([]);
    expect(vs.spec.http[0]!.match[0]!.headers).toEqual({ 'x-canary': { exact: 'true' } });
    expect(vs.spec.http[0]!.retries).toEqual({ attempts: 3, perTryTimeout: 3000, retryOn: ['5xx', 'reset', 'connect-failure'] });
    expect(vs.spec.http[1]!.match).toEqual([]);
    expect(vs.spec.http[1]!.route.map((r) => [r.destination.subset, r.weight])).toEqual([['v1', 90], ['v2', 10]]);
    expect(vs.spec.http[1]!.timeout).toBe(10_000);
    const dr = one(payment, 'DestinationRule', 'payment-service') as DestinationRule;
    expect(dr.spec.trafficPolicy).toEqual({
      loadBalancer: { simple: 'LEAST_CONN' },
      connectionPool: { tcp: { maxConnections: 100, connectTimeout: 30 }, http: { h2UpgradePolicy: 'UPGRADE', http1MaxPendingRequests: 100, maxRequestsPerConnection: 10 } },
      outlierDetection: { consecutiveGatewayErrors: 5, interval: 10_000, baseEjectionTime: 30_000, maxEjectionPercent: 50, minHealthPercent: 30 },
      portLevelSettings: [],
    });
    expect(dr.spec.subsets[1]).toEqual({ name: 'v2', labels: { version: 'v2' }, trafficPolicy: { connectionPool: { http: { maxRequestsPerConnection: 1 } }, portLevelSettings: [] } });
    const api = one(payment, 'VirtualService', 'techoral-api') as VirtualService;
    expect(api.spec.gateways).toEqual(['istio-system/techoral-gateway']);
    expect(api.spec.http[0]!.route[0]!.destination).toEqual({ host: 'payment-service', port: { number: 8080 } });

    const mesh = byFile.get('002-production-mesh.yaml')!.resources;
    const fault = one(mesh, 'VirtualService', 'payment-fault-test') as VirtualService;
    expect(fault.metadata.namespace).toBe('default');
    expect(fault.spec.http[0]!.fault).toEqual({ delay: { fixedDelay: 500, percentage: { value: 10 } }, abort: { httpStatus: 503, percentage: { value: 5 } } });
    const ef = one(mesh, 'EnvoyFilter', 'payment-ratelimit') as EnvoyFilter;
    expect(ef.spec).toEqual({
      workloadSelector: { labels: { app: 'payment-service' } },
      configPatches: [{
        context: 'SIDECAR_INBOUND',
        filterName: 'envoy.filters.http.local_ratelimit',
        typeUrl: 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
        config: { stat_prefix: 'http_local_rate_limiter', token_bucket: { max_tokens: 100, tokens_per_fill: 100, fill_interval: '60s' } },
        // A TypedStruct: the LocalRateLimit is written under typed_config.value.
        configPath: 'value',
      }],
    });
  });

  it('the progressive rollout patch (a JSON merge patch of spec.http) gives a valid VirtualService', async () => {
    const patch = JSON.parse(await readFile(join(SEEDS, '003-progressive-rollout-patch.json'), 'utf8')) as { spec: { http: unknown } };
    const docs = (await readFile(join(SEEDS, '003-order-payment.yaml'), 'utf8')).split(/^---$/m);
    const orderVs = docs.map((d) => parse(d) as { kind: string; metadata: { name: string }; spec: Record<string, unknown> })
      .find((d) => d.kind === 'VirtualService' && d.metadata.name === 'order-service')!;
    orderVs.spec.http = patch.spec.http; // merge patch: arrays are replaced whole
    const r = loadIstioFiles([{ file: 'patched.yaml', text: JSON.stringify(orderVs) }]);
    expect(r.errors).toEqual([]);
    expect((r.resources[0] as VirtualService).spec.http[0]!.route.map((d) => d.weight)).toEqual([0, 100]);
  });

  it('loading the whole directory reports the resources two articles both define, keeping the first', async () => {
    const r = await loadIstioDirectory(SEEDS);
    expect(r.errors.map((e) => [e.file.replace(`${SEEDS}/`, ''), e.document, e.resource?.kind, e.path, e.kind])).toEqual([
      // production/default (STRICT) is written in 002, 003 and 004 (the same policy): 002's is the one in force.
      ['003-order-payment.yaml', 0, 'PeerAuthentication', 'metadata.name', 'invalid'],
      ['003-order-payment.yaml', 5, 'VirtualService', 'metadata.name', 'invalid'],
      ['003-order-payment.yaml', 6, 'DestinationRule', 'metadata.name', 'invalid'],
      ['004-reviews.yaml', 1, 'PeerAuthentication', 'metadata.name', 'invalid'],
    ]);
    expect(r.errors[0]!.message).toBe(`duplicate PeerAuthentication production/default: already defined in ${SEEDS}/002-production-mesh.yaml document 3; this one is ignored`);
    expect(r.errors[1]!.message).toBe(`duplicate VirtualService default/payment-service: already defined in ${SEEDS}/002-production-mesh.yaml document 1; this one is ignored`);
    expect(r.resources).toHaveLength(20);
    const kept = r.resources.filter((x) => x.metadata.namespace === 'default' && x.metadata.name === 'payment-service');
    expect(kept.map((x) => `${x.kind} ${x.source.file}`)).toEqual([
      `VirtualService ${SEEDS}/002-production-mesh.yaml`, `DestinationRule ${SEEDS}/002-production-mesh.yaml`,
    ]);
  });
});

describe('Istio durations', () => {
  it.each([
    ['5s', 5000], ['100ms', 100], ['1m', 60_000], ['1h', 3_600_000], ['2.5s', 2500], ['1h30m', 5_400_000], ['0s', 0], ['0', 0],
    ['1500us', 1.5], ['', undefined], ['5', undefined], ['5 s', undefined], ['s', undefined], ['-1s', undefined], ['1d', undefined],
  ])('%j → %j', (text, ms) => {
    expect(parseIstioDuration(text)).toBe(ms);
  });
});

describe('documents and kinds', () => {
  const vs = (name: string, ns = '') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}${ns === '' ? '' : `\n  namespace: ${ns}`}
spec:
  hosts: [a]
  http:
  - route:
    - destination: {host: a}
`;

  // Comments before the first `---` belong to document 0 (YAML's directives section), so it is the first resource.
  it('reads every document of a file, skipping empty ones but counting them', () => {
    const r = load(`# leading comment\n---\n${vs('one')}---\n---\n${vs('two', 'prod')}---\n`);
    expect(r.errors).toEqual([]);
    expect(r.resources.map((x) => [x.metadata.namespace, x.metadata.name, x.source.document, x.source.line])).toEqual([
      ['default', 'one', 0, 3], ['prod', 'two', 2, 14],
    ]);
  });

  it('a YAML syntax error drops only its document, worded as yaml words it for the whole file', () => {
    const text = `${vs('one')}---\nkind: [unclosed\n---\n${vs('three')}`;
    const yamlError = parseAllDocuments(text)[1]!.errors[0]!;
    for (const r of [load(text), load(text)]) { // the second load meets the document cached
      expect(summary(r.resources)).toEqual(['VirtualService default/one', 'VirtualService default/three']);
      expect(r.errors).toHaveLength(1);
      expect(r.errors[0]).toMatchObject({ file: 'mesh.yaml', document: 1, line: 12, path: '', kind: 'invalid' });
      expect(r.errors[0]!.message).toBe(`YAML: ${yamlError.message.split('\n')[0]}`);
      expect(r.errors[0]!.message).toMatch(/ at line 12, column \d+/);
    }
  });

  it('reports duplicate names within a file and across files, per kind and namespace', () => {
    const r = loadIstioFiles([
      { file: 'a.yaml', text: `${vs('x')}---\n${vs('x', 'other')}---\n${vs('x')}` },
      { file: 'b.yaml', text: vs('x', 'other') },
    ]);
    expect(summary(r.resources)).toEqual(['VirtualService default/x', 'VirtualService other/x']);
    expect(r.errors.map((e) => `${e.file}[${e.document}] ${e.path}: ${e.message}`)).toEqual([
      'a.yaml[2] metadata.name: duplicate VirtualService default/x: already defined in a.yaml document 0; this one is ignored',
      'b.yaml[0] metadata.name: duplicate VirtualService other/x: already defined in a.yaml document 1; this one is ignored',
    ]);
  });

  it.each([
    ['apiVersion: v1\nkind: Service\nmetadata: {name: s}', 'deferred', /^kind Service is handled by a later issue: Kubernetes objects/],
    ['apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: s}', 'deferred', /^kind RequestAuthentication is handled by a later issue/],
    ['apiVersion: networking.istio.io/v1\nkind: VirtualServce\nmetadata: {name: s}', 'unknown-field', /^unknown kind VirtualServce \(apiVersion networking.istio.io\/v1\): nodevoy reads VirtualService, DestinationRule, ServiceEntry, WorkloadEntry, EnvoyFilter, PeerAuthentication, AuthorizationPolicy, Telemetry$/],
    ['apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: s}', 'unknown-field', /^unknown kind Widget/],
    ['apiVersion: networking.istio.io/v1\nkind: WorkloadGroup\nmetadata: {name: s}', 'not-implemented', /WorkloadGroup is valid Istio config but nodevoy does not implement it$/],
    ['apiVersion: networking.istio.io/v1\nkind: EnvoyFilter\nmetadata: {name: s}', 'invalid', /^EnvoyFilter is served as networking.istio.io\/v1alpha3, not networking.istio.io\/v1$/],
    ['apiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata: {name: s}', 'invalid', /^VirtualService is served as networking.istio.io\/v1alpha3, networking.istio.io\/v1beta1, networking.istio.io\/v1, not/],
  ])('%j → %s', (text, outcome, message) => {
    const r = load(text);
    if (outcome === 'deferred') {
      expect(r.errors).toEqual([]);
      expect(r.deferred[0]!.reason).toMatch(message);
    } else {
      expect(r.deferred).toEqual([]);
      expect(r.errors).toHaveLength(1);
      expect(r.errors[0]).toMatchObject({ kind: outcome, path: text.startsWith('apiVersion: networking.istio.io/v') && /EnvoyFilter|v2/.test(text) ? 'apiVersion' : 'kind' });
      expect(r.errors[0]!.message).toMatch(message);
    }
  });

  it('a document without apiVersion or kind, or not a mapping, is an error', () => {
    expect(load('kind: VirtualService').errors.map((e) => [e.path, e.message])).toEqual([['apiVersion', 'apiVersion is required (a string)']]);
    expect(load('apiVersion: v1').errors.map((e) => [e.path, e.message])).toEqual([['kind', 'kind is required (a string)']]);
    expect(load('- a\n- b').errors.map((e) => e.path)).toEqual(['']);
  });

  it('formats an error with file, document, line, resource and path', () => {
    const r = load(vs('one').replace('host: a', 'host: a, subst: x'));
    expect(r.errors.map(formatIstioError)).toEqual([
      'mesh.yaml[0]:9 VirtualService default/one: spec.http[0].route[0].destination.subst: unknown field "subst": istio.networking.v1.Destination has no such field',
    ]);
  });
});

describe('documents read one by one', () => {
  const se = (name: string) => `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ${name}}\nspec: {hosts: [${name}.example]}\n`;

  /** What yaml's whole-stream parse says: [document index, line of its content, name] of each mapping. */
  function oracle(text: string): [number, number, string][] {
    const lineCounter = new LineCounter();
    return parseAllDocuments(text, { lineCounter }).flatMap((doc, i) => {
      const js = doc.toJS() as { metadata?: { name?: string } } | null;
      const name = js?.metadata?.name;
      return name === undefined ? [] : [[i, lineCounter.linePos(doc.contents!.range[0]).line, name] as [number, number, string]];
    });
  }

  it.each([
    ['leading comments and empty documents', `# c\n\n---\n${se('a')}---\n---\n# only a comment\n---\n${se('b')}---\n`],
    ['content on the --- line', `--- {apiVersion: networking.istio.io/v1, kind: ServiceEntry, metadata: {name: a}, spec: {hosts: [a.x]}}\n--- # c\n${se('b')}`],
    ['a first document without ---', `${se('a')}---\n${se('b')}`],
    ['--- inside a block scalar, or not followed by a space', `${se('a').replace('{name: a}', '\n  name: a\n  annotations:\n    note: |\n      ---\n      text')}--- |\n---text\n---\n${se('b')}`],
    ['CRLF line ends', `${se('a')}---\n${se('b')}`.replaceAll('\n', '\r\n')],
    ['a %YAML directive (not cut: it carries into the next document)', `%YAML 1.2\n---\n${se('a')}---\n${se('b')}`],
    ['a ... document end (not cut)', `${se('a')}...\n---\n${se('b')}`],
  ])('%s: documents and lines as the whole stream has them', (_, text) => {
    const r = load(text);
    expect(r.resources.map((x) => [x.source.document, x.source.line, x.metadata.name])).toEqual(oracle(text));
    expect(r.resources).toHaveLength(2);
  });

  it.each([
    ['a: 1\n---\nb: 2\n--- c\n', [['a: 1\n', 1], ['---\nb: 2\n', 2], ['--- c\n', 4]]],
    ['---\n---\n', [['---\n', 1], ['---\n', 2]]],
    ['a: |\n  ---\n---x: 1\n', [['a: |\n  ---\n---x: 1\n', 1]]],
    ['%YAML 1.2\n---\na: 1\n', undefined],
    ['a: 1\n...\n', undefined],
  ])('splitDocuments(%j)', (text, pieces) => {
    expect(splitDocuments(text)?.map((p) => [p.text, p.line])).toEqual(pieces);
  });

  it('a reload parses only the documents that changed and places every one where it now is', () => {
    const first = load(`${se('a')}---\n${se('b')}---\n${se('c').replace('hosts', 'hostz')}`);
    expect(first.errors.map((e) => [e.document, e.line, e.path])).toEqual([[2, 14, 'spec.hosts'], [2, 14, 'spec.hostz']]);
    // A document inserted after a, c fixed: b is the same text one document and 5 lines further down.
    const second = load(`${se('a')}---\n${se('z')}---\n${se('b')}---\n${se('c')}---\n${se('a')}`);
    expect(second.resources.map((x) => [x.source.document, x.source.line, x.metadata.name])).toEqual([[0, 1, 'a'], [1, 6, 'z'], [2, 11, 'b'], [3, 16, 'c']]);
    expect(second.errors.map((e) => [e.document, e.line, e.message])).toEqual([
      [4, 21, 'duplicate ServiceEntry default/a: already defined in mesh.yaml document 0; this one is ignored'],
    ]);
    // Unchanged documents were not parsed again: their specs are the very objects of the first load.
    expect(second.resources[0]!.spec).toBe(first.resources[0]!.spec);
    expect(second.resources[2]!.spec).toBe(first.resources[1]!.spec);
    expect(second.resources[2]!.source).not.toBe(first.resources[1]!.source);
  });
});

describe('directory loading', () => {
  const dirs: string[] = [];
  afterAll(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });

  it('reads *.yaml and *.yml in name order, ignoring other files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nodevoy-istio-'));
    dirs.push(dir);
    const se = (name: string) => `apiVersion: networking.istio.io/v1beta1\nkind: ServiceEntry\nmetadata: {name: ${name}}\nspec: {hosts: [${name}.example]}\n`;
    await writeFile(join(dir, 'b.yml'), se('b'));
    await writeFile(join(dir, 'a.yaml'), se('a'));
    await writeFile(join(dir, 'c.json'), '{"spec": {}}');
    await writeFile(join(dir, 'notes.txt'), 'not yaml: [');
    const r = await loadIstioDirectory(dir);
    expect(r.errors).toEqual([]);
    expect(r.resources.map((x) => [x.metadata.name, x.source.file])).toEqual([['a', join(dir, 'a.yaml')], ['b', join(dir, 'b.yml')]]);
    expect(r.resources[0]!.spec).toEqual({ hosts: ['a.example'], addresses: [], ports: [], location: 'MESH_EXTERNAL', resolution: 'NONE', endpoints: [] });
  });

  it('an unreadable directory is one error, not a throw', async () => {
    const r = await loadIstioDirectory('/nonexistent/nodevoy-dir');
    expect(r.resources).toEqual([]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.message).toMatch(/^cannot read: ENOENT/);
  });
});
