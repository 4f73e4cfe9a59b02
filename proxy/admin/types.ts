// What the admin server needs from the running proxy (AdminContext) and what it returns (AdminServer).
// The server builds the context; the admin never reaches into server internals beyond it.

import type { Logger } from '../common/logger.ts';
import type { StatsStore } from '../stats/store.ts';
import type { ClusterManager } from '../upstream/types.ts';

/** Envoy's ServerInfo.State, as /ready and /server_info print it. */
export type ServerState = 'PRE_INITIALIZING' | 'INITIALIZING' | 'LIVE' | 'DRAINING';

export interface AdminListener {
  readonly name: string;
  /** `ip:port` as bound (after port 0 is resolved). */
  readonly address: string;
}

/** The facts /server_info reports besides the state. */
export interface ServerInfoSource {
  /** `<sha>/<version>/<Clean|Modified>/<RELEASE|DEBUG>/<ssl>`-style, e.g. `nodevoy/0.1.0/Clean/RELEASE/OpenSSL`. */
  readonly version: string;
  /** The bootstrap `node` (id, cluster, metadata, ...). */
  readonly node: unknown;
  readonly commandLineOptions: Record<string, unknown>;
  readonly uptimeSeconds: number;
}

export interface AdminContext {
  readonly stats: StatsStore;
  readonly clusterManager: ClusterManager;
  listeners(): readonly AdminListener[];
  /** `{"configs": [...]}` in Envoy's order, private keys already redacted; EDS only with ?include_eds. */
  configDump(options: { readonly includeEds: boolean }): unknown;
  serverInfo(): ServerInfoSource;
  state(): ServerState;
  /** POST /quitquitquit (after the response is sent). */
  quit(): void;
  /** POST /healthcheck/fail (true) and /healthcheck/ok (false). */
  setHealthCheckFailing(failing: boolean): void;
  /** The component logger registry (POST /logging). */
  readonly logger: Logger;
  /** GET /certs: envoy.admin.v3.Certificates of the loaded secrets (no key material). */
  certs?(): unknown;
  /** Stat namespaces emitted without `envoy_` in Prometheus output (Envoy's custom stat namespaces). */
  readonly prometheusCustomNamespaces?: readonly string[];
}

export interface AdminServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}
