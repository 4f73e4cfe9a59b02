// The RBAC filter's decisions: ALLOW / DENY / LOG with and without matching policies, absent and empty
// rules, policy order, shadow rules that never enforce, RBACPerRoute override and disable, the 403 reply
// and its details, dynamic metadata and the http.<stat_prefix>.rbac.* counters.

import { describe, expect, it } from 'vitest';
import { RBAC_ACCESS_DENIED_BODY, rbacResponseDetail } from '../../../proxy/filters/http/rbac/rbac-filter.ts';
import { harness, parsePerRoute, routeWith } from './harness.ts';

const ADMIN = { permissions: [{ url_path: { path: { prefix: '/admin' } } }], principals: [{ any: true }] };
const ANYONE = { permissions: [{ any: true }], principals: [{ any: true }] };
const SLEEP_ID = 'spiffe://cluster.local/ns/default/sa/sleep';
const FROM_SLEEP = { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: SLEEP_ID } } }] };

describe('actions', () => {
  const cases: [string, unknown, string, boolean, string | null][] = [
    // [name, rules, path, allowed, policy in the details]
    ['ALLOW with a matching policy', { action: 'ALLOW', policies: { admin: ADMIN } }, '/admin', true, null],
    ['ALLOW with no matching policy', { action: 'ALLOW', policies: { admin: ADMIN } }, '/public', false, 'none'],
    ['ALLOW is the default action', { policies: { admin: ADMIN } }, '/public', false, 'none'],
    ['ALLOW with no policies denies all', { action: 'ALLOW' }, '/', false, 'none'],
    ['ALLOW with an empty policy map denies all', { action: 'ALLOW', policies: {} }, '/', false, 'none'],
    ['empty rules {} denies all', {}, '/', false, 'none'],
    ['DENY with a matching policy', { action: 'DENY', policies: { 'block admin': ADMIN } }, '/admin', false, 'block_admin'],
    ['DENY with no matching policy', { action: 'DENY', policies: { admin: ADMIN } }, '/public', true, null],
    ['DENY with no policies allows all', { action: 'DENY' }, '/', true, null],
    ['LOG with a matching policy allows', { action: 'LOG', policies: { admin: ADMIN } }, '/admin', true, null],
    ['LOG with no matching policy allows', { action: 'LOG', policies: { admin: ADMIN } }, '/public', true, null],
  ];
  it.each(cases)('%s', (_name, rules, path, allowed, detailPolicy) => {
    const h = harness({ rules });
    const out = h.run({ path });
    expect(out.status).toBe(allowed ? 'continue' : 'stop');
    if (allowed) {
      expect(out.reply).toBeNull();
      expect([h.counter('rbac.allowed'), h.counter('rbac.denied')]).toEqual([1, 0]);
    } else {
      expect(out.reply).toEqual({ status: 403, body: 'RBAC: access denied', opts: { details: `rbac_access_denied_matched_policy[${detailPolicy}]` } });
      expect([h.counter('rbac.allowed'), h.counter('rbac.denied')]).toEqual([0, 1]);
    }
  });

  it('the body is the 19 bytes Envoy sends, and no response flag is set (Envoy has none for RBAC)', () => {
    expect(Buffer.byteLength(RBAC_ACCESS_DENIED_BODY)).toBe(19);
    const out = harness({ rules: {} }).run();
    expect(out.reply?.opts.flags).toBeUndefined();
  });

  it('without rules the filter allows everything and counts nothing', () => {
    const h = harness({});
    expect(h.run({ path: '/admin' }).status).toBe('continue');
    expect([h.counter('rbac.allowed'), h.counter('rbac.denied')]).toEqual([0, 0]);
    expect(h.run().info.dynamicMetadata.size).toBe(0);
  });

  it('policies are tried in name order: the first match names the decision', () => {
    const h = harness({ rules: { action: 'DENY', policies: { 'z-any': ANYONE, 'a-admin': ADMIN, 'm-any': ANYONE } } });
    expect(h.run({ path: '/admin' }).reply?.opts.details).toBe('rbac_access_denied_matched_policy[a-admin]');
    expect(h.run({ path: '/x' }).reply?.opts.details).toBe('rbac_access_denied_matched_policy[m-any]');
  });

  it('a policy needs a permission AND a principal', () => {
    const h = harness({ rules: { policies: { p: { permissions: [{ any: true }], principals: [{ header: { name: 'x-user', present_match: true } }] } } } });
    expect(h.run({ headers: { 'x-user': 'a' } }).status).toBe('continue');
    expect(h.run().status).toBe('stop');
  });

  it('LOG records access_log_hint in envoy.common dynamic metadata, true only when a policy matched', () => {
    const h = harness({ rules: { action: 'LOG', policies: { admin: ADMIN } } });
    expect(h.run({ path: '/admin' }).info.dynamicMetadata.get('envoy.common')).toEqual({ access_log_hint: true });
    expect(h.run({ path: '/x' }).info.dynamicMetadata.get('envoy.common')).toEqual({ access_log_hint: false });
  });

  it('enforced results land in dynamic metadata, keys prefixed with rules_stat_prefix', () => {
    const h = harness({ rules: { action: 'DENY', policies: { admin: ADMIN } }, rules_stat_prefix: 'p_' });
    expect(h.run({ path: '/admin' }).info.dynamicMetadata.get('envoy.filters.http.rbac'))
      .toEqual({ p_enforced_effective_policy_id: 'admin', p_enforced_engine_result: 'denied' });
    expect(h.run({ path: '/x' }).info.dynamicMetadata.get('envoy.filters.http.rbac')).toEqual({ p_enforced_engine_result: 'allowed' });
  });
});

describe('authenticated principals (TLS peer from StreamInfo.downstreamSsl)', () => {
  const h = harness({ rules: { policies: { sleep: FROM_SLEEP } } });
  const ssl = (uri: string) => ({ uriSanPeerCertificate: [uri], dnsSansPeerCertificate: [], subjectPeerCertificate: '' });

  it('the allowed SPIFFE ID gets in', () => {
    expect(h.run({ conn: { ssl: ssl(SLEEP_ID) } }).status).toBe('continue');
  });

  it('another SPIFFE ID, plaintext, and a TLS client without a certificate are refused', () => {
    expect(h.run({ conn: { ssl: ssl('spiffe://cluster.local/ns/default/sa/intruder') } }).reply?.status).toBe(403);
    expect(h.run({}).reply?.status).toBe(403);
    expect(h.run({ conn: { ssl: { uriSanPeerCertificate: [], dnsSansPeerCertificate: [], subjectPeerCertificate: '' } } }).reply?.status).toBe(403);
    // A header claiming the identity proves nothing.
    expect(h.run({ headers: { 'x-forwarded-client-cert': `URI=${SLEEP_ID}` } }).reply?.status).toBe(403);
  });
});

describe('shadow_rules', () => {
  const shadowDenyAdmin = { action: 'DENY', policies: { admin: ADMIN } };

  it('are evaluated but never enforced: counters and dynamic metadata only', () => {
    const h = harness({ shadow_rules: shadowDenyAdmin, shadow_rules_stat_prefix: 'sh_' });
    const denied = h.run({ path: '/admin' });
    expect(denied.status).toBe('continue');
    expect(denied.info.dynamicMetadata.get('envoy.filters.http.rbac'))
      .toEqual({ sh_shadow_effective_policy_id: 'admin', sh_shadow_engine_result: 'denied' });
    const allowed = h.run({ path: '/x' });
    expect(allowed.info.dynamicMetadata.get('envoy.filters.http.rbac')).toEqual({ sh_shadow_engine_result: 'allowed' });
    expect([h.counter('rbac.sh_.shadow_denied'), h.counter('rbac.sh_.shadow_allowed')]).toEqual([1, 1]);
    expect([h.counter('rbac.allowed'), h.counter('rbac.denied')]).toEqual([0, 0]);
  });

  it('a shadow deny-all next to enforced allow-all: everything passes', () => {
    const h = harness({ rules: { action: 'ALLOW', policies: { all: ANYONE } }, shadow_rules: {} });
    const out = h.run({ path: '/admin' });
    expect(out.status).toBe('continue');
    expect([h.counter('rbac.allowed'), h.counter('rbac.shadow_denied')]).toEqual([1, 1]);
  });

  it('shadow LOG writes no access_log_hint', () => {
    const h = harness({ shadow_rules: { action: 'LOG', policies: { admin: ADMIN } } });
    expect(h.run({ path: '/admin' }).info.dynamicMetadata.has('envoy.common')).toBe(false);
  });
});

describe('stat names (generateStats)', () => {
  it.each([
    ['', '', 'http.ingress.rbac.denied', 'http.ingress.rbac.shadow_denied'],
    ['r_', 's_', 'http.ingress.rbac.r_.denied', 'http.ingress.rbac.s_.shadow_denied'],
    ['r.', 's.', 'http.ingress.rbac.r.denied', 'http.ingress.rbac.s.shadow_denied'],
  ])('rules_stat_prefix %j, shadow_rules_stat_prefix %j', (rules, shadow, denied, shadowDenied) => {
    const h = harness({ rules: {}, shadow_rules: {}, rules_stat_prefix: rules, shadow_rules_stat_prefix: shadow });
    h.run();
    expect(h.stats.counters.get(denied)?.value()).toBe(1);
    expect(h.stats.counters.get(shadowDenied)?.value()).toBe(1);
  });
});

describe('RBACPerRoute', () => {
  const denyAll = { rules: {} };

  it('replaces the listener rules on its route only', () => {
    const h = harness({ rules: { action: 'DENY', policies: { admin: ADMIN } } });
    const open = routeWith(parsePerRoute({ rbac: { rules: { action: 'ALLOW', policies: { all: ANYONE } } } }));
    const closed = routeWith(parsePerRoute({ rbac: denyAll }));
    expect(h.run({ path: '/admin' }, open).status).toBe('continue');
    expect(h.run({ path: '/public' }, closed).reply?.opts.details).toBe('rbac_access_denied_matched_policy[none]');
    // A route without typed_per_filter_config keeps the listener's rules.
    expect(h.run({ path: '/admin' }, routeWith(undefined)).status).toBe('stop');
    // Per-route decisions count in the listener filter's counters.
    expect([h.counter('rbac.allowed'), h.counter('rbac.denied')]).toEqual([1, 2]);
  });

  it('an empty RBACPerRoute (no rbac) disables the filter on the route', () => {
    const h = harness(denyAll);
    const out = h.run({ path: '/admin' }, routeWith(parsePerRoute({})));
    expect(out.status).toBe('continue');
    expect(out.info.dynamicMetadata.size).toBe(0);
    expect(h.counter('rbac.allowed') + h.counter('rbac.denied')).toBe(0);
  });

  it('metadata keys use the route config stat prefixes when set, else the listener ones', () => {
    const h = harness({ rules: {}, rules_stat_prefix: 'base_' });
    const own = routeWith(parsePerRoute({ rbac: { rules: { action: 'DENY' }, rules_stat_prefix: 'own_' } }));
    const inherits = routeWith(parsePerRoute({ rbac: { rules: { action: 'DENY' } } }));
    expect(h.run({}, own).info.dynamicMetadata.get('envoy.filters.http.rbac')).toEqual({ own_enforced_engine_result: 'allowed' });
    expect(h.run({}, inherits).info.dynamicMetadata.get('envoy.filters.http.rbac')).toEqual({ base_enforced_engine_result: 'allowed' });
  });

});

describe('rbacResponseDetail', () => {
  it.each([
    [null, 'rbac_access_denied_matched_policy[none]'],
    ['ns[default]', 'rbac_access_denied_matched_policy[ns[default]]'],
    ['deny\tthe admin path', 'rbac_access_denied_matched_policy[deny_the_admin_path]'],
  ])('%j', (policy, want) => {
    expect(rbacResponseDetail(policy)).toBe(want);
  });
});
