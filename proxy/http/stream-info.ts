// StreamInfo: what is known about one HTTP stream for logs, stats and headers (Envoy's StreamInfo).
// Filled by the connection manager and the router; read by access log formatters and header formatters.

import type { WorkloadMetadata } from '../common/workload-metadata.ts';
import type { Host } from '../upstream/types.ts';

export interface StreamInfo {
  /** Wall-clock start (ms since epoch) for %START_TIME%. */
  readonly startTime: number;
  /** Monotonic start (ms) for durations. */
  readonly startMonotonic: number;
  /** HTTP/1.0, HTTP/1.1, HTTP/2. */
  protocol: string;
  responseCode: number;
  /** Bit set of ResponseFlag values. */
  responseFlags: number;
  responseCodeDetails: string;
  bytesReceived: number;
  bytesSent: number;
  /** Monotonic ms when the last downstream request byte arrived / first response byte was sent / stream ended. */
  lastDownstreamRxByteReceived?: number;
  firstUpstreamTxByteSent?: number;
  firstUpstreamRxByteReceived?: number;
  firstDownstreamTxByteSent?: number;
  lastDownstreamTxByteSent?: number;
  /** Monotonic ms when the stream ended however it ended (completed, reset, downstream gone). */
  streamEnd?: number;
  routeName: string;
  /** `ip:port` of the chosen upstream host. */
  upstreamHost: string;
  /** The cluster's name (%UPSTREAM_CLUSTER_RAW%). */
  upstreamCluster: string;
  /** Its observability name: alt_stat_name, else the name (%UPSTREAM_CLUSTER%); '' until a cluster is chosen. */
  upstreamClusterObservabilityName: string;
  upstreamLocalAddress: string;
  upstreamTransportFailureReason: string;
  /** The trusted client address after XFF processing, `ip:port` (%DOWNSTREAM_REMOTE_ADDRESS%). */
  downstreamRemoteAddress: string;
  /** The physical peer, `ip:port` (%DOWNSTREAM_DIRECT_REMOTE_ADDRESS%). */
  downstreamDirectRemoteAddress: string;
  downstreamLocalAddress: string;
  /** SNI the downstream client sent (%REQUESTED_SERVER_NAME%, RBAC requested_server_name); '' = none. */
  requestedServerName: string;
  /**
   * The downstream TLS session (Envoy's `downstreamAddressProvider().sslConnection()`); undefined on a
   * plaintext connection. Filled by whoever terminates downstream TLS, once per connection.
   */
  downstreamSsl?: SslConnectionInfo;
  connectionTerminationDetails: string;
  /** Dynamic metadata by filter namespace. */
  readonly dynamicMetadata: Map<string, Record<string, unknown>>;
  /**
   * This proxy's side of the downstream TLS session (Envoy's uriSanLocalCertificate()), read lazily; undefined on
   * a plaintext connection. Set with downstreamSsl.
   */
  downstreamLocalSsl?: { readonly uriSanLocalCertificate: readonly string[] };
  /** The host the router sent the (last) attempt to (Envoy's upstreamInfo().upstreamHost()); undefined = none. */
  upstreamHostDescription?: Host;
  /**
   * Istio's peer metadata (its filter state `downstream_peer` / `upstream_peer`): the workload that sent the
   * request, and the one that answered, as the peer metadata exchange (x-envoy-peer-metadata) told them.
   */
  downstreamPeer?: WorkloadMetadata;
  upstreamPeer?: WorkloadMetadata;
}

/**
 * What a downstream TLS session proved about the peer (Envoy's Ssl::ConnectionInfo, peer side only).
 * Without a client certificate the lists are empty and the subject is ''. Read by RBAC `authenticated`.
 */
export interface SslConnectionInfo {
  /** URI SANs of the peer certificate in certificate order, e.g. `spiffe://cluster.local/ns/default/sa/sleep`. */
  readonly uriSanPeerCertificate: readonly string[];
  /** DNS SANs of the peer certificate in certificate order. */
  readonly dnsSansPeerCertificate: readonly string[];
  /** The peer certificate's subject in RFC 2253 form (`CN=sleep,O=example`), as Envoy prints it. */
  readonly subjectPeerCertificate: string;
}

export function newStreamInfo(startTime: number, startMonotonic: number): StreamInfo {
  return {
    startTime, startMonotonic, protocol: 'HTTP/1.1', responseCode: 0, responseFlags: 0, responseCodeDetails: '',
    bytesReceived: 0, bytesSent: 0, routeName: '', upstreamHost: '', upstreamCluster: '', upstreamClusterObservabilityName: '',
    upstreamLocalAddress: '', upstreamTransportFailureReason: '', downstreamRemoteAddress: '', downstreamDirectRemoteAddress: '',
    downstreamLocalAddress: '', requestedServerName: '', connectionTerminationDetails: '', dynamicMetadata: new Map(),
    // Declared up front so every StreamInfo has one shape (the filters that set them run on most streams).
    downstreamLocalSsl: undefined, upstreamHostDescription: undefined, downstreamPeer: undefined, upstreamPeer: undefined,
  };
}
