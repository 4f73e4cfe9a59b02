// Starts a real nodevoy Server in-process from Envoy YAML for integration tests, with listener and
// admin ports on 0 unless the YAML says otherwise, and helpers to send requests to it.

import { request as httpRequest } from 'node:http';
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
export function send(port: number, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** A minimal one-listener, one-cluster bootstrap; `routes` and `clusters` are YAML fragments. */
export function bootstrapYaml(opts: { routes: string; clusters: string; hcmExtra?: string; virtualHostExtra?: string; domains?: string; listenerExtra?: string }): string {
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
          route_config:
            name: local
            virtual_hosts:
            - name: all
              domains: ${opts.domains ?? '["*"]'}
${indent(opts.virtualHostExtra ?? '', 14)}
              routes:
${indent(opts.routes, 14)}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
${indent(opts.clusters, 2)}
`;
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

function indent(text: string, n: number): string {
  const pad = ' '.repeat(n);
  return text.split('\n').map((l) => (l.trim() === '' ? '' : pad + l)).join('\n');
}
