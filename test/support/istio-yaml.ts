// Istio YAML the tests apply more than once: the local rate limit EnvoyFilter in the seed articles' shape (a
// TypedStruct before the router of the selected workloads' inbound HCMs), enabled and enforced for every request;
// mesh-wide STRICT mTLS; an ALLOW policy naming the service accounts that may call an app.

/** An EnvoyFilter rate-limiting the inbound listeners of workloads labelled `app` to `maxTokens` per `fillInterval`. */
export function localRateLimitEnvoyFilter(opts: { name: string; namespace?: string; app: string; maxTokens: number; fillInterval?: string }): string {
  return `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: ${opts.name}, namespace: ${opts.namespace ?? 'default'}}
spec:
  workloadSelector: {labels: {app: ${opts.app}}}
  configPatches:
  - applyTo: HTTP_FILTER
    match: {context: SIDECAR_INBOUND, listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager}}}}
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/udpa.type.v1.TypedStruct
          type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          value:
            stat_prefix: http_local_rate_limiter
            token_bucket: {max_tokens: ${opts.maxTokens}, tokens_per_fill: ${opts.maxTokens}, fill_interval: ${opts.fillInterval ?? '60s'}}
            filter_enabled: {default_value: {numerator: 100, denominator: HUNDRED}}
            filter_enforced: {default_value: {numerator: 100, denominator: HUNDRED}}
`;
}

/** PeerAuthentication istio-system/default: STRICT mTLS for every workload of the mesh. */
export const MESH_WIDE_STRICT = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
`;

/** An ALLOW AuthorizationPolicy on workloads labelled `app`: only `serviceAccounts` (of `namespace`) may call, with `to` rules if given. */
export function allowOnly(opts: { name: string; app: string; serviceAccounts: readonly string[]; namespace?: string; to?: string }): string {
  const ns = opts.namespace ?? 'default';
  const principals = opts.serviceAccounts.map((sa) => `"cluster.local/ns/${ns}/sa/${sa}"`).join(', ');
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${opts.name}, namespace: ${ns}}
spec:
  selector: {matchLabels: {app: ${opts.app}}}
  rules:
  - from: [{source: {principals: [${principals}]}}]${opts.to === undefined ? '' : `
    to: ${opts.to}`}
`;
}
