// HTTPFault config: Envoy's validation rules with every error's path and kind (filter level and inside
// a whole bootstrap, including typed_per_filter_config), snake_case/lowerCamelCase, defaults.

import { describe, expect, it } from 'vitest';
import { validateBootstrap } from '../../../proxy/config/bootstrap.ts';
import { parseWith } from '../../../proxy/config/schema-kit.ts';
import { HTTPFaultSchema } from '../../../proxy/filters/http/fault/fault-schema.ts';
import '../../../proxy/filters/http/index.ts';
import { HCM_TYPE_URL } from '../../../proxy/http/hcm-schema.ts';
import { parseFault } from './harness.ts';

const FAULT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';

function errors(wire: unknown) {
  const r = parseWith(HTTPFaultSchema, wire, 'fault');
  return r.ok ? [] : r.errors.map(({ path, kind, message }) => ({ path, kind, message }));
}

describe('HTTPFault errors', () => {
  it.each([
    ['delay without a specifier', { delay: { percentage: { numerator: 1 } } }, 'fault.delay', 'invalid', /FaultDelay needs one of fixed_delay, header_delay/],
    ['delay with both specifiers', { delay: { fixed_delay: '1s', header_delay: {} } }, 'fault.delay', 'invalid', /takes only one of/],
    ['fixed_delay 0s', { delay: { fixed_delay: '0s' } }, 'fault.delay.fixed_delay', 'invalid', /greater than 0s/],
    ['fixed_delay not a Duration', { delay: { fixed_delay: '7' } }, 'fault.delay.fixed_delay', 'invalid', /Duration/],
    ['the v2 delay type field', { delay: { type: 'FIXED', fixed_delay: '1s' } }, 'fault.delay.type', 'unknown-field', /FaultDelay has no such field/],
    ['abort without a specifier', { abort: { percentage: { numerator: 1 } } }, 'fault.abort', 'invalid', /FaultAbort needs one of http_status, grpc_status, header_abort/],
    ['abort with two specifiers', { abort: { http_status: 503, grpc_status: 14 } }, 'fault.abort', 'invalid', /takes only one of/],
    ['http_status 600', { abort: { http_status: 600 } }, 'fault.abort.http_status', 'invalid', /\[200, 600\)/],
    ['http_status 199', { abort: { http_status: 199 } }, 'fault.abort.http_status', 'invalid', /\[200, 600\)/],
    ['a negative grpc_status', { abort: { grpc_status: -1 } }, 'fault.abort.grpc_status', 'invalid', /.+/],
    ['an unknown denominator', { abort: { http_status: 503, percentage: { numerator: 1, denominator: 'THOUSAND' } } }, 'fault.abort.percentage.denominator', 'invalid', /not a envoy.type.v3.FractionalPercent.DenominatorType value/],
    ['a numerator above uint32', { delay: { fixed_delay: '1s', percentage: { numerator: 2 ** 32 } } }, 'fault.delay.percentage.numerator', 'invalid', /.+/],
    ['max_active_faults -1', { max_active_faults: -1 }, 'fault.max_active_faults', 'invalid', /.+/],
    ['a bad header matcher', { headers: [{ name: 'x', exact_match: 'a', prefix_match: 'b' }] }, 'fault.headers[0]', 'invalid', /only one of/],
    ['response_rate_limit', { response_rate_limit: { fixed_limit: { limit_kbps: 1 } } }, 'fault.response_rate_limit', 'not-implemented', /nodevoy does not implement/],
    ['a runtime key', { abort_percent_runtime: 'fault.http.abort.abort_percent' }, 'fault.abort_percent_runtime', 'not-implemented', /nodevoy does not implement/],
    ['filter_metadata', { filter_metadata: { a: 1 } }, 'fault.filter_metadata', 'not-implemented', /nodevoy does not implement/],
    ['an unknown field', { delays: {} }, 'fault.delays', 'unknown-field', /HTTPFault has no such field/],
  ])('%s', (_what, wire, path, kind, message) => {
    const errs = errors(wire);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatchObject({ path, kind });
    expect(errs[0]!.message).toMatch(message);
  });

  it('reports every error at once', () => {
    expect(errors({ delay: { fixed_delay: '0s' }, abort: { http_status: 700 }, response_rate_limit: {} }).map((e) => e.path))
      .toEqual(['fault.delay.fixed_delay', 'fault.abort.http_status', 'fault.response_rate_limit']);
  });

  it('accepts lowerCamelCase and the empty message', () => {
    expect(errors({
      delay: { fixedDelay: '7s', percentage: { numerator: 100 } },
      abort: { httpStatus: 500, percentage: { numerator: 50, denominator: 'HUNDRED' } },
      upstreamCluster: 'reviews', downstreamNodes: ['n'], maxActiveFaults: 3, disableDownstreamClusterStats: true,
      headers: [{ name: 'end-user', stringMatch: { exact: 'jason' } }],
    })).toEqual([]);
    const empty = parseFault({});
    expect(empty).toMatchObject({ delay: null, abort: null, upstreamCluster: '', downstreamNodes: null, maxActiveFaults: Infinity });
  });
});

describe('HTTPFault in a bootstrap', () => {
  const HCM = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';

  function bootstrap(filterConfig: Record<string, unknown>, perRoute?: Record<string, unknown>) {
    return {
      static_resources: {
        listeners: [{
          name: 'l', address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
          filter_chains: [{
            filters: [{
              name: 'envoy.filters.network.http_connection_manager',
              typed_config: {
                '@type': HCM_TYPE_URL, stat_prefix: 'ingress',
                route_config: {
                  virtual_hosts: [{
                    name: 'all', domains: ['*'],
                    routes: [{
                      match: { prefix: '/' }, route: { cluster: 'backend' },
                      ...(perRoute ? { typed_per_filter_config: { 'envoy.filters.http.fault': { '@type': FAULT_TYPE, ...perRoute } } } : {}),
                    }],
                  }],
                },
                http_filters: [
                  { name: 'envoy.filters.http.fault', typed_config: { '@type': FAULT_TYPE, ...filterConfig } },
                  { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
                ],
              },
            }],
          }],
        }],
        clusters: [{
          name: 'backend', type: 'STATIC',
          load_assignment: { cluster_name: 'backend', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 1 } } } }] }] },
        }],
      },
    };
  }

  it('validates a correct filter and per-route config', () => {
    const r = validateBootstrap(bootstrap({ abort: { http_status: 503, percentage: { numerator: 10 } } }, { delay: { fixed_delay: '7s', percentage: { numerator: 100 } } }));
    expect(r.ok).toBe(true);
  });

  function errorPaths(doc: unknown): [string, string][] {
    const r = validateBootstrap(doc);
    return r.ok ? [] : r.errors.map((e) => [e.path, e.kind]);
  }

  it('reports a filter-level error with its full path', () => {
    expect(errorPaths(bootstrap({ abort: { http_status: 99 } }))).toEqual([[`${HCM}.http_filters[0].typed_config.abort.http_status`, 'invalid']]);
  });

  it('reports per-route errors with their typed_per_filter_config path', () => {
    const at = `${HCM}.route_config.virtual_hosts[0].routes[0].typed_per_filter_config.envoy.filters.http.fault`;
    expect(errorPaths(bootstrap({}, { delay: { fixed_delay: '-1s' }, response_rate_limit: {} }))).toEqual([
      [`${at}.delay.fixed_delay`, 'invalid'],
      [`${at}.response_rate_limit`, 'not-implemented'],
    ]);
  });
});
