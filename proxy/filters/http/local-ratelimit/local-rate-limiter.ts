// The buckets of one LocalRateLimit config and the decision for one request (Envoy's
// LocalRateLimiterImpl::requestAllowed): the descriptor buckets the request matches are consumed
// slowest-refilling first, then the default token_bucket. Knows nothing of HTTP.

import { createTokenBucket, type TokenBucket, type TokenBucketSpec } from '../../../common/token-bucket.ts';
import type { Clock } from '../../../common/clock.ts';
import { descriptorKey } from './rate-limit-actions.ts';
import type { LocalRateLimitWire, TokenBucketWire } from './schema.ts';

export interface LimiterDecision {
  readonly allowed: boolean;
  /** The bucket the x-ratelimit-* headers describe (Envoy's token_bucket_context); null = none. */
  readonly bucket: TokenBucket | null;
}

interface DescriptorBucket {
  readonly bucket: TokenBucket;
  /** Position by fill rate, slowest first: Envoy consumes the strictest matched descriptor first. */
  readonly rank: number;
}

const ALLOWED_WITHOUT_BUCKET: LimiterDecision = { allowed: true, bucket: null };

export class LocalRateLimiter {
  private readonly defaultBucket: TokenBucket | null;
  private readonly descriptors: ReadonlyMap<string, DescriptorBucket>;
  private readonly alwaysConsumeDefault: boolean;

  constructor(defaultBucket: TokenBucket | null, descriptors: ReadonlyMap<string, DescriptorBucket>, alwaysConsumeDefault: boolean) {
    this.defaultBucket = defaultBucket;
    this.descriptors = descriptors;
    this.alwaysConsumeDefault = alwaysConsumeDefault;
  }

  /** Whether descriptors are configured (otherwise the request's descriptors need not be computed). */
  get hasDescriptors(): boolean {
    return this.descriptors.size > 0;
  }

  /** `requestDescriptors` are encoded with descriptorKey(). */
  requestAllowed(requestDescriptors: readonly string[]): LimiterDecision {
    const matched = this.match(requestDescriptors);
    for (const m of matched) {
      if (!m.bucket.consume()) return { allowed: false, bucket: m.bucket };
    }
    const first = matched[0]?.bucket ?? null;
    // always_consume_default_token_bucket (default true): the default bucket also counts matched requests.
    if (matched.length === 0 || this.alwaysConsumeDefault) {
      const fallback = this.defaultBucket;
      if (fallback === null) return first === null ? ALLOWED_WITHOUT_BUCKET : { allowed: true, bucket: first };
      if (!fallback.consume()) return { allowed: false, bucket: fallback };
      return { allowed: true, bucket: first ?? fallback };
    }
    return { allowed: true, bucket: first };
  }

  private match(requestDescriptors: readonly string[]): DescriptorBucket[] {
    if (requestDescriptors.length === 0 || this.descriptors.size === 0) return [];
    const matched: DescriptorBucket[] = [];
    for (const d of requestDescriptors) {
      const hit = this.descriptors.get(d);
      if (hit !== undefined) matched.push(hit);
    }
    if (matched.length > 1) matched.sort((a, b) => a.rank - b.rank);
    return matched;
  }
}

export function tokenBucketSpec(wire: TokenBucketWire): TokenBucketSpec {
  return { maxTokens: wire.max_tokens, tokensPerFill: wire.tokens_per_fill ?? 1, fillIntervalMs: wire.fill_interval };
}

/** Creates the buckets of one config: each starts full now. */
export function buildLocalRateLimiter(wire: LocalRateLimitWire, clock: Clock): LocalRateLimiter {
  const defaultBucket = wire.token_bucket === undefined ? null : createTokenBucket(tokenBucketSpec(wire.token_bucket), clock);
  const specs = (wire.descriptors ?? []).map((d) => ({ key: descriptorKey(d.entries), spec: tokenBucketSpec(d.token_bucket) }));
  const byRate = [...specs].sort((a, b) => fillRate(a.spec) - fillRate(b.spec));
  const descriptors = new Map<string, DescriptorBucket>();
  byRate.forEach((d, rank) => descriptors.set(d.key, { bucket: createTokenBucket(d.spec, clock), rank }));
  return new LocalRateLimiter(defaultBucket, descriptors, wire.always_consume_default_token_bucket ?? true);
}

function fillRate(spec: TokenBucketSpec): number {
  return spec.tokensPerFill / spec.fillIntervalMs;
}
