// Istio's telemetry HTTP filters as istiod writes them into sidecar HCMs: the peer metadata exchange
// (`istio.metadata_exchange`, pilot's xdsfilters.SidecarInbound/OutboundMetadataFilter, a TypedStruct of
// io.istio.http.peer_metadata.Config) first, and the stats filter (`istio.stats`, stats.PluginConfig, from the
// default Telemetry's Prometheus provider) before the router. Inbound stats never take the Host header as the
// service (disable_host_header_fallback), as istiod sets for inbound listeners.

type Json = Record<string, unknown>;

const TYPED_STRUCT = 'type.googleapis.com/udpa.type.v1.TypedStruct';
const PEER_METADATA_TYPE_URL = 'type.googleapis.com/io.istio.http.peer_metadata.Config';
const STATS_TYPE_URL = 'type.googleapis.com/stats.PluginConfig';

const metadataExchange = (value: Json): Json => ({ name: 'istio.metadata_exchange', typed_config: { '@type': TYPED_STRUCT, type_url: PEER_METADATA_TYPE_URL, value } });

const INBOUND_MX = metadataExchange({
  downstream_discovery: [{ istio_headers: {} }, { workload_discovery: {} }],
  downstream_propagation: [{ istio_headers: {} }],
});
const OUTBOUND_MX = metadataExchange({
  upstream_discovery: [{ istio_headers: {} }, { workload_discovery: {} }],
  upstream_propagation: [{ istio_headers: {} }],
});
const INBOUND_STATS: Json = { name: 'istio.stats', typed_config: { '@type': STATS_TYPE_URL, disable_host_header_fallback: true } };
const OUTBOUND_STATS: Json = { name: 'istio.stats', typed_config: { '@type': STATS_TYPE_URL } };

/** The filters around a sidecar HCM's own: `first` opens the chain, `beforeRouter` goes right before the router. */
export interface TelemetryFilters {
  readonly first: readonly Json[];
  readonly beforeRouter: readonly Json[];
}

const NONE: TelemetryFilters = { first: [], beforeRouter: [] };

export function telemetryFilters(enabled: boolean, direction: 'INBOUND' | 'OUTBOUND'): TelemetryFilters {
  if (!enabled) return NONE;
  return direction === 'INBOUND' ? { first: [INBOUND_MX], beforeRouter: [INBOUND_STATS] } : { first: [OUTBOUND_MX], beforeRouter: [OUTBOUND_STATS] };
}
