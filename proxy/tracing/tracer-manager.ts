// The server's tracing drivers (Envoy's TracerManager): one Zipkin tracer, propagator and reporter per
// distinct provider config, shared by every HTTP connection manager that names that config, released with
// the last of them; close() flushes every reporter before the cluster manager closes its pools.

import { networkInterfaces } from 'node:os';
import type { TextMapPropagator, Tracer } from '@opentelemetry/api';
import type { Clock, Random } from '../common/clock.ts';
import type { HeaderMap } from '../http/headers.ts';
import type { StatsScope } from '../stats/scope.ts';
import type { ClusterManager } from '../upstream/types.ts';
import type { ZipkinProviderConfig } from './tracing-schema.ts';
import { ZipkinPropagator } from './zipkin-propagator.ts';
import { ZipkinReporter, zipkinStats, type ZipkinReporterTuning, type ZipkinStats } from './zipkin-reporter.ts';
import type { ZipkinEndpoint } from './zipkin-span.ts';
import { ZipkinTracer } from './zipkin-tracer.ts';

/** A tracing provider as the connection manager uses it: spans through the OpenTelemetry API. */
export interface TracingDriver {
  readonly tracer: Tracer;
  readonly propagator: TextMapPropagator<HeaderMap>;
}

/** One connection manager's use of a driver; release() ends it (once). */
export interface TracerHandle {
  readonly driver: TracingDriver;
  release(): void;
}

/** Envoy's LocalInfo as tracing reads it. */
export interface TracingLocalInfo {
  /** node.id (the node_id tag). */
  readonly nodeId: string;
  /** node.cluster / --service-cluster: the Zipkin service name. */
  readonly clusterName: string;
  /** node.locality.zone (the zone tag). */
  readonly zone: string;
  /** The proxy's own IP (Envoy's local address: the first non-loopback interface address). */
  readonly address: string;
}

export interface TracerManagerDeps {
  readonly clusterManager: ClusterManager;
  readonly clock: Clock;
  readonly random: Random;
  /** The root stats scope (`tracing.zipkin.*`). */
  readonly stats: StatsScope;
  readonly localInfo: Omit<TracingLocalInfo, 'address'> & { readonly address?: string };
  /** Reporter timings (Envoy's runtime keys tracing.zipkin.*); tests shorten them. */
  readonly reporter?: Partial<ZipkinReporterTuning>;
}

/** Envoy's Network::Utility::getLocalAddress(v4): the first non-internal IPv4 interface address, else loopback. */
export function localIpv4Address(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

interface ZipkinDriver extends TracingDriver {
  readonly reporter: ZipkinReporter;
  refs: number;
}

export class TracerManager {
  readonly localInfo: TracingLocalInfo;
  private readonly deps: TracerManagerDeps;
  private readonly drivers = new Map<string, ZipkinDriver>();
  private readonly closing = new Set<Promise<void>>();
  private zipkinStatsValue: ZipkinStats | null = null;

  constructor(deps: TracerManagerDeps) {
    this.deps = deps;
    this.localInfo = { ...deps.localInfo, address: deps.localInfo.address ?? localIpv4Address() };
  }

  /** The Zipkin driver for a provider config (shared with every other user of an equal config). */
  acquire(config: ZipkinProviderConfig): TracerHandle {
    const key = JSON.stringify(config);
    let driver = this.drivers.get(key);
    if (driver === undefined) {
      driver = this.zipkin(config);
      this.drivers.set(key, driver);
    }
    driver.refs++;
    const d = driver;
    let released = false;
    return {
      driver: d,
      release: () => {
        if (released) return;
        released = true;
        if (--d.refs > 0 || this.drivers.get(key) !== d) return;
        this.drivers.delete(key);
        this.track(d.reporter.close());
      },
    };
  }

  /** Flushes and stops every reporter (those released earlier included). */
  async close(): Promise<void> {
    for (const d of this.drivers.values()) this.track(d.reporter.close());
    this.drivers.clear();
    while (this.closing.size > 0) await Promise.all([...this.closing]);
  }

  private track(p: Promise<void>): void {
    this.closing.add(p);
    void p.finally(() => this.closing.delete(p));
  }

  private zipkin(config: ZipkinProviderConfig): ZipkinDriver {
    const { clusterManager, clock, random, stats } = this.deps;
    this.zipkinStatsValue ??= zipkinStats(stats);
    const reporter = new ZipkinReporter({
      collector: { cluster: config.collectorCluster, endpoint: config.collectorEndpoint, hostname: config.collectorHostname },
      clusterManager, clock, stats: this.zipkinStatsValue,
      ...(this.deps.reporter ? { tuning: this.deps.reporter } : {}),
    });
    const { clusterName, address } = this.localInfo;
    const localEndpoint: ZipkinEndpoint = Object.freeze({
      ...(clusterName !== '' ? { serviceName: clusterName } : {}),
      ...(address.includes(':') ? { ipv6: address } : { ipv4: address }),
      port: 0,
    });
    const tracer = new ZipkinTracer({
      localEndpoint, sharedSpanContext: config.sharedSpanContext, clock, sink: reporter, random, traceId128bit: config.traceId128bit,
    });
    return { tracer, propagator: new ZipkinPropagator<HeaderMap>(config.w3cPropagation), reporter, refs: 0 };
  }
}
