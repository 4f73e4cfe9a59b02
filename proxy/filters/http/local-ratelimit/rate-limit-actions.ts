// envoy.config.route.v3.RateLimit as LocalRateLimit.rate_limits uses it: schema and compilation into
// descriptor producers. Each RateLimit turns a request into at most one descriptor (its actions' entries,
// in order); descriptors are compared by their encoded entries (see descriptorKey).

import { z } from 'zod';
import { bool, message, uint32 } from '../../../config/schema-kit.ts';
import { HeaderMatcherSchema, compileHeaderMatcher, matchAllHeaders, requestReader } from '../../../matchers/header-matcher.ts';
import { firstValue, type RequestHeaders } from '../../../http/headers.ts';
import type { StreamInfo } from '../../../http/stream-info.ts';

const RL = 'envoy.config.route.v3.RateLimit';

const RequestHeadersSchema = message(`${RL}.Action.RequestHeaders`, {
  header_name: z.string().min(1),
  descriptor_key: z.string().min(1),
  skip_if_absent: bool.optional(),
});

const GenericKeySchema = message(`${RL}.Action.GenericKey`, {
  descriptor_value: z.string().min(1),
  descriptor_key: z.string().optional(),
});

const HeaderValueMatchSchema = message(`${RL}.Action.HeaderValueMatch`, {
  descriptor_key: z.string().optional(),
  descriptor_value: z.string().min(1),
  expect_match: bool.optional(),
  headers: z.array(HeaderMatcherSchema).min(1),
});

const RemoteAddressSchema = message(`${RL}.Action.RemoteAddress`, {});

const ACTIONS = ['request_headers', 'generic_key', 'header_value_match', 'remote_address'] as const;

const ActionSchema = message(`${RL}.Action`, {
  request_headers: RequestHeadersSchema.optional(),
  generic_key: GenericKeySchema.optional(),
  header_value_match: HeaderValueMatchSchema.optional(),
  remote_address: RemoteAddressSchema.optional(),
}, {
  unimplemented: ['source_cluster', 'destination_cluster', 'dynamic_metadata', 'metadata', 'extension',
    'masked_remote_address', 'query_parameter_value_match', 'query_parameters'],
}).superRefine((a, ctx) => {
  const set = ACTIONS.filter((k) => a[k] !== undefined);
  if (set.length !== 1) ctx.addIssue({ code: 'custom', message: `a RateLimit action takes exactly one of ${ACTIONS.join(', ')} (got ${set.length === 0 ? 'none' : set.join(', ')})` });
});

/**
 * Envoy's local rate limit builds these with Filters::Common::RateLimit::RateLimitConfig, which
 * rejects `stage`, `disable_key` and `limit` (they belong to route-level rate limits).
 */
export const RateLimitSchema = message(RL, {
  actions: z.array(ActionSchema).min(1),
  stage: uint32.optional(),
  disable_key: z.string().optional(),
  limit: z.unknown().optional(),
}, { unimplemented: ['hits_addend', 'apply_on_stream_done'] }).superRefine((r, ctx) => {
  for (const field of ['stage', 'disable_key', 'limit'] as const) {
    if (r[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: `'${field}' is not supported in the local rate limit filter's rate_limits` });
  }
});

export type RateLimitWire = z.output<typeof RateLimitSchema>;

/** One descriptor entry {key, value}, as LocalRateLimitDescriptor.entries and the actions produce them. */
export interface DescriptorEntry {
  readonly key: string;
  readonly value: string;
}

/** The encoded form of a descriptor: equal entries in the same order ⇔ equal keys (Envoy compares verbatim). */
export function descriptorKey(entries: readonly DescriptorEntry[]): string {
  return JSON.stringify(entries.map((e) => [e.key, e.value]));
}

/** Appends this action's entry; false = this RateLimit produces no descriptor for the request. */
type Action = (entries: DescriptorEntry[], request: RequestHeaders, info: StreamInfo) => boolean;

/** Makes the request's descriptor for one RateLimit, or null when an action declines. */
export type DescriptorProducer = (request: RequestHeaders, info: StreamInfo) => string | null;

export function compileRateLimit(wire: RateLimitWire): DescriptorProducer {
  const actions = wire.actions.map(compileAction);
  return (request, info) => {
    const entries: DescriptorEntry[] = [];
    for (const action of actions) if (!action(entries, request, info)) return null;
    // Every action was skipped (request_headers with skip_if_absent): nothing to match.
    return entries.length === 0 ? null : descriptorKey(entries);
  };
}

function compileAction(a: z.output<typeof ActionSchema>): Action {
  if (a.request_headers !== undefined) {
    const { header_name: name, descriptor_key: key } = a.request_headers;
    const skipIfAbsent = a.request_headers.skip_if_absent ?? false;
    // RequestHeadersAction reads the header's first value; a pseudo-header reads the request line.
    const read = requestReader(name.toLowerCase(), firstValue);
    // A missing header skips the entry (skip_if_absent) or the whole descriptor.
    return (entries, request) => {
      const value = read(request);
      if (value === undefined) return skipIfAbsent;
      entries.push({ key, value });
      return true;
    };
  }
  if (a.generic_key !== undefined) {
    const entry = { key: a.generic_key.descriptor_key || 'generic_key', value: a.generic_key.descriptor_value };
    return (entries) => { entries.push(entry); return true; };
  }
  if (a.header_value_match !== undefined) {
    const m = a.header_value_match;
    const entry = { key: m.descriptor_key || 'header_match', value: m.descriptor_value };
    const expectMatch = m.expect_match ?? true;
    const matchers = m.headers.map(compileHeaderMatcher);
    return (entries, request) => {
      if (matchAllHeaders(matchers, request) !== expectMatch) return false;
      entries.push(entry);
      return true;
    };
  }
  // remote_address: the trusted client address after XFF processing, without its port.
  return (entries, _request, info) => {
    const address = info.downstreamRemoteAddress;
    const colon = address.lastIndexOf(':');
    if (colon <= 0) return false;
    entries.push({ key: 'remote_address', value: address.slice(0, colon) });
    return true;
  };
}
