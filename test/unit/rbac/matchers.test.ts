// RBAC Permission and Principal rules, one table each: every rule kind against requests and connections
// that match and that do not (nested and/or/not, header with the query in :path, url_path without it,
// ports and port ranges, CIDRs of the local / direct / XFF-trusted addresses, SNI, the TLS peer identity).

import { describe, expect, it } from 'vitest';
import { parseWith } from '../../../proxy/config/schema-kit.ts';
import { compilePermission, compilePrincipal } from '../../../proxy/filters/http/rbac/matchers.ts';
import { PermissionSchema, PrincipalSchema } from '../../../proxy/filters/http/rbac/schema.ts';
import type { SslConnectionInfo } from '../../../proxy/http/stream-info.ts';
import { infoOf, requestOf, type Req } from './harness.ts';

function parsed<T>(schema: Parameters<typeof parseWith<T>>[0], wire: unknown): T {
  const r = parseWith(schema, wire);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

function permissionMatches(wire: unknown, req: Req): boolean {
  return compilePermission(parsed(PermissionSchema, wire))(requestOf(req), infoOf(req.conn));
}

function principalMatches(wire: unknown, req: Req): boolean {
  return compilePrincipal(parsed(PrincipalSchema, wire))(requestOf(req), infoOf(req.conn));
}

const SLEEP: SslConnectionInfo = {
  uriSanPeerCertificate: ['spiffe://cluster.local/ns/default/sa/sleep'],
  dnsSansPeerCertificate: ['sleep.default.svc'],
  subjectPeerCertificate: 'CN=sleep,O=example',
};
const NO_CLIENT_CERT: SslConnectionInfo = { uriSanPeerCertificate: [], dnsSansPeerCertificate: [], subjectPeerCertificate: '' };

describe('Permission', () => {
  const admin = { url_path: { path: { prefix: '/admin' } } };
  const get = { header: { name: ':method', string_match: { exact: 'GET' } } };
  const cases: [string, unknown, Req, boolean][] = [
    ['any', { any: true }, {}, true],
    ['header :method exact', get, { method: 'GET' }, true],
    ['header :method exact, other method', get, { method: 'POST' }, false],
    ['header present_match on an absent header', { header: { name: 'x-user', present_match: true } }, {}, false],
    ['header value, repeated values joined by ","', { header: { name: 'x-role', exact_match: 'a,b' } }, { headers: { 'x-role': ['a', 'b'] } }, true],
    ['header :path sees the query', { header: { name: ':path', string_match: { suffix: '?debug=1' } } }, { path: '/api?debug=1' }, true],
    ['url_path ignores the query', { url_path: { path: { exact: '/api' } } }, { path: '/api?debug=1' }, true],
    ['url_path ignores the fragment', { url_path: { path: { exact: '/api' } } }, { path: '/api#top' }, true],
    ['url_path prefix', admin, { path: '/admin/users' }, true],
    ['url_path prefix, other path', admin, { path: '/public/admin' }, false],
    ['url_path regex', { url_path: { path: { safe_regex: { regex: '/items/[0-9]+' } } } }, { path: '/items/42?x' }, true],
    ['url_path ignore_case', { url_path: { path: { exact: '/API', ignore_case: true } } }, { path: '/api' }, true],
    ['destination_port', { destination_port: 8080 }, {}, true],
    ['destination_port, other port', { destination_port: 9090 }, {}, false],
    ['destination_port_range [8000, 8081)', { destination_port_range: { start: 8000, end: 8081 } }, {}, true],
    ['destination_port_range end is exclusive', { destination_port_range: { start: 8000, end: 8080 } }, {}, false],
    ['destination_ip in CIDR', { destination_ip: { address_prefix: '10.0.0.0', prefix_len: 24 } }, {}, true],
    ['destination_ip outside CIDR', { destination_ip: { address_prefix: '10.0.1.0', prefix_len: 24 } }, {}, false],
    ['destination_ip IPv6', { destination_ip: { address_prefix: '::1', prefix_len: 128 } }, { conn: { local: '::1:8080' } }, true],
    ['requested_server_name', { requested_server_name: { suffix: '.example.com' } }, { conn: { sni: 'api.example.com' } }, true],
    ['requested_server_name without SNI matches against ""', { requested_server_name: { exact: '' } }, {}, true],
    ['and_rules all match', { and_rules: { rules: [get, admin] } }, { path: '/admin' }, true],
    ['and_rules one fails', { and_rules: { rules: [get, admin] } }, { path: '/admin', method: 'POST' }, false],
    ['or_rules one matches', { or_rules: { rules: [{ destination_port: 1 }, admin] } }, { path: '/admin' }, true],
    ['or_rules none matches', { or_rules: { rules: [{ destination_port: 1 }, admin] } }, { path: '/' }, false],
    ['not_rule', { not_rule: admin }, { path: '/public' }, true],
    ['not_rule of a match', { not_rule: admin }, { path: '/admin' }, false],
    ['nested: GET and not /admin, or port 1', { or_rules: { rules: [{ and_rules: { rules: [get, { not_rule: admin }] } }, { destination_port: 1 }] } }, { path: '/x' }, true],
    ['nested: GET and not /admin, or port 1 — /admin', { or_rules: { rules: [{ and_rules: { rules: [get, { not_rule: admin }] } }, { destination_port: 1 }] } }, { path: '/admin' }, false],
  ];
  it.each(cases)('%s', (_name, wire, req, want) => {
    expect(permissionMatches(wire, req)).toBe(want);
  });
});

describe('Principal', () => {
  const sleepId = { authenticated: { principal_name: { exact: 'spiffe://cluster.local/ns/default/sa/sleep' } } };
  const cases: [string, unknown, Req, boolean][] = [
    ['any', { any: true }, {}, true],
    ['authenticated SPIFFE URI SAN', sleepId, { conn: { ssl: SLEEP } }, true],
    ['authenticated, another identity', { authenticated: { principal_name: { exact: 'spiffe://cluster.local/ns/default/sa/other' } } }, { conn: { ssl: SLEEP } }, false],
    ['authenticated never matches plaintext', sleepId, {}, false],
    ['authenticated by URI prefix (a namespace)', { authenticated: { principal_name: { prefix: 'spiffe://cluster.local/ns/default/' } } }, { conn: { ssl: SLEEP } }, true],
    ['authenticated falls back to the DNS SAN', { authenticated: { principal_name: { exact: 'sleep.default.svc' } } }, { conn: { ssl: SLEEP } }, true],
    ['authenticated falls back to the subject', { authenticated: { principal_name: { exact: 'CN=sleep,O=example' } } }, { conn: { ssl: SLEEP } }, true],
    ['authenticated without principal_name: any TLS peer', { authenticated: {} }, { conn: { ssl: NO_CLIENT_CERT } }, true],
    ['authenticated without principal_name: not plaintext', { authenticated: {} }, {}, false],
    ['authenticated without a client certificate', sleepId, { conn: { ssl: NO_CLIENT_CERT } }, false],
    ['direct_remote_ip', { direct_remote_ip: { address_prefix: '10.0.0.0', prefix_len: 8 } }, {}, true],
    ['direct_remote_ip ignores XFF', { direct_remote_ip: { address_prefix: '192.168.0.0', prefix_len: 16 } }, { conn: { remote: '192.168.1.1:0' } }, false],
    ['source_ip is the direct peer', { source_ip: { address_prefix: '10.0.0.1', prefix_len: 32 } }, { conn: { remote: '192.168.1.1:0' } }, true],
    ['remote_ip uses the trusted client address', { remote_ip: { address_prefix: '192.168.0.0', prefix_len: 16 } }, { conn: { remote: '192.168.1.1:0' } }, true],
    ['remote_ip outside', { remote_ip: { address_prefix: '192.168.0.0', prefix_len: 16 } }, {}, false],
    ['remote_ip IPv4-mapped IPv6 peer', { remote_ip: { address_prefix: '127.0.0.1', prefix_len: 32 } }, { conn: { directRemote: '::ffff:127.0.0.1:4000' } }, true],
    ['header', { header: { name: 'x-user', exact_match: 'alice' } }, { headers: { 'x-user': 'alice' } }, true],
    ['url_path', { url_path: { path: { exact: '/a' } } }, { path: '/a?b' }, true],
    ['and_ids', { and_ids: { ids: [sleepId, { direct_remote_ip: { address_prefix: '10.0.0.1', prefix_len: 32 } }] } }, { conn: { ssl: SLEEP } }, true],
    ['and_ids one fails', { and_ids: { ids: [sleepId, { direct_remote_ip: { address_prefix: '10.9.0.0', prefix_len: 16 } }] } }, { conn: { ssl: SLEEP } }, false],
    ['or_ids', { or_ids: { ids: [sleepId, { header: { name: 'x-user', present_match: true } }] } }, { headers: { 'x-user': 'x' } }, true],
    ['not_id', { not_id: sleepId }, {}, true],
    ['not_id of a match', { not_id: sleepId }, { conn: { ssl: SLEEP } }, false],
  ];
  it.each(cases)('%s', (_name, wire, req, want) => {
    expect(principalMatches(wire, req)).toBe(want);
  });
});
