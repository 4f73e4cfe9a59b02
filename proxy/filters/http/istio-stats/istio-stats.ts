// Istio's standard HTTP metrics for one listener (istio/proxy istio_stats.cc): at the end of each stream,
// istio_requests_total +1 and istio_request_duration_milliseconds / istio_request_bytes / istio_response_bytes
// samples, as tagged stats in Envoy's `istiocustom` namespace. The hot path allocates nothing once a peer and
// response kind were seen: series handles are cached per peer (the 20 peer labels) and per response (code and
// flags), and a stream from the same peer as the previous one skips the peer lookup altogether.

import type { Random } from '../../../common/clock.ts';
import { formatResponseFlags } from '../../../common/response-flags.ts';
import { workloadFromEndpointString, type WorkloadMetadata } from '../../../common/workload-metadata.ts';
import type { FilterCallbacks } from '../../../http/filter.ts';
import type { Counter, Histogram, StatTag, StatsScope } from '../../../stats/scope.ts';
import { DEFAULT_BUCKETS } from '../../../stats/store.ts';
import type { Cluster, ClusterManager, Host } from '../../../upstream/types.ts';
import {
  clusterServiceFromMetadata, destinationService, peerTags, securityPolicy, streamTags,
  type ClusterService, type Reporter, type SecurityPolicy,
} from './istio-labels.ts';

/** Istio's custom stat namespace: `istiocustom.istio_requests_total` is exported as `istio_requests_total`. */
export const ISTIO_STAT_NAMESPACE = 'istiocustom';
const REQUESTS_TOTAL = `${ISTIO_STAT_NAMESPACE}.istio_requests_total`;
const REQUEST_DURATION = `${ISTIO_STAT_NAMESPACE}.istio_request_duration_milliseconds`;
const REQUEST_BYTES = `${ISTIO_STAT_NAMESPACE}.istio_request_bytes`;
const RESPONSE_BYTES = `${ISTIO_STAT_NAMESPACE}.istio_response_bytes`;
const BUILD = `${ISTIO_STAT_NAMESPACE}.istio_build`;

/**
 * Bucket bounds of the three histograms: Envoy's defaults (0.5 … 3 600 000), as Istio uses them — its bootstrap
 * sets stats_config.histogram_bucket_settings only when the `sidecar.istio.io/statsHistogramBuckets` annotation
 * asks (the byte histograms too: the 1, 10, … 10^7 byte buckets were Mixer's, before Istio 1.5).
 */
export const ISTIO_HISTOGRAM_BUCKETS: readonly number[] = DEFAULT_BUCKETS;

/** The four series of one label set. */
interface SeriesSet {
  readonly requests: Counter;
  readonly duration: Histogram;
  readonly requestBytes: Histogram;
  readonly responseBytes: Histogram;
}

/** The series of one peer (its 20 labels), by response kind. */
interface PeerSeries {
  readonly tags: readonly StatTag[];
  readonly policy: SecurityPolicy;
  readonly byResponse: Map<number, SeriesSet>;
}

export interface IstioStatsDeps {
  /** The root scope (Istio's stats live at the top level, in their custom namespace). */
  readonly stats: StatsScope;
  readonly clusterManager: ClusterManager;
  readonly random: Random;
}

export interface IstioStatsOptions {
  readonly reporter: Reporter;
  /** This proxy's workload (node metadata). */
  readonly local: WorkloadMetadata;
  /** PluginConfig.disable_host_header_fallback: no Host header as destination_service when the cluster says nothing. */
  readonly disableHostHeaderFallback: boolean;
}

/** Records `istio_build{component="proxy",tag="<ISTIO_VERSION>"} 1` (Istio's Config::recordVersion). */
export function recordIstioBuild(stats: StatsScope, istioVersion: string): void {
  stats.gaugeFromTags(BUILD, [{ name: 'component', value: 'proxy' }, { name: 'tag', value: istioVersion || 'unknown' }]).set(1);
}

/** One listener's reporter (shared by its streams); see the file comment. */
export class IstioStatsReporter {
  private readonly opts: IstioStatsOptions;
  private readonly deps: IstioStatsDeps;
  /** Peer object (identity: the peer metadata filter caches decoded peers) → the rest of the peer key → series. */
  private readonly peers = new Map<WorkloadMetadata | null, Map<string, PeerSeries>>();
  /** Per cluster: its istio.services entry, and the service labels when they do not depend on the request. */
  private readonly clusterServices = new WeakMap<Cluster, { service: ClusterService | undefined; fixed: { host: string; name: string } | undefined }>();
  private readonly endpointPeers = new WeakMap<Host, WorkloadMetadata | null>();
  // The previous stream's peer key and series: most streams of a listener come from the same peer.
  private lastPeer: WorkloadMetadata | undefined;
  private lastPeerPrincipal = '';
  private lastLocalPrincipal = '';
  private lastServiceHost = '';
  private lastServiceName = '';
  private lastSeries: PeerSeries | null = null;

  constructor(opts: IstioStatsOptions, deps: IstioStatsDeps) {
    this.opts = opts;
    this.deps = deps;
  }

  /** Records the metrics of a completed stream (Istio's log(), which runs when the stream ends). */
  report(cb: FilterCallbacks): void {
    const info = cb.info;
    let peer: WorkloadMetadata | undefined;
    let peerPrincipal: string;
    let localPrincipal: string;
    if (this.opts.reporter === 'destination') {
      peer = info.downstreamPeer;
      peerPrincipal = info.downstreamSsl?.uriSanPeerCertificate[0] ?? '';
      localPrincipal = info.downstreamLocalSsl?.uriSanLocalCertificate[0] ?? '';
    } else {
      const host = info.upstreamHostDescription;
      // No peer headers on the response (the request failed before the peer answered): the endpoint's metadata.
      peer = info.upstreamPeer ?? (host === undefined ? undefined : this.endpointPeer(host));
      // The TLS identities of the connection that carried the answer (none without one: Envoy has no upstream
      // SSL info for a failed connection), which the host's last verified handshake gives.
      const answered = host !== undefined && info.firstUpstreamRxByteReceived !== undefined;
      peerPrincipal = answered ? host.peerUriSan ?? '' : '';
      localPrincipal = answered ? host.localUriSan ?? '' : '';
    }
    const service = this.destinationService(cb);
    const series = this.peerSeries(peer, peerPrincipal, localPrincipal, service.host, service.name);
    const code = info.responseCode;
    const flags = info.responseFlags;
    // Envoy has fewer than 2^30 flag bits and codes below 1000: one number keys the response kind.
    const key = flags * 1000 + code;
    let set = series.byResponse.get(key);
    if (set === undefined) series.byResponse.set(key, (set = this.seriesSet([...series.tags, ...streamTags(code, formatResponseFlags(flags), series.policy)])));
    set.requests.inc();
    // Envoy's requestComplete() in whole milliseconds.
    set.duration.record(Math.floor((info.streamEnd ?? info.startMonotonic) - info.startMonotonic));
    set.requestBytes.record(info.bytesReceived);
    set.responseBytes.record(info.bytesSent);
  }

  private peerSeries(peer: WorkloadMetadata | undefined, peerPrincipal: string, localPrincipal: string,
    serviceHost: string, serviceName: string): PeerSeries {
    const last = this.lastSeries;
    if (last !== null && peer === this.lastPeer && peerPrincipal === this.lastPeerPrincipal && localPrincipal === this.lastLocalPrincipal &&
      serviceHost === this.lastServiceHost && serviceName === this.lastServiceName) return last;
    let byRest = this.peers.get(peer ?? null);
    if (byRest === undefined) this.peers.set(peer ?? null, (byRest = new Map()));
    const rest = `${peerPrincipal}\n${localPrincipal}\n${serviceHost}\n${serviceName}`;
    let series = byRest.get(rest);
    if (series === undefined) {
      const { reporter, local } = this.opts;
      series = {
        tags: peerTags(reporter, local, { peer, peerPrincipal, localPrincipal, serviceHost, serviceName }),
        policy: securityPolicy(reporter, peerPrincipal, localPrincipal),
        byResponse: new Map(),
      };
      byRest.set(rest, series);
    }
    this.lastPeer = peer;
    this.lastPeerPrincipal = peerPrincipal;
    this.lastLocalPrincipal = localPrincipal;
    this.lastServiceHost = serviceHost;
    this.lastServiceName = serviceName;
    this.lastSeries = series;
    return series;
  }

  private seriesSet(tags: readonly StatTag[]): SeriesSet {
    const stats = this.deps.stats;
    return {
      requests: stats.counterFromTags(REQUESTS_TOTAL, tags),
      duration: stats.histogramFromTags(REQUEST_DURATION, tags, ISTIO_HISTOGRAM_BUCKETS),
      requestBytes: stats.histogramFromTags(REQUEST_BYTES, tags, ISTIO_HISTOGRAM_BUCKETS),
      responseBytes: stats.histogramFromTags(RESPONSE_BYTES, tags, ISTIO_HISTOGRAM_BUCKETS),
    };
  }

  /**
   * The cluster is the router's (Envoy resolves it with the route, before any filter runs); when no router ran
   * (a local reply from RBAC or a rate limit), the route's.
   */
  private destinationService(cb: FilterCallbacks): { host: string; name: string } {
    const info = cb.info;
    let clusterName = info.upstreamCluster;
    if (clusterName === '') {
      const action = cb.route?.action;
      if (action?.type === 'route') clusterName = action.selectCluster(cb.request, this.deps.random)?.name ?? '';
    }
    const cluster = clusterName === '' ? undefined : this.deps.clusterManager.get(clusterName);
    let known = cluster === undefined ? undefined : this.clusterServices.get(cluster);
    if (cluster !== undefined && known === undefined) {
      const service = clusterServiceFromMetadata((cluster.config as { metadata?: unknown } | undefined)?.metadata);
      // A cluster whose metadata names the service host gives the same labels to every request of its routes
      // (unless it is one Istio names the service after, which never has that metadata).
      const labels = service?.host === undefined ? undefined : destinationService('', clusterName, service, undefined);
      this.clusterServices.set(cluster, (known = { service, fixed: labels?.host === service?.host ? labels : undefined }));
    }
    const special = info.routeName === 'block_all' || info.routeName === 'allow_any';
    if (known?.fixed !== undefined && !special) return known.fixed;
    return destinationService(info.routeName, clusterName, known?.service, this.opts.disableHostHeaderFallback ? undefined : cb.request.authority);
  }

  /** Istio's extractEndpointMetadata: the host's `filter_metadata.istio.workload`. */
  private endpointPeer(host: Host): WorkloadMetadata | undefined {
    let peer = this.endpointPeers.get(host);
    if (peer === undefined) {
      const encoded = host.metadata['istio']?.['workload'];
      peer = (typeof encoded === 'string' ? workloadFromEndpointString(encoded) : undefined) ?? null;
      this.endpointPeers.set(host, peer);
    }
    return peer ?? undefined;
  }
}
