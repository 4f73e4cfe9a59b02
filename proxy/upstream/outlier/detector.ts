// A cluster's outlier detector (Envoy's Outlier::DetectorImpl): owns one DetectorHostMonitor per host,
// ejects on consecutive errors as they happen and on success-rate / failure-percentage outliers at each
// `interval` sweep, returns hosts whose ejection time has passed, and enforces max_ejection_percent.
// Ejection sets the host's FAILED_OUTLIER_CHECK flag; the cluster then rebuilds its load balancer.

import type { Clock, Random, TimerHandle } from '../../common/clock.ts';
import type { StatsScope } from '../../stats/scope.ts';
import type { HostImpl } from '../host.ts';
import type { Host, OutlierDetectorInfo, SuccessRateOrigin } from '../types.ts';
import { DetectorHostMonitor, type MonitorOwner } from './host-monitor.ts';
import type { ConsecutiveEjectionType, EjectionType, OutlierDetectionConfig } from './outlier-config.ts';
import { OutlierDetectionStats } from './outlier-stats.ts';
import { successRateEjectionThreshold, type SuccessRateThreshold } from './success-rate.ts';

export interface OutlierDetectorDeps {
  readonly clock: Clock;
  /** Draws for the enforcing_* percentages and the ejection jitter. */
  readonly random: Random;
  /** The cluster's stats scope (`cluster.<stat_name>`). */
  readonly stats: StatsScope;
  /** Hosts were ejected or returned: rebuild whatever was derived from host health (Envoy's changed-state callback). */
  readonly onHealthChanged: () => void;
}

const NOT_COMPUTED: SuccessRateThreshold = { average: -1, threshold: -1 };

/** Per origin: the ejection type of its success-rate and failure-percentage detection. */
const ORIGIN_TYPES: Readonly<Record<SuccessRateOrigin, { successRate: EjectionType; failurePercentage: EjectionType }>> = {
  ExternalOrigin: { successRate: 'SUCCESS_RATE', failurePercentage: 'FAILURE_PERCENTAGE' },
  LocalOrigin: { successRate: 'SUCCESS_RATE_LOCAL_ORIGIN', failurePercentage: 'FAILURE_PERCENTAGE_LOCAL_ORIGIN' },
};

export class OutlierDetector implements MonitorOwner, OutlierDetectorInfo {
  readonly config: OutlierDetectionConfig;
  private readonly stats: OutlierDetectionStats;
  private readonly monitors = new Map<Host, DetectorHostMonitor>();
  private readonly deps: OutlierDetectorDeps;
  private ejectionsActive = 0;
  private timer: TimerHandle | null = null;
  private readonly successRateNums: Record<SuccessRateOrigin, SuccessRateThreshold> = { ExternalOrigin: NOT_COMPUTED, LocalOrigin: NOT_COMPUTED };

  constructor(config: OutlierDetectionConfig, deps: OutlierDetectorDeps) {
    this.config = config;
    this.deps = deps;
    this.stats = new OutlierDetectionStats(deps.stats);
  }

  get consecutive5xx(): number {
    return this.config.consecutive5xx;
  }

  get consecutiveGatewayFailure(): number {
    return this.config.consecutiveGatewayFailure;
  }

  get consecutiveLocalOriginFailure(): number {
    return this.config.consecutiveLocalOriginFailure;
  }

  /** Arms the `interval` sweep timer. */
  start(): void {
    this.timer?.cancel();
    this.timer = this.deps.clock.setTimer(() => this.onIntervalTimer(), this.config.intervalMs);
  }

  /** Cancels the sweep timer (cluster manager shutdown). */
  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /** Envoy's member-update callback: monitors for new hosts; removed hosts stop counting as ejected. */
  onMembershipChange(added: readonly HostImpl[], removed: readonly HostImpl[]): void {
    for (const host of added) {
      const monitor = new DetectorHostMonitor(host, this, this.config.splitExternalLocalOriginErrors);
      this.monitors.set(host, monitor);
      host.outlier = monitor;
    }
    for (const host of removed) {
      if (host.failedOutlierCheck) this.setEjectionsActive(this.ejectionsActive - 1);
      this.monitors.delete(host);
    }
  }

  successRateAverage(origin: SuccessRateOrigin): number {
    return this.successRateNums[origin].average;
  }

  successRateEjectionThreshold(origin: SuccessRateOrigin): number {
    return this.successRateNums[origin].threshold;
  }

  hostSuccessRate(host: Host, origin: SuccessRateOrigin): number {
    return this.monitors.get(host)?.successRate[origin] ?? -1;
  }

  /** DetectorImpl::onConsecutiveErrorWorker (synchronous: nodevoy has one event loop). */
  onConsecutiveError(monitor: DetectorHostMonitor, type: ConsecutiveEjectionType): void {
    // A result reported for a host the cluster already removed, or one already ejected, changes nothing.
    if (this.monitors.get(monitor.host) !== monitor || monitor.host.failedOutlierCheck) return;
    if (type === 'CONSECUTIVE_5XX') this.stats.ejections_consecutive_5xx.inc();
    this.stats.recordDetected(type);
    const ejected = this.ejectHost(monitor, type);
    // Reset the counter that fired so the next bout of errors is detected again.
    monitor.resetConsecutive(type);
    if (ejected) this.deps.onHealthChanged();
  }

  /**
   * DetectorImpl::ejectHost. Current Envoy (≥ 1.27) ejects only while (ejected + 1) / hosts ≤
   * max_ejection_percent, so small clusters never eject at the 10 % default unless always_eject_one_host
   * lets the first ejection through. Returns whether the host was ejected.
   */
  private ejectHost(monitor: DetectorHostMonitor, type: EjectionType): boolean {
    const cfg = this.config;
    const ejectedPercent = (100 * (this.ejectionsActive + 1)) / this.monitors.size;
    const shouldEject = ejectedPercent <= Math.min(100, cfg.maxEjectionPercent) || (cfg.alwaysEjectOneHost && this.ejectionsActive === 0);
    if (!shouldEject) {
      this.stats.ejections_overflow.inc();
      return false;
    }
    if (type === 'CONSECUTIVE_5XX' || type === 'SUCCESS_RATE') this.stats.ejections_total.inc();
    // Envoy asserts a host is never ejected twice; a host found by both success rate and failure
    // percentage in one sweep stays ejected once.
    if (!this.enforce(type) || monitor.host.failedOutlierCheck) return false;

    this.setEjectionsActive(this.ejectionsActive + 1);
    this.stats.recordEnforced(type);
    monitor.host.failedOutlierCheck = true;
    monitor.lastEjectionTimeMs = this.deps.clock.monotonicMs();
    // Jitter so that hosts ejected together do not all return at once (max_ejection_time_jitter).
    const jitter = cfg.maxEjectionTimeJitterMs;
    monitor.jitterMs = jitter > 0 ? this.deps.random.nextUint32() % (jitter + 1) : 0;
    // The multiplier grows until base × multiplier passes max_ejection_time (the duration is capped there).
    if (monitor.ejectTimeBackoff * cfg.baseEjectionTimeMs < cfg.maxEjectionTimeMs + cfg.baseEjectionTimeMs) {
      monitor.ejectTimeBackoff++;
    }
    return true;
  }

  /** Runtime featureEnabled(enforcing_*): a draw below the percentage enforces; 0 and 100 need no draw. */
  private enforce(type: EjectionType): boolean {
    const percent = this.config.enforcing[type];
    if (percent <= 0) return false;
    if (percent >= 100) return true;
    return this.deps.random.nextUint32() % 100 < percent;
  }

  private unejectHost(monitor: DetectorHostMonitor, now: number): void {
    this.setEjectionsActive(this.ejectionsActive - 1);
    monitor.host.failedOutlierCheck = false;
    // Fresh counters, so a host close to a threshold is not re-ejected on very few new errors.
    monitor.resetAllConsecutive();
    monitor.lastUnejectionTimeMs = now;
  }

  /** Ejected for min(base × multiplier, max) + jitter; checked on sweeps only, so it rounds up to a sweep. */
  private ejectionExpired(monitor: DetectorHostMonitor, now: number): boolean {
    const cfg = this.config;
    const ejectedFor = Math.min(cfg.baseEjectionTimeMs * monitor.ejectTimeBackoff, cfg.maxEjectionTimeMs) + monitor.jitterMs;
    return ejectedFor <= now - (monitor.lastEjectionTimeMs ?? now);
  }

  /** DetectorImpl::onIntervalTimer. */
  private onIntervalTimer(): void {
    const now = this.deps.clock.monotonicMs();
    let changed = false;
    for (const monitor of this.monitors.values()) {
      if (monitor.host.failedOutlierCheck && this.ejectionExpired(monitor, now)) {
        this.unejectHost(monitor, now);
        changed = true;
      }
      monitor.externalOrigin.closeInterval();
      monitor.localOrigin.closeInterval();
      monitor.successRate.ExternalOrigin = -1;
      monitor.successRate.LocalOrigin = -1;
    }
    changed = this.processSuccessRateEjections('ExternalOrigin') || changed;
    changed = this.processSuccessRateEjections('LocalOrigin') || changed;

    // A host that stayed in service for a whole interval since its return loses one multiplier step.
    for (const monitor of this.monitors.values()) {
      if (!monitor.host.failedOutlierCheck && monitor.lastUnejectionTimeMs !== null &&
        now - monitor.lastUnejectionTimeMs >= this.config.intervalMs && monitor.ejectTimeBackoff > 0) {
        monitor.ejectTimeBackoff--;
      }
    }
    this.start();
    if (changed) this.deps.onHealthChanged();
  }

  /**
   * DetectorImpl::processSuccessRateEjections over the interval that just closed: hosts (not ejected) with
   * success_rate_request_volume requests take part in success-rate detection, those with
   * failure_percentage_request_volume in failure-percentage detection, each only when at least its
   * minimum_hosts qualify. Returns whether a host was ejected.
   */
  private processSuccessRateEjections(origin: SuccessRateOrigin): boolean {
    const cfg = this.config;
    this.successRateNums[origin] = NOT_COMPUTED;
    if (this.monitors.size < cfg.successRateMinimumHosts && this.monitors.size < cfg.failurePercentageMinimumHosts) return false;

    const srHosts: { monitor: DetectorHostMonitor; rate: number }[] = [];
    const fpHosts: { monitor: DetectorHostMonitor; rate: number }[] = [];
    for (const monitor of this.monitors.values()) {
      if (monitor.host.failedOutlierCheck) continue;
      const sample = monitor.accumulator(origin).successRateAndVolume();
      if (!sample) continue;
      if (sample.volume >= Math.min(cfg.successRateRequestVolume, cfg.failurePercentageRequestVolume)) monitor.successRate[origin] = sample.rate;
      if (sample.volume >= cfg.successRateRequestVolume) srHosts.push({ monitor, rate: sample.rate });
      if (sample.volume >= cfg.failurePercentageRequestVolume) fpHosts.push({ monitor, rate: sample.rate });
    }

    let ejected = false;
    const types = ORIGIN_TYPES[origin];
    if (srHosts.length > 0 && srHosts.length >= cfg.successRateMinimumHosts) {
      const nums = successRateEjectionThreshold(srHosts.map((h) => h.rate), cfg.successRateStdevFactor);
      this.successRateNums[origin] = nums;
      for (const h of srHosts) {
        if (h.rate >= nums.threshold) continue;
        this.stats.ejections_success_rate.inc();
        this.stats.recordDetected(types.successRate);
        ejected = this.ejectHost(h.monitor, types.successRate) || ejected;
      }
    }
    if (fpHosts.length > 0 && fpHosts.length >= cfg.failurePercentageMinimumHosts) {
      for (const h of fpHosts) {
        if (100 - h.rate < cfg.failurePercentageThreshold) continue;
        this.stats.recordDetected(types.failurePercentage);
        ejected = this.ejectHost(h.monitor, types.failurePercentage) || ejected;
      }
    }
    return ejected;
  }

  private setEjectionsActive(n: number): void {
    this.ejectionsActive = n;
    this.stats.ejections_active.set(n);
  }
}
