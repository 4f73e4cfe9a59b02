// Wire schema of envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, used both as the
// filter's typed_config and as its typed_per_filter_config (where token_bucket is required). Every
// check Envoy makes when it loads the config is made here, so errors carry their field paths.

import { z } from 'zod';
import { RuntimeFractionalPercentSchema } from '../../../config/fractional-percent.ts';
import { bool, duration, enumOf, message, onlyValues, uint32 } from '../../../config/schema-kit.ts';
import { HeaderValueOptionSchema } from '../../../route/header-mutation.ts';
import { HttpStatusSchema } from './http-status.ts';
import { RateLimitSchema, descriptorKey } from './rate-limit-actions.ts';

/** LocalRateLimiterImpl: "local rate limit token bucket fill timer must be >= 50ms". */
export const MIN_FILL_INTERVAL_MS = 50;

export const TokenBucketSchema = message('envoy.type.v3.TokenBucket', {
  max_tokens: uint32.pipe(z.number().min(1, 'max_tokens must be greater than 0')),
  tokens_per_fill: uint32.pipe(z.number().min(1, 'tokens_per_fill must be greater than 0')).optional(),
  fill_interval: duration.refine((ms) => ms >= MIN_FILL_INTERVAL_MS,
    `the local rate limit token bucket fill_interval must be >= ${MIN_FILL_INTERVAL_MS}ms`),
});

export type TokenBucketWire = z.output<typeof TokenBucketSchema>;

const EntrySchema = message('envoy.extensions.common.ratelimit.v3.RateLimitDescriptor.Entry', {
  key: z.string().min(1),
  value: z.string().optional(),
}).transform((e, ctx) => {
  // A blank value makes a wildcard descriptor with per-value dynamic buckets (max_dynamic_descriptors).
  if (e.value === undefined || e.value === '') {
    ctx.addIssue({ code: 'custom', path: ['value'], params: { kind: 'not-implemented' },
      message: 'a blank value (wildcard descriptor with per-value buckets) is valid Envoy config but nodevoy does not implement it' });
    return z.NEVER;
  }
  return { key: e.key, value: e.value };
});

const LocalRateLimitDescriptorSchema = message('envoy.extensions.common.ratelimit.v3.LocalRateLimitDescriptor', {
  entries: z.array(EntrySchema).min(1),
  token_bucket: TokenBucketSchema,
}, { unimplemented: ['shadow_mode'] });

const LRL = 'envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';

/** The filter's typed_config: token_bucket may be absent (limits then come from per-route configs). */
export const LocalRateLimitSchema = message(LRL, {
  stat_prefix: z.string().min(1),
  status: HttpStatusSchema.optional(),
  token_bucket: TokenBucketSchema.optional(),
  filter_enabled: RuntimeFractionalPercentSchema.optional(),
  filter_enforced: RuntimeFractionalPercentSchema.optional(),
  request_headers_to_add_when_not_enforced: z.array(HeaderValueOptionSchema).max(10).optional(),
  response_headers_to_add: z.array(HeaderValueOptionSchema).max(10).optional(),
  descriptors: z.array(LocalRateLimitDescriptorSchema).optional(),
  rate_limits: z.array(RateLimitSchema).optional(),
  always_consume_default_token_bucket: bool.optional(),
  enable_x_ratelimit_headers: enumOf('envoy.extensions.common.ratelimit.v3.XRateLimitHeadersRFCVersion', ['OFF', 'DRAFT_VERSION_03']).optional(),
  // One bucket per downstream connection needs per-connection state that filters cannot reach yet.
  local_rate_limit_per_downstream_connection: onlyValues(bool, [false], 'local_rate_limit_per_downstream_connection').optional(),
  // Only gRPC local replies differ; nodevoy sends HTTP/1 local replies only.
  rate_limited_as_resource_exhausted: onlyValues(bool, [false], 'rate_limited_as_resource_exhausted').optional(),
}, {
  // stage and vh_rate_limits select route/virtual-host `rate_limits`, which nodevoy does not implement.
  unimplemented: ['stage', 'vh_rate_limits', 'local_cluster_rate_limit', 'max_dynamic_descriptors'],
}).superRefine((c, ctx) => {
  // LocalRateLimiterImpl: "duplicate descriptor in the local rate descriptor".
  const seen = new Map<string, number>();
  (c.descriptors ?? []).forEach((d, i) => {
    const key = descriptorKey(d.entries);
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else ctx.addIssue({ code: 'custom', path: ['descriptors', i, 'entries'], message: `duplicate descriptor in the local rate limit descriptors (same entries as descriptors[${first}])` });
  });
});

export type LocalRateLimitWire = z.output<typeof LocalRateLimitSchema>;

/** typed_per_filter_config: "local rate limit token bucket must be set for per filter configs". */
export const LocalRateLimitPerRouteSchema = LocalRateLimitSchema.superRefine((c, ctx) => {
  if (c.token_bucket === undefined) {
    ctx.addIssue({ code: 'custom', path: ['token_bucket'], message: 'required field is missing (a per-route local rate limit needs its own token bucket)' });
  }
});
