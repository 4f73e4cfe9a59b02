// DNS for STRICT_DNS / LOGICAL_DNS clusters: the injectable resolver type, the system resolver
// (getaddrinfo via node:dns/promises) applying Cluster.dns_lookup_family, and the refresh loop that
// re-resolves a name every dns_refresh_rate on the injected Clock.

import { lookup } from 'node:dns/promises';
import type { Clock, TimerHandle } from '../common/clock.ts';
import type { DnsLookupFamily } from './cluster-schema.ts';
import type { ClusterStatsImpl } from './cluster-stats.ts';

/** Resolves `hostname` to IP addresses in preference order for `family`. */
export type DnsResolver = (hostname: string, family: DnsLookupFamily) => Promise<string[]>;

/** dns_lookup_family semantics over the v4 and v6 answers. */
const BY_FAMILY: Readonly<Record<DnsLookupFamily, (v4: string[], v6: string[]) => string[]>> = {
  AUTO: (v4, v6) => (v6.length > 0 ? v6 : v4), // v6 first, fall back to v4
  V4_ONLY: (v4) => v4,
  V6_ONLY: (_v4, v6) => v6,
  V4_PREFERRED: (v4, v6) => (v4.length > 0 ? v4 : v6),
  ALL: (v4, v6) => [...v4, ...v6],
};

export const systemResolver: DnsResolver = async (hostname, family) => {
  const answers = await lookup(hostname, { all: true, order: 'verbatim' });
  const v4 = answers.filter((a) => a.family === 4).map((a) => a.address);
  const v6 = answers.filter((a) => a.family === 6).map((a) => a.address);
  return BY_FAMILY[family](v4, v6);
};

export interface DnsRefreshOptions {
  readonly name: string;
  readonly family: DnsLookupFamily;
  readonly refreshRateMs: number;
  readonly clock: Clock;
  readonly resolver: DnsResolver;
  readonly stats: ClusterStatsImpl;
  /** A successful answer (possibly empty). Failures keep the previous hosts, as Envoy does. */
  readonly onResolved: (addresses: readonly string[]) => void;
}

export interface DnsRefresh {
  /** Settles after the first resolution attempt (answer or failure): Envoy's cluster initialization. */
  readonly firstAttempt: Promise<void>;
  stop(): void;
}

/** Resolves now, then again `refreshRateMs` after each answer. */
export function startDnsRefresh(o: DnsRefreshOptions): DnsRefresh {
  let stopped = false;
  let timer: TimerHandle | null = null;
  let attempted!: () => void;
  const firstAttempt = new Promise<void>((r) => { attempted = r; });
  const resolve = (): void => {
    timer = null;
    o.stats.update_attempt.inc();
    o.resolver(o.name, o.family).then((addresses) => {
      if (stopped) return;
      o.stats.update_success.inc();
      o.onResolved([...new Set(addresses)]);
    }, () => {
      if (!stopped) o.stats.update_failure.inc();
    }).finally(() => {
      attempted();
      if (!stopped) timer = o.clock.setTimer(resolve, o.refreshRateMs);
    });
  };
  resolve();
  return {
    firstAttempt,
    stop: () => {
      stopped = true;
      attempted();
      timer?.cancel();
    },
  };
}
