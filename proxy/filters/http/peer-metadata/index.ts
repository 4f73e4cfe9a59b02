// Registers Istio's peer metadata filter (istio/proxy envoy.filters.http.peer_metadata; istiod names it
// `istio.metadata_exchange` and sends io.istio.http.peer_metadata.Config as a TypedStruct). The factory encodes
// this proxy's workload (node.metadata) once and keeps one decoded-peer cache per listener.

import type { HttpFilterFactory } from '../../../http/filter.ts';
import { encodePeerMetadataHeader, workloadFromNodeMetadata } from '../../../common/workload-metadata.ts';
import { registerHttpFilter } from '../registry.ts';
import { PeerMetadataCache, PeerMetadataFilter, type PeerMetadataShared } from './peer-metadata-filter.ts';
import { PeerMetadataConfigSchema, type DiscoveryMethodWire, type PeerMetadataConfigWire } from './schema.ts';

const usesHeaders = (methods: readonly { istio_headers?: unknown }[] | undefined): boolean =>
  (methods ?? []).some((m) => m.istio_headers !== undefined);

export const peerMetadataFilter: HttpFilterFactory<PeerMetadataConfigWire> = {
  name: 'envoy.filters.http.peer_metadata',
  typeUrl: 'type.googleapis.com/io.istio.http.peer_metadata.Config',
  configSchema: PeerMetadataConfigSchema,
  create(wire, ctx) {
    const node = ctx.node ?? { id: '', metadata: {} };
    const shared: PeerMetadataShared = {
      // workload_discovery entries find nothing without Istio's workload metadata xDS: only the headers count.
      downstreamDiscovery: usesHeaders(wire.downstream_discovery as readonly DiscoveryMethodWire[] | undefined),
      upstreamDiscovery: usesHeaders(wire.upstream_discovery as readonly DiscoveryMethodWire[] | undefined),
      downstreamPropagation: usesHeaders(wire.downstream_propagation),
      upstreamPropagation: usesHeaders(wire.upstream_propagation),
      id: node.id,
      value: encodePeerMetadataHeader(workloadFromNodeMetadata(node.metadata)),
      cache: new PeerMetadataCache(),
    };
    return (callbacks) => new PeerMetadataFilter(shared, callbacks);
  },
};

registerHttpFilter(peerMetadataFilter);
