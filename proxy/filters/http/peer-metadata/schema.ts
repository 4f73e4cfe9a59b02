// Wire schema of Istio's peer metadata filter config (io.istio.http.peer_metadata.Config, istio/proxy
// source/extensions/filters/http/peer_metadata/config.proto), which istiod sends as a TypedStruct. The Istio
// header exchange (istio_headers) is implemented; workload_discovery is accepted and finds nothing, as in an
// Istio sidecar without the workload metadata xDS extension; the rest is reported not implemented.

import { z } from 'zod';
import { bool, message, onlyValues } from '../../../config/schema-kit.ts';

const CONFIG = 'io.istio.http.peer_metadata.Config';

/** IstioHeaders: x-envoy-peer-metadata(-id). skip_external_clusters needs cluster `istio.external` metadata. */
const IstioHeadersSchema = message(`${CONFIG}.IstioHeaders`, {
  skip_external_clusters: onlyValues(bool, [false], 'skip_external_clusters').optional(),
});

/** WorkloadDiscovery has no fields; without Istio's workload metadata xDS it never finds a peer. */
const WorkloadDiscoverySchema = message(`${CONFIG}.WorkloadDiscovery`, {});

/** A oneof: exactly one method per entry (an unimplemented or unknown one counts: it is reported on its own). */
function oneMethod<S extends z.ZodRawShape>(typeName: string, shape: S, unimplemented: readonly string[]) {
  return message(typeName, shape, { unimplemented }).superRefine((m, ctx) => {
    const set = Object.keys(m as object);
    if (set.length !== 1) ctx.addIssue({ code: 'custom', message: `${typeName} needs exactly one method (method_specifier), got ${set.length === 0 ? 'none' : set.join(', ')}` });
  });
}

const DiscoveryMethodSchema = oneMethod(`${CONFIG}.DiscoveryMethod`, {
  workload_discovery: WorkloadDiscoverySchema.optional(),
  istio_headers: IstioHeadersSchema.optional(),
}, ['baggage']);

const PropagationMethodSchema = oneMethod(`${CONFIG}.PropagationMethod`, {
  istio_headers: IstioHeadersSchema.optional(),
}, []);

export const PeerMetadataConfigSchema = message(CONFIG, {
  downstream_discovery: z.array(DiscoveryMethodSchema).optional(),
  upstream_discovery: z.array(DiscoveryMethodSchema).optional(),
  downstream_propagation: z.array(PropagationMethodSchema).optional(),
  upstream_propagation: z.array(PropagationMethodSchema).optional(),
  // Filter state shared with upstream filters: nodevoy has no upstream filters to share it with.
  shared_with_upstream: onlyValues(bool, [false], 'shared_with_upstream').optional(),
  // Extra peer labels for CEL telemetry expressions, which nodevoy's stats filter does not evaluate.
  additional_labels: z.array(z.string()).superRefine((labels, ctx) => {
    if (labels.length > 0) ctx.addIssue({ code: 'custom', message: 'additional_labels is valid Istio config but nodevoy does not implement it', params: { kind: 'not-implemented' } });
  }).optional(),
});

export type PeerMetadataConfigWire = z.output<typeof PeerMetadataConfigSchema>;
export type DiscoveryMethodWire = z.output<typeof DiscoveryMethodSchema>;
