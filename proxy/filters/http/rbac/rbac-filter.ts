// The RBAC HTTP filter for one stream (Envoy's RoleBasedAccessControlFilter): picks the route's
// RBACPerRoute config or the listener's, runs the shadow engine (stats and dynamic metadata only), then
// the enforced engine, and answers 403 `RBAC: access denied` when it denies.

import type { FilterCallbacks, FilterStatus, HttpFilter } from '../../../http/filter.ts';
import type { RequestHeaders } from '../../../http/headers.ts';
import type { Counter, StatsScope } from '../../../stats/scope.ts';
import { RbacEngine, setDynamicMetadata } from './engine.ts';
import type { RbacFilterWire } from './schema.ts';

/** Body of the local reply (19 bytes, as Envoy sends it). */
export const RBAC_ACCESS_DENIED_BODY = 'RBAC: access denied';

/** The dynamic metadata namespace the filter writes its results under (its canonical name). */
export const RBAC_METADATA_NAMESPACE = 'envoy.filters.http.rbac';

/** rules_stat_prefix and shadow_rules_stat_prefix, which also prefix the dynamic metadata keys. */
export interface RbacStatPrefixes {
  readonly rules: string;
  readonly shadow: string;
}

/** `http.<stat_prefix>.rbac.[<rules_stat_prefix>.]allowed` and friends (Envoy's generateStats). */
export interface RbacStats {
  readonly allowed: Counter;
  readonly denied: Counter;
  readonly shadowAllowed: Counter;
  readonly shadowDenied: Counter;
}

export function rbacStats(http: StatsScope, prefixes: RbacStatPrefixes): RbacStats {
  const base = http.scope('rbac');
  // statPrefixJoin: a prefix is joined with '.', whether or not it already ends with one.
  const under = (prefix: string): StatsScope => (prefix === '' ? base : base.scope(prefix.replace(/\.$/, '')));
  const rules = under(prefixes.rules);
  const shadow = under(prefixes.shadow);
  return {
    allowed: rules.counter('allowed'),
    denied: rules.counter('denied'),
    shadowAllowed: shadow.counter('shadow_allowed'),
    shadowDenied: shadow.counter('shadow_denied'),
  };
}

/** One filter RBAC message (typed_config or RBACPerRoute.rbac) compiled: engines and metadata keys. */
export interface RbacConfig {
  /** null = no `rules`: nothing is enforced. */
  readonly engine: RbacEngine | null;
  /** null = no `shadow_rules`. */
  readonly shadowEngine: RbacEngine | null;
  /** `<rules_stat_prefix>enforced_effective_policy_id` / `…enforced_engine_result`. */
  readonly enforcedPolicyKey: string;
  readonly enforcedResultKey: string;
  /** `<shadow_rules_stat_prefix>shadow_effective_policy_id` / `…shadow_engine_result`. */
  readonly shadowPolicyKey: string;
  readonly shadowResultKey: string;
}

/**
 * Compiles a filter RBAC message. A per-route config names its metadata keys with its own stat prefixes
 * where it sets them, else with the listener config's (`inherited`); counters are always the listener's.
 */
export function compileRbacConfig(wire: RbacFilterWire | undefined, inherited: RbacStatPrefixes = { rules: '', shadow: '' }): RbacConfig {
  const rules = wire?.rules_stat_prefix || inherited.rules;
  const shadow = wire?.shadow_rules_stat_prefix || inherited.shadow;
  return {
    engine: wire?.rules === undefined ? null : new RbacEngine(wire.rules),
    shadowEngine: wire?.shadow_rules === undefined ? null : new RbacEngine(wire.shadow_rules),
    enforcedPolicyKey: `${rules}enforced_effective_policy_id`,
    enforcedResultKey: `${rules}enforced_engine_result`,
    shadowPolicyKey: `${shadow}shadow_effective_policy_id`,
    shadowResultKey: `${shadow}shadow_engine_result`,
  };
}

/** responseDetail(): the matched policy (whitespace → '_'), or `none`. */
export function rbacResponseDetail(policy: string | null): string {
  return `rbac_access_denied_matched_policy[${policy === null ? 'none' : policy.replace(/\s/g, '_')}]`;
}

/** What every stream of one configured filter shares. */
export interface RbacFilterShared {
  readonly listenerConfig: RbacConfig;
  /** The compiled config of a typed_per_filter_config entry (RBACPerRoute) of this filter. */
  forRoute(perRoute: object): RbacConfig;
  readonly stats: RbacStats;
  readonly filterName: string;
}

export class RbacFilter implements HttpFilter {
  private readonly shared: RbacFilterShared;
  private readonly callbacks: FilterCallbacks;

  constructor(shared: RbacFilterShared, callbacks: FilterCallbacks) {
    this.shared = shared;
    this.callbacks = callbacks;
  }

  decodeHeaders(request: RequestHeaders): FilterStatus {
    const { shared, callbacks } = this;
    const info = callbacks.info;
    // The most specific RBACPerRoute replaces the listener-level config entirely.
    const perRoute = callbacks.perRouteConfig<object>(shared.filterName);
    const config = perRoute === undefined ? shared.listenerConfig : shared.forRoute(perRoute);
    const stats = shared.stats;

    if (config.shadowEngine !== null) {
      // Shadow rules never change the outcome: counters and dynamic metadata only.
      const shadow = config.shadowEngine.evaluate(request, info, false);
      (shadow.allowed ? stats.shadowAllowed : stats.shadowDenied).inc();
      if (shadow.policy !== null) setDynamicMetadata(info, RBAC_METADATA_NAMESPACE, config.shadowPolicyKey, shadow.policy);
      setDynamicMetadata(info, RBAC_METADATA_NAMESPACE, config.shadowResultKey, shadow.allowed ? 'allowed' : 'denied');
    }

    if (config.engine === null) return 'continue';
    const decision = config.engine.evaluate(request, info, true);
    if (decision.policy !== null) setDynamicMetadata(info, RBAC_METADATA_NAMESPACE, config.enforcedPolicyKey, decision.policy);
    setDynamicMetadata(info, RBAC_METADATA_NAMESPACE, config.enforcedResultKey, decision.allowed ? 'allowed' : 'denied');
    if (decision.allowed) {
      stats.allowed.inc();
      return 'continue';
    }
    stats.denied.inc();
    // Envoy sets no response flag for RBAC denials; the details name the policy.
    callbacks.sendLocalReply(403, RBAC_ACCESS_DENIED_BODY, { details: rbacResponseDetail(decision.policy) });
    return 'stop';
  }
}
