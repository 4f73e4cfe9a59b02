// One host's outlier state (Envoy's DetectorHostMonitorImpl): the consecutive 5xx / gateway-failure /
// local-origin-failure counters the router feeds per attempt, the two success-rate accumulators, and
// the ejection bookkeeping (back-off multiplier, last ejection/unejection, jitter).

import type { HostImpl } from '../host.ts';
import type { OutlierMonitor, OutlierResult, SuccessRateOrigin } from '../types.ts';
import type { ConsecutiveEjectionType } from './outlier-config.ts';
import { SuccessRateAccumulator } from './success-rate.ts';

/** What the monitor needs from its detector. */
export interface MonitorOwner {
  readonly consecutive5xx: number;
  readonly consecutiveGatewayFailure: number;
  readonly consecutiveLocalOriginFailure: number;
  /** A consecutive-error threshold was reached (Envoy posts this to the main thread; here it is synchronous). */
  onConsecutiveError(monitor: DetectorHostMonitor, type: ConsecutiveEjectionType): void;
}

/** Gateway errors (Http::CodeUtility::isGatewayError): 502, 503, 504. */
const isGatewayError = (code: number): boolean => code >= 502 && code <= 504;

/** DetectorHostMonitorImpl::resultToHttpCode for non-split mode; undefined = not reported. */
const RESULT_AS_HTTP_CODE: Readonly<Record<OutlierResult, number | undefined>> = {
  EXT_ORIGIN_REQUEST_SUCCESS: 200,
  LOCAL_ORIGIN_CONNECT_SUCCESS_FINAL: 200,
  LOCAL_ORIGIN_TIMEOUT: 504,
  LOCAL_ORIGIN_CONNECT_FAILED: 503,
  EXT_ORIGIN_REQUEST_FAILED: 500,
  // The connection worked; the HTTP response that follows is reported on its own.
  LOCAL_ORIGIN_CONNECT_SUCCESS: undefined,
};

export class DetectorHostMonitor implements OutlierMonitor {
  readonly host: HostImpl;
  /** Multiplier of base_ejection_time for the current ejection (Envoy's ejectTimeBackoff). */
  ejectTimeBackoff = 0;
  lastEjectionTimeMs: number | null = null;
  lastUnejectionTimeMs: number | null = null;
  /** Jitter drawn for the current ejection. */
  jitterMs = 0;
  readonly externalOrigin = new SuccessRateAccumulator();
  readonly localOrigin = new SuccessRateAccumulator();
  /** Success rate computed at the last sweep, -1 when the host lacked volume (shown by /clusters). */
  readonly successRate: Record<SuccessRateOrigin, number> = { ExternalOrigin: -1, LocalOrigin: -1 };
  private consecutive5xx = 0;
  private consecutiveGatewayFailure = 0;
  private consecutiveLocalOriginFailure = 0;
  private readonly owner: MonitorOwner;
  private readonly split: boolean;

  constructor(host: HostImpl, owner: MonitorOwner, splitExternalLocalOriginErrors: boolean) {
    this.host = host;
    this.owner = owner;
    this.split = splitExternalLocalOriginErrors;
  }

  putHttpResponseCode(code: number): void {
    if (code >= 500 && code < 600) {
      this.externalOrigin.recordFailure();
      if (isGatewayError(code)) {
        if (++this.consecutiveGatewayFailure === this.owner.consecutiveGatewayFailure) {
          this.owner.onConsecutiveError(this, 'CONSECUTIVE_GATEWAY_FAILURE');
        }
      } else {
        this.consecutiveGatewayFailure = 0;
      }
      if (++this.consecutive5xx === this.owner.consecutive5xx) this.owner.onConsecutiveError(this, 'CONSECUTIVE_5XX');
    } else {
      this.externalOrigin.recordSuccess();
      this.consecutive5xx = 0;
      this.consecutiveGatewayFailure = 0;
    }
  }

  putResult(result: OutlierResult): void {
    if (!this.split) {
      // Not split: local-origin failures count as the HTTP codes Envoy maps them to.
      const code = RESULT_AS_HTTP_CODE[result];
      if (code !== undefined) this.putHttpResponseCode(code);
      return;
    }
    switch (result) {
      case 'LOCAL_ORIGIN_CONNECT_SUCCESS':
      case 'LOCAL_ORIGIN_CONNECT_SUCCESS_FINAL':
        return this.localOriginNoFailure();
      case 'LOCAL_ORIGIN_TIMEOUT':
      case 'LOCAL_ORIGIN_CONNECT_FAILED':
        return this.localOriginFailure();
      case 'EXT_ORIGIN_REQUEST_FAILED':
        // The transaction failed at the server: handled like a 503 (putResultWithLocalExternalSplit).
        return this.putHttpResponseCode(503);
      case 'EXT_ORIGIN_REQUEST_SUCCESS':
        this.putHttpResponseCode(200);
        return this.localOriginNoFailure();
    }
  }

  /** Resets the counter of the kind that fired (Envoy does after each detection). */
  resetConsecutive(type: ConsecutiveEjectionType): void {
    if (type === 'CONSECUTIVE_5XX') this.consecutive5xx = 0;
    else if (type === 'CONSECUTIVE_GATEWAY_FAILURE') this.consecutiveGatewayFailure = 0;
    else this.consecutiveLocalOriginFailure = 0;
  }

  /** Resets all three counters (on unejection). */
  resetAllConsecutive(): void {
    this.consecutive5xx = 0;
    this.consecutiveGatewayFailure = 0;
    this.consecutiveLocalOriginFailure = 0;
  }

  accumulator(origin: SuccessRateOrigin): SuccessRateAccumulator {
    return origin === 'ExternalOrigin' ? this.externalOrigin : this.localOrigin;
  }

  private localOriginFailure(): void {
    this.localOrigin.recordFailure();
    if (++this.consecutiveLocalOriginFailure === this.owner.consecutiveLocalOriginFailure) {
      this.owner.onConsecutiveError(this, 'CONSECUTIVE_LOCAL_ORIGIN_FAILURE');
    }
  }

  private localOriginNoFailure(): void {
    this.localOrigin.recordSuccess();
    this.consecutiveLocalOriginFailure = 0;
  }
}
