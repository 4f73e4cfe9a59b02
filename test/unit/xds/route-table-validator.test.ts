// The RDS validator with memory (proxy/xds/route-table-validator.ts): the same tables and the same error
// paths as a whole-table parse, and, from one response to the next of a subscription, unchanged virtual
// hosts reused as parsed (the objects are the very same) while a changed one is parsed again.

import { describe, expect, it } from 'vitest';
import type { Validate, ValidationMemory } from '../../../control-client/types.ts';
import type { ConfigError } from '../../../proxy/common/result.ts';
import { parseWith } from '../../../proxy/config/schema-kit.ts';
import { RouteConfigurationSchema, type RouteConfigurationWire } from '../../../proxy/route/route-config-schema.ts';
import { routeConfigurationResourceType } from '../../../proxy/xds/resource-types.ts';

type Json = Record<string, unknown>;

const vhost = (host: string, weightV2 = 10): Json => ({
  name: `${host}:9080`,
  domains: [`${host}:9080`, host],
  routes: [{
    match: { prefix: '/' },
    route: { weighted_clusters: { clusters: [{ name: `${host}-v1`, weight: 100 - weightV2 }, { name: `${host}-v2`, weight: weightV2 }] }, timeout: '0s' },
  }],
});

const table = (hosts: Json[], extra: Json = {}): Json => ({ name: 'outbound_http', virtual_hosts: hosts, ...extra });
const HOSTS = ['reviews', 'ratings', 'details', 'productpage'];

function tables(validate: Validate<RouteConfigurationWire>, resources: unknown[]): readonly RouteConfigurationWire[] {
  const r = validate(resources);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

/** The type's validate with one subscription's memory. */
function newValidator(): Validate<RouteConfigurationWire> {
  const memory: ValidationMemory = new Map();
  return (resources, accepted) => routeConfigurationResourceType.validate(resources, accepted, memory);
}

/** The whole-table parse the memory must agree with (RouteConfigurationSchema). */
const wholeTable: Validate<RouteConfigurationWire> = (resources) => {
  const errors: ConfigError[] = [];
  const parsed: RouteConfigurationWire[] = [];
  resources.forEach((r, i) => {
    const one = parseWith(RouteConfigurationSchema, r, `resources[${i}]`);
    if (!one.ok) errors.push(...one.errors);
    else if (!one.value.name) errors.push({ path: `resources[${i}].name`, kind: 'invalid', message: 'no name' });
    else parsed.push(one.value);
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: parsed };
};

describe('RDS validation one virtual host at a time', () => {
  it('gives what a whole-table parse gives, snake_case or lowerCamelCase, table-level fields included', () => {
    const snake = table(HOSTS.map((h) => vhost(h)), { validate_clusters: false, response_headers_to_add: [{ header: { key: 'x-a', value: '1' } }] });
    const camel = { name: 'outbound_http', virtualHosts: HOSTS.map((h) => vhost(h)), validateClusters: false };
    const whole = wholeTable([snake, camel]);
    expect(newValidator()([snake, camel])).toEqual(whole);
    expect(routeConfigurationResourceType.validate([snake, camel])).toEqual(whole);
    expect(whole.ok).toBe(true);
  });

  it('reports the same errors at the same paths (a bad virtual host, a bad table field, no name)', () => {
    const bad = [
      table([vhost('reviews'), { name: 'empty', domains: [] }]),
      { name: 'x', virtualHosts: [{ name: 'v', domains: ['a'], routes: [{ match: { prefix: '/' } }] }], bogus: 1 },
      table([vhost('ratings')], { name: '' }),
    ];
    const whole = wholeTable(bad);
    const incremental = newValidator()(bad);
    expect(whole.ok).toBe(false);
    expect(incremental.ok).toBe(false);
    const paths = (r: typeof whole) => (r.ok ? [] : r.errors.map((e) => e.path).sort());
    expect(paths(incremental)).toEqual(paths(whole));
    expect(paths(routeConfigurationResourceType.validate(bad))).toEqual(paths(whole));
    expect(paths(incremental)).toEqual(expect.arrayContaining(['resources[0].virtual_hosts[1].domains', 'resources[2].name']));
  });

  it('reuses the unchanged virtual hosts of the previous response as parsed, and parses the changed one again', () => {
    const validate = newValidator();
    const [first] = tables(validate, [table(HOSTS.map((h) => vhost(h)))]);
    const [second] = tables(validate, [table(HOSTS.map((h) => vhost(h, h === 'ratings' ? 50 : 10)))]);
    const [a, b] = [first!.virtual_hosts!, second!.virtual_hosts!];
    expect(b[0]).toBe(a[0]);
    expect(b[1]).not.toBe(a[1]);
    expect(b[1]).toEqual(tables(wholeTable, [table([vhost('ratings', 50)])])[0]!.virtual_hosts![0]);
    expect(b[2]).toBe(a[2]);
    // Memory is per subscription: another validator parses everything itself.
    const [other] = tables(newValidator(), [table(HOSTS.map((h) => vhost(h)))]);
    expect(other!.virtual_hosts![0]).not.toBe(a[0]);
    expect(other).toEqual(first);
  });
});
