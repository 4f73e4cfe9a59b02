// Static secrets (static_resources.secrets) and the TLS contexts that name them: config errors with paths,
// files that do not exist yet under a watched_directory, reloads that refuse a mismatched pair, /certs and
// /config_dump without key material, and the agent's node.metadata settings.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCa } from '../../../certs/ca.ts';
import { issueWorkloadCertificate } from '../../../certs/local-issuer.ts';
import { agentConfigFromMetadata, parseTtl } from '../../../proxy/agent/agent-config.ts';
import { renderCertificates } from '../../../proxy/admin/certs.ts';
import { buildConfigDump } from '../../../proxy/admin/config-dump.ts';
import { validateBootstrap } from '../../../proxy/config/bootstrap.ts';
import { createLogger } from '../../../proxy/common/logger.ts';
import { StatsStore } from '../../../proxy/stats/store.ts';
import { FakeClock } from '../../support/fake-clock.ts';

const clock = new FakeClock(Date.now());
const ca = createCa({ trustDomain: 'cluster.local', clock });
const identity = (sa: string) => ({ trustDomain: 'cluster.local', namespace: 'default', serviceAccount: sa });
const issue = (sa: string) => {
  const r = issueWorkloadCertificate(ca, identity(sa), { clock });
  if (!r.ok) throw new Error(r.reason);
  return r.value;
};
const web = issue('web');

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'nodevoy-secrets-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const fileSecrets = (d: string, watched = true) => [
  { name: 'default', tls_certificate: { certificate_chain: { filename: `${d}/cert-chain.pem` }, private_key: { filename: `${d}/key.pem` }, ...(watched ? { watched_directory: { path: d } } : {}) } },
  { name: 'ROOTCA', validation_context: { trusted_ca: { filename: `${d}/root-cert.pem` }, ...(watched ? { watched_directory: { path: d } } : {}) } },
];

const writeSet = (d: string, files: { certChainPem: string; keyPem: string; rootCertPem: string }) => {
  writeFileSync(join(d, 'cert-chain.pem'), files.certChainPem);
  writeFileSync(join(d, 'key.pem'), files.keyPem);
  writeFileSync(join(d, 'root-cert.pem'), files.rootCertPem);
};

/** A bootstrap whose one listener's DownstreamTlsContext has `common` (Istio's shape by default). */
function bootstrap(secrets: unknown[], common: unknown = {
  tls_certificate_sds_secret_configs: [{ name: 'default' }],
  combined_validation_context: {
    default_validation_context: { match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { prefix: 'spiffe://cluster.local/' } }] },
    validation_context_sds_secret_config: { name: 'ROOTCA' },
  },
}): unknown {
  return {
    static_resources: {
      secrets,
      listeners: [{
        name: 'in', address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
        filter_chains: [{
          transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext', common_tls_context: common } },
          filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
            stat_prefix: 'in', route_config: { virtual_hosts: [{ name: 'a', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200 } }] }] },
            http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
          } }],
        }],
      }],
    },
  };
}

const errorsOf = (input: unknown) => {
  const r = validateBootstrap(input);
  return r.ok ? [] : r.errors.map((e) => ({ path: e.path, kind: e.kind }));
};
const TS = 'static_resources.listeners[0].filter_chains[0].transport_socket.typed_config.common_tls_context';

describe('static secrets in the bootstrap', () => {
  it('resolves Istio\'s default / ROOTCA references and builds a ready context', () => {
    writeSet(dir, web);
    const r = validateBootstrap(bootstrap(fileSecrets(dir)));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const tls = r.value.listeners[0]!.filterChains[0]!.tls!;
    expect(tls.ready).toBe(true);
    expect(tls.validation.verifyChain).toBe(true);
    expect(tls.validation.sanCheck?.({ URI: ['spiffe://cluster.local/ns/a/sa/b'], DNS: [], EMAIL: [], IP_ADDRESS: [] })).toBe(true);
    expect(tls.validation.sanCheck?.({ URI: ['spiffe://evil.example/ns/a/sa/b'], DNS: [], EMAIL: [], IP_ADDRESS: [] })).toBe(false);
  });

  it.each([
    ['an unknown secret name', fileSecrets('/x'), { tls_certificate_sds_secret_configs: [{ name: 'nope' }] }, [{ path: `${TS}.tls_certificate_sds_secret_configs[0].name`, kind: 'invalid' }]],
    ['a validation secret used as a certificate', fileSecrets('/x'), { tls_certificate_sds_secret_configs: [{ name: 'ROOTCA' }] }, [{ path: `${TS}.tls_certificate_sds_secret_configs[0].name`, kind: 'invalid' }]],
    ['a secret over SDS from a cluster that is not a static one', [], { tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: { api_config_source: { api_type: 'REST', cluster_names: ['sds'], refresh_delay: '1s' } } }] },
      [{ path: `${TS}.tls_certificate_sds_secret_configs[0].sds_config.api_config_source.cluster_names[0]`, kind: 'invalid' }]],
  ])('%s is an error at its path', (_n, secrets, common, expected) => {
    expect(errorsOf(bootstrap(secrets, common))).toEqual(expect.arrayContaining(expected));
  });

  it('reports a duplicate name, a secret with both kinds, and unreadable files without watched_directory', () => {
    const both = { name: 'x', tls_certificate: fileSecrets('/x')[0]!.tls_certificate, validation_context: fileSecrets('/x')[1]!.validation_context };
    expect(errorsOf(bootstrap([both]))).toEqual(expect.arrayContaining([{ path: 'static_resources.secrets[0].validation_context', kind: 'invalid' }]));
    const dup = [...fileSecrets(dir), fileSecrets(dir)[0]!];
    writeSet(dir, web);
    expect(errorsOf(bootstrap(dup))).toEqual([{ path: 'static_resources.secrets[2].name', kind: 'invalid' }]);
    expect(errorsOf(bootstrap(fileSecrets(join(dir, 'missing'), false)))).toEqual(expect.arrayContaining([
      { path: 'static_resources.secrets[0].tls_certificate.certificate_chain.filename', kind: 'invalid' },
    ]));
  });

  it('waits for files that do not exist yet under a watched_directory, then loads them', async () => {
    const r = validateBootstrap(bootstrap(fileSecrets(dir)));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const secrets = r.value.secrets;
    expect(secrets.pending().map((s) => s.name)).toEqual(['default', 'ROOTCA']);
    expect(r.value.listeners[0]!.filterChains[0]!.tls!.ready).toBe(false);
    const ready = secrets.whenReady();
    writeSet(dir, web);
    secrets.reloadDirectory(dir);
    await ready;
    expect(r.value.listeners[0]!.filterChains[0]!.tls!.ready).toBe(true);
  });

  it('keeps the served pair when a reload finds a key that does not match, and swaps a good one', () => {
    writeSet(dir, web);
    const r = validateBootstrap(bootstrap(fileSecrets(dir)));
    if (!r.ok) throw new Error('invalid');
    const stats = new StatsStore();
    const lines: string[] = [];
    r.value.secrets.start({ clock, log: createLogger('info', { sink: (l) => lines.push(l) }).get('secret'), stats });
    const tls = r.value.listeners[0]!.filterChains[0]!.tls!;
    const before = tls.secureContextOptions;
    const next = issue('web');
    writeFileSync(join(dir, 'cert-chain.pem'), next.certChainPem); // key.pem still the old one
    r.value.secrets.reloadDirectory(dir);
    expect(stats.counter('sds.default.key_rotation_failed').value()).toBe(1);
    expect(tls.secureContextOptions).toBe(before);
    writeFileSync(join(dir, 'key.pem'), next.keyPem);
    r.value.secrets.reloadDirectory(dir);
    expect(stats.counter('sds.default.update_success').value()).toBe(1);
    expect(tls.secureContextOptions).not.toBe(before);
    expect(lines.join('')).not.toContain('PRIVATE KEY');
    r.value.secrets.close();
  });

  it('/certs and /config_dump show certificates, never the key', () => {
    const inline = [{ name: 'default', tls_certificate: { certificate_chain: { inline_string: web.certChainPem }, private_key: { inline_string: web.keyPem } } },
      { name: 'ROOTCA', validation_context: { trusted_ca: { inline_string: web.rootCertPem } } }];
    const r = validateBootstrap(bootstrap(inline));
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const certs = renderCertificates(r.value.secrets.all(), clock.now());
    expect(certs.certificates[0]!.cert_chain[0]).toMatchObject({
      path: '<inline>', serial_number: web.svid.certificate.serialNumber.toLowerCase(),
      subject_alt_names: [{ uri: 'spiffe://cluster.local/ns/default/sa/web' }], days_until_expiration: '0',
    });
    expect(certs.certificates[1]!.ca_cert).toHaveLength(1);
    const dump = JSON.stringify(buildConfigDump(r.value.configDump, 'now', {
      secrets: r.value.secrets.all().map((s) => ({ name: s.name, secret: s.wire, lastUpdatedMs: s.lastUpdatedMs })),
    }));
    const keyBody = web.keyPem.split('\n')[1]!;
    for (const text of [JSON.stringify(certs), dump]) {
      expect(text).not.toContain('PRIVATE KEY');
      expect(text).not.toContain(keyBody);
    }
    expect(dump).toContain('"static_secrets":[{"name":"default"');
  });
});

describe('workload agent settings (node.metadata)', () => {
  it.each([
    ['no CA_ADDRESS: no agent', {}, { ok: true, value: null }],
    ['Istio-style metadata', { CA_ADDRESS: 'http://127.0.0.1:15012', NAMESPACE: 'default', SERVICE_ACCOUNT: 'web', SECRET_TTL: '24h0m0s' },
      { ok: true, value: { caAddress: 'http://127.0.0.1:15012', certDir: './certs', identity: identity('web'), ttlSeconds: 86_400 } }],
  ])('%s', (_n, metadata, expected) => {
    expect(agentConfigFromMetadata(metadata)).toEqual(expected);
  });

  it.each([
    ['a CA_ADDRESS that is no URL', { CA_ADDRESS: 'ca:1', NAMESPACE: 'a', SERVICE_ACCOUNT: 'b' }, 'node.metadata.CA_ADDRESS'],
    ['no SERVICE_ACCOUNT', { CA_ADDRESS: 'http://h:1', NAMESPACE: 'a' }, 'node.metadata'],
    ['a bad SECRET_TTL', { CA_ADDRESS: 'http://h:1', NAMESPACE: 'a', SERVICE_ACCOUNT: 'b', SECRET_TTL: 'soon' }, 'node.metadata.SECRET_TTL'],
  ])('%s is an error', (_n, metadata, path) => {
    const r = agentConfigFromMetadata(metadata);
    expect(r.ok ? [] : r.errors.map((e) => e.path)).toEqual([path]);
  });

  it.each([['24h', 86_400], ['1h30m', 5_400], ['90s', 90], ['24h0m0s', 86_400], ['', undefined], ['5d', undefined], ['0s', undefined]])('SECRET_TTL %s', (text, seconds) => {
    expect(parseTtl(text)).toBe(seconds);
  });
});
