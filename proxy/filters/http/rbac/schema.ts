// Wire schemas of envoy.config.rbac.v3 (RBAC, Policy, Permission, Principal) and of the HTTP filter's
// envoy.extensions.filters.http.rbac.v3.RBAC / RBACPerRoute, with every load-time check Envoy's proto
// validation makes (one rule per Permission/Principal, non-empty lists), so errors carry field paths.

import { z } from 'zod';
import { CidrRangeSchema, type CidrRangeWire } from '../../../config/core-schema.ts';
import { enumOf, message, onlyValues, bool, uint32 } from '../../../config/schema-kit.ts';
import { HeaderMatcherSchema, type HeaderMatcherWire } from '../../../matchers/header-matcher.ts';
import { StringMatcherSchema, type StringMatcherWire } from '../../../matchers/string-matcher.ts';

/** envoy.type.matcher.v3.PathMatcher: `path` is matched against the :path without query and fragment. */
const PathMatcherSchema = message('envoy.type.matcher.v3.PathMatcher', { path: StringMatcherSchema });
export type PathMatcherWire = z.output<typeof PathMatcherSchema>;

/** envoy.type.v3.Int32Range for destination_port_range: [start, end), both within 0..65536 (PortRangeMatcher). */
const PortRangeSchema = message('envoy.type.v3.Int32Range', {
  start: z.number().int().min(0, 'range start is out of bounds').max(65536, 'range start is out of bounds').optional(),
  end: z.number().int().min(0, 'range end is out of bounds').max(65536, 'range end is out of bounds').optional(),
}).superRefine((r, ctx) => {
  if ((r.start ?? 0) >= (r.end ?? 0)) ctx.addIssue({ code: 'custom', message: `range start ${r.start ?? 0} cannot be greater or equal than range end ${r.end ?? 0}` });
});

/** `any` has (validate.rules).bool.const = true. */
const anyTrue = z.literal(true, { error: 'any must be true' });

const port = uint32.pipe(z.number().max(65535, 'destination_port must be at most 65535'));

export interface PermissionWire {
  and_rules?: { rules: PermissionWire[] } | undefined;
  or_rules?: { rules: PermissionWire[] } | undefined;
  any?: true | undefined;
  header?: HeaderMatcherWire | undefined;
  url_path?: PathMatcherWire | undefined;
  destination_ip?: CidrRangeWire | undefined;
  destination_port?: number | undefined;
  destination_port_range?: { start?: number | undefined; end?: number | undefined } | undefined;
  not_rule?: PermissionWire | undefined;
  requested_server_name?: StringMatcherWire | undefined;
}

export interface PrincipalWire {
  and_ids?: { ids: PrincipalWire[] } | undefined;
  or_ids?: { ids: PrincipalWire[] } | undefined;
  any?: true | undefined;
  authenticated?: { principal_name?: StringMatcherWire | undefined } | undefined;
  source_ip?: CidrRangeWire | undefined;
  direct_remote_ip?: CidrRangeWire | undefined;
  remote_ip?: CidrRangeWire | undefined;
  header?: HeaderMatcherWire | undefined;
  url_path?: PathMatcherWire | undefined;
  not_id?: PrincipalWire | undefined;
}

const PERMISSION_RULES = ['and_rules', 'or_rules', 'any', 'header', 'url_path', 'destination_ip', 'destination_port',
  'destination_port_range', 'not_rule', 'requested_server_name'] as const;
const PRINCIPAL_IDS = ['and_ids', 'or_ids', 'any', 'authenticated', 'source_ip', 'direct_remote_ip', 'remote_ip',
  'header', 'url_path', 'not_id'] as const;

/** A proto `oneof` with (validate.required) = true: exactly one of `fields` must be set. */
function exactlyOne(typeName: string, fields: readonly string[]) {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx): void => {
    const set = fields.filter((f) => value[f] !== undefined);
    if (set.length === 1) return;
    ctx.addIssue({ code: 'custom', message: set.length === 0
      ? `a ${typeName} needs one of ${fields.join(', ')}`
      : `a ${typeName} takes only one of ${fields.join(', ')} (got ${set.join(', ')})` });
  };
}

export const PermissionSchema: z.ZodType<PermissionWire, unknown> = z.lazy(() => message('envoy.config.rbac.v3.Permission', {
  and_rules: PermissionSetSchema.optional(),
  or_rules: PermissionSetSchema.optional(),
  any: anyTrue.optional(),
  header: HeaderMatcherSchema.optional(),
  url_path: PathMatcherSchema.optional(),
  destination_ip: CidrRangeSchema.optional(),
  destination_port: port.optional(),
  destination_port_range: PortRangeSchema.optional(),
  not_rule: PermissionSchema.optional(),
  requested_server_name: StringMatcherSchema.optional(),
}, {
  unimplemented: ['metadata', 'matcher', 'uri_template', 'sourced_metadata'],
}).superRefine(exactlyOne('Permission', PERMISSION_RULES)));

/** Permission.Set: `rules` has min_items 1. */
const PermissionSetSchema = message('envoy.config.rbac.v3.Permission.Set', {
  rules: z.array(PermissionSchema).min(1, 'rules must have at least 1 item'),
});

export const PrincipalSchema: z.ZodType<PrincipalWire, unknown> = z.lazy(() => message('envoy.config.rbac.v3.Principal', {
  and_ids: PrincipalSetSchema.optional(),
  or_ids: PrincipalSetSchema.optional(),
  any: anyTrue.optional(),
  authenticated: AuthenticatedSchema.optional(),
  source_ip: CidrRangeSchema.optional(),
  direct_remote_ip: CidrRangeSchema.optional(),
  remote_ip: CidrRangeSchema.optional(),
  header: HeaderMatcherSchema.optional(),
  url_path: PathMatcherSchema.optional(),
  not_id: PrincipalSchema.optional(),
}, {
  unimplemented: ['metadata', 'filter_state', 'sourced_metadata', 'custom'],
}).superRefine(exactlyOne('Principal', PRINCIPAL_IDS)));

/** Principal.Set: `ids` has min_items 1. */
const PrincipalSetSchema = message('envoy.config.rbac.v3.Principal.Set', {
  ids: z.array(PrincipalSchema).min(1, 'ids must have at least 1 item'),
});

/** Principal.Authenticated: an absent principal_name matches any TLS peer. */
const AuthenticatedSchema = message('envoy.config.rbac.v3.Principal.Authenticated', {
  principal_name: StringMatcherSchema.optional(),
});

/** envoy.config.rbac.v3.Policy: permissions and principals both have min_items 1. */
export const PolicySchema = message('envoy.config.rbac.v3.Policy', {
  permissions: z.array(PermissionSchema).min(1, 'permissions must have at least 1 item'),
  principals: z.array(PrincipalSchema).min(1, 'principals must have at least 1 item'),
}, { unimplemented: ['condition', 'checked_condition'] });

export type PolicyWire = z.output<typeof PolicySchema>;

/** envoy.config.rbac.v3.RBAC: action defaults to ALLOW; no policies is legal (ALLOW then denies all). */
export const RbacRulesSchema = message('envoy.config.rbac.v3.RBAC', {
  action: enumOf('envoy.config.rbac.v3.RBAC.Action', ['ALLOW', 'DENY', 'LOG']).optional(),
  policies: z.record(z.string(), PolicySchema).optional(),
}, { unimplemented: ['audit_logging_options'] });

export type RbacRulesWire = z.output<typeof RbacRulesSchema>;

/** envoy.extensions.filters.http.rbac.v3.RBAC: the filter's typed_config (also RBACPerRoute.rbac). */
export const RbacFilterSchema = message('envoy.extensions.filters.http.rbac.v3.RBAC', {
  rules: RbacRulesSchema.optional(),
  rules_stat_prefix: z.string().optional(),
  shadow_rules: RbacRulesSchema.optional(),
  shadow_rules_stat_prefix: z.string().optional(),
  // Per-policy counters (`…rbac.policy.<name>.allowed`) are not kept; false is Envoy's default.
  track_per_rule_stats: onlyValues(bool, [false], 'track_per_rule_stats').optional(),
}, { unimplemented: ['matcher', 'shadow_matcher'] });

export type RbacFilterWire = z.output<typeof RbacFilterSchema>;

/** envoy.extensions.filters.http.rbac.v3.RBACPerRoute: an absent `rbac` disables the filter on the route. */
export const RbacPerRouteSchema = message('envoy.extensions.filters.http.rbac.v3.RBACPerRoute', {
  rbac: RbacFilterSchema.optional(),
});

export type RbacPerRouteWire = z.output<typeof RbacPerRouteSchema>;
