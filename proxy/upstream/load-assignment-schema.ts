// Wire schema of Envoy's ClusterLoadAssignment (`config.endpoint.v3`): localities, endpoints, addresses,
// health status and endpoint metadata. Used inline by Cluster.load_assignment (and later by EDS).
// Validation only; the runtime model is built in cluster-config.ts.

import { z } from 'zod';
import { enumOf, message, struct, uint32 } from '../config/schema-kit.ts';

/** core.v3.HealthStatus, in proto numbering order. */
export const HEALTH_STATUSES = ['UNKNOWN', 'HEALTHY', 'UNHEALTHY', 'DRAINING', 'TIMEOUT', 'DEGRADED'] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

export const SocketAddressSchema = message('envoy.config.core.v3.SocketAddress', {
  address: z.string().min(1, 'address must not be empty'),
  port_value: uint32.refine((p) => p <= 65535, 'port_value must be at most 65535'),
  protocol: enumOf('envoy.config.core.v3.SocketAddress.Protocol', ['TCP'], ['UDP']).optional(),
}, { unimplemented: ['named_port', 'resolver_name', 'ipv4_compat', 'network_namespace_filepath'] });

export const AddressSchema = message('envoy.config.core.v3.Address', {
  socket_address: SocketAddressSchema,
}, { unimplemented: ['pipe', 'envoy_internal_address'] });

export const LocalitySchema = message('envoy.config.core.v3.Locality', {
  region: z.string().optional(),
  zone: z.string().optional(),
  sub_zone: z.string().optional(),
});

/** core.v3.Metadata: filter_metadata is a map of namespace → Struct (e.g. `envoy.lb: {version: v1}`). */
export const MetadataSchema = message('envoy.config.core.v3.Metadata', {
  filter_metadata: z.record(z.string(), struct).optional(),
}, { unimplemented: ['typed_filter_metadata'] });

const EndpointSchema = message('envoy.config.endpoint.v3.Endpoint', {
  address: AddressSchema,
  hostname: z.string().optional(),
}, { unimplemented: ['health_check_config', 'additional_addresses'] });

/** LbEndpoint.load_balancing_weight and LocalityLbEndpoints.load_balancing_weight are UInt32Value ≥ 1. */
const weight = uint32.refine((w) => w >= 1, 'load_balancing_weight must be at least 1');

const LbEndpointSchema = message('envoy.config.endpoint.v3.LbEndpoint', {
  endpoint: EndpointSchema,
  health_status: enumOf('envoy.config.core.v3.HealthStatus', HEALTH_STATUSES).optional(),
  load_balancing_weight: weight.optional(),
  metadata: MetadataSchema.optional(),
}, { unimplemented: ['endpoint_name'] });

const LocalityLbEndpointsSchema = message('envoy.config.endpoint.v3.LocalityLbEndpoints', {
  locality: LocalitySchema.optional(),
  lb_endpoints: z.array(LbEndpointSchema).optional(),
  load_balancing_weight: weight.optional(),
  priority: uint32.refine((p) => p <= 128, 'priority must be at most 128').optional(),
}, { unimplemented: ['metadata', 'leds_cluster_locality_config', 'proximity'] });

const PolicySchema = message('envoy.config.endpoint.v3.ClusterLoadAssignment.Policy', {
  overprovisioning_factor: uint32.refine((f) => f > 0, 'overprovisioning_factor must be greater than 0').optional(),
}, { unimplemented: ['drop_overloads', 'endpoint_stale_after', 'weighted_priority_health'] });

export const ClusterLoadAssignmentSchema = message('envoy.config.endpoint.v3.ClusterLoadAssignment', {
  cluster_name: z.string().min(1, 'cluster_name must not be empty'),
  endpoints: z.array(LocalityLbEndpointsSchema).optional(),
  policy: PolicySchema.optional(),
}, { unimplemented: ['named_endpoints'] });

export type ClusterLoadAssignmentWire = z.output<typeof ClusterLoadAssignmentSchema>;
export type LocalityLbEndpointsWire = z.output<typeof LocalityLbEndpointsSchema>;
export type LbEndpointWire = z.output<typeof LbEndpointSchema>;
