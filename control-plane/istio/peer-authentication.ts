// Schema of the PeerAuthentication spec (security.istio.io v1beta1/v1, one shape): which mTLS mode a
// workload's inbound listeners accept (mesh-wide in the root namespace, namespace-wide, or for the workloads
// a selector picks), with per-port overrides. Istio's ValidatePeerAuthentication rules are checked here.

import { z } from 'zod';
import { MatchLabelsSelectorSchema, istioEnum, istioMessage } from './istio-kit.ts';

const NS = 'istio.security.v1.PeerAuthentication';

export const MTLS_MODES = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] as const;
export type MtlsMode = (typeof MTLS_MODES)[number];

const MutualTlsSchema = istioMessage(`${NS}.MutualTLS`, {
  /** UNSET (the default) inherits from the parent level. */
  mode: istioEnum(`${NS}.MutualTLS.Mode`, MTLS_MODES).default('UNSET'),
});

/** portLevelMtls keys are the workload's port numbers (YAML map keys, so strings), 1-65535. */
const PortLevelMtlsSchema = z.record(z.string(), MutualTlsSchema).superRefine((ports, ctx) => {
  for (const key of Object.keys(ports)) {
    const problem = !/^\d+$/.test(key) ? 'a portLevelMtls key is a port number' : Number(key) === 0 ? 'port cannot be 0' : Number(key) > 65535 ? 'port must be at most 65535' : undefined;
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: problem });
  }
});

export const PeerAuthenticationSpecSchema = istioMessage(NS, {
  /** Absent or empty: the whole namespace (the mesh, in the root namespace). */
  selector: MatchLabelsSelectorSchema.optional(),
  mtls: MutualTlsSchema.optional(),
  portLevelMtls: PortLevelMtlsSchema.optional(),
}).superRefine((pa, ctx) => {
  const workloadLevel = Object.keys(pa.selector?.matchLabels ?? {}).length > 0;
  if (pa.portLevelMtls === undefined) return;
  if (!workloadLevel) ctx.addIssue({ code: 'custom', path: ['portLevelMtls'], message: 'mesh/namespace peer authentication cannot have port level mTLS (portLevelMtls needs a selector)' });
  if (Object.keys(pa.portLevelMtls).length === 0) ctx.addIssue({ code: 'custom', path: ['portLevelMtls'], message: 'port level mTLS, if defined, must have at least one element' });
});

export type PeerAuthenticationSpec = z.output<typeof PeerAuthenticationSpecSchema>;
