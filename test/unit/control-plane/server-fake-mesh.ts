// Test support for the control-plane server: a MeshSource whose snapshot the test sets (each set is a new
// generation), a node builder, a tiny HTTP client for DiscoveryRequests on real sockets, and a FakeClock
// that counts the timers set (a config-dir file event arms the watcher's debounce timer).

import type { XdsNode } from '../../../control-client/types.ts';
import type { TimerHandle } from '../../../proxy/common/clock.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { fail, ok } from '../../../proxy/common/result.ts';
import type { MeshError, MeshSource } from '../../../control-plane/server/mesh-source.ts';
import type { EnvoyResource, ProxyIdentity, ProxySnapshot } from '../../../control-plane/xds/snapshot.ts';

export const EMPTY: ProxySnapshot = { listeners: [], routes: [], clusters: [], endpoints: [] };

export class FakeMesh implements MeshSource {
  private gen = 0;
  private snapshotFor: (identity: ProxyIdentity) => ProxySnapshot = () => EMPTY;
  private readonly listeners = new Set<() => void>();
  errors: MeshError[] = [];
  isReady = true;
  /** How many snapshots were built (the server caches them per node and generation). */
  builds = 0;

  /** A new generation: every proxy gets `snapshot` (or the function's answer). */
  set(snapshot: ProxySnapshot | ((identity: ProxyIdentity) => ProxySnapshot)): void {
    this.snapshotFor = typeof snapshot === 'function' ? snapshot : () => snapshot;
    this.gen++;
    for (const l of [...this.listeners]) l();
  }

  generation(): number {
    return this.gen;
  }

  proxyIdentity(node: XdsNode) {
    const metadata = (node['metadata'] ?? {}) as Record<string, unknown>;
    const namespace = metadata['NAMESPACE'] ?? 'default';
    if (typeof namespace !== 'string') return fail<ProxyIdentity>([{ path: 'node.metadata.NAMESPACE', kind: 'invalid', message: 'must be a string' }]);
    return ok<ProxyIdentity>({
      id: String(node['id']), cluster: String(node['cluster'] ?? ''), namespace, serviceAccount: 'default', labels: {},
      instanceIp: '127.0.0.1', appPorts: {}, outboundPort: 15001, clusterId: '', meshId: '',
    });
  }

  proxySnapshot(identity: ProxyIdentity): ProxySnapshot {
    this.builds++;
    return this.snapshotFor(identity);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  configErrors(): readonly MeshError[] {
    return this.errors;
  }

  ready(): boolean {
    return this.isReady;
  }
}

export const node = (id: string, namespace = 'default'): XdsNode => ({ id, cluster: `${id}.${namespace}`, metadata: { NAMESPACE: namespace } });

export const cluster = (name: string, extra: Record<string, unknown> = {}): EnvoyResource => ({ name, type: 'EDS', connect_timeout: '1s', ...extra });
export const cla = (name: string, port: number): EnvoyResource => ({
  cluster_name: name,
  endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }],
});

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON for a 200, the text otherwise. */
  readonly body: any;
}

/** One POST /v3/discovery:<kind>; `init.signal` cancels it. */
export async function discover(baseUrl: string, kind: string, request: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Answer> {
  const res = await fetch(`${baseUrl}/v3/discovery:${kind}`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers },
    body: typeof request === 'string' ? request : JSON.stringify(request), ...(signal === undefined ? {} : { signal }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: res.status === 200 && res.headers.get('content-type') === 'application/json' ? JSON.parse(text) : text };
}

export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, body: res.headers.get('content-type') === 'application/json' ? JSON.parse(text) : text };
}

/** Counts the timers set: each file event (re-)arms the directory watcher's debounce. */
export class CountingClock extends FakeClock {
  armed = 0;
  override setTimer(fn: () => void, ms: number): TimerHandle {
    this.armed++;
    return super.setTimer(fn, ms);
  }
}
