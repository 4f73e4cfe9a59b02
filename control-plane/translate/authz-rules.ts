// One AuthorizationPolicy rule → one Envoy RBAC Policy, as Istio's authz model (pilot/pkg/security/authz/
// model: model.go, generator.go, matcher/): each `from` becomes a principal and each `to` a permission, an
// AND of the rule's fields in Istio's order (each field an OR of its values, its not-values a NOT of an OR),
// and every `when` condition is ANDed onto each principal or permission it belongs to.

import type { AuthzCondition, AuthzOperation, AuthzRule, AuthzSource } from '../istio/authorization-policy.ts';

type Json = Record<string, unknown>;

const SPIFFE_PREFIX = 'spiffe://';

/**
 * matcher.StringMatcherWithPrefix: `*` → any non-empty value (regex `.+`), `*x` → suffix (a regex when a
 * prefix must come first), `x*` → prefix, else exact.
 */
export function stringMatcher(v: string, prefix = ''): Json {
  if (v === '*') return { safe_regex: { regex: '.+' } };
  if (v.startsWith('*')) return prefix === '' ? { suffix: v.slice(1) } : { safe_regex: { regex: `${prefix}.*${v.slice(1)}` } };
  if (v.endsWith('*')) return { prefix: prefix + v.slice(0, -1) };
  return { exact: prefix + v };
}

/** matcher.HeaderMatcher: `*` → present, else a string_match. */
function headerMatcher(name: string, v: string): Json {
  return v === '*' ? { name, present_match: true } : { name, string_match: stringMatcher(v) };
}

/** matcher.HostMatcher: as a header matcher on :authority, case-insensitive. */
function hostMatcher(v: string): Json {
  return v === '*' ? { name: ':authority', present_match: true } : { name: ':authority', string_match: { ...stringMatcher(v), ignore_case: true } };
}

/** util.AddrStrToCidrRange: an IP is a /32 (/128); a CIDR keeps its address as written. */
function cidr(v: string): Json {
  const [address, len] = v.split('/');
  return { address_prefix: address, prefix_len: len === undefined ? (address!.includes(':') ? 128 : 32) : Number(len) };
}

const authenticated = (principalName: Json): Json => ({ authenticated: { principal_name: principalName } });

/** srcServiceAccountGenerator: `<ns>/<sa>` or `<sa>` (the policy's namespace), with any path segments around. */
function serviceAccount(value: string, policyNamespace: string): Json {
  const slash = value.indexOf('/');
  const [ns, sa] = slash < 0 ? [policyNamespace, value] : [value.slice(0, slash), value.slice(slash + 1)];
  return authenticated({ safe_regex: { regex: `spiffe://.+/ns/${ns}/(.+/|)sa/${sa}(/.+)?` } });
}

/** One field of a rule: its generator and values / not-values (absent or empty: the field is not there). */
interface Field {
  readonly make: (value: string) => Json;
  readonly values: readonly string[] | undefined;
  readonly notValues: readonly string[] | undefined;
}

type Kind = 'principal' | 'permission';
const OR = { principal: (ids: Json[]) => ({ or_ids: { ids } }), permission: (rules: Json[]) => ({ or_rules: { rules } }) };
const AND = { principal: (ids: Json[]) => ({ and_ids: { ids } }), permission: (rules: Json[]) => ({ and_rules: { rules } }) };
const NOT = { principal: (id: Json) => ({ not_id: id }), permission: (rule: Json) => ({ not_rule: rule }) };

/** generatePrincipal / generatePermission: AND of each field's OR (and NOT-OR); no field at all: `any`. */
function combine(kind: Kind, fields: readonly Field[]): Json {
  const and: Json[] = [];
  for (const f of fields) {
    if (f.values !== undefined && f.values.length > 0) and.push(OR[kind](f.values.map(f.make)));
    if (f.notValues !== undefined && f.notValues.length > 0) and.push(NOT[kind](OR[kind](f.notValues.map(f.make))));
  }
  return AND[kind](and.length > 0 ? and : [{ any: true }]);
}

const field = (make: (v: string) => Json, values: readonly string[] | undefined, notValues?: readonly string[]): Field => ({ make, values, notValues });

const principalIp = (v: string) => ({ direct_remote_ip: cidr(v) });
const principalRemoteIp = (v: string) => ({ remote_ip: cidr(v) });
const principalNamespace = (v: string) => authenticated({ safe_regex: { regex: `.*/ns/${v.replaceAll('*', '.*')}/.*` } });
const principalName = (v: string) => authenticated(stringMatcher(v, SPIFFE_PREFIX));
const permissionPort = (v: string) => ({ destination_port: Number(v) });

/** A `when` condition that is about the caller (a principal), or undefined when it is about the request. */
function principalCondition(c: AuthzCondition): Field | undefined {
  const header = /^request\.headers\[(.+)\]$/.exec(c.key)?.[1];
  if (header !== undefined) return field((v) => ({ header: headerMatcher(header, v) }), c.values, c.notValues);
  switch (c.key) {
    case 'source.ip': return field(principalIp, c.values, c.notValues);
    case 'remote.ip': return field(principalRemoteIp, c.values, c.notValues);
    case 'source.namespace': return field(principalNamespace, c.values, c.notValues);
    case 'source.principal': return field(principalName, c.values, c.notValues);
    default: return undefined;
  }
}

/** A `when` condition about the request's connection (destination.ip / destination.port / connection.sni). */
function permissionCondition(c: AuthzCondition): Field | undefined {
  switch (c.key) {
    case 'destination.ip': return field((v) => ({ destination_ip: cidr(v) }), c.values, c.notValues);
    case 'destination.port': return field(permissionPort, c.values, c.notValues);
    case 'connection.sni': return field((v) => ({ requested_server_name: stringMatcher(v) }), c.values, c.notValues);
    default: return undefined;
  }
}

/** model.New's order for a source: principals, serviceAccounts, namespaces, remoteIpBlocks, ipBlocks. */
function sourceFields(s: AuthzSource, policyNamespace: string): Field[] {
  return [
    field(principalName, s.principals, s.notPrincipals),
    field((v) => serviceAccount(v, policyNamespace), s.serviceAccounts, s.notServiceAccounts),
    field(principalNamespace, s.namespaces, s.notNamespaces),
    field(principalRemoteIp, s.remoteIpBlocks, s.notRemoteIpBlocks),
    field(principalIp, s.ipBlocks, s.notIpBlocks),
  ];
}

/** model.New's order for an operation: hosts, methods, paths, ports. */
function operationFields(o: AuthzOperation): Field[] {
  return [
    field((v) => ({ header: hostMatcher(v) }), o.hosts, o.notHosts),
    field((v) => ({ header: headerMatcher(':method', v) }), o.methods, o.notMethods),
    field((v) => ({ url_path: { path: stringMatcher(v) } }), o.paths, o.notPaths),
    field(permissionPort, o.ports, o.notPorts),
  ];
}

/** envoy.config.rbac.v3.Policy for one rule of a policy in `policyNamespace`. */
export function rulePolicy(rule: AuthzRule, policyNamespace: string): Json {
  const whenPrincipals = rule.when.flatMap((c) => principalCondition(c) ?? []);
  const whenPermissions = rule.when.flatMap((c) => permissionCondition(c) ?? []);
  const principals = (rule.from ?? [undefined]).map((f) => combine('principal', [...(f === undefined ? [] : sourceFields(f.source, policyNamespace)), ...whenPrincipals]));
  const permissions = (rule.to ?? [undefined]).map((t) => combine('permission', [...(t === undefined ? [] : operationFields(t.operation)), ...whenPermissions]));
  return { permissions, principals };
}

/** builder.go's rbacPolicyMatchNever: a policy without rules matches no request. */
export const MATCH_NEVER: Json = Object.freeze({ permissions: [{ not_rule: { any: true } }], principals: [{ not_id: { any: true } }] });
