// Schema of the AuthorizationPolicy spec (security.istio.io v1beta1/v1, one shape): ALLOW / DENY / AUDIT
// rules on who calls (from.source), what is asked (to.operation) and conditions (when), with Istio's
// ValidateAuthorizationPolicy checks. JWT-based fields (requestPrincipals, request.auth.*) and CUSTOM
// (external authorization) are not implemented: they are reported, never ignored.

import { isIP } from 'node:net';
import { z } from 'zod';
import { MatchLabelsSelectorSchema, istioEnum, istioMessage } from './istio-kit.ts';

const NS = 'istio.security.v1';

/** Istio's CheckEmptyValues: a list of non-empty strings. */
const values = (field: string) => z.array(z.string({ error: `${field} values are strings (quote numbers)` }).min(1, `empty value not allowed, found in ${field}`));

/** Istio's ValidateIPs: an IP or a CIDR ("1.2.3.4", "10.0.0.0/16"). */
export function isCidrOrIp(v: string): boolean {
  const [ip = '', len, ...rest] = v.split('/');
  if (rest.length > 0 || isIP(ip) === 0) return false;
  if (len === undefined) return true;
  const max = isIP(ip) === 4 ? 32 : 128;
  return /^\d+$/.test(len) && Number(len) <= max;
}

const ips = (field: string) => values(field).superRefine((list, ctx) => {
  list.forEach((v, i) => { if (!isCidrOrIp(v)) ctx.addIssue({ code: 'custom', path: [i], message: `invalid IP address or CIDR range: "${v}"` }); });
});

/** Istio's ValidatePorts: decimal port numbers as strings, 0-65535. */
const ports = (field: string) => values(field).superRefine((list, ctx) => {
  list.forEach((v, i) => { if (!/^\d+$/.test(v) || Number(v) > 65535) ctx.addIssue({ code: 'custom', path: [i], message: `invalid port "${v}": a port number in 0-65535, as a string` }); });
});

/** Istio path templates (`{*}`, `{**}`) become Envoy's uri_template matcher, which nodevoy's RBAC does not implement. */
const paths = (field: string) => values(field).superRefine((list, ctx) => {
  list.forEach((v, i) => {
    if (v.includes('{') || v.includes('}')) {
      ctx.addIssue({ code: 'custom', path: [i], params: { kind: 'not-implemented' }, message: `path template "${v}" needs Envoy's uri_template matcher, which nodevoy's RBAC filter does not implement` });
    }
  });
});

const JWT = ['requestPrincipals', 'notRequestPrincipals'];

const SourceSchema = istioMessage(`${NS}.Source`, {
  principals: values('principals').optional(),
  notPrincipals: values('notPrincipals').optional(),
  serviceAccounts: values('serviceAccounts').optional(),
  notServiceAccounts: values('notServiceAccounts').optional(),
  namespaces: values('namespaces').optional(),
  notNamespaces: values('notNamespaces').optional(),
  ipBlocks: ips('ipBlocks').optional(),
  notIpBlocks: ips('notIpBlocks').optional(),
  remoteIpBlocks: ips('remoteIpBlocks').optional(),
  notRemoteIpBlocks: ips('notRemoteIpBlocks').optional(),
}, { unimplemented: JWT }).superRefine((s, ctx) => {
  // An unimplemented field is reported as such; "must not be empty" would only repeat it.
  if (Object.values(s).every((v) => v === undefined || v.length === 0) && !Object.keys(s).some((k) => JWT.includes(k))) {
    ctx.addIssue({ code: 'custom', message: '`from.source` must not be empty' });
  }
});

const OperationSchema = istioMessage(`${NS}.Operation`, {
  hosts: values('hosts').optional(),
  notHosts: values('notHosts').optional(),
  ports: ports('ports').optional(),
  notPorts: ports('notPorts').optional(),
  methods: values('methods').optional(),
  notMethods: values('notMethods').optional(),
  paths: paths('paths').optional(),
  notPaths: paths('notPaths').optional(),
}).superRefine((o, ctx) => {
  if (Object.values(o).every((v) => v === undefined || v.length === 0)) ctx.addIssue({ code: 'custom', message: '`to.operation` must not be empty' });
});

/** `when` keys nodevoy translates; request.auth.* (JWT) and experimental.envoy.filters.* (metadata) are not implemented. */
const CONDITION_KEYS = ['source.ip', 'remote.ip', 'source.namespace', 'source.principal', 'destination.ip', 'destination.port', 'connection.sni'];
const REQUEST_HEADER = /^request\.headers\[(.+)\]$/;

const ConditionSchema = istioMessage(`${NS}.Condition`, {
  key: z.string().min(1, '`key` must not be empty'),
  values: values('values').optional(),
  notValues: values('notValues').optional(),
}).superRefine((c, ctx) => {
  const all = [...(c.values ?? []), ...(c.notValues ?? [])];
  if (all.length === 0) ctx.addIssue({ code: 'custom', message: `at least one of \`values\` or \`notValues\` must be set for key ${c.key}` });
  const bad = (message: string, kind?: 'not-implemented') => ctx.addIssue({ code: 'custom', path: ['key'], message, ...(kind ? { params: { kind } } : {}) });
  if (c.key.startsWith('request.headers')) {
    if (!REQUEST_HEADER.test(c.key)) bad(`invalid key ${c.key}: expecting the format request.headers[<NAME>]`);
  } else if (c.key.startsWith('request.auth.') || c.key.startsWith('experimental.envoy.filters.') || c.key === 'source.serviceAccount') {
    bad(`condition key ${c.key} is valid Istio config but nodevoy does not implement it (no JWT authentication or metadata matching)`, 'not-implemented');
  } else if (!CONDITION_KEYS.includes(c.key)) {
    bad(`unknown attribute ${c.key} (supported: request.headers[<name>], ${CONDITION_KEYS.join(', ')})`);
  } else if (c.key === 'source.ip' || c.key === 'remote.ip' || c.key === 'destination.ip') {
    for (const v of all) if (!isCidrOrIp(v)) bad(`invalid value "${v}" for key ${c.key}: an IP address or CIDR range`);
  } else if (c.key === 'destination.port') {
    for (const v of all) if (!/^\d+$/.test(v) || Number(v) > 65535) bad(`invalid value "${v}" for key ${c.key}: a port number in 0-65535`);
  }
});

/** `from`/`to` written but empty is an error in Istio ("must not be empty"); absent matches everything. */
const nonEmptyList = <T extends z.ZodType>(item: T, field: string) =>
  z.array(item).min(1, `\`${field}\` must not be empty (leave it out to match every ${field === 'from' ? 'source' : 'operation'})`).optional();

const RuleSchema = istioMessage(`${NS}.Rule`, {
  from: nonEmptyList(istioMessage(`${NS}.Rule.From`, { source: SourceSchema }), 'from'),
  to: nonEmptyList(istioMessage(`${NS}.Rule.To`, { operation: OperationSchema }), 'to'),
  when: z.array(ConditionSchema).default([]),
});

export const AUTHZ_ACTIONS = ['ALLOW', 'DENY', 'AUDIT'] as const;
export type AuthzAction = (typeof AUTHZ_ACTIONS)[number];

export const AuthorizationPolicySpecSchema = istioMessage(`${NS}.AuthorizationPolicy`, {
  selector: MatchLabelsSelectorSchema.optional(),
  action: istioEnum(`${NS}.AuthorizationPolicy.Action`, AUTHZ_ACTIONS, ['CUSTOM']).default('ALLOW'),
  /** Absent (or `spec: {}`): no rule, so an ALLOW policy matches nothing and denies every request. */
  rules: z.array(RuleSchema).optional(),
}, { unimplemented: ['provider', 'targetRef', 'targetRefs'] }).superRefine((p, ctx) => {
  if (p.action === 'DENY' && (p.rules ?? []).length === 0) {
    ctx.addIssue({ code: 'custom', path: ['rules'], message: 'DENY action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request' });
  }
});

export type AuthorizationPolicySpec = z.output<typeof AuthorizationPolicySpecSchema>;
export type AuthzRule = NonNullable<AuthorizationPolicySpec['rules']>[number];
export type AuthzSource = NonNullable<AuthzRule['from']>[number]['source'];
export type AuthzOperation = NonNullable<AuthzRule['to']>[number]['operation'];
export type AuthzCondition = AuthzRule['when'][number];
