// The TLS transport sockets the mesh emits, in the shape Istio's pilot writes them: the inbound
// DownstreamTlsContext of mTLS filter chains (security/authn BuildInboundTLS), the ISTIO_MUTUAL
// UpstreamTlsContext of outbound clusters (cluster_tls.go), and SIMPLE/MUTUAL origination from files.
// Workload certificates come by name from SDS: `default` (the workload's key and chain) and `ROOTCA`.

import { isIP } from 'node:net';
import type { ClientTlsSettings } from '../istio/destination-rule.ts';

type Json = Record<string, unknown>;

const TLS_TRANSPORT_SOCKET = 'envoy.transport_sockets.tls';
const TLS_PKG = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3';

/** Istio's SDS resource names (pkg/security: WorkloadKeyCertResourceName, RootCertReqResourceName). */
export const WORKLOAD_CERT_SECRET = 'default';
export const ROOT_CA_SECRET = 'ROOTCA';

/** Istio's SupportedCiphers for sidecar inbound mTLS (security/authn/utils), TLS 1.2 to 1.3. */
const INBOUND_TLS_PARAMS = Object.freeze({
  tls_minimum_protocol_version: 'TLSv1_2',
  tls_maximum_protocol_version: 'TLSv1_3',
  cipher_suites: ['ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-GCM-SHA256'],
});

/**
 * ALPN of inbound mTLS chains. Istio's HTTP chains advertise ALPNHttp (`h2`, `http/1.1`) and its TCP chains
 * `istio-peer-exchange` first; nodevoy's listeners speak HTTP/1.1 only, and a server lists its preference, so
 * advertising `h2` would make an HTTP/2-capable client negotiate a protocol the chain cannot serve.
 */
export const INBOUND_ALPN: readonly string[] = ['http/1.1'];

/** Istio's ALPNInMeshWithMxc: what an in-mesh HTTP/1.1 client sidecar offers (the server's chain match may use it). */
export const IN_MESH_ALPN: readonly string[] = ['istio-peer-exchange', 'istio'];

function transportSocket(context: 'DownstreamTlsContext' | 'UpstreamTlsContext', config: Json): Json {
  return { name: TLS_TRANSPORT_SOCKET, typed_config: { '@type': `${TLS_PKG}.${context}`, ...config } };
}

/** The certificate and trust of a sidecar: SDS names, and SAN matchers for the peer (none: any mesh identity). */
function istioCommonTlsContext(peerSpiffeIds: readonly string[]): Json {
  return {
    tls_certificate_sds_secret_configs: [{ name: WORKLOAD_CERT_SECRET }],
    combined_validation_context: {
      default_validation_context: peerSpiffeIds.length === 0 ? {} : {
        match_typed_subject_alt_names: peerSpiffeIds.map((id) => ({ san_type: 'URI', matcher: { exact: id } })),
      },
      validation_context_sds_secret_config: { name: ROOT_CA_SECRET },
    },
  };
}

/**
 * An inbound mTLS filter chain's transport socket (STRICT and PERMISSIVE): the client must present a
 * certificate chaining to ROOTCA. Which identities may call is the RBAC filters' decision, not the handshake's.
 */
export function inboundMtlsSocket(): Json {
  return transportSocket('DownstreamTlsContext', {
    common_tls_context: { tls_params: INBOUND_TLS_PARAMS, alpn_protocols: INBOUND_ALPN, ...istioCommonTlsContext([]) },
    require_client_certificate: true,
  });
}

/** ISTIO_MUTUAL (and auto mTLS): the sidecar's certificate, ROOTCA, the destination's identities as SANs. */
export function istioMutualSocket(sni: string, peerSpiffeIds: readonly string[]): Json {
  return transportSocket('UpstreamTlsContext', {
    common_tls_context: { alpn_protocols: IN_MESH_ALPN, ...istioCommonTlsContext(peerSpiffeIds) },
    sni,
  });
}

/**
 * A SAN of DestinationRule `subjectAltNames`: a URI (`spiffe://…`, any `scheme://`), an IP address or a DNS
 * name, matched exactly against that SAN type.
 */
function sanMatcher(san: string): Json {
  const type = san.includes('://') ? 'URI' : isIP(san) !== 0 ? 'IP_ADDRESS' : 'DNS';
  return { san_type: type, matcher: { exact: san } };
}

/**
 * SIMPLE / MUTUAL from files (DataSource filenames, read by the proxy when the cluster is loaded):
 * caCertificates → trusted_ca (absent: the server certificate is not verified, as Envoy does without a
 * trusted CA; nodevoy has no system roots), subjectAltNames → SAN matchers, MUTUAL's client certificate.
 * insecureSkipVerify drops the validation context, SANs included (Istio's behaviour).
 */
export function fileTlsSocket(tls: ClientTlsSettings): Json {
  const validation: Json = tls.insecureSkipVerify === true ? {} : {
    ...(tls.caCertificates === undefined ? {} : { trusted_ca: { filename: tls.caCertificates } }),
    ...(tls.subjectAltNames.length === 0 ? {} : { match_typed_subject_alt_names: tls.subjectAltNames.map(sanMatcher) }),
  };
  const common: Json = {
    ...(tls.mode === 'MUTUAL' ? { tls_certificates: [{ certificate_chain: { filename: tls.clientCertificate }, private_key: { filename: tls.privateKey } }] } : {}),
    ...(Object.keys(validation).length === 0 ? {} : { validation_context: validation }),
  };
  return transportSocket('UpstreamTlsContext', { common_tls_context: common, ...(tls.sni === undefined ? {} : { sni: tls.sni }) });
}
