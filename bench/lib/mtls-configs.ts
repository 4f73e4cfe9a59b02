// The two sidecar bootstraps of the mTLS benchmark (bench/mtls-bench.ts): the client sidecar (the outbound
// config shared with Envoy, bench/configs/nodevoy-envoy.yaml) whose cluster points at the server sidecar, and
// the server sidecar (bench/configs/nodevoy-inbound.yaml) in front of the upstream; for the mTLS variant, the
// TLS transport sockets Istio would give them, with certificates from files. Pure: text in, text out.

import { parseDocument } from 'yaml';
import { renderBootstrap } from './templates.ts';

const TLS_PKG = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3';

/** A workload certificate directory as `nodevoy certs issue` writes it (Istio's /etc/certs names). */
export interface CertDirFiles {
  readonly certChain: string;
  readonly key: string;
  readonly rootCert: string;
}

export interface SidecarPairPorts {
  readonly clientAdminPort: number;
  readonly clientListenerPort: number;
  readonly serverAdminPort: number;
  readonly serverListenerPort: number;
  readonly upstreamPort: number;
}

export interface SidecarPairTls {
  readonly clientFiles: CertDirFiles;
  readonly serverFiles: CertDirFiles;
  /** The SPIFFE IDs each side demands of the other (URI SAN, exact). */
  readonly clientId: string;
  readonly serverId: string;
  /** SNI the client sidecar sends (Istio: `outbound_.<port>_.<subset>_.<host>`). */
  readonly sni: string;
}

function commonTlsContext(files: CertDirFiles, peerId: string): Record<string, unknown> {
  return {
    tls_certificates: [{ certificate_chain: { filename: files.certChain }, private_key: { filename: files.key } }],
    validation_context: {
      trusted_ca: { filename: files.rootCert },
      match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: peerId } }],
    },
  };
}

/**
 * The client sidecar's cluster transport socket (Istio's ISTIO_MUTUAL with files): its certificate, the
 * mesh root, the server's SPIFFE ID, SNI. TLS versions are Envoy's client defaults (1.2 to 1.2), as Istio
 * leaves them.
 */
export function upstreamMtlsSocket(files: CertDirFiles, serverId: string, sni: string): Record<string, unknown> {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: { '@type': `${TLS_PKG}.UpstreamTlsContext`, common_tls_context: commonTlsContext(files, serverId), sni },
  };
}

/**
 * The server sidecar's filter chain transport socket (Istio's inbound STRICT mTLS): a client certificate is
 * required, chained to the mesh root, with the client's SPIFFE ID; TLS 1.2 to 1.3 and `http/1.1` ALPN as
 * nodevoy's control plane writes it.
 */
export function downstreamMtlsSocket(files: CertDirFiles, clientId: string): Record<string, unknown> {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': `${TLS_PKG}.DownstreamTlsContext`,
      require_client_certificate: true,
      common_tls_context: {
        tls_params: { tls_minimum_protocol_version: 'TLSv1_2', tls_maximum_protocol_version: 'TLSv1_3' },
        alpn_protocols: ['http/1.1'],
        ...commonTlsContext(files, clientId),
      },
    },
  };
}

const SOCKET_PATHS = {
  listener: ['static_resources', 'listeners', 0, 'filter_chains', 0, 'transport_socket'],
  cluster: ['static_resources', 'clusters', 0, 'transport_socket'],
} as const;

/** The bootstrap with `socket` as the transport socket of its first listener's first filter chain, or of its first cluster. */
export function withTransportSocket(yamlText: string, where: keyof typeof SOCKET_PATHS, socket: Readonly<Record<string, unknown>>): string {
  const doc = parseDocument(yamlText);
  if (doc.errors.length > 0) throw new Error(`bootstrap: ${doc.errors.map((e) => e.message).join('; ')}`);
  const path = SOCKET_PATHS[where];
  if (!doc.hasIn(path.slice(0, -1))) throw new Error(`bootstrap: no ${path.slice(0, -1).join('.')} to put a transport socket on`);
  doc.setIn(path, doc.createNode(socket));
  return doc.toString({ lineWidth: 0 });
}

/**
 * Both sidecars' bootstraps for one variant: client sidecar (outbound template) → server sidecar (inbound
 * template) → upstream, with this run's ports; with `tls`, mTLS between the two sidecars.
 */
export function sidecarPairBootstraps(
  templates: { readonly outbound: string; readonly inbound: string },
  ports: SidecarPairPorts,
  tls?: SidecarPairTls,
): { client: string; server: string } {
  const client = renderBootstrap(templates.outbound, { adminPort: ports.clientAdminPort, listenerPort: ports.clientListenerPort, upstreamPort: ports.serverListenerPort });
  const server = renderBootstrap(templates.inbound, { adminPort: ports.serverAdminPort, listenerPort: ports.serverListenerPort, upstreamPort: ports.upstreamPort });
  if (tls === undefined) return { client, server };
  return {
    client: withTransportSocket(client, 'cluster', upstreamMtlsSocket(tls.clientFiles, tls.serverId, tls.sni)),
    server: withTransportSocket(server, 'listener', downstreamMtlsSocket(tls.serverFiles, tls.clientId)),
  };
}
