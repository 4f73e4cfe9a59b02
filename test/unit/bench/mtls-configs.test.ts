// Tests bench/lib/mtls-configs.ts: the two sidecar bootstraps of the mTLS benchmark get this run's ports,
// the mTLS variant gets its transport sockets where Envoy reads them, and nodevoy's own bootstrap validation
// accepts all four (with certificates issued by certs/ into a temp dir).

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { WORKLOAD_FILES, writeWorkloadFiles } from '../../../certs/files.ts';
import { validateBootstrap } from '../../../proxy/config/bootstrap.ts';
import { sidecarPairBootstraps, withTransportSocket, type CertDirFiles, type SidecarPairTls } from '../../../bench/lib/mtls-configs.ts';
import { SIDECAR_BOOTSTRAP } from '../../../bench/lib/peers.ts';
import { identity, newCa, workloadCert } from '../certs/fixtures.ts';

const templates = {
  outbound: readFileSync(SIDECAR_BOOTSTRAP, 'utf8'),
  inbound: readFileSync(new URL('../../../bench/configs/nodevoy-inbound.yaml', import.meta.url), 'utf8'),
};
const ports = { clientAdminPort: 4001, clientListenerPort: 4002, serverAdminPort: 4003, serverListenerPort: 4004, upstreamPort: 4005 };
const CLIENT_ID = 'spiffe://cluster.local/ns/default/sa/client';
const SERVER_ID = 'spiffe://cluster.local/ns/default/sa/server';
const SNI = 'outbound_.8080_._.bench-upstream.default.svc.cluster.local';

type Doc = { static_resources: { listeners: { address: unknown; filter_chains: { transport_socket?: { typed_config: Record<string, unknown> } }[] }[]; clusters: Record<string, any>[] }; admin: unknown };

let dir: string;
let tls: SidecarPairTls;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mtls-configs-test-'));
  const ca = newCa({ keyType: 'ec' });
  const files = (sa: string): CertDirFiles => {
    writeWorkloadFiles(join(dir, sa), workloadCert(ca, identity('default', sa), { keyType: 'ec' }));
    return { certChain: join(dir, sa, WORKLOAD_FILES.certChain), key: join(dir, sa, WORKLOAD_FILES.key), rootCert: join(dir, sa, WORKLOAD_FILES.rootCert) };
  };
  tls = { clientFiles: files('client'), serverFiles: files('server'), clientId: CLIENT_ID, serverId: SERVER_ID, sni: SNI };
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const portOf = (address: unknown): number => (address as { socket_address: { port_value: number } }).socket_address.port_value;
const endpointPort = (cluster: Record<string, any>): number => portOf(cluster['load_assignment'].endpoints[0].lb_endpoints[0].endpoint.address);

describe('sidecarPairBootstraps', () => {
  it('plaintext: client sidecar → server sidecar → upstream with this run\'s ports, no transport socket', () => {
    const { client, server } = sidecarPairBootstraps(templates, ports);
    const [c, s] = [parse(client) as Doc, parse(server) as Doc];
    expect([portOf((c.admin as { address: unknown }).address), portOf(c.static_resources.listeners[0]!.address), endpointPort(c.static_resources.clusters[0]!)])
      .toEqual([4001, 4002, 4004]);
    expect([portOf((s.admin as { address: unknown }).address), portOf(s.static_resources.listeners[0]!.address), endpointPort(s.static_resources.clusters[0]!)])
      .toEqual([4003, 4004, 4005]);
    expect(client).not.toContain('transport_socket');
    expect(server).not.toContain('transport_socket');
  });

  it('mTLS: the client\'s cluster originates TLS to the server\'s SPIFFE ID, the server\'s chain requires the client\'s', () => {
    const { client, server } = sidecarPairBootstraps(templates, ports, tls);
    const upstream = (parse(client) as Doc).static_resources.clusters[0]!['transport_socket'].typed_config;
    expect(upstream).toEqual({
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      sni: SNI,
      common_tls_context: {
        tls_certificates: [{ certificate_chain: { filename: tls.clientFiles.certChain }, private_key: { filename: tls.clientFiles.key } }],
        validation_context: { trusted_ca: { filename: tls.clientFiles.rootCert }, match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: SERVER_ID } }] },
      },
    });
    const downstream = (parse(server) as Doc).static_resources.listeners[0]!.filter_chains[0]!.transport_socket!.typed_config;
    expect(downstream).toMatchObject({
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
      require_client_certificate: true,
      common_tls_context: {
        tls_certificates: [{ certificate_chain: { filename: tls.serverFiles.certChain }, private_key: { filename: tls.serverFiles.key } }],
        validation_context: { trusted_ca: { filename: tls.serverFiles.rootCert }, match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: CLIENT_ID } }] },
      },
    });
  });

  it('every bootstrap passes nodevoy\'s own validation (TLS files read, contexts built)', () => {
    const plain = sidecarPairBootstraps(templates, ports);
    const mtls = sidecarPairBootstraps(templates, ports, tls);
    for (const text of [plain.client, plain.server, mtls.client, mtls.server]) {
      const r = validateBootstrap(parse(text));
      expect(r.ok ? [] : r.errors).toEqual([]);
    }
  });
});

describe('withTransportSocket', () => {
  it('refuses a bootstrap without the listener or cluster to put it on', () => {
    expect(() => withTransportSocket('static_resources: { listeners: [] }\n', 'listener', {})).toThrow(/no static_resources\.listeners\.0\.filter_chains\.0/);
    expect(() => withTransportSocket('static_resources: {}\n', 'cluster', {})).toThrow(/no static_resources\.clusters\.0/);
  });
});
