// The xDS client a proxy embeds: one Subscription per registered resource type, driven by one transport
// (REST polling or long-poll), with per-type status for /config_dump. Knows no concrete resource type.

import type { Clock } from '../proxy/common/clock.ts';
import { Subscription } from './subscription.ts';
import type { RejectCallback, ResourceType, SubscriptionStatus, TransportSession, UpdateCallback, XdsNode, XdsTransport } from './types.ts';

export interface XdsClientOptions {
  /** `Bootstrap.node`, sent in every request (Envoy's default: set_node_on_first_message_only false). */
  readonly node: XdsNode;
  readonly transport: XdsTransport;
  readonly clock: Clock;
}

export interface XdsWatch {
  /** Re-subscribes with new resource_names; the request goes out at once. Empty = wildcard. */
  setResourceNames(names: readonly string[]): void;
  cancel(): void;
}

export interface XdsClient {
  /**
   * Subscribes to a resource type (one subscription per type URL). `names` empty = wildcard (LDS/CDS).
   * `onUpdate` runs for every accepted response; returning errors NACKs it. `onRejected` runs for every NACK.
   */
  subscribe<T>(type: ResourceType<T>, names: readonly string[], onUpdate: UpdateCallback<T>, onRejected?: RejectCallback): XdsWatch;
  /** Per-type status, in subscription order. */
  status(): readonly SubscriptionStatus[];
  /** Ends every subscription, timer and connection. */
  stop(): Promise<void>;
}

interface Active {
  readonly subscription: Subscription<unknown>;
  readonly session: TransportSession;
}

export function createXdsClient(options: XdsClientOptions): XdsClient {
  const active = new Map<string, Active>();
  return {
    subscribe<T>(type: ResourceType<T>, names: readonly string[], onUpdate: UpdateCallback<T>, onRejected?: RejectCallback): XdsWatch {
      if (active.has(type.typeUrl)) throw new Error(`already subscribed to ${type.typeUrl}`);
      const subscription = new Subscription(type, names, options.node, onUpdate, options.clock, onRejected);
      const session = options.transport.open(subscription);
      active.set(type.typeUrl, { subscription: subscription as Subscription<unknown>, session });
      return {
        setResourceNames(next) {
          subscription.setResourceNames(next);
          session.poke();
        },
        cancel() {
          session.close();
          active.delete(type.typeUrl);
        },
      };
    },
    status: () => [...active.values()].map((a) => a.subscription.status()),
    async stop() {
      for (const a of active.values()) a.session.close();
      active.clear();
      await options.transport.stop();
    },
  };
}
