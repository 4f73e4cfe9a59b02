// Success-rate bookkeeping for outlier detection: Envoy's SuccessRateAccumulator (requests are counted
// into the current interval's bucket; each sweep swaps buckets and reads the one that just closed) and
// the ejection threshold `mean − factor × stdev` over the hosts with enough volume.

interface Bucket {
  success: number;
  total: number;
}

export class SuccessRateAccumulator {
  private current: Bucket = { success: 0, total: 0 };
  private closed: Bucket = { success: 0, total: 0 };

  recordSuccess(): void {
    this.current.success++;
    this.current.total++;
  }

  recordFailure(): void {
    this.current.total++;
  }

  /** Called on every interval sweep: the interval being written becomes the one that is read. */
  closeInterval(): void {
    const next = this.closed;
    next.success = 0;
    next.total = 0;
    this.closed = this.current;
    this.current = next;
  }

  /** The last closed interval's success rate in percent and its request volume; null without requests. */
  successRateAndVolume(): { readonly rate: number; readonly volume: number } | null {
    const { success, total } = this.closed;
    return total === 0 ? null : { rate: (success * 100) / total, volume: total };
  }
}

export interface SuccessRateThreshold {
  /** Mean success rate of the hosts considered. */
  readonly average: number;
  /** Hosts below this are outliers. */
  readonly threshold: number;
}

/**
 * DetectorImpl::successRateEjectionThreshold: population standard deviation of `rates` (non-empty);
 * e.g. {50, 100, 100, 100, 100} → mean 90, stdev 20, threshold with factor 1.9 = 52.
 */
export function successRateEjectionThreshold(rates: readonly number[], stdevFactor: number): SuccessRateThreshold {
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
  const variance = rates.reduce((a, r) => a + (r - mean) ** 2, 0) / rates.length;
  return { average: mean, threshold: mean - stdevFactor * Math.sqrt(variance) };
}
