// envoy.extensions.filters.http.fault.v3.HTTPFault (filter config and typed_per_filter_config alike):
// its schema, with Envoy's validation rules, compiled into FaultSettings at parse time so that a
// per-route override costs nothing per request. response_rate_limit and runtime keys are not implemented.

import { z } from 'zod';
import { FractionalPercentSchema, ZERO_PERCENT } from '../../../config/fractional-percent.ts';
import { bool, message, positiveDuration, uint32 } from '../../../config/schema-kit.ts';
import { HeaderMatcherSchema, compileHeaderMatcher } from '../../../matchers/header-matcher.ts';
import { fixedAbort, fixedDelay, headerAbort, headerDelay, type FaultSettings } from './fault-settings.ts';

/** A proto oneof marked `(validate.required)`: exactly one of `fields` must be set. */
function requireOneOf(typeName: string, fields: readonly string[]) {
  return (m: Record<string, unknown>, ctx: z.RefinementCtx): void => {
    const set = fields.filter((f) => m[f] !== undefined);
    if (set.length === 1) return;
    ctx.addIssue({
      code: 'custom',
      message: set.length === 0
        ? `${typeName} needs one of ${fields.join(', ')}`
        : `${typeName} takes only one of ${fields.join(', ')} (got ${set.join(', ')})`,
    });
  };
}

const FaultDelaySchema = message('envoy.extensions.filters.common.fault.v3.FaultDelay', {
  // Envoy reads the Duration in whole milliseconds (a delay that truncates to 0 ms is not injected).
  fixed_delay: positiveDuration.transform(Math.floor).optional(),
  header_delay: message('envoy.extensions.filters.common.fault.v3.FaultDelay.HeaderDelay', {}).optional(),
  percentage: FractionalPercentSchema.optional(),
}).superRefine(requireOneOf('FaultDelay', ['fixed_delay', 'header_delay']));

const FaultAbortSchema = message('envoy.extensions.filters.http.fault.v3.FaultAbort', {
  http_status: uint32.refine((s) => s >= 200 && s < 600, 'http_status must be in [200, 600)').optional(),
  grpc_status: uint32.optional(),
  header_abort: message('envoy.extensions.filters.http.fault.v3.FaultAbort.HeaderAbort', {}).optional(),
  percentage: FractionalPercentSchema.optional(),
}).superRefine(requireOneOf('FaultAbort', ['http_status', 'grpc_status', 'header_abort']));

type DelayWire = z.output<typeof FaultDelaySchema>;
type AbortWire = z.output<typeof FaultAbortSchema>;

const HTTPFaultWireSchema = message('envoy.extensions.filters.http.fault.v3.HTTPFault', {
  delay: FaultDelaySchema.optional(),
  abort: FaultAbortSchema.optional(),
  upstream_cluster: z.string().optional(),
  headers: z.array(HeaderMatcherSchema).optional(),
  downstream_nodes: z.array(z.string()).optional(),
  max_active_faults: uint32.optional(),
  disable_downstream_cluster_stats: bool.optional(),
}, {
  unimplemented: ['response_rate_limit', 'delay_percent_runtime', 'abort_percent_runtime', 'delay_duration_runtime',
    'abort_http_status_runtime', 'max_active_faults_runtime', 'response_rate_limit_percent_runtime',
    'abort_grpc_status_runtime', 'filter_metadata'],
});

function compileDelay(d: DelayWire) {
  const percentage = d.percentage ?? ZERO_PERCENT;
  return d.fixed_delay !== undefined ? fixedDelay(d.fixed_delay, percentage) : headerDelay(percentage);
}

function compileAbort(a: AbortWire) {
  const percentage = a.percentage ?? ZERO_PERCENT;
  if (a.http_status !== undefined) return fixedAbort({ http: a.http_status }, percentage);
  if (a.grpc_status !== undefined) return fixedAbort({ grpc: a.grpc_status }, percentage);
  return headerAbort(percentage);
}

/** HTTPFault → FaultSettings (Envoy's defaults: unset percentages are 0 %, max_active_faults unlimited). */
export const HTTPFaultSchema: z.ZodType<FaultSettings, unknown> = HTTPFaultWireSchema.transform((w): FaultSettings => Object.freeze({
  delay: w.delay ? compileDelay(w.delay) : null,
  abort: w.abort ? compileAbort(w.abort) : null,
  upstreamCluster: w.upstream_cluster ?? '',
  headers: Object.freeze((w.headers ?? []).map(compileHeaderMatcher)),
  downstreamNodes: w.downstream_nodes && w.downstream_nodes.length > 0 ? new Set(w.downstream_nodes) : null,
  maxActiveFaults: w.max_active_faults ?? Infinity,
  disableDownstreamClusterStats: w.disable_downstream_cluster_stats ?? false,
}));
