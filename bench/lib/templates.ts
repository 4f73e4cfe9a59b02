// Fills the peers' config files with the ports (and temp dir) of one benchmark run: `{{NAME}}` placeholders
// for nginx/haproxy, and a structural edit of the Envoy bootstrap so that file stays valid for `envoy -c`.

import { parseDocument } from 'yaml';

/** Replaces every `{{NAME}}`; a placeholder without a value, or a value never used, is an error. */
export function renderTemplate(text: string, vars: Readonly<Record<string, string | number>>): string {
  const used = new Set<string>();
  const missing = new Set<string>();
  const out = text.replace(/\{\{([A-Z_]+)\}\}/g, (_m, name: string) => {
    const v = vars[name];
    if (v === undefined) {
      missing.add(name);
      return '';
    }
    used.add(name);
    return String(v);
  });
  const unused = Object.keys(vars).filter((k) => !used.has(k));
  if (missing.size > 0 || unused.length > 0) {
    throw new Error(`template: missing values for [${[...missing].join(', ')}], unused values [${unused.join(', ')}]`);
  }
  return out;
}

export interface BootstrapPorts {
  readonly adminPort: number;
  readonly listenerPort: number;
  readonly upstreamPort: number;
}

/** Where the three ports live in bench/configs/nodevoy-envoy.yaml (first listener, first cluster's first endpoint). */
const PORT_PATHS: Readonly<Record<keyof BootstrapPorts, readonly (string | number)[]>> = {
  adminPort: ['admin', 'address', 'socket_address', 'port_value'],
  listenerPort: ['static_resources', 'listeners', 0, 'address', 'socket_address', 'port_value'],
  upstreamPort: ['static_resources', 'clusters', 0, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address', 'port_value'],
};

/** The bootstrap with its admin, listener and upstream ports replaced; comments and layout are kept. */
export function renderBootstrap(yamlText: string, ports: BootstrapPorts): string {
  const doc = parseDocument(yamlText);
  if (doc.errors.length > 0) throw new Error(`bootstrap: ${doc.errors.map((e) => e.message).join('; ')}`);
  for (const [key, path] of Object.entries(PORT_PATHS) as [keyof BootstrapPorts, readonly (string | number)[]][]) {
    if (!doc.hasIn(path)) throw new Error(`bootstrap: no ${path.join('.')} to set ${key}`);
    doc.setIn(path, ports[key]);
  }
  return doc.toString({ lineWidth: 0 });
}
