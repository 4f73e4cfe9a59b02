// A small xDS REST management server for proxy tests (node:http on 127.0.0.1): holds one versioned
// snapshot per resource type, answers `POST /v3/discovery:<type>` like a state-of-the-world server (304 when
// the client already has the version and names, the requested names only for RDS/EDS), records every
// request (ACKs and NACKs), and can be stopped and restarted on the same port.

import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { DiscoveryRequest } from '../../control-client/types.ts';

export type XdsType = 'clusters' | 'endpoints' | 'listeners' | 'routes' | 'secrets';

export const TYPE_URLS: Readonly<Record<XdsType, string>> = {
  clusters: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoints: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  listeners: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  routes: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  secrets: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
};

const SOTW: ReadonlySet<XdsType> = new Set(['clusters', 'listeners']);

interface Snapshot {
  readonly version: string;
  readonly resources: readonly Record<string, unknown>[];
}

interface Sent {
  readonly version: string;
  readonly names: string;
  readonly nonce: string;
}

export interface ReceivedRequest {
  readonly type: XdsType;
  readonly request: DiscoveryRequest;
}

export class ManagementServer {
  readonly received: ReceivedRequest[] = [];
  private readonly snapshots = new Map<XdsType, Snapshot>();
  private readonly sent = new Map<XdsType, Sent>();
  /** The version each nonce carried, to tell what a later request ACKs or NACKs. */
  private readonly versionOfNonce = new Map<string, string>();
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private nonce = 0;
  private boundPort = 0;

  static async start(port = 0): Promise<ManagementServer> {
    const s = new ManagementServer();
    await s.listen(port);
    return s;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Replaces the snapshot of one type (the next poll gets it). */
  set(type: XdsType, version: string, resources: readonly Record<string, unknown>[]): void {
    this.snapshots.set(type, { version, resources });
  }

  /** Requests of a type carrying error_detail (NACKs). */
  nacks(type: XdsType): DiscoveryRequest[] {
    return this.received.filter((r) => r.type === type && r.request.error_detail !== undefined).map((r) => r.request);
  }

  /** The version the client last ACKed for a type ('' = none). */
  ackedVersion(type: XdsType): string {
    const acks = this.received.filter((r) => r.type === type && r.request.error_detail === undefined);
    return acks.at(-1)?.request.version_info ?? '';
  }

  /** Whether the client ACKed or NACKed the response that carried `version` of a type (undefined = neither yet). */
  outcome(type: XdsType, version: string): 'ack' | 'nack' | undefined {
    for (const { type: t, request } of this.received) {
      if (t !== type || this.versionOfNonce.get(request.response_nonce) !== version) continue;
      return request.error_detail === undefined ? 'ack' : 'nack';
    }
    return undefined;
  }

  count(type: XdsType): number {
    return this.received.filter((r) => r.type === type).length;
  }

  /** Stops listening and drops every connection (a control plane that died). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listens again on the same port; what a client held is forgotten, as after a real restart. */
  async restart(): Promise<void> {
    this.sent.clear();
    await this.listen(this.boundPort);
  }

  private async listen(port: number): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const type = (req.url ?? '').replace('/v3/discovery:', '') as XdsType;
        const request = JSON.parse(Buffer.concat(chunks).toString()) as DiscoveryRequest;
        this.received.push({ type, request });
        const reply = this.answer(type, request);
        if (res.destroyed) return;
        if (reply === null) res.writeHead(304).end();
        else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
      });
    });
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
  }

  /** A DiscoveryResponse, or null for 304 (nothing new for this client, or it NACKed what it has). */
  private answer(type: XdsType, request: DiscoveryRequest): Record<string, unknown> | null {
    const snapshot = this.snapshots.get(type);
    if (!snapshot) return null;
    const names = [...request.resource_names].sort().join(',');
    const last = this.sent.get(type);
    const upToDate = request.version_info === snapshot.version && last?.names === names;
    const nackedCurrent = request.error_detail !== undefined && last?.version === snapshot.version && last.nonce === request.response_nonce && last.names === names;
    if (upToDate || nackedCurrent) return null;
    const wanted = new Set(request.resource_names);
    const resources = SOTW.has(type) || wanted.size === 0
      ? snapshot.resources
      : snapshot.resources.filter((r) => wanted.has(String(type === 'endpoints' ? r.cluster_name : r.name)));
    const nonce = String(++this.nonce);
    this.sent.set(type, { version: snapshot.version, names, nonce });
    this.versionOfNonce.set(nonce, snapshot.version);
    return { version_info: snapshot.version, nonce, type_url: TYPE_URLS[type], resources: resources.map((r) => ({ '@type': TYPE_URLS[type], ...r })) };
  }
}
