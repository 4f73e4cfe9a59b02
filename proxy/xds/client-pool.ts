// One control-client XdsClient per distinct REST config source (management cluster, refresh_delay,
// request_timeout), created on first use against the address of the static cluster the source names.

import { createXdsClient, type XdsClient } from '../../control-client/client.ts';
import { createRestTransport } from '../../control-client/rest-transport.ts';
import type { SubscriptionStatus, XdsNode } from '../../control-client/types.ts';
import type { Clock, Random } from '../common/clock.ts';
import { configSourceKey, type ConfigSourceConfig } from '../config/config-source.ts';

export interface XdsClientPoolDeps {
  readonly node: XdsNode;
  readonly clock: Clock;
  readonly random: Random;
  /** `http://ip:port` of the management server behind a static cluster. */
  baseUrl(clusterName: string): string;
}

export class XdsClientPool {
  private readonly deps: XdsClientPoolDeps;
  private readonly clients = new Map<string, XdsClient>();

  constructor(deps: XdsClientPoolDeps) {
    this.deps = deps;
  }

  get(source: ConfigSourceConfig): XdsClient {
    const key = configSourceKey(source);
    let client = this.clients.get(key);
    if (!client) {
      const { clock, random, node } = this.deps;
      const transport = createRestTransport({
        baseUrl: this.deps.baseUrl(source.clusterName), clock, random,
        refreshDelayMs: source.refreshDelayMs, requestTimeoutMs: source.requestTimeoutMs,
      });
      client = createXdsClient({ node, transport, clock });
      this.clients.set(key, client);
    }
    return client;
  }

  /** Every subscription's status, over all clients. */
  statuses(): SubscriptionStatus[] {
    return [...this.clients.values()].flatMap((c) => [...c.status()]);
  }

  async stop(): Promise<void> {
    const clients = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(clients.map((c) => c.stop()));
  }
}
