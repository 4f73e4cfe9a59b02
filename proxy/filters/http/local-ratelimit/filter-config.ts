// The runtime form of one LocalRateLimit config (Envoy's FilterConfig): its buckets, stats, fractions,
// status and header lists, built once per listener config and once per typed_per_filter_config entry.

import type { Clock } from '../../../common/clock.ts';
import type { FractionalPercent } from '../../../config/fractional-percent.ts';
import type { StatsScope, Counter } from '../../../stats/scope.ts';
import { HeaderMutations } from '../../../route/header-mutation.ts';
import { compileRateLimit, type DescriptorProducer } from './rate-limit-actions.ts';
import { buildLocalRateLimiter, type LocalRateLimiter } from './local-rate-limiter.ts';
import type { LocalRateLimitWire } from './schema.ts';

/** `<stat_prefix>.http_local_rate_limit.*`, rooted at the stats root (no `http.` prefix). */
export interface LocalRateLimitStats {
  readonly enabled: Counter;
  readonly enforced: Counter;
  readonly ok: Counter;
  readonly rateLimited: Counter;
}

export interface FilterConfig {
  readonly stats: LocalRateLimitStats;
  readonly limiter: LocalRateLimiter;
  /** rate_limits: each may produce one descriptor per request. */
  readonly producers: readonly DescriptorProducer[];
  /** filter_enabled / filter_enforced; null when unset (Envoy then treats the filter as 0 % enabled / enforced). */
  readonly filterEnabled: FractionalPercent | null;
  readonly filterEnforced: FractionalPercent | null;
  /** status, with codes below 400 replaced by 429 (FilterConfig::toErrorCode). */
  readonly status: number;
  readonly responseHeaders: HeaderMutations | null;
  readonly requestHeadersWhenNotEnforced: HeaderMutations | null;
  /** enable_x_ratelimit_headers: DRAFT_VERSION_03. */
  readonly xRateLimitHeaders: boolean;
}

export function localRateLimitStats(root: StatsScope, statPrefix: string): LocalRateLimitStats {
  const scope = root.scope(`${statPrefix}.http_local_rate_limit`);
  return {
    enabled: scope.counter('enabled'),
    enforced: scope.counter('enforced'),
    ok: scope.counter('ok'),
    rateLimited: scope.counter('rate_limited'),
  };
}

export function buildFilterConfig(wire: LocalRateLimitWire, deps: { clock: Clock; rootStats: StatsScope }): FilterConfig {
  const status = wire.status?.code ?? 429;
  return {
    stats: localRateLimitStats(deps.rootStats, wire.stat_prefix),
    limiter: buildLocalRateLimiter(wire, deps.clock),
    producers: (wire.rate_limits ?? []).map(compileRateLimit),
    filterEnabled: wire.filter_enabled ?? null,
    filterEnforced: wire.filter_enforced ?? null,
    status: status >= 400 ? status : 429,
    responseHeaders: headerList(wire.response_headers_to_add),
    requestHeadersWhenNotEnforced: headerList(wire.request_headers_to_add_when_not_enforced),
    xRateLimitHeaders: wire.enable_x_ratelimit_headers === 'DRAFT_VERSION_03',
  };
}

function headerList(add: LocalRateLimitWire['response_headers_to_add']): HeaderMutations | null {
  return add === undefined || add.length === 0 ? null : new HeaderMutations(add, []);
}
