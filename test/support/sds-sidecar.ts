// examples/envoy-sds-sidecar.yaml under test: the example with its listeners and admin on 127.0.0.1:0 and its
// endpoints moved to the test's servers (the agent's SDS endpoint, the local app, the reviews sidecar), an
// HTTPS "reviews sidecar" requiring a mesh client certificate, and mTLS requests that report the serial the
// proxy presented. Used by the examples test (the example runs) and the SDS test (rotation through the agent).

import { readFileSync } from 'node:fs';
import { createServer, request, type Server as HttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseConfigText } from '../../proxy/config/load.ts';
import type { TestScope } from './scope.ts';

export const SDS_SIDECAR_EXAMPLE = fileURLToPath(new URL('../../examples/envoy-sds-sidecar.yaml', import.meta.url));
export const INBOUND = 'virtualInbound';
export const OUTBOUND = 'virtualOutbound';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => v as Json;
const list = (v: unknown): Json[] => v as Json[];

/** Where the example's endpoints go, by cluster name. */
export interface SdsSidecarPorts {
  /** sds-agent: the agent's SDS endpoint. */
  readonly sds: number;
  /** inbound|9080||: the local app. */
  readonly app: number;
  /** outbound|9080||reviews...: the reviews sidecar (mTLS). */
  readonly reviews: number;
}

const CLUSTER_PORTS: Readonly<Record<string, keyof SdsSidecarPorts>> = {
  'sds-agent': 'sds', 'inbound|9080||': 'app', 'outbound|9080||reviews.default.svc.cluster.local': 'reviews',
};

/** The example as data, ports rewritten; `sdsSource` overrides fields of its SDS ConfigSource's api_config_source. */
export function sdsSidecarBootstrap(ports: SdsSidecarPorts, sdsSource: Json = {}): Json {
  const parsed = parseConfigText(readFileSync(SDS_SIDECAR_EXAMPLE, 'utf8'), SDS_SIDECAR_EXAMPLE);
  if (!parsed.ok) throw new Error(parsed.errors.map((e) => e.message).join('\n'));
  // YAML aliases share one object: a copy through JSON gives each sds_config its own (all rewritten alike).
  const doc = JSON.parse(JSON.stringify(parsed.value)) as Json;
  const resources = obj(doc.static_resources);
  for (const socket of [obj(obj(obj(doc.admin).address).socket_address), ...list(resources.listeners).map((l) => obj(obj(l.address).socket_address))]) {
    socket.address = '127.0.0.1';
    socket.port_value = 0;
  }
  for (const cluster of list(resources.clusters)) {
    const port = ports[CLUSTER_PORTS[String(cluster.name)]!];
    for (const e of list(obj(cluster.load_assignment).endpoints).flatMap((l) => list(l.lb_endpoints))) obj(obj(obj(e.endpoint).address).socket_address).port_value = port;
  }
  forEachSdsConfig(doc, (c) => Object.assign(obj(c.api_config_source), sdsSource));
  return doc;
}

function forEachSdsConfig(v: unknown, f: (sdsConfig: Json) => void): void {
  if (Array.isArray(v)) return v.forEach((x) => forEachSdsConfig(x, f));
  if (v === null || typeof v !== 'object') return;
  for (const [k, x] of Object.entries(v)) {
    if (k === 'sds_config') f(obj(x));
    else forEachSdsConfig(x, f);
  }
}

/** The PEMs a TLS peer of the mesh presents and trusts. */
export interface PeerTls {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

export interface TlsUpstream {
  readonly port: number;
  /** The serial (lower-case hex) of the client certificate of each request served. */
  readonly clientSerials: string[];
}

/** An HTTPS upstream presenting `tls`, requiring a client certificate; each response closes its connection (a new handshake per request). */
export async function tlsUpstream(scope: TestScope, tls: PeerTls, body: string): Promise<TlsUpstream> {
  const clientSerials: string[] = [];
  const server: HttpsServer = createServer({ ...tls, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    clientSerials.push((req.socket as TLSSocket).getPeerX509Certificate()?.serialNumber.toLowerCase() ?? '');
    res.setHeader('connection', 'close');
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  scope.defer(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const addr = server.address();
  return { port: typeof addr === 'object' && addr ? addr.port : 0, clientSerials };
}

export interface MtlsAnswer {
  readonly status: number;
  readonly body: string;
  /** The serial of the certificate the server presented. */
  readonly serial: string;
}

/** One GET on a new mTLS connection (a new handshake); the server's SVID has only a URI SAN, so no host check. */
export function mtlsGet(port: number, path: string, tls: PeerTls): Promise<MtlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, ...tls, checkServerIdentity: () => undefined }, (res) => {
      const serial = (res.socket as TLSSocket).getPeerX509Certificate()?.serialNumber.toLowerCase() ?? '';
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), serial }));
    });
    req.on('error', reject);
    req.end();
  });
}
