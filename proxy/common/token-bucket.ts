// The token bucket behind rate limits (Envoy's AtomicTokenBucketImpl): refilled continuously at
// tokens_per_fill / fill_interval, capped at max_tokens, full when created. Callers see only the
// TokenBucket interface, so a multi-worker build can back it with SharedArrayBuffer (DESIGN principle 7).

import type { Clock } from './clock.ts';

export interface TokenBucket {
  /** envoy.type.v3.TokenBucket.max_tokens: the burst size and the content of a new bucket. */
  readonly maxTokens: number;
  /** Takes `n` tokens (default 1) when at least `n` are there; otherwise takes nothing and returns false. */
  consume(n?: number): boolean;
  /** Whole tokens available now. */
  readonly remaining: number;
  /** Milliseconds until the next whole token is available; 0 when one is available now. */
  readonly nextRefillMs: number;
}

/** envoy.type.v3.TokenBucket with Envoy's defaults applied (tokens_per_fill 1). */
export interface TokenBucketSpec {
  readonly maxTokens: number;
  readonly tokensPerFill: number;
  readonly fillIntervalMs: number;
}

/** A bucket for one process (one event loop), timed by `clock.monotonicMs()`. */
export function createTokenBucket(spec: TokenBucketSpec, clock: Clock): TokenBucket {
  return new InProcessTokenBucket(spec, clock);
}

/**
 * Tokens are kept as "credit" in token × millisecond units (tokens × fill_interval), which each
 * elapsed millisecond raises by tokens_per_fill. With whole-millisecond clocks every step is integer
 * arithmetic, so counts are exact (no 0.999… tokens from a fractional rate).
 */
class InProcessTokenBucket implements TokenBucket {
  readonly maxTokens: number;
  private readonly tokensPerFill: number;
  private readonly fillIntervalMs: number;
  private readonly capacity: number;
  private readonly clock: Clock;
  private credit: number;
  private lastMs: number;

  constructor(spec: TokenBucketSpec, clock: Clock) {
    this.maxTokens = spec.maxTokens;
    this.tokensPerFill = spec.tokensPerFill;
    this.fillIntervalMs = spec.fillIntervalMs;
    this.capacity = spec.maxTokens * spec.fillIntervalMs;
    this.clock = clock;
    this.credit = this.capacity;
    this.lastMs = clock.monotonicMs();
  }

  consume(n = 1): boolean {
    this.refill();
    const cost = n * this.fillIntervalMs;
    if (this.credit < cost) return false;
    this.credit -= cost;
    return true;
  }

  get remaining(): number {
    this.refill();
    return Math.floor(this.credit / this.fillIntervalMs);
  }

  get nextRefillMs(): number {
    this.refill();
    const missing = this.fillIntervalMs - this.credit;
    return missing <= 0 ? 0 : Math.ceil(missing / this.tokensPerFill);
  }

  private refill(): void {
    const now = this.clock.monotonicMs();
    const elapsed = now - this.lastMs;
    if (elapsed <= 0) return;
    this.lastMs = now;
    if (this.credit >= this.capacity) return;
    this.credit = Math.min(this.capacity, this.credit + elapsed * this.tokensPerFill);
  }
}
