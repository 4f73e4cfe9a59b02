// SDS secrets: the Secret resource type (material loaded and checked, every error at its resources[i] path),
// DynamicSecrets (one secret per source, kind and name; subscribed while retained; versions, rejections,
// kind mismatches, initial_fetch_timeout) and the TLS contexts that name them (pending until the first version,
// rebuilt on rotation, the secret's SAN matchers merged in), in the bootstrap and through the lookup.

import { describe, expect, it } from 'vitest';
import { createCa } from '../../../certs/ca.ts';
import { issueWorkloadCertificate } from '../../../certs/local-issuer.ts';
import type { ConfigError } from '../../../proxy/common/result.ts';
import { validateBootstrap } from '../../../proxy/config/bootstrap.ts';
import { ConfigSourceSchema, translateConfigSource, type ConfigSourceConfig } from '../../../proxy/config/config-source.ts';
import { createLogger } from '../../../proxy/common/logger.ts';
import { parseWith } from '../../../proxy/config/schema-kit.ts';
import { DynamicSecrets, type SecretHandler } from '../../../proxy/secrets/dynamic-secrets.ts';
import type { LoadedSecret } from '../../../proxy/secrets/secret-schema.ts';
import { withSecrets } from '../../../proxy/secrets/secret-scope.ts';
import { StaticSecrets } from '../../../proxy/secrets/static-secrets.ts';
import { DownstreamTransportSocketSchema } from '../../../proxy/tls/tls-schema.ts';
import type { DownstreamTlsConfig } from '../../../proxy/tls/tls-context.ts';
import { StatsStore } from '../../../proxy/stats/store.ts';
import { secretResourceType } from '../../../proxy/xds/resource-types.ts';
import { FakeClock } from '../../support/fake-clock.ts';

const clock = new FakeClock(Date.now());
const ca = createCa({ trustDomain: 'cluster.local', clock });
const issue = (sa: string) => {
  const r = issueWorkloadCertificate(ca, { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: sa }, { clock });
  if (!r.ok) throw new Error(r.reason);
  return r.value;
};
const web = issue('web');
const web2 = issue('web');
const other = issue('other');
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const serial = (w: typeof web): string => w.svid.certificate.serialNumber.toLowerCase();

const certificate = (w = web, key = w.keyPem) => ({
  name: 'default', tls_certificate: { certificate_chain: { inline_bytes: b64(w.certChainPem) }, private_key: { inline_bytes: b64(key) } },
});
const root = (extra: Record<string, unknown> = {}) => ({ name: 'ROOTCA', validation_context: { trusted_ca: { inline_string: web.rootCertPem }, ...extra } });

const REST = { api_config_source: { api_type: 'REST', transport_api_version: 'V3', cluster_names: ['sds-agent'], refresh_delay: '1s' }, initial_fetch_timeout: '0s' };
function source(over: Record<string, unknown> = {}): ConfigSourceConfig {
  const wire = parseWith(ConfigSourceSchema, { ...REST, ...over });
  if (!wire.ok) throw new Error(JSON.stringify(wire.errors));
  return translateConfigSource(wire.value);
}

describe('the SDS Secret resource type', () => {
  it('loads inline_bytes and inline_string PEMs and checks them', () => {
    const r = secretResourceType.validate([certificate(), root()]);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.map((s) => [secretResourceType.name(s), s.material.kind])).toEqual([['default', 'tls_certificate'], ['ROOTCA', 'validation_context']]);
    const m = r.value[0]!.material;
    expect(m.kind === 'tls_certificate' && m.chain[0]!.serialNumber.toLowerCase()).toBe(serial(web));
    expect(m.kind === 'tls_certificate' && m.chainPath).toBe('<inline>');
  });

  it('rejects with every error at its resources[i] path, never quoting the key', () => {
    const r = secretResourceType.validate([
      certificate(web, other.keyPem),
      { name: 'ROOTCA', validation_context: { trusted_ca: { inline_string: 'nope' } } },
      { ...root(), tls_certificate: certificate().tls_certificate },
      { name: 'x', tls_certificate: { ...certificate().tls_certificate, watched_directory: { path: '/etc/certs' } } },
      { tls_certificate: certificate().tls_certificate },
      { name: 'y', tls_certificate: { certificate_chain: { inline_string: web.certChainPem }, private_key: { inline_string: 'not a key' } } },
    ]);
    const errors = r.ok ? [] : r.errors.map((e: ConfigError) => [e.path, e.kind]);
    expect(errors).toEqual([
      ['resources[0].tls_certificate.private_key', 'invalid'],
      ['resources[1].validation_context.trusted_ca', 'invalid'],
      ['resources[2].validation_context', 'invalid'],
      ['resources[3].tls_certificate.watched_directory', 'not-implemented'],
      ['resources[4].name', 'invalid'],
      ['resources[5].tls_certificate.private_key', 'invalid'],
    ]);
    expect(JSON.stringify(r)).not.toContain(other.keyPem.split('\n')[1]!);
  });
});

/** A SecretWatcher recording what is watched, whose `deliver` runs the handlers as a subscription would. */
function fakeWatcher() {
  const watches = new Map<string, { apply: SecretHandler; rejected: () => void }>();
  let cancelled: string[] = [];
  return {
    watches,
    cancelled: () => cancelled,
    watcher: {
      watchSecret(_source: ConfigSourceConfig, name: string, apply: SecretHandler, rejected: () => void) {
        watches.set(name, { apply, rejected });
        return { cancel: () => { watches.delete(name); cancelled = [...cancelled, name]; } };
      },
    },
    deliver(name: string, secret: unknown, version: string): readonly ConfigError[] {
      const parsed = secretResourceType.validate([secret]);
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
      return watches.get(name)!.apply(parsed.value[0] as LoadedSecret, version);
    },
  };
}

/** DynamicSecrets of a running server, its watcher and stats. */
function running() {
  const secrets = new DynamicSecrets();
  const w = fakeWatcher();
  const stats = new StatsStore();
  secrets.start({ watcher: w.watcher, clock, log: createLogger('off').get('secret'), stats });
  return { secrets, w, stats };
}

describe('DynamicSecrets', () => {
  it('shares one secret per source, kind and name', () => {
    const secrets = new DynamicSecrets();
    const a = secrets.get('default', source(), 'tls_certificate');
    expect(secrets.get('default', source(), 'tls_certificate')).toBe(a);
    expect(secrets.get('default', source({ api_config_source: { ...REST.api_config_source, refresh_delay: '2s' } }), 'tls_certificate')).not.toBe(a);
    expect(secrets.get('default', source(), 'validation_context')).not.toBe(a);
    expect(secrets.all()).toHaveLength(3);
  });

  it('subscribes from the first retain (once the server runs) to the last release', () => {
    const secrets = new DynamicSecrets();
    const w = fakeWatcher();
    const s = secrets.get('default', source(), 'tls_certificate');
    const release1 = s.retain();
    expect(w.watches.size).toBe(0);
    secrets.start({ watcher: w.watcher, clock, log: createLogger('off').get('secret'), stats: new StatsStore() });
    expect([...w.watches.keys()]).toEqual(['default']);
    const release2 = s.retain();
    release1();
    release1();
    expect(w.cancelled()).toEqual([]);
    expect(secrets.inUse()).toEqual([s]);
    release2();
    expect(w.cancelled()).toEqual(['default']);
    expect(secrets.inUse()).toEqual([]);
  });

  it('takes versions, rotating (onChange) only when the material changes, and refuses the other kind', async () => {
    const { secrets, w, stats } = running();
    const s = secrets.get('default', source(), 'tls_certificate');
    s.retain();
    const first = s.firstResponse();
    let rotations = 0;
    s.onChange(() => rotations++);
    expect(s.current).toBeUndefined();
    expect(w.deliver('default', certificate(), 'v1')).toEqual([]);
    await first;
    expect([s.versionInfo, rotations, s.current?.kind]).toEqual(['v1', 1, 'tls_certificate']);
    expect(w.deliver('default', certificate(), 'v2')).toEqual([]);
    expect([s.versionInfo, rotations]).toEqual(['v2', 1]);
    expect(w.deliver('default', certificate(web2), 'v3')).toEqual([]);
    expect(rotations).toBe(2);
    expect(w.deliver('default', { ...root(), name: 'default' }, 'v4')).toEqual([
      { path: 'validation_context', kind: 'invalid', message: 'secret "default" holds a validation_context, but a TLS context uses it as a tls_certificate' },
    ]);
    expect(s.versionInfo).toBe('v3');
    expect(stats.counter('sds.default.update_success').value()).toBe(3);
  });

  it('ends the first-fetch wait on a rejection, or at initial_fetch_timeout (counted)', async () => {
    const { secrets, w, stats } = running();
    const rejected = secrets.get('default', source(), 'tls_certificate');
    const slow = secrets.get('ROOTCA', source({ initial_fetch_timeout: '5s' }), 'validation_context');
    rejected.retain();
    slow.retain();
    let done = false;
    const wait = secrets.whenFetched([rejected, slow], clock).then(() => { done = true; });
    w.watches.get('default')!.rejected();
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    clock.advance(5_000);
    await wait;
    expect(stats.counter('sds.default.update_rejected').value()).toBe(1);
    expect(stats.counter('sds.ROOTCA.init_fetch_timeout').value()).toBe(1);
    expect(rejected.current).toBeUndefined();
  });

  it('resolves an sds_config only against a static non-EDS cluster', () => {
    const lookup = new DynamicSecrets().lookup(StaticSecrets.empty, new Set(['sds-agent']));
    expect(lookup.sds!('default', source(), 'tls_certificate', 'x.sds_config').ok).toBe(true);
    const elsewhere = lookup.sds!('default', source({ api_config_source: { ...REST.api_config_source, cluster_names: ['xds'] } }), 'tls_certificate', 'x.sds_config');
    expect(elsewhere.ok ? [] : elsewhere.errors.map((e) => e.path)).toEqual(['x.sds_config.api_config_source.cluster_names[0]']);
  });
});

const TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
const sdsRef = (name: string) => ({ name, sds_config: REST });

describe('a TLS context naming SDS secrets', () => {
  function context(secrets: DynamicSecrets, common: Record<string, unknown>): DownstreamTlsConfig {
    const lookup = secrets.lookup(StaticSecrets.empty, new Set(['sds-agent']));
    const r = withSecrets(lookup, () => parseWith(DownstreamTransportSocketSchema, { name: 'tls', typed_config: { '@type': TLS, common_tls_context: common } }));
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.value.tls!;
  }

  it('is pending until both secrets arrive, rebuilds on rotation and merges the secret\'s SAN matchers', () => {
    const { secrets, w } = running();
    const tls = context(secrets, {
      tls_certificate_sds_secret_configs: [sdsRef('default')],
      combined_validation_context: {
        default_validation_context: { match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: 'spiffe://cluster.local/ns/default/sa/a' } }] },
        validation_context_sds_secret_config: sdsRef('ROOTCA'),
      },
    });
    // Two contexts naming the same secrets share them.
    context(secrets, { tls_certificate_sds_secret_configs: [sdsRef('default')] });
    expect(secrets.all()).toHaveLength(2);
    expect(w.watches.size).toBe(0);
    const release = tls.retain();
    expect([...w.watches.keys()].sort()).toEqual(['ROOTCA', 'default']);
    expect(tls.ready).toBe(false);
    const sans = (uri: string) => ({ URI: [uri], DNS: [], EMAIL: [], IP_ADDRESS: [] });
    w.deliver('default', certificate(), 'v1');
    expect(tls.ready).toBe(false);
    w.deliver('ROOTCA', root({ match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: 'spiffe://cluster.local/ns/default/sa/b' } }] }), 'v1');
    expect(tls.ready).toBe(true);
    expect(tls.validation.sanCheck?.(sans('spiffe://cluster.local/ns/default/sa/b'))).toBe(true);
    const before = tls.secureContextOptions;
    w.deliver('default', certificate(web2), 'v2');
    expect(tls.secureContextOptions).not.toBe(before);
    expect(tls.secureContextOptions.cert).toEqual(Buffer.from(web2.certChainPem));
    w.deliver('ROOTCA', root(), 'v2');
    expect(tls.validation.sanCheck?.(sans('spiffe://cluster.local/ns/default/sa/b'))).toBe(false);
    expect(tls.validation.sanCheck?.(sans('spiffe://cluster.local/ns/default/sa/a'))).toBe(true);
    release();
    expect(w.watches.size).toBe(0);
  });

  it('in the bootstrap: the SDS secrets its contexts name, nothing subscribed before the server runs', () => {
    const r = validateBootstrap({
      static_resources: {
        clusters: [{ name: 'sds-agent', type: 'STATIC', load_assignment: { cluster_name: 'sds-agent', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 15019 } } } }] }] } }],
        listeners: [{
          name: 'in', address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
          filter_chains: [{
            transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: { '@type': TLS, common_tls_context: { tls_certificate_sds_secret_configs: [sdsRef('default')], validation_context_sds_secret_config: sdsRef('ROOTCA') } } },
            filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 'in', route_config: { virtual_hosts: [{ name: 'a', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200 } }] }] },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
            } }],
          }],
        }],
      },
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.dynamicSecrets.all().map((s) => [s.name, s.kind, s.source.clusterName, s.source.initialFetchTimeoutMs])).toEqual([
      ['default', 'tls_certificate', 'sds-agent', 0], ['ROOTCA', 'validation_context', 'sds-agent', 0],
    ]);
    expect(r.value.dynamicSecrets.inUse()).toEqual([]);
    expect(r.value.listeners[0]!.filterChains[0]!.tls!.ready).toBe(false);
  });
});
