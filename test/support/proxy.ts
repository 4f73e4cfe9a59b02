// Starts a real nodevoy Server in-process from Envoy YAML for integration tests, with listener and
// admin ports on 0 unless the YAML says otherwise, and helpers to send requests to it.

import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { parseConfigText } from '../../proxy/config/load.ts';
import { validateBootstrap } from '../../proxy/config/bootstrap.ts';
import { formatConfigError } from '../../proxy/common/result.ts';
import { createLogger } from '../../proxy/common/logger.ts';
import { Server, type ServerOptions } from '../../proxy/server/server.ts';

export async function startProxy(yaml: string, opts: Omit<ServerOptions, 'bootstrap'> = {}): Promise<Server> {
  const parsed = parseConfigText(yaml, 'test.yaml');
  if (!parsed.ok) throw new Error(parsed.errors.map(formatConfigError).join('\n'));
  const validated = validateBootstrap(parsed.value);
  if (!validated.ok) throw new Error(validated.errors.map(formatConfigError).join('\n'));
  return Server.start({ logger: createLogger('off'), ...opts, bootstrap: validated.value });
}

export interface SimpleResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One HTTP/1.1 request on a fresh connection (no agent pooling surprises in assertions). */
export function send(port: number, path: string, init: { method?: string; headers?: Record<string, string>; body?: string; host?: string } = {}): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: init.host ?? '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Writes `data` on a fresh connection; resolves with everything read until the proxy closes it (codec errors). */
export function sendRaw(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.write(data));
    let out = '';
    sock.on('data', (c: Buffer) => { out += c.toString(); });
    sock.on('close', () => resolve(out));
    sock.on('error', reject);
  });
}

export interface BootstrapOptions {
  /** YAML list of the virtual host's routes. */
  readonly routes: string;
  /** YAML list of static clusters. */
  readonly clusters: string;
  /** YAML list of http_filters entries that run before the router. */
  readonly httpFilters?: string;
  /** Adds an envoy.access_loggers.file access log writing to this path. */
  readonly accessLogPath?: string;
  /** The access log's text format (inline_string); absent = Envoy's default format. */
  readonly accessLogFormat?: string;
  readonly hcmExtra?: string;
  readonly virtualHostExtra?: string;
  readonly domains?: string;
  readonly listenerExtra?: string;
}

/** A minimal one-listener, one-cluster bootstrap; the string options are YAML fragments. */
export function bootstrapYaml(opts: BootstrapOptions): string {
  return `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
  - name: main
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
${indent(opts.listenerExtra ?? '', 4)}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
${indent(opts.hcmExtra ?? '', 10)}
${indent(accessLog(opts), 10)}
          route_config:
            name: local
            virtual_hosts:
            - name: all
              domains: ${opts.domains ?? '["*"]'}
${indent(opts.virtualHostExtra ?? '', 14)}
              routes:
${indent(opts.routes, 14)}
          http_filters:
${indent(opts.httpFilters ?? '', 10)}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
${indent(opts.clusters, 2)}
`;
}

/** The HCM access_log of a file logger, or nothing without `accessLogPath`. */
function accessLog(opts: BootstrapOptions): string {
  if (opts.accessLogPath === undefined) return '';
  const format = opts.accessLogFormat === undefined
    ? ''
    : `\n    log_format:\n      text_format_source: { inline_string: ${JSON.stringify(opts.accessLogFormat)} }`;
  return `access_log:
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${JSON.stringify(opts.accessLogPath)}${format}`;
}

/** A STATIC cluster YAML fragment pointing at 127.0.0.1 ports. */
export function staticCluster(name: string, ports: readonly number[], extra = ''): string {
  const endpoints = ports.map((p) => `      - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${p} } } }`).join('\n');
  return `- name: ${name}
  type: STATIC
  connect_timeout: 1s
${indent(extra, 2)}
  load_assignment:
    cluster_name: ${name}
    endpoints:
    - lb_endpoints:
${endpoints}`;
}

/** Indents every non-blank line of a YAML fragment by `n` spaces (blank lines become empty). */
export function indent(text: string, n: number): string {
  const pad = ' '.repeat(n);
  return text.split('\n').map((l) => (l.trim() === '' ? '' : pad + l)).join('\n');
}
