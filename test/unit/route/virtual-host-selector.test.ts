// Virtual host selection: exact > suffix wildcard > prefix wildcard > '*', ports, ignore_port_in_host_matching.

import { describe, expect, it } from 'vitest';
import { VirtualHostSelector, stripPort } from '../../../proxy/route/virtual-host-selector.ts';
import { table, req } from './route-fixtures.ts';

const HOSTS: Record<string, string[]> = {
  exact: ['api.foo.com', 'Mixed.Case.com', 'svc:8080'],
  'suffix-long': ['*.api.foo.com'],
  'suffix-short': ['*.foo.com'],
  'suffix-dash': ['*-bar.foo.com'],
  'prefix-long': ['api.foo.*'],
  'prefix-short': ['api.*'],
  catchall: ['*'],
};

function selector(ignorePort = false) {
  return new VirtualHostSelector(Object.entries(HOSTS).flatMap(([value, domains]) => domains.map((domain) => ({ domain, value }))), ignorePort);
}

describe('virtual host selection', () => {
  it.each([
    ['api.foo.com', 'exact'], // exact beats every wildcard that also matches
    ['API.FOO.COM', 'exact'], // the authority is lower-cased
    ['mixed.case.com', 'exact'], // domains are lower-cased
    ['v1.api.foo.com', 'suffix-long'], // longest suffix first
    ['a.b.foo.com', 'suffix-short'], // `*` spans dots
    ['x-bar.foo.com', 'suffix-dash'], // longer suffix than `.foo.com`
    ['.foo.com', 'catchall'], // `*` must match ≥ 1 character
    ['api.foo.org', 'prefix-long'], // suffix wildcards beat prefix wildcards; none matches here
    ['api.bar', 'prefix-short'],
    ['api.', 'catchall'], // the prefix wildcard's `*` must match ≥ 1 character
    ['other.org', 'catchall'],
    ['api.foo.com:8080', 'prefix-long'], // the port is part of the host
    ['svc:8080', 'exact'],
    ['svc', 'catchall'],
  ])('%s → %s', (authority, expected) => {
    expect(selector().select(authority)).toBe(expected);
  });

  it('suffix wildcards beat prefix wildcards', () => {
    const s = new VirtualHostSelector([{ domain: 'api.*', value: 'prefix' }, { domain: '*.com', value: 'suffix' }], false);
    expect(s.select('api.com')).toBe('suffix');
  });

  it.each([
    ['api.foo.com:8080', 'exact'],
    ['svc:9090', 'catchall'], // `svc:8080` is configured with its port, which is stripped from the request only
    ['[::1]:80', 'catchall'],
  ])('ignore_port_in_host_matching: %s → %s', (authority, expected) => {
    expect(selector(true).select(authority)).toBe(expected);
  });

  it('returns null without a `*` host', () => {
    expect(new VirtualHostSelector([{ domain: 'a.com', value: 1 }], false).select('b.com')).toBeNull();
  });

  it.each([
    ['host:80', 'host'],
    ['host', 'host'],
    ['[::1]:443', '[::1]'],
    ['[::1]', '[::1]'],
    ['::1', '::1'],
  ])('stripPort(%s) = %s', (host, expected) => {
    expect(stripPort(host)).toBe(expected);
  });

  it('is used by the route table; no virtual host → no route', () => {
    const rc = table({
      virtual_hosts: [
        { name: 'a', domains: ['a.com', 'a.com:8080'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200 } }] },
        { name: 'b', domains: ['*.b.com'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200 } }] },
      ],
    });
    expect(rc.route(req('/', { authority: 'a.com:8080' }))?.virtualHost.name).toBe('a');
    expect(rc.route(req('/', { authority: 'x.y.b.com' }))?.virtualHost.name).toBe('b');
    expect(rc.route(req('/', { authority: 'a.com:9090' }))).toBeNull();
    const ignoring = table({ ignore_port_in_host_matching: true, virtual_hosts: [{ name: 'a', domains: ['a.com'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200 } }] }] });
    expect(ignoring.route(req('/', { authority: 'a.com:9090' }))?.virtualHost.name).toBe('a');
  });
});
