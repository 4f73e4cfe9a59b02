// The mesh's naming rules and Envoy JSON scalars: Istio host resolution (short names → FQDN), cluster
// names (`outbound|<port>|<subset>|<host>`), the REST config source every emitted resource points at,
// and Envoy's proto3 JSON forms of durations and percentages.

/** Istio's default cluster DNS domain (the proxy's DNS_DOMAIN suffix): `<name>.<ns>.svc.cluster.local`. */
export const DOMAIN_SUFFIX = 'cluster.local';

/**
 * Istio's root namespace (MeshConfig.rootNamespace, default `istio-system`): a PeerAuthentication or
 * AuthorizationPolicy there without a selector applies to the whole mesh, as does an EnvoyFilter there.
 */
export const ROOT_NAMESPACE = 'istio-system';

/** The SPIFFE trust domain of workload identities when the control plane is not told another one. */
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

/** A workload's identity: `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`. */
export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** The bootstrap cluster every proxy uses to reach the control plane. */
export const XDS_CLUSTER = 'xds_cluster';

/** Envoy's ConfigSource for REST-JSON xDS from the control plane (also what a real Envoy accepts). */
export const CONFIG_SOURCE = Object.freeze({
  resource_api_version: 'V3',
  api_config_source: {
    api_type: 'REST',
    transport_api_version: 'V3',
    cluster_names: [XDS_CLUSTER],
    refresh_delay: '1s',
  },
});

/** The RouteConfiguration name the outbound listener's HCM fetches over RDS. */
export const OUTBOUND_ROUTE_NAME = 'outbound_http';
export const OUTBOUND_LISTENER_NAME = 'virtualOutbound';

/** Istio's ResolveShortnameToFQDN: a name without a dot is a service in `namespace`; others are as written. */
export function resolveHost(host: string, namespace: string): string {
  return host.includes('.') || host.includes('*') ? host : `${host}.${namespace}.svc.${DOMAIN_SUFFIX}`;
}

/** Istio's BuildDNSSrvSubsetKey: the SNI of an ISTIO_MUTUAL cluster, `outbound_.<port>_.<subset>_.<host>`. */
export function outboundSni(port: number, subset: string, host: string): string {
  return `outbound_.${port}_.${subset}_.${host}`;
}

/** Istio's BuildSubsetKey: `outbound|<port>|<subset>|<host>`. */
export function outboundClusterName(port: number, subset: string, host: string): string {
  return `outbound|${port}|${subset}|${host}`;
}

/** The inbound cluster (and its route configuration) for a service port: `inbound|<port>||`. */
export function inboundClusterName(port: number): string {
  return `inbound|${port}||`;
}

/** A Duration in proto3 JSON ("10s", "0.030s") from milliseconds. */
export function durationJson(ms: number): string {
  return `${ms / 1000}s`;
}

/** Istio's translatePercentToFractionalPercent: a Percent (0-100, double) as millionths. */
export function percentToFractional(value: number): { numerator: number; denominator: 'MILLION' } {
  return { numerator: Math.round(value * 10_000), denominator: 'MILLION' };
}

/** Istio's translateIntegerToFractionalPercent: a whole percentage over HUNDRED. */
export function integerPercent(value: number): { numerator: number; denominator: 'HUNDRED' } {
  return { numerator: value, denominator: 'HUNDRED' };
}

/** labels.Instance.SubsetOf: every selector label is present with the same value. */
export function labelsMatch(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

/**
 * The `filter_metadata.istio` istiod writes on a cluster: `services` lists the services behind it as
 * {host, name, namespace} (name: a Kubernetes service's name, the host itself for other ServiceEntry hosts),
 * which Istio's stats filter reports as destination_service and destination_service_name.
 */
export function istioClusterMetadata(services: readonly { readonly host: string; readonly namespace: string }[]): Record<string, unknown> {
  return {
    filter_metadata: {
      istio: {
        services: services.map(({ host, namespace }) => ({ host, name: kubernetesServiceName(host, namespace) ?? host, namespace })),
      },
    },
  };
}

/** `<name>` of a `<name>.<namespace>.svc.<domain>` host, else undefined. */
function kubernetesServiceName(host: string, namespace: string): string | undefined {
  const suffix = `.${namespace}.svc.${DOMAIN_SUFFIX}`;
  return host.endsWith(suffix) && !host.slice(0, -suffix.length).includes('.') ? host.slice(0, -suffix.length) : undefined;
}
