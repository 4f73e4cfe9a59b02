// Istio's retry policy conversion (pilot route/retry/retry.go ConvertPolicy): the mesh default policy,
// HTTPRetry overrides, HTTP status codes in retryOn → retriable_status_codes, attempts 0 → no retries.

import type { HTTPRoute } from '../istio/virtual-service.ts';
import { durationJson } from './names.ts';

type HTTPRetry = NonNullable<HTTPRoute['retries']>;

const PREVIOUS_HOSTS = {
  name: 'envoy.retry_host_predicates.previous_hosts',
  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' },
};

/** MeshConfig's default HTTP retry policy (retry.DefaultPolicy). */
function defaultPolicy(consistentHash: boolean): Record<string, unknown> {
  return {
    retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
    num_retries: 2,
    // With consistent hashing a retry must stay on the hashed host, so no previous_hosts predicate.
    ...(consistentHash ? {} : { retry_host_predicate: [PREVIOUS_HOSTS] }),
    host_selection_retry_max_attempts: '5',
    retriable_status_codes: [503],
  };
}

/** RouteAction.retry_policy for a route's `retries` (absent: the default policy; attempts 0: none). */
export function retryPolicy(retries: HTTPRetry | undefined, consistentHash: boolean): Record<string, unknown> | undefined {
  const out = defaultPolicy(consistentHash);
  if (retries === undefined) return out;
  if (retries.attempts <= 0) return undefined;
  out['num_retries'] = retries.attempts;
  if (retries.retryOn !== undefined) {
    // parseRetryOn: numeric tokens are status codes; the rest stay retry_on conditions.
    const codes = retries.retryOn.filter((t) => /^\d+$/.test(t)).map(Number);
    const conditions = retries.retryOn.filter((t) => t !== '' && !/^\d+$/.test(t));
    if (codes.length > 0 && !conditions.includes('retriable-status-codes')) conditions.push('retriable-status-codes');
    out['retry_on'] = conditions.join(',');
    // The given list replaces the default [503], even when it is empty.
    if (codes.length > 0) out['retriable_status_codes'] = codes;
    else delete out['retriable_status_codes'];
  }
  if (retries.perTryTimeout !== undefined) out['per_try_timeout'] = durationJson(retries.perTryTimeout);
  return out;
}
