// A dynamic proxy under test: a REST management server (test/support/xds-management-server.ts) with an
// initial snapshot, a nodevoy Server bootstrapped from it on a fake clock, and helpers to push updates
// (advancing the clock until the proxy ACKs or NACKs), send requests, read stats and /config_dump.

import type { Server, ServerOptions } from '../../proxy/server/server.ts';
import { eventually } from '../unit/control-client/fake-xds-server.ts';
import { FakeClock, ScriptedRandom } from './fake-clock.ts';
import { send, type SimpleResponse } from './proxy.ts';
import type { TestScope } from './scope.ts';
import { ManagementServer, type XdsType } from './xds-management-server.ts';
import { createServer, dynamicBootstrap } from './xds-resources.ts';

export type Json = Record<string, unknown>;

export interface Harness {
  readonly cp: ManagementServer;
  readonly proxy: Server;
  readonly clock: FakeClock;
  /**
   * Publishes a snapshot of one type and advances the clock one refresh_delay at a time until the proxy
   * has answered it (REST carries the ACK or NACK in the next poll).
   */
  push(type: XdsType, version: string, resources: Json[]): Promise<'ack' | 'nack'>;
  get(path: string, listener?: string, init?: Parameters<typeof send>[2]): Promise<SimpleResponse>;
  counter(name: string): number;
  gauge(name: string): number;
  dump(query?: string): Promise<Json[]>;
}

export interface HarnessOptions {
  /** --drain-time-s in ms (default 5 s). */
  readonly drainTimeMs?: number;
}

export async function harness(scope: TestScope, snapshot: Partial<Record<XdsType, [string, Json[]]>>, opts: HarnessOptions = {}): Promise<Harness> {
  const cp = await ManagementServer.start();
  scope.defer(() => cp.stop());
  for (const [type, [version, resources]] of Object.entries(snapshot) as [XdsType, [string, Json[]]][]) cp.set(type, version, resources);
  const clock = new FakeClock();
  const options: Omit<ServerOptions, 'bootstrap'> = { clock, random: new ScriptedRandom([0]), drainTimeMs: opts.drainTimeMs ?? 5_000 };
  const proxy = createServer(dynamicBootstrap(cp.port), options);
  scope.defer(() => proxy.close());
  await proxy.start();
  const counter = (name: string): number => proxy.stats.counters.get(name)?.value() ?? 0;
  return {
    cp, proxy, clock, counter,
    gauge: (name) => proxy.stats.gauges.get(name)?.value() ?? 0,
    async push(type, version, resources) {
      cp.set(type, version, resources);
      for (let i = 0; i < 10; i++) {
        const before = cp.count(type);
        // refresh_delay 1s + random(0, 1s) with random 0. The next poll is scheduled only once the previous
        // answer was processed, so a step may fire nothing: then the clock moves on another step.
        clock.advance(1_000);
        const polled = await eventually(() => cp.count(type) > before, `a ${type} poll`, 200).then(() => true, () => false);
        const outcome = polled ? cp.outcome(type, version) : undefined;
        if (outcome) return outcome;
      }
      throw new Error(`${type} ${version} was neither ACKed nor NACKed: ${JSON.stringify(cp.received.filter((r) => r.type === type).map((r) => [r.request.version_info, r.request.response_nonce, r.request.resource_names]))}`);
    },
    async get(path, listener = 'outbound', init = {}) {
      return send(proxy.listenerPort(listener), path, init);
    },
    async dump(query = '') {
      const r = await send(proxy.adminPort!, `/config_dump${query}`);
      return (JSON.parse(r.body) as { configs: Json[] }).configs;
    },
  };
}

/** One section of a /config_dump, by its admin type name (`ClustersConfigDump`...). */
export function section(configs: Json[], type: string): Json {
  const s = configs.find((c) => c['@type'] === `type.googleapis.com/envoy.admin.v3.${type}`);
  if (!s) throw new Error(`no ${type} in config_dump`);
  return s;
}
