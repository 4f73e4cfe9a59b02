// Schema of the ServiceEntry spec (networking.istio.io v1alpha3/v1beta1/v1): a service of the
// file-based registry: hosts, ports, resolution and its endpoints (inline WorkloadEntries or selected).

import { z } from 'zod';
import { WorkloadSelectorSchema, istioEnum, istioMessage, portNumber } from './istio-kit.ts';
import { WorkloadEntrySpecSchema } from './workload-entry.ts';

const NS = 'istio.networking.v1';

/** Istio's protocol names (case-insensitive in Istio; kept upper-cased). */
const PROTOCOLS = ['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'TCP', 'TLS', 'UDP', 'MONGO', 'REDIS', 'MYSQL'];

const ServicePortSchema = istioMessage(`${NS}.ServicePort`, {
  number: portNumber,
  name: z.string().min(1).optional(),
  protocol: z.string().transform((p) => p.toUpperCase()).refine((p) => PROTOCOLS.includes(p),
    `protocol must be one of ${PROTOCOLS.join(', ')}`).optional(),
  targetPort: portNumber.optional(),
});

export const ServiceEntrySpecSchema = istioMessage(`${NS}.ServiceEntry`, {
  hosts: z.array(z.string().min(1)).min(1, 'a ServiceEntry needs at least one host'),
  addresses: z.array(z.string().min(1)).default([]),
  ports: z.array(ServicePortSchema).default([]),
  location: istioEnum(`${NS}.ServiceEntry.Location`, ['MESH_EXTERNAL', 'MESH_INTERNAL']).default('MESH_EXTERNAL'),
  resolution: istioEnum(`${NS}.ServiceEntry.Resolution`, ['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN']).default('NONE'),
  endpoints: z.array(WorkloadEntrySpecSchema).default([]),
  workloadSelector: WorkloadSelectorSchema.optional(),
}, { unimplemented: ['exportTo', 'subjectAltNames'] })
  .superRefine((se, ctx) => {
    // Istio's ValidateServiceEntry: endpoints and workloadSelector are exclusive; port numbers and
    // names are unique; endpoint port names must name a service port.
    if (se.endpoints.length > 0 && se.workloadSelector !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['workloadSelector'], message: 'workloadSelector and endpoints cannot both be set' });
    }
    const numbers = new Set<number>();
    const names = new Set<string>();
    se.ports.forEach((p, i) => {
      if (numbers.has(p.number)) ctx.addIssue({ code: 'custom', path: ['ports', i, 'number'], message: `port number ${p.number} is declared twice` });
      numbers.add(p.number);
      if (p.name !== undefined) {
        if (names.has(p.name)) ctx.addIssue({ code: 'custom', path: ['ports', i, 'name'], message: `port name "${p.name}" is declared twice` });
        names.add(p.name);
      }
    });
    se.endpoints.forEach((e, i) => {
      for (const name of Object.keys(e.ports)) {
        if (!names.has(name)) ctx.addIssue({ code: 'custom', path: ['endpoints', i, 'ports', name], message: `endpoint port "${name}" names no port of this ServiceEntry` });
      }
    });
  });

export type ServiceEntrySpec = z.output<typeof ServiceEntrySpecSchema>;
export type ServicePort = ServiceEntrySpec['ports'][number];
