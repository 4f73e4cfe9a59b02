// Whether and how an outbound cluster originates TLS. The DestinationRule's `tls` (after Istio's merge for
// the port and subset) decides when set: DISABLE → plaintext, ISTIO_MUTUAL → the sidecar's SDS certificate,
// SIMPLE/MUTUAL → files. Otherwise Istio's auto mTLS: ISTIO_MUTUAL when every endpoint of the cluster runs a
// sidecar that accepts mTLS, plaintext when none does. nodevoy's model of "runs a sidecar" is in docs/mesh.md.

import type { ClientTlsSettings } from '../istio/destination-rule.ts';
import type { MeshEndpoint, MeshService } from './mesh.ts';
import { outboundSni, spiffeId } from './names.ts';
import type { PeerAuthentications } from './peer-authentication.ts';
import { fileTlsSocket, istioMutualSocket } from './tls-context.ts';

type Json = Record<string, unknown>;

/** An endpoint a cluster reaches and the port it reaches it on (`endpoint` undefined: a DNS host resolved as is). */
export interface UpstreamTarget {
  readonly endpoint: MeshEndpoint | undefined;
  readonly port: number;
}

export interface UpstreamTlsContextInput {
  readonly trustDomain: string;
  readonly peerAuthentications: PeerAuthentications;
  /** Istio's MeshConfig.enableAutoMtls, on only when sidecars hold workload certificates (MeshOptions). */
  readonly autoMtls: boolean;
}

/** The cluster's transport_socket (undefined: plaintext) and, for a cluster auto mTLS cannot serve, why. */
export interface UpstreamTlsDecision {
  readonly transportSocket?: Json;
  readonly warning?: string;
}

/** The destination's SPIFFE identities: its sidecar endpoints' service accounts, sorted (Istio's service-level SANs). */
function serviceSpiffeIds(service: MeshService, trustDomain: string): string[] {
  const accounts = new Set(service.endpoints.filter((e) => e.sidecar).map((e) => e.serviceAccount));
  return [...accounts].sort().map((sa) => spiffeId(trustDomain, service.namespace, sa));
}

/** A target accepts mTLS when it runs a sidecar whose PeerAuthentication for that port is not DISABLE. */
function acceptsMtls(ctx: UpstreamTlsContextInput, service: MeshService, t: UpstreamTarget): boolean {
  return t.endpoint !== undefined && t.endpoint.sidecar &&
    ctx.peerAuthentications.modeFor(service.namespace, t.endpoint.labels, t.port) !== 'DISABLE';
}

export function upstreamTls(ctx: UpstreamTlsContextInput, service: MeshService, port: number, subset: string,
  targets: readonly UpstreamTarget[], tls: ClientTlsSettings | undefined): UpstreamTlsDecision {
  const istioMutual = (sni: string | undefined, sans: readonly string[]) => ({
    transportSocket: istioMutualSocket(sni ?? outboundSni(port, subset, service.host), sans.length > 0 ? sans : serviceSpiffeIds(service, ctx.trustDomain)),
  });
  if (tls !== undefined) {
    if (tls.mode === 'DISABLE') return {};
    if (tls.mode === 'ISTIO_MUTUAL') return istioMutual(tls.sni, tls.subjectAltNames);
    return { transportSocket: fileTlsSocket(tls) };
  }
  if (!ctx.autoMtls) return {};
  // A cluster with no endpoint yet (WorkloadEntries still to come) is in-mesh when the service selects workloads.
  if (targets.length === 0) return service.entry.spec.workloadSelector === undefined ? {} : istioMutual(undefined, []);
  const mtls = targets.filter((t) => acceptsMtls(ctx, service, t)).length;
  if (mtls === targets.length) return istioMutual(undefined, []);
  if (mtls === 0) return {};
  return {
    warning: `auto mTLS: ${mtls} of the ${targets.length} endpoints of ${subset === '' ? '' : `subset ${subset} of `}port ${port} run a sidecar that accepts mTLS, ` +
      'the others do not; Istio would pick per endpoint (transport_socket_matches), which nodevoy does not implement, so the cluster stays ' +
      'plaintext and the mTLS endpoints get plaintext (refused where they are STRICT). Set the DestinationRule\'s tls mode to choose',
  };
}
