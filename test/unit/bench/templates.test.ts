// Tests bench/lib/templates.ts against the real bench/configs files: the sidecar bootstrap gets this run's
// ports and stays the same valid YAML; nginx/haproxy placeholders are all filled.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderBootstrap, renderTemplate } from '../../../bench/lib/templates.ts';

const configs = new URL('../../../bench/configs/', import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, configs), 'utf8');

interface Bootstrap {
  admin: { address: { socket_address: { port_value: number } } };
  static_resources: {
    listeners: { address: { socket_address: { address: string; port_value: number } }; filter_chains: { filters: { typed_config: Record<string, unknown> }[] }[] }[];
    clusters: { name: string; type: string; circuit_breakers: { thresholds: Record<string, unknown>[] }; load_assignment: { endpoints: { lb_endpoints: { endpoint: { address: { socket_address: { port_value: number } } } }[] }[] } }[];
  };
}

describe('renderBootstrap (bench/configs/nodevoy-envoy.yaml)', () => {
  const original = read('nodevoy-envoy.yaml');
  const rendered = renderBootstrap(original, { adminPort: 41000, listenerPort: 41001, upstreamPort: 41002 });
  const doc = parse(rendered) as Bootstrap;
  const hcm = doc.static_resources.listeners[0]!.filter_chains[0]!.filters[0]!.typed_config;
  const cluster = doc.static_resources.clusters[0]!;

  it('sets the admin, listener and upstream ports and nothing else', () => {
    expect(doc.admin.address.socket_address.port_value).toBe(41000);
    expect(doc.static_resources.listeners[0]!.address.socket_address.port_value).toBe(41001);
    expect(cluster.load_assignment.endpoints[0]!.lb_endpoints[0]!.endpoint.address.socket_address.port_value).toBe(41002);
    const withDefaults = parse(renderBootstrap(original, { adminPort: 15000, listenerPort: 15001, upstreamPort: 18080 }));
    expect(withDefaults).toEqual(parse(original));
  });

  it('keeps the comments (the file documents itself)', () => {
    expect(rendered.startsWith('# A sidecar-like Envoy v3 bootstrap')).toBe(true);
  });

  it('is the sidecar shape the README describes', () => {
    const vhosts = (hcm['route_config'] as { virtual_hosts: { domains: string[]; routes: unknown[] }[] }).virtual_hosts;
    expect(vhosts).toHaveLength(10);
    expect(vhosts.at(-1)!.domains).toContain('bench-upstream.default.svc.cluster.local');
    expect(vhosts.at(-1)!.routes).toHaveLength(3);
    // Istio's default retry policy (retry.DefaultPolicy) on every route.
    const routes = vhosts.flatMap((v) => v.routes as { route: { retry_policy?: Record<string, unknown> } }[]);
    expect(routes).toHaveLength(12);
    for (const r of routes) {
      expect(r.route.retry_policy).toMatchObject({
        retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
        num_retries: 2, host_selection_retry_max_attempts: 5, retriable_status_codes: [503],
        retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }],
      });
    }
    expect(hcm['generate_request_id']).toBe(true);
    expect(hcm).not.toHaveProperty('access_log');
    expect((hcm['http_filters'] as { name: string }[]).map((f) => f.name)).toEqual(['envoy.filters.http.router']);
    expect(doc.static_resources.listeners[0]!.address.socket_address.address).toBe('127.0.0.1');
    expect(cluster.type).toBe('STATIC');
    expect(cluster.circuit_breakers.thresholds[0]).toMatchObject({ max_connections: 4294967295, max_pending_requests: 4294967295, max_requests: 4294967295 });
  });

  it('fails loudly when the file no longer has a port where the harness expects one', () => {
    expect(() => renderBootstrap('static_resources: {}\n', { adminPort: 1, listenerPort: 2, upstreamPort: 3 })).toThrow(/admin\.address/);
  });
});

describe('renderTemplate', () => {
  it.each(['nginx.conf', 'haproxy.cfg'])('fills every placeholder of %s', (name) => {
    const vars: Record<string, string | number> = { LISTEN_PORT: 42001, UPSTREAM_PORT: 42002 };
    if (name === 'nginx.conf') vars['DIR'] = '/tmp/bench-x';
    const out = renderTemplate(read(name), vars);
    expect(out).not.toMatch(/\{\{/);
    expect(out).toContain('127.0.0.1:42001');
    expect(out).toContain('127.0.0.1:42002');
  });

  it('rejects a missing or an unused value', () => {
    expect(() => renderTemplate('listen {{PORT}};', {})).toThrow('missing values for [PORT]');
    expect(() => renderTemplate('listen 80;', { PORT: 1 })).toThrow('unused values [PORT]');
  });
});
