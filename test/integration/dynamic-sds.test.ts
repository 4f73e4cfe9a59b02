// SDS from a management server, for TLS contexts that arrive by LDS and CDS: an mTLS listener and an mTLS
// cluster naming `default` and `ROOTCA` with an sds_config share one subscription; a bad Secret version is
// NACKed with every error and the previous one keeps serving; a good one rotates new handshakes; secrets no
// listener or cluster names any more are unsubscribed.

import { describe, expect, it } from 'vitest';
import { createTestCa, spiffeId, type TestCert } from '../support/test-pki.ts';
import { harness, section, type Json } from '../support/xds-harness.ts';
import { mtlsGet, tlsUpstream } from '../support/sds-sidecar.ts';
import { testScope } from '../support/scope.ts';
import { inlineListener, restSource } from '../support/xds-resources.ts';
import { eventually } from '../unit/control-client/fake-xds-server.ts';

const scope = testScope();
const ca = createTestCa('mesh root');
const WEB = spiffeId('default', 'web');
const REVIEWS = spiffeId('default', 'reviews');
const TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.';

const sds = (name: string, source: Json = restSource()): Json => ({ name, sds_config: source });
const commonTls = (peer: string, source?: Json): Json => ({
  tls_certificate_sds_secret_configs: [sds('default', source)],
  combined_validation_context: {
    default_validation_context: { match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: peer } }] },
    validation_context_sds_secret_config: sds('ROOTCA', source),
  },
});

/** An mTLS listener (LDS) accepting sleep, routing to `reviews`. */
function mtlsListener(source?: Json): Json {
  const l = inlineListener('inbound', 'reviews');
  const chain = (l.filter_chains as Json[])[0]!;
  chain.transport_socket = { name: 'envoy.transport_sockets.tls', typed_config: { '@type': `${TLS}DownstreamTlsContext`, require_client_certificate: true, common_tls_context: commonTls(spiffeId('default', 'sleep'), source) } };
  return l;
}

/** A CDS cluster dialling `port` with mTLS, expecting reviews' SPIFFE ID. */
function mtlsCluster(port: number): Json {
  return {
    name: 'reviews', type: 'STATIC', connect_timeout: '1s',
    transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: { '@type': `${TLS}UpstreamTlsContext`, common_tls_context: commonTls(REVIEWS) } },
    load_assignment: { cluster_name: 'reviews', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] },
  };
}

const b64 = (pem: string): string => Buffer.from(pem).toString('base64');
const certificateSecret = (cert: TestCert, key = cert.keyPem): Json => ({
  name: 'default', tls_certificate: { certificate_chain: { inline_bytes: b64(cert.certPem) }, private_key: { inline_bytes: b64(key) } },
});
const rootSecret = (pem = ca.certPem): Json => ({ name: 'ROOTCA', validation_context: { trusted_ca: { inline_string: pem } } });

describe('SDS secrets of LDS listeners and CDS clusters', () => {
  it('shares one subscription, NACKs a bad version keeping the last good one, rotates on a good one, and unsubscribes unused secrets', async () => {
    const web1 = ca.issue({ uris: [WEB] });
    const web2 = ca.issue({ uris: [WEB] });
    const reviewsCert = ca.issue({ uris: [REVIEWS] });
    const reviews = await tlsUpstream(scope, { cert: reviewsCert.certPem, key: reviewsCert.keyPem, ca: ca.certPem }, 'reviews');
    const h = await harness(scope, {
      clusters: ['1', [mtlsCluster(reviews.port)]],
      listeners: ['1', [mtlsListener()]],
      secrets: ['1', [certificateSecret(web1), rootSecret()]],
    });
    await eventually(() => h.counter('sds.default.update_success') === 1 && h.counter('sds.ROOTCA.update_success') === 1, 'the first secrets');
    const sleep = ca.issue({ uris: [spiffeId('default', 'sleep')] });
    const client = { cert: sleep.certPem, key: sleep.keyPem, ca: ca.certPem };
    const port = h.proxy.listenerPort('inbound');
    const first = await mtlsGet(port, '/', client);
    expect([first.status, first.body]).toEqual([200, 'reviews']);
    expect(reviews.clientSerials).toEqual([first.serial]);
    // One SDS subscription asking for both names, for the listener and the cluster alike.
    const names = h.cp.received.filter((r) => r.type === 'secrets').at(-1)!.request.resource_names;
    expect([...names].sort()).toEqual(['ROOTCA', 'default']);

    // A chain that does not match its key (the CA's), and a trust bundle that is no PEM: one NACK naming both.
    expect(await h.push('secrets', '2', [certificateSecret(web2, ca.keyPem), rootSecret('not a certificate')])).toBe('nack');
    const nack = h.cp.nacks('secrets').at(-1)!.error_detail!.message;
    expect(nack).toContain('resources[0].tls_certificate.private_key: does not match the first certificate of certificate_chain');
    expect(nack).toContain('resources[1].validation_context.trusted_ca');
    expect(h.counter('sds.default.update_rejected')).toBe(1);
    expect((await mtlsGet(port, '/', client)).serial).toBe(first.serial);

    expect(await h.push('secrets', '3', [certificateSecret(web2), rootSecret()])).toBe('ack');
    const rotated = await mtlsGet(port, '/', client);
    expect(rotated.status).toBe(200);
    expect(rotated.serial).not.toBe(first.serial);
    expect(reviews.clientSerials.at(-1)).toBe(rotated.serial);
    const secrets = section(await h.dump(), 'SecretsConfigDump') as { dynamic_active_secrets: { name: string; version_info: string }[] };
    expect(secrets.dynamic_active_secrets.map((s) => [s.name, s.version_info]).sort()).toEqual([['ROOTCA', '1'], ['default', '3']]);

    // No listener or cluster names them any more: unsubscribed, gone from /config_dump.
    expect(await h.push('listeners', '2', [])).toBe('ack');
    expect(await h.push('clusters', '2', [])).toBe('ack');
    await eventually(() => h.proxy.bootstrap.dynamicSecrets.inUse().length === 0, 'the secrets released');
    const polls = h.cp.count('secrets');
    h.clock.advance(10_000);
    await new Promise((r) => setImmediate(r));
    expect(h.cp.count('secrets')).toBe(polls);
    const after = section(await h.dump(), 'SecretsConfigDump') as { dynamic_active_secrets: unknown[] };
    expect(after.dynamic_active_secrets).toEqual([]);
  });

  it('NACKs a listener whose sds_config polls no static cluster, and a Secret of the wrong kind', async () => {
    const h = await harness(scope, { listeners: ['1', []], clusters: ['1', []] });
    const elsewhere = { ...restSource(), api_config_source: { ...(restSource().api_config_source as Json), cluster_names: ['nowhere'] } };
    expect(await h.push('listeners', '2', [mtlsListener(elsewhere)])).toBe('nack');
    expect(h.cp.nacks('listeners').at(-1)!.error_detail!.message).toContain(
      'resources[0].filter_chains[0].transport_socket.typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].sds_config.api_config_source.cluster_names[0]: envoy.config.core.v3.ApiConfigSource must have a statically defined non-EDS cluster',
    );
    expect(h.proxy.bootstrap.dynamicSecrets.inUse()).toEqual([]);

    // ROOTCA as a certificate: rejected, the listener's context stays without it (not ready).
    h.cp.set('secrets', '1', [{ ...certificateSecret(ca.issue({ uris: [WEB] })), name: 'ROOTCA' }, certificateSecret(ca.issue({ uris: [WEB] }))]);
    expect(await h.push('listeners', '3', [mtlsListener()])).toBe('ack');
    await eventually(() => h.counter('sds.ROOTCA.update_rejected') === 1, 'the ROOTCA rejection');
    expect(h.cp.nacks('secrets').at(-1)!.error_detail!.message).toContain('resources[0].tls_certificate: secret "ROOTCA" holds a tls_certificate, but a TLS context uses it as a validation_context');
    const warming = section(await h.dump(), 'SecretsConfigDump') as { dynamic_warming_secrets: { name: string }[] };
    expect(warming.dynamic_warming_secrets.map((s) => s.name)).toContain('ROOTCA');
  });
});
