// The local rate limit HTTP filter for one stream (Envoy's LocalRateLimitFilter::Filter): picks the
// route's config or the listener's, consults its buckets, answers 429 `local_rate_limited` (flag RL)
// when enforced, and writes the x-ratelimit-* headers on the response.

import { ResponseFlag } from '../../../common/response-flags.ts';
import type { Random } from '../../../common/clock.ts';
import { evaluateFractionalPercent, type FractionalPercent } from '../../../config/fractional-percent.ts';
import type { FilterCallbacks, FilterStatus, HttpFilter } from '../../../http/filter.ts';
import type { HeaderMap, RequestHeaders, ResponseHeaders } from '../../../http/headers.ts';
import type { TokenBucket } from '../../../common/token-bucket.ts';
import type { FilterConfig } from './filter-config.ts';

/** Body and %RESPONSE_CODE_DETAILS% of the local reply. */
export const RATE_LIMITED_BODY = 'local_rate_limited';
export const RATE_LIMITED_DETAILS = 'local_rate_limited';

/** Envoy's local reply marks 429s with x-envoy-ratelimited (so routers downstream do not retry them). */
const RATE_LIMITED_HEADERS: Readonly<Record<string, string>> = { 'x-envoy-ratelimited': 'true' };

/** What every stream of one configured filter shares. */
export interface LocalRateLimitShared {
  /** The config this filter was created with (http_filters[].typed_config). */
  readonly listenerConfig: FilterConfig;
  /** The config for a typed_per_filter_config entry of this filter (one bucket set per entry). */
  forRoute(perRoute: object): FilterConfig;
  readonly filterName: string;
  readonly random: Random;
}

export class LocalRateLimitFilter implements HttpFilter {
  private readonly shared: LocalRateLimitShared;
  private readonly callbacks: FilterCallbacks;
  /** The config used in decodeHeaders and the bucket it checked (Envoy's token_bucket_context_). */
  private used: FilterConfig | null = null;
  private bucket: TokenBucket | null = null;

  constructor(shared: LocalRateLimitShared, callbacks: FilterCallbacks) {
    this.shared = shared;
    this.callbacks = callbacks;
  }

  decodeHeaders(request: RequestHeaders): FilterStatus {
    const shared = this.shared;
    // The most specific typed_per_filter_config replaces the listener-level config entirely.
    const perRoute = this.callbacks.perRouteConfig<object>(shared.filterName);
    const config = perRoute === undefined ? shared.listenerConfig : shared.forRoute(perRoute);
    if (!sample(config.filterEnabled, shared.random)) return 'continue';
    config.stats.enabled.inc();

    const decision = config.limiter.requestAllowed(this.requestDescriptors(config, request));
    this.used = config;
    this.bucket = decision.bucket;
    if (decision.allowed) {
      config.stats.ok.inc();
      return 'continue';
    }
    config.stats.rateLimited.inc();
    if (!sample(config.filterEnforced, shared.random)) {
      config.requestHeadersWhenNotEnforced?.apply(request.headers, { request, info: this.callbacks.info });
      return 'continue';
    }
    config.stats.enforced.inc();
    const responseHeaders = config.responseHeaders;
    this.callbacks.sendLocalReply(config.status, RATE_LIMITED_BODY, {
      flags: ResponseFlag.RateLimited,
      details: RATE_LIMITED_DETAILS,
      ...(config.status === 429 ? { headers: RATE_LIMITED_HEADERS } : {}),
      ...(responseHeaders !== null
        ? { modifyHeaders: (headers: HeaderMap) => responseHeaders.apply(headers, { request, info: this.callbacks.info }, config.status) }
        : {}),
    });
    return 'stop';
  }

  /** enable_x_ratelimit_headers DRAFT_VERSION_03, on every response to a request that was checked. */
  encodeHeaders(response: ResponseHeaders): FilterStatus {
    const bucket = this.bucket;
    if (bucket === null || !this.used!.xRateLimitHeaders) return 'continue';
    const h = response.headers;
    append(h, 'x-ratelimit-limit', String(bucket.maxTokens));
    append(h, 'x-ratelimit-remaining', String(bucket.remaining));
    append(h, 'x-ratelimit-reset', String(Math.ceil(bucket.nextRefillMs / 1000)));
    return 'continue';
  }

  private requestDescriptors(config: FilterConfig, request: RequestHeaders): string[] {
    if (!config.limiter.hasDescriptors || config.producers.length === 0) return [];
    const out: string[] = [];
    for (const produce of config.producers) {
      const d = produce(request, this.callbacks.info);
      if (d !== null) out.push(d);
    }
    return out;
  }
}

/** Envoy adds these with addReferenceKey: an upstream's own value is kept, not replaced. */
function append(headers: HeaderMap, name: string, value: string): void {
  const existing = headers[name];
  if (existing === undefined) headers[name] = value;
  else if (Array.isArray(existing)) existing.push(value);
  else headers[name] = [existing, value];
}

/** FilterConfig::enabled() / enforced(): an unset filter_enabled / filter_enforced is false, with no draw. */
function sample(percent: FractionalPercent | null, random: Random): boolean {
  return percent !== null && evaluateFractionalPercent(percent, random);
}
