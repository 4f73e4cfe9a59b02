// Every local reply the proxy sends, through a real proxy writing a real access log file in Istio's default
// text format (the one the control plane emits): each line carries Envoy's %RESPONSE_FLAGS% and
// %RESPONSE_CODE_DETAILS% for the reply — no route, no cluster, no healthy host, connection failure, retries
// exhausted, overflow, timeouts, fault injection, rate limiting, RBAC, direct responses and the codec's 400/431.

import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ISTIO_TEXT_FORMAT } from '../../control-plane/translate/access-log.ts';
import type { Server } from '../../proxy/server/server.ts';
import { indent, send, sendRaw, staticCluster } from '../support/proxy.ts';
import { testScope } from '../support/scope.ts';
import { closedPort, type TestUpstream } from '../support/upstream.ts';

const scope = testScope();

const FAULT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
const LRL = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const RBAC = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
const RBAC_ROUTE = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const ALWAYS = '{ default_value: { numerator: 100, denominator: HUNDRED }, runtime_key: x }';

/** A listener on 127.0.0.1:0 whose HCM logs to `log` in Istio's format. */
function listener(name: string, log: string, hcmExtra: string, routes: string): string {
  return `- name: ${name}
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
  filter_chains:
  - filters:
    - name: envoy.filters.network.http_connection_manager
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        stat_prefix: ${name}
${indent(hcmExtra, 8)}
        access_log:
        - name: envoy.access_loggers.file
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
            path: ${JSON.stringify(log)}
            log_format: { text_format_source: { inline_string: ${JSON.stringify(ISTIO_TEXT_FORMAT)} } }
        route_config:
          name: ${name}
          validate_clusters: false
          virtual_hosts:
          - name: all
            domains: ["*"]
            routes:
${indent(routes, 12)}
        http_filters:
        - { name: envoy.filters.http.fault, typed_config: { "@type": ${FAULT} } }
        - { name: envoy.filters.http.local_ratelimit, typed_config: { "@type": ${LRL}, stat_prefix: unused } }
        - { name: envoy.filters.http.rbac, typed_config: { "@type": ${RBAC} } }
        - { name: envoy.filters.http.router, typed_config: { "@type": ${ROUTER} } }`;
}

const MAIN_ROUTES = `- match: { prefix: /ok }
  route: { cluster: web }
- match: { prefix: /nc }
  route: { cluster: missing }
- match: { prefix: /uh }
  route: { cluster: empty }
- match: { prefix: /uf }
  route: { cluster: dead }
- match: { prefix: /urx }
  route: { cluster: dead, retry_policy: { retry_on: connect-failure, num_retries: 1 } }
- match: { prefix: /uo }
  route: { cluster: full }
- match: { prefix: /ut }
  route: { cluster: silent, timeout: 0.05s }
- match: { prefix: /per-try }
  route: { cluster: silent, timeout: 5s, retry_policy: { retry_on: retriable-4xx, per_try_timeout: 0.05s } }
- match: { prefix: /fi }
  route: { cluster: web }
  typed_per_filter_config:
    envoy.filters.http.fault: { "@type": ${FAULT}, abort: { http_status: 503, percentage: { numerator: 100 } } }
- match: { prefix: /di-fi }
  route: { cluster: web }
  typed_per_filter_config:
    envoy.filters.http.fault:
      "@type": ${FAULT}
      delay: { fixed_delay: 0.001s, percentage: { numerator: 100 } }
      abort: { http_status: 500, percentage: { numerator: 100 } }
- match: { prefix: /di }
  route: { cluster: web }
  typed_per_filter_config:
    envoy.filters.http.fault: { "@type": ${FAULT}, delay: { fixed_delay: 0.001s, percentage: { numerator: 100 } } }
- match: { prefix: /rl }
  route: { cluster: web }
  typed_per_filter_config:
    envoy.filters.http.local_ratelimit:
      "@type": ${LRL}
      stat_prefix: rl
      token_bucket: { max_tokens: 1, tokens_per_fill: 1, fill_interval: 3600s }
      filter_enabled: ${ALWAYS}
      filter_enforced: ${ALWAYS}
- match: { prefix: /rbac-none }
  route: { cluster: web }
  typed_per_filter_config:
    envoy.filters.http.rbac: { "@type": ${RBAC_ROUTE}, rbac: { rules: { policies: {} } } }
- match: { prefix: /rbac-deny }
  route: { cluster: web }
  typed_per_filter_config:
    envoy.filters.http.rbac:
      "@type": ${RBAC_ROUTE}
      rbac: { rules: { action: DENY, policies: { no-get: { permissions: [{ header: { name: ":method", string_match: { exact: GET } } }], principals: [{ any: true }] } } } }
- match: { prefix: /respond }
  direct_response: { status: 200, body: { inline_string: ok } }`;

/** [what, the request's path in the log ('-' for none), status, %RESPONSE_FLAGS%, %RESPONSE_CODE_DETAILS%] */
type Expected = readonly [string, string, number, string, string];

const EXPECTED: readonly Expected[] = [
  ['proxied', '/ok', 200, '-', 'via_upstream'],
  ['no route (NR)', '/nowhere', 404, 'NR', 'route_not_found'],
  ['no cluster (NC)', '/nc', 503, 'NC', 'cluster_not_found'],
  ['no healthy upstream (UH)', '/uh', 503, 'UH', 'no_healthy_upstream'],
  ['connection failure (UF)', '/uf', 503, 'UF', 'upstream_reset_before_response_started{connection_failure}'],
  ['retries exhausted (UF,URX)', '/urx', 503, 'UF,URX', 'upstream_reset_before_response_started{connection_failure}'],
  ['circuit breaker overflow (UO)', '/uo', 503, 'UO', 'upstream_reset_before_response_started{overflow}'],
  ['route timeout (UT)', '/ut', 504, 'UT', 'response_timeout'],
  ['per-try timeout (UT)', '/per-try', 504, 'UT', 'upstream_per_try_timeout'],
  ['fault abort (FI)', '/fi', 503, 'FI', 'fault_filter_abort'],
  ['fault delay and abort (DI,FI)', '/di-fi', 500, 'DI,FI', 'fault_filter_abort'],
  ['fault delay, then proxied (DI)', '/di', 200, 'DI', 'via_upstream'],
  ['local rate limit (RL)', '/rl', 429, 'RL', 'local_rate_limited'],
  ['RBAC, no policy matched', '/rbac-none', 403, '-', 'rbac_access_denied_matched_policy[none]'],
  ['RBAC, a DENY policy matched', '/rbac-deny', 403, '-', 'rbac_access_denied_matched_policy[no-get]'],
  ['direct response', '/respond', 200, '-', 'direct_response'],
  ['header with an underscore (REJECT_REQUEST)', '/ok', 400, 'DPE', 'http1.unexpected_underscore'],
  ['more headers than max_headers_count', '/ok', 431, 'DPE', 'http1.too_many_headers'],
  ['malformed HTTP (codec)', '-', 400, 'DPE', 'http1.codec_error'],
  ['headers larger than max_request_headers_kb (codec)', '-', 431, 'DPE', 'http1.headers_too_large'],
  ['stream idle timeout (SI)', '/idle', 408, 'SI', 'stream_idle_timeout'],
  ['request timeout', '/slow-body', 408, '-', 'request_overall_timeout'],
];

/** A POST announcing 10 body bytes and sending 3. */
function slowBody(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/slow-body', method: 'POST', agent: false, headers: { 'content-length': '10' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.write('abc');
  });
}

/** The fields of an Istio-format line this test reads: path, status, flags, details. */
const LINE = /^\[[^\]]+\] "(\S+) (\S+) (\S+)" (\d+) (\S+) (\S+) /;

describe('local replies in the access log (Istio\'s format)', () => {
  let lines: string[] = [];
  const statuses = new Map<string, number>();
  /** What each log line is about, in order. */
  const order: string[] = [];

  beforeAll(async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'nodevoy-local-replies-')), 'access.log');
    const web: TestUpstream = await scope.upstream('web');
    const silent = await scope.upstream('silent', () => undefined);
    const dead = await closedPort();
    const s: Server = await scope.proxy(`
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
${indent(listener('main', log, 'max_request_headers_kb: 1\ncommon_http_protocol_options: { max_headers_count: 20, headers_with_underscores_action: REJECT_REQUEST }', MAIN_ROUTES), 2)}
${indent(listener('idle', log, 'stream_idle_timeout: 0.05s', '- match: { prefix: / }\n  route: { cluster: silent, timeout: 0s }'), 2)}
${indent(listener('timed', log, 'request_timeout: 0.05s', '- match: { prefix: / }\n  route: { cluster: web }'), 2)}
  clusters:
${indent([
    staticCluster('web', [web.port]), staticCluster('silent', [silent.port]), staticCluster('dead', [dead]),
    '- { name: empty, type: STATIC, connect_timeout: 1s, load_assignment: { cluster_name: empty } }', staticCluster('full', [web.port], 'circuit_breakers: { thresholds: [{ max_pending_requests: 0 }] }'),
  ].join('\n'), 4)}
`);
    const main = s.listenerPort('main');
    const status = (response: string) => Number(/^HTTP\/1\.1 (\d+)/.exec(response)?.[1]);
    const requests: Readonly<Record<string, () => Promise<number>>> = {
      'header with an underscore (REJECT_REQUEST)': async () => (await send(main, '/ok', { headers: { x_bad: '1' } })).status,
      'more headers than max_headers_count': async () => (await send(main, '/ok', { headers: Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`x-h${i}`, '1'])) })).status,
      'malformed HTTP (codec)': async () => status(await sendRaw(main, 'GET / HTTP/1.1\r\nHost: a\r\nBroken header line\r\n\r\n')),
      'headers larger than max_request_headers_kb (codec)': async () => status(await sendRaw(main, `GET / HTTP/1.1\r\nHost: a\r\nx-big: ${'a'.repeat(2000)}\r\n\r\n`)),
      'stream idle timeout (SI)': async () => (await send(s.listenerPort('idle'), '/idle')).status,
      'request timeout': () => slowBody(s.listenerPort('timed')),
    };
    // One request at a time, so the log lines come in this order.
    for (const [what, path] of EXPECTED) {
      if (what.startsWith('local rate limit')) {
        order.push('rate limit bucket'); // takes the only token
        statuses.set('rate limit bucket', (await send(main, path)).status);
      }
      order.push(what);
      statuses.set(what, await (requests[what] ?? (async () => (await send(main, path)).status))());
    }
    await s.close(); // flushes the file
    lines = readFileSync(log, 'utf8').trim().split('\n');
  });

  it('logs one line per request, the rate limit\'s admitted request included', () => {
    expect(lines).toHaveLength(order.length);
    expect(statuses.get('rate limit bucket')).toBe(200);
  });

  it.each(EXPECTED)('%s: %s %i %s %s', (what, path, status, flags, details) => {
    expect(statuses.get(what)).toBe(status);
    const line = lines[order.indexOf(what)]!;
    const m = LINE.exec(line);
    expect(m, line).not.toBeNull();
    const [, method, loggedPath, protocol, code, loggedFlags, loggedDetails] = m!;
    expect({ path: loggedPath, code: Number(code), flags: loggedFlags, details: loggedDetails }).toEqual({ path, code: status, flags, details });
    expect(protocol).toBe('HTTP/1.1');
    expect(method).toBe(path === '-' ? '-' : path === '/slow-body' ? 'POST' : 'GET');
  });

  it('prints the rest of Istio\'s fields: addresses, cluster, route name', () => {
    const ok = lines[0]!;
    // ... "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%
    expect(ok).toMatch(/ "127\.0\.0\.1:\d+" web 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ - -$/);
    const nr = lines[1]!;
    expect(nr).toMatch(/ "-" - - 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ - -$/);
  });
});
