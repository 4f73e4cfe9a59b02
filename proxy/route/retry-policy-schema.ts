// envoy.config.route.v3.RetryPolicy: its wire schema (route and virtual host `retry_policy`), the retry_on
// token table as a bit set, and the translation into the frozen RetryPolicy the router reads. Config time
// only: unknown retry_on tokens, a zero base_interval or max < base are errors with their paths.

import { z } from 'zod';
import { message, duration, typedConfig, uint32 } from '../config/schema-kit.ts';
import { HeaderMatcherSchema, compileHeaderMatcher } from '../matchers/header-matcher.ts';
import type { RetryPolicy } from './types.ts';

/** retry_on conditions as bits (Envoy's RetryPolicy::RETRY_ON_*). */
export const RetryOn = {
  FiveXX: 1 << 0,
  GatewayError: 1 << 1,
  ConnectFailure: 1 << 2,
  Retriable4xx: 1 << 3,
  RefusedStream: 1 << 4,
  RetriableStatusCodes: 1 << 5,
  Reset: 1 << 6,
  RetriableHeaders: 1 << 7,
  EnvoyRateLimited: 1 << 8,
  Http3PostConnectFailure: 1 << 9,
  ResetBeforeRequest: 1 << 10,
  GrpcCancelled: 1 << 11,
  GrpcDeadlineExceeded: 1 << 12,
  GrpcResourceExhausted: 1 << 13,
  GrpcUnavailable: 1 << 14,
  GrpcInternal: 1 << 15,
} as const;

/** The tokens x-envoy-retry-on accepts (Envoy's parseRetryOn). */
export const HTTP_RETRY_ON: Readonly<Record<string, number>> = {
  '5xx': RetryOn.FiveXX,
  'gateway-error': RetryOn.GatewayError,
  'connect-failure': RetryOn.ConnectFailure,
  'retriable-4xx': RetryOn.Retriable4xx,
  'refused-stream': RetryOn.RefusedStream,
  'retriable-status-codes': RetryOn.RetriableStatusCodes,
  'reset': RetryOn.Reset,
  'retriable-headers': RetryOn.RetriableHeaders,
  'envoy-ratelimited': RetryOn.EnvoyRateLimited,
  // Only meaningful over HTTP/3, which nodevoy never uses upstream: accepted, never triggers.
  'http3-post-connect-failure': RetryOn.Http3PostConnectFailure,
  'reset-before-request': RetryOn.ResetBeforeRequest,
};

/** The tokens x-envoy-retry-grpc-on accepts (Envoy's parseRetryGrpcOn); retry_on accepts both sets. */
export const GRPC_RETRY_ON: Readonly<Record<string, number>> = {
  'cancelled': RetryOn.GrpcCancelled,
  'deadline-exceeded': RetryOn.GrpcDeadlineExceeded,
  'resource-exhausted': RetryOn.GrpcResourceExhausted,
  'unavailable': RetryOn.GrpcUnavailable,
  'internal': RetryOn.GrpcInternal,
};

/** Comma-separated tokens (whitespace trimmed, empty skipped) → bits and the tokens not in `table`. */
export function parseRetryOn(value: string, ...tables: readonly Readonly<Record<string, number>>[]): { bits: number; unknown: string[] } {
  let bits = 0;
  const unknown: string[] = [];
  for (const raw of value.split(',')) {
    const token = raw.trim();
    if (token === '') continue;
    const bit = tables.reduce<number | undefined>((found, t) => found ?? t[token], undefined);
    if (bit === undefined) unknown.push(token);
    else bits |= bit;
  }
  return { bits, unknown };
}

/** RetryBackOff: base_interval required and > 0; max_interval > 0 and >= base (default 10 × base). */
const RetryBackOffSchema = message('envoy.config.route.v3.RetryPolicy.RetryBackOff', {
  base_interval: duration.refine((ms) => ms > 0, 'base_interval must be greater than 0s'),
  max_interval: duration.refine((ms) => ms > 0, 'max_interval must be greater than 0s').optional(),
}).superRefine((b, ctx) => {
  if (b.max_interval !== undefined && b.max_interval < b.base_interval) {
    ctx.addIssue({ code: 'custom', path: ['max_interval'], message: 'max_interval must be greater than or equal to the base_interval' });
  }
});

export const PREVIOUS_HOSTS = 'envoy.retry_host_predicates.previous_hosts';
const PREVIOUS_HOSTS_TYPE = 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate';
const PreviousHostsPredicateSchema = message('envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate', {});

/** RetryPolicy.RetryHostPredicate: only previous_hosts (by name or by its typed_config) is implemented. */
const RetryHostPredicateSchema = message('envoy.config.route.v3.RetryPolicy.RetryHostPredicate', {
  name: z.string().min(1, 'name must not be empty'),
  typed_config: typedConfig('retry_host_predicate typed_config', (url) => (url === PREVIOUS_HOSTS_TYPE ? PreviousHostsPredicateSchema : undefined)).optional(),
}).superRefine((p, ctx) => {
  if (p.typed_config === undefined && p.name !== PREVIOUS_HOSTS) {
    ctx.addIssue({ code: 'custom', path: ['name'], message: `retry host predicate ${p.name} is not implemented by nodevoy (only ${PREVIOUS_HOSTS})`, params: { kind: 'not-implemented' } });
  }
});

const statusCode = uint32.pipe(z.number().min(100, 'a status code is in [100, 600)').max(599, 'a status code is in [100, 600)'));

export const RetryPolicySchema = message('envoy.config.route.v3.RetryPolicy', {
  retry_on: z.string().optional().superRefine((v, ctx) => {
    // Envoy silently drops unknown tokens; nodevoy rejects them so a typo never disables retries.
    const { unknown } = parseRetryOn(v ?? '', HTTP_RETRY_ON, GRPC_RETRY_ON);
    for (const token of unknown) {
      ctx.addIssue({ code: 'custom', message: `unknown retry_on value "${token}" (expected ${[...Object.keys(HTTP_RETRY_ON), ...Object.keys(GRPC_RETRY_ON)].join(', ')})` });
    }
  }),
  num_retries: uint32.optional(),
  per_try_timeout: duration.optional(),
  per_try_idle_timeout: duration.optional(),
  retry_host_predicate: z.array(RetryHostPredicateSchema).optional(),
  host_selection_retry_max_attempts: z.union([z.number(), z.string().regex(/^-?\d+$/).transform(Number)]).pipe(z.number().int()).optional(),
  retriable_status_codes: z.array(statusCode).optional(),
  retry_back_off: RetryBackOffSchema.optional(),
  retriable_headers: z.array(HeaderMatcherSchema).optional(),
  retriable_request_headers: z.array(HeaderMatcherSchema).optional(),
}, { unimplemented: ['retry_priority', 'retry_options_predicates', 'rate_limited_retry_back_off'] });

export type RetryPolicyWire = z.output<typeof RetryPolicySchema>;

/** Envoy's runtime default upstream.base_retry_backoff_ms. */
export const DEFAULT_BASE_RETRY_BACKOFF_MS = 25;

/** The frozen runtime policy. Pure; the schema has already rejected everything invalid. */
export function translateRetryPolicy(wire: RetryPolicyWire): RetryPolicy {
  // "Values less than 1 ms are rounded up to 1 ms" (RetryBackOff.base_interval).
  const base = wire.retry_back_off ? Math.max(1, Math.round(wire.retry_back_off.base_interval)) : DEFAULT_BASE_RETRY_BACKOFF_MS;
  const max = wire.retry_back_off?.max_interval !== undefined ? Math.max(base, Math.round(wire.retry_back_off.max_interval)) : base * 10;
  return Object.freeze({
    retryOn: parseRetryOn(wire.retry_on ?? '', HTTP_RETRY_ON, GRPC_RETRY_ON).bits,
    numRetries: wire.num_retries ?? 1,
    perTryTimeoutMs: wire.per_try_timeout ?? 0,
    perTryIdleTimeoutMs: wire.per_try_idle_timeout ?? 0,
    baseIntervalMs: base,
    maxIntervalMs: max,
    retriableStatusCodes: Object.freeze([...(wire.retriable_status_codes ?? [])]),
    retriableHeaders: Object.freeze((wire.retriable_headers ?? []).map(compileHeaderMatcher)),
    retriableRequestHeaders: Object.freeze((wire.retriable_request_headers ?? []).map(compileHeaderMatcher)),
    previousHosts: (wire.retry_host_predicate ?? []).length > 0,
    // Envoy keeps its default of 1 re-selection when the field is 0 or absent.
    hostSelectionRetryMaxAttempts: Math.max(0, wire.host_selection_retry_max_attempts || 1),
  });
}
