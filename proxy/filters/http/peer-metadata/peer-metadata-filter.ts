// Istio's HTTP peer metadata exchange for one stream (istio/proxy peer_metadata filter, `istio_headers`
// method): learns the peer from x-envoy-peer-metadata(-id) — the downstream's on the request, the upstream's on
// the response — into StreamInfo.downstreamPeer / upstreamPeer for the stats filter, strips them so the
// application never sees them, and adds this proxy's own: to the request going upstream, and to the response of
// a request that carried the peer's. Header values decode through a bounded per-listener cache.

import type { FilterCallbacks, FilterStatus, HttpFilter } from '../../../http/filter.ts';
import type { HeaderMap, RequestHeaders, ResponseHeaders } from '../../../http/headers.ts';
import { decodePeerMetadataHeader, type WorkloadMetadata } from '../../../common/workload-metadata.ts';

export const PEER_METADATA_HEADER = 'x-envoy-peer-metadata';
export const PEER_METADATA_ID_HEADER = 'x-envoy-peer-metadata-id';

/** Istio's MX cache bound (max_peer_cache_size 500): past it, the oldest quarter is dropped. */
export const PEER_CACHE_SIZE = 500;

/**
 * Decoded x-envoy-peer-metadata values. Istio keys its cache by the peer's id header; keying by the value
 * itself costs a longer hash but lets no peer claim another's metadata by reusing its id.
 */
export class PeerMetadataCache {
  private readonly entries = new Map<string, WorkloadMetadata | null>();
  private readonly max: number;

  constructor(max = PEER_CACHE_SIZE) {
    this.max = max;
  }

  /** The peer a header value describes; undefined when it is not a base64 protobuf Struct. */
  lookup(value: string): WorkloadMetadata | undefined {
    let peer = this.entries.get(value);
    if (peer === undefined) {
      peer = decodePeerMetadataHeader(value) ?? null;
      if (this.entries.size >= this.max) {
        let drop = Math.max(1, Math.floor(this.max / 4));
        for (const key of this.entries.keys()) {
          if (drop-- === 0) break;
          this.entries.delete(key);
        }
      }
      this.entries.set(value, peer);
    }
    return peer ?? undefined;
  }
}

/** The filter config resolved once per listener: which directions discover and propagate, and this proxy's headers. */
export interface PeerMetadataShared {
  /** downstream_discovery has istio_headers: read (and strip) the request's peer headers. */
  readonly downstreamDiscovery: boolean;
  readonly upstreamDiscovery: boolean;
  /** downstream_propagation has istio_headers: answer a request that carried the peer headers with ours. */
  readonly downstreamPropagation: boolean;
  readonly upstreamPropagation: boolean;
  /** x-envoy-peer-metadata-id: node.id. */
  readonly id: string;
  /** x-envoy-peer-metadata: this workload as a base64 protobuf Struct. */
  readonly value: string;
  readonly cache: PeerMetadataCache;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The peer in `headers` (first value wins), then both headers removed: Istio's MXMethod derive + remove. */
function discover(headers: HeaderMap, cache: PeerMetadataCache): { peer: WorkloadMetadata | undefined; id: boolean; value: boolean } {
  const id = headers[PEER_METADATA_ID_HEADER];
  const value = first(headers[PEER_METADATA_HEADER]);
  const peer = value === undefined || value === '' ? undefined : cache.lookup(value);
  if (id !== undefined) delete headers[PEER_METADATA_ID_HEADER];
  if (value !== undefined) delete headers[PEER_METADATA_HEADER];
  return { peer, id: id !== undefined, value: value !== undefined };
}

export class PeerMetadataFilter implements HttpFilter {
  private readonly shared: PeerMetadataShared;
  private readonly cb: FilterCallbacks;
  /** Istio's ctx.request_peer_id_received_ / request_peer_received_: answer only a peer that sent its own. */
  private requestPeerIdReceived = false;
  private requestPeerReceived = false;

  constructor(shared: PeerMetadataShared, cb: FilterCallbacks) {
    this.shared = shared;
    this.cb = cb;
  }

  decodeHeaders(request: RequestHeaders): FilterStatus {
    const s = this.shared;
    const headers = request.headers;
    if (s.downstreamDiscovery) {
      const found = discover(headers, s.cache);
      this.requestPeerIdReceived = found.id;
      this.requestPeerReceived = found.value;
      if (found.peer !== undefined) this.cb.info.downstreamPeer ??= found.peer;
    }
    if (s.upstreamPropagation) {
      headers[PEER_METADATA_ID_HEADER] = s.id;
      headers[PEER_METADATA_HEADER] = s.value;
    }
    return 'continue';
  }

  encodeHeaders(response: ResponseHeaders): FilterStatus {
    const s = this.shared;
    const headers = response.headers;
    if (s.upstreamDiscovery) {
      const found = discover(headers, s.cache);
      if (found.peer !== undefined) this.cb.info.upstreamPeer ??= found.peer;
    }
    if (s.downstreamPropagation) {
      if (this.requestPeerIdReceived) headers[PEER_METADATA_ID_HEADER] = s.id;
      if (this.requestPeerReceived) headers[PEER_METADATA_HEADER] = s.value;
    }
    return 'continue';
  }
}
