// The AuthorizationPolicies that apply to a proxy, as RBAC HTTP filters for its inbound connection managers
// (Istio's authz builder, builder.go): one envoy.filters.http.rbac per action, AUDIT (LOG) first, then DENY,
// then ALLOW; a policy named `ns[<ns>]-policy[<name>]-rule[<i>]` per rule; `istio.io/dry-run` policies as
// shadow rules. No applicable policy: no filter. CUSTOM is rejected at load (not implemented).

import type { AuthzAction } from '../istio/authorization-policy.ts';
import type { AuthorizationPolicy } from '../istio/resources.ts';
import type { ProxyIdentity } from '../xds/snapshot.ts';
import { MATCH_NEVER, rulePolicy } from './authz-rules.ts';
import { ROOT_NAMESPACE, labelsMatch } from './names.ts';

type Json = Record<string, unknown>;

const RBAC_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
const DRY_RUN_ANNOTATION = 'istio.io/dry-run';

/**
 * Filter names. Istio calls every one `envoy.filters.http.rbac` unless PILOT_ENABLE_GATEWAY_API_HTTPROUTE_AUTH
 * gives the DENY and ALLOW filters their own instance names; nodevoy always uses those, since its HTTP
 * connection manager (unlike Envoy's) requires unique filter names.
 */
const FILTER_NAME: Readonly<Record<AuthzAction, string>> = {
  AUDIT: 'envoy.filters.http.rbac',
  DENY: 'istio.authorization.deny',
  ALLOW: 'istio.authorization.allow',
};

/** Envoy's RBAC action for each Istio action (ALLOW is the proto default, left out as protojson does). */
const ENVOY_ACTION: Readonly<Record<AuthzAction, string | undefined>> = { AUDIT: 'LOG', DENY: 'DENY', ALLOW: undefined };

/** Istio's dry-run shadow rule stat prefixes (authz model RBACShadowRules*StatPrefix). */
const SHADOW_STAT_PREFIX: Readonly<Record<AuthzAction, string | undefined>> = { AUDIT: undefined, DENY: 'istio_dry_run_deny_', ALLOW: 'istio_dry_run_allow_' };

/**
 * Istio's policy selection: the proxy's namespace and the root namespace; a policy without a selector applies
 * to the whole namespace (the mesh, from the root namespace), one with a selector to the workloads it matches
 * (in any namespace, from the root namespace).
 */
export function policiesFor(policies: readonly AuthorizationPolicy[], proxy: ProxyIdentity): AuthorizationPolicy[] {
  return policies.filter((p) => {
    const ns = p.metadata.namespace;
    if (ns !== proxy.namespace && ns !== ROOT_NAMESPACE) return false;
    return labelsMatch(p.spec.selector?.matchLabels ?? {}, proxy.labels);
  });
}

const isDryRun = (p: AuthorizationPolicy) => p.metadata.annotations[DRY_RUN_ANNOTATION]?.toLowerCase() === 'true';

/** The rules of one action's policies: every rule a named Envoy policy, names in Envoy's (lexicographic) order. */
function rbacRules(action: AuthzAction, policies: readonly AuthorizationPolicy[]): Json | undefined {
  if (policies.length === 0) return undefined;
  const named: [string, Json][] = [];
  for (const p of policies) {
    const name = (i: number) => `ns[${p.metadata.namespace}]-policy[${p.metadata.name}]-rule[${i}]`;
    const rules = p.spec.rules ?? [];
    if (rules.length === 0) named.push([name(0), MATCH_NEVER]);
    rules.forEach((r, i) => named.push([name(i), rulePolicy(r, p.metadata.namespace)]));
  }
  named.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const envoyAction = ENVOY_ACTION[action];
  return { ...(envoyAction === undefined ? {} : { action: envoyAction }), policies: Object.fromEntries(named) };
}

/** The RBAC HTTP filters for a proxy's inbound HCMs, AUDIT, DENY, ALLOW; empty when no policy applies. */
export function authorizationFilters(all: readonly AuthorizationPolicy[], proxy: ProxyIdentity): Json[] {
  const applicable = policiesFor(all, proxy);
  return (['AUDIT', 'DENY', 'ALLOW'] as const).flatMap((action) => {
    const ofAction = applicable.filter((p) => p.spec.action === action);
    if (ofAction.length === 0) return [];
    const rules = rbacRules(action, ofAction.filter((p) => !isDryRun(p)));
    const shadow = rbacRules(action, ofAction.filter(isDryRun));
    const shadowPrefix = SHADOW_STAT_PREFIX[action];
    return [{
      name: FILTER_NAME[action],
      typed_config: {
        '@type': RBAC_TYPE_URL,
        ...(rules === undefined ? {} : { rules }),
        ...(shadow === undefined ? {} : { shadow_rules: shadow, ...(shadowPrefix === undefined ? {} : { shadow_rules_stat_prefix: shadowPrefix }) }),
      },
    }];
  });
}
