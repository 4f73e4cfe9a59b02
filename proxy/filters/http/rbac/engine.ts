// One RBAC rule set (envoy.config.rbac.v3.RBAC) compiled into an engine (Envoy's
// RoleBasedAccessControlEngineImpl): policies tried in name order, then the action decides.

import type { RequestHeaders } from '../../../http/headers.ts';
import type { StreamInfo } from '../../../http/stream-info.ts';
import { compilePermission, compilePrincipal, or, type RbacMatcher } from './matchers.ts';
import type { RbacRulesWire } from './schema.ts';

export type RbacAction = 'ALLOW' | 'DENY' | 'LOG';

/** The outcome of one evaluation: `policy` is the first matching policy's name, null when none matched. */
export interface RbacDecision {
  readonly allowed: boolean;
  readonly policy: string | null;
}

/** Envoy's DynamicMetadataKeys for the LOG action: `envoy.common` / `access_log_hint`. */
export const ACCESS_LOG_HINT_NAMESPACE = 'envoy.common';
export const ACCESS_LOG_HINT_KEY = 'access_log_hint';

interface CompiledPolicy {
  readonly name: string;
  readonly matches: RbacMatcher;
}

export class RbacEngine {
  readonly action: RbacAction;
  /** In lexicographic order of their names (Envoy keeps them in a std::map). */
  private readonly policies: readonly CompiledPolicy[];

  constructor(rules: RbacRulesWire) {
    this.action = rules.action ?? 'ALLOW';
    const names = Object.keys(rules.policies ?? {}).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    this.policies = names.map((name) => {
      const p = rules.policies![name]!;
      // PolicyMatcher: some permission AND some principal.
      const permissions = or(p.permissions.map(compilePermission));
      const principals = or(p.principals.map(compilePrincipal));
      return { name, matches: (request, info) => permissions(request, info) && principals(request, info) };
    });
  }

  /**
   * handleAction: ALLOW allows iff a policy matched, DENY iff none did, LOG always allows and, when
   * enforced (not shadow), records in dynamic metadata whether the request should be access-logged.
   */
  evaluate(request: RequestHeaders, info: StreamInfo, enforced: boolean): RbacDecision {
    const policy = this.matchedPolicy(request, info);
    const matched = policy !== null;
    switch (this.action) {
      case 'ALLOW': return { allowed: matched, policy };
      case 'DENY': return { allowed: !matched, policy };
      case 'LOG':
        if (enforced) setDynamicMetadata(info, ACCESS_LOG_HINT_NAMESPACE, ACCESS_LOG_HINT_KEY, matched);
        return { allowed: true, policy };
    }
  }

  /** checkPolicyMatch: the name of the first policy that matches, null when none does. */
  private matchedPolicy(request: RequestHeaders, info: StreamInfo): string | null {
    for (const p of this.policies) if (p.matches(request, info)) return p.name;
    return null;
  }
}

/** StreamInfo::setDynamicMetadata merges fields into the namespace's struct. */
export function setDynamicMetadata(info: StreamInfo, namespace: string, key: string, value: unknown): void {
  const fields = info.dynamicMetadata.get(namespace);
  if (fields === undefined) info.dynamicMetadata.set(namespace, { [key]: value });
  else fields[key] = value;
}
