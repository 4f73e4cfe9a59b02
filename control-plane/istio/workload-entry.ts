// Schema of the WorkloadEntry spec (networking.istio.io v1alpha3/v1beta1/v1): one workload of the
// file-based service registry (address, named ports, labels that select subsets). ServiceEntry's
// `endpoints` use the same message.

import { z } from 'zod';
import { istioMessage, istioUint32, labelsSchema, portNumber } from './istio-kit.ts';

export const WorkloadEntrySpecSchema = istioMessage('istio.networking.v1.WorkloadEntry', {
  /** An IP or a DNS name (Istio also allows unix:// addresses, which nodevoy does not). */
  address: z.string().min(1, 'address is required').refine((a) => !a.startsWith('unix://'), 'unix domain socket addresses are not implemented'),
  /** Port name (the ServiceEntry port's name) → the workload's port. */
  ports: z.record(z.string(), portNumber).default({}),
  labels: labelsSchema.default({}),
  serviceAccount: z.string().optional(),
  /** Load-balancing weight; Istio's default is 1 (absent or 0). */
  weight: istioUint32.optional(),
}, { unimplemented: ['network', 'locality'] });

export type WorkloadEntrySpec = z.output<typeof WorkloadEntrySpecSchema>;
