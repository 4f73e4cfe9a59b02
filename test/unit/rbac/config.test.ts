// RBAC config: Envoy's and Istio's generated bodies are accepted (snake_case and camelCase); every load-
// time check Envoy's proto validation makes is an error with its field path and kind.

import { describe, expect, it } from 'vitest';
import { parseWith } from '../../../proxy/config/schema-kit.ts';
import { rbacFilter } from '../../../proxy/filters/http/rbac/index.ts';

const ROOT = 'http_filters[0].typed_config';

function errorsOf(wire: unknown, perRoute = false): { path: string; kind: string }[] {
  const r = parseWith(perRoute ? rbacFilter.perRouteSchema! : rbacFilter.configSchema, wire, ROOT);
  if (r.ok) throw new Error('expected config errors');
  return r.errors.map((e) => ({ path: e.path, kind: e.kind }));
}

function accepts(wire: unknown, perRoute = false): boolean {
  return parseWith(perRoute ? rbacFilter.perRouteSchema! : rbacFilter.configSchema, wire, ROOT).ok;
}

describe('accepted configs', () => {
  it("Envoy's documented example (header + destination_port; authenticated principal)", () => {
    expect(accepts({
      rules: {
        action: 'ALLOW',
        policies: {
          'service-admin': {
            permissions: [{ any: true }],
            principals: [
              { authenticated: { principal_name: { exact: 'cluster.local/ns/default/sa/admin' } } },
              { authenticated: { principal_name: { exact: 'cluster.local/ns/default/sa/superuser' } } },
            ],
          },
          'product-viewer': {
            permissions: [{ and_rules: { rules: [
              { header: { name: ':method', string_match: { exact: 'GET' } } },
              { url_path: { path: { prefix: '/products' } } },
              { or_rules: { rules: [{ destination_port: 80 }, { destination_port: 443 }] } },
            ] } }],
            principals: [{ any: true }],
          },
        },
      },
    })).toBe(true);
  });

  it('Istio-style generated policy in camelCase with ipBlocks, notPrincipals and shadow rules', () => {
    expect(accepts({
      rules: { action: 'DENY', policies: { 'ns[foo]-policy[deny-ext]-rule[0]': {
        permissions: [{ andRules: { rules: [{ orRules: { rules: [{ urlPath: { path: { prefix: '/admin' } } }] } }] } }],
        principals: [{ andIds: { ids: [
          { orIds: { ids: [{ directRemoteIp: { addressPrefix: '10.0.0.0', prefixLen: 8 } }, { remoteIp: { addressPrefix: '::1', prefixLen: 128 } }] } },
          { notId: { orIds: { ids: [{ authenticated: { principalName: { exact: 'spiffe://cluster.local/ns/foo/sa/bar' } } }] } } },
        ] } }],
      } } },
      shadowRules: { action: 'ALLOW', policies: {} },
      shadowRulesStatPrefix: 'istio_dry_run_allow_',
      rulesStatPrefix: 'p_',
    })).toBe(true);
  });

  it('every other rule kind, and action by number', () => {
    expect(accepts({ rules: { action: 1, policies: { p: {
      permissions: [{ destination_ip: { address_prefix: '10.0.0.1' } }, { destination_port_range: { start: 80, end: 81 } },
        { requested_server_name: { exact: 'a' } }, { not_rule: { any: true } }],
      principals: [{ source_ip: { address_prefix: '10.0.0.1', prefix_len: 32 } }, { header: { name: 'x', present_match: true } },
        { url_path: { path: { exact: '/' } } }, { authenticated: {} }],
    } } } })).toBe(true);
  });

  it('RBACPerRoute: empty (disable) and with rules', () => {
    expect(accepts({}, true)).toBe(true);
    expect(accepts({ rbac: { rules: { action: 'DENY' } } }, true)).toBe(true);
  });
});

describe('config errors with paths', () => {
  const P = `${ROOT}.rules.policies.p`;
  const cases: [string, unknown, { path: string; kind: string }[]][] = [
    ['empty permissions list', { rules: { policies: { p: { permissions: [], principals: [{ any: true }] } } } },
      [{ path: `${P}.permissions`, kind: 'invalid' }]],
    ['missing principals', { rules: { policies: { p: { permissions: [{ any: true }] } } } },
      [{ path: `${P}.principals`, kind: 'invalid' }]],
    ['unknown action', { rules: { action: 'AUDIT' } }, [{ path: `${ROOT}.rules.action`, kind: 'invalid' }]],
    ['a permission with no rule', { rules: { policies: { p: { permissions: [{}], principals: [{ any: true }] } } } },
      [{ path: `${P}.permissions[0]`, kind: 'invalid' }]],
    ['a permission with two rules', { rules: { policies: { p: { permissions: [{ any: true, destination_port: 80 }], principals: [{ any: true }] } } } },
      [{ path: `${P}.permissions[0]`, kind: 'invalid' }]],
    ['any: false', { rules: { policies: { p: { permissions: [{ any: false }], principals: [{ any: true }] } } } },
      [{ path: `${P}.permissions[0].any`, kind: 'invalid' }]],
    ['empty and_rules, nested', { rules: { policies: { p: { permissions: [{ not_rule: { and_rules: { rules: [] } } }], principals: [{ any: true }] } } } },
      [{ path: `${P}.permissions[0].not_rule.and_rules.rules`, kind: 'invalid' }]],
    ['empty or_ids', { rules: { policies: { p: { permissions: [{ any: true }], principals: [{ or_ids: { ids: [] } }] } } } },
      [{ path: `${P}.principals[0].or_ids.ids`, kind: 'invalid' }]],
    ['destination_port above 65535', { rules: { policies: { p: { permissions: [{ destination_port: 70000 }], principals: [{ any: true }] } } } },
      [{ path: `${P}.permissions[0].destination_port`, kind: 'invalid' }]],
    ['destination_port_range start >= end', { rules: { policies: { p: { permissions: [{ destination_port_range: { start: 90, end: 80 } }], principals: [{ any: true }] } } } },
      [{ path: `${P}.permissions[0].destination_port_range`, kind: 'invalid' }]],
    ['a CIDR that is not an IP', { rules: { policies: { p: { permissions: [{ any: true }], principals: [{ remote_ip: { address_prefix: 'example.com' } }] } } } },
      [{ path: `${P}.principals[0].remote_ip.address_prefix`, kind: 'invalid' }]],
    ['an invalid principal_name regex', { rules: { policies: { p: { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { safe_regex: { regex: '(?=x)' } } } }] } } } },
      [{ path: `${P}.principals[0].authenticated.principal_name.safe_regex.regex`, kind: 'invalid' }]],
    ['metadata permission (not implemented)', { rules: { policies: { p: { permissions: [{ metadata: {} }], principals: [{ any: true }] } } } },
      [{ path: `${P}.permissions[0].metadata`, kind: 'not-implemented' }, { path: `${P}.permissions[0]`, kind: 'invalid' }]],
    ['policy condition (CEL, not implemented)', { rules: { policies: { p: { permissions: [{ any: true }], principals: [{ any: true }], condition: {} } } } },
      [{ path: `${P}.condition`, kind: 'not-implemented' }]],
    ['matcher (not implemented)', { matcher: {} }, [{ path: `${ROOT}.matcher`, kind: 'not-implemented' }]],
    ['track_per_rule_stats: true (not implemented)', { track_per_rule_stats: true }, [{ path: `${ROOT}.track_per_rule_stats`, kind: 'not-implemented' }]],
    ['a typo', { rulez: {} }, [{ path: `${ROOT}.rulez`, kind: 'unknown-field' }]],
    ['a typo inside a principal', { rules: { policies: { p: { permissions: [{ any: true }], principals: [{ authenticated: { principal: {} } }] } } } },
      [{ path: `${P}.principals[0].authenticated.principal`, kind: 'unknown-field' }]],
  ];
  it.each(cases)('%s', (_name, wire, want) => {
    expect(errorsOf(wire)).toEqual(want);
  });

  it('errors in RBACPerRoute carry the rbac path', () => {
    expect(errorsOf({ rbac: { rules: { action: 'NOPE' } } }, true)).toEqual([{ path: `${ROOT}.rbac.rules.action`, kind: 'invalid' }]);
  });
});
