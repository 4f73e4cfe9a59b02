// Schema of the EnvoyFilter spec (networking.istio.io v1alpha3), limited to the one shape the seed
// articles use: an HTTP_FILTER patch inserting envoy.filters.http.local_ratelimit before the router on
// a workload's inbound HTTP connection manager. Any other patch is rejected as not implemented.

import { z } from 'zod';
import { anyPayload, message } from '../../proxy/config/schema-kit.ts';
import { WorkloadSelectorSchema, istioMessage } from './istio-kit.ts';

const NS = 'istio.networking.v1alpha3.EnvoyFilter';
export const LOCAL_RATELIMIT_FILTER = 'envoy.filters.http.local_ratelimit';
export const LOCAL_RATELIMIT_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const HCM_NAMES = ['envoy.filters.network.http_connection_manager', 'envoy.http_connection_manager'];
const SUPPORTED = `nodevoy supports EnvoyFilter only as a local rate limit patch (applyTo HTTP_FILTER, match.context SIDECAR_INBOUND, patch.operation INSERT_BEFORE, value ${LOCAL_RATELIMIT_FILTER})`;

/** A field whose only supported value is `expected`; Istio's other values are not-implemented. */
function only<const V extends string>(field: string, expected: readonly V[]) {
  return z.unknown().transform((raw, ctx): V => {
    if (typeof raw === 'string' && (expected as readonly string[]).includes(raw)) return raw as V;
    ctx.addIssue({ code: 'custom', params: { kind: 'not-implemented' }, message: `${field} ${JSON.stringify(raw)}: ${SUPPORTED}` });
    return z.NEVER;
  });
}

const FilterMatchSchema = istioMessage(`${NS}.ListenerMatch.FilterMatch`, {
  name: only('listener.filterChain.filter.name', HCM_NAMES),
}, { unimplemented: ['subFilter'] });

const FilterChainMatchSchema = istioMessage(`${NS}.ListenerMatch.FilterChainMatch`, {
  filter: FilterMatchSchema.optional(),
}, { unimplemented: ['name', 'sni', 'transportProtocol', 'applicationProtocols', 'destinationPort'] });

const ListenerMatchSchema = istioMessage(`${NS}.ListenerMatch`, {
  filterChain: FilterChainMatchSchema.optional(),
}, { unimplemented: ['portNumber', 'portName', 'listenerFilter', 'name'] });

const MatchSchema = istioMessage(`${NS}.EnvoyConfigObjectMatch`, {
  context: only('match.context', ['SIDECAR_INBOUND']),
  listener: ListenerMatchSchema.optional(),
}, { unimplemented: ['proxy', 'routeConfiguration', 'cluster'] });

/** The patch value is an Envoy HttpFilter in Envoy's JSON (snake_case or lowerCamelCase). */
const HttpFilterSchema = message('envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter', {
  name: only('patch.value.name', [LOCAL_RATELIMIT_FILTER]),
  typed_config: anyPayload('typed_config').superRefine((any, ctx) => {
    if (any.typeUrl !== LOCAL_RATELIMIT_TYPE_URL) {
      ctx.addIssue({ code: 'custom', path: [...any.typeUrlPath], message: `${LOCAL_RATELIMIT_FILTER} takes a ${LOCAL_RATELIMIT_TYPE_URL}, not ${any.typeUrl}` });
    }
  }),
}, { unimplemented: ['config_discovery', 'is_optional', 'disabled'] });

const PatchSchema = istioMessage(`${NS}.Patch`, {
  operation: only('patch.operation', ['INSERT_BEFORE']),
  value: HttpFilterSchema,
}, { unimplemented: ['filterClass'] });

const ConfigPatchSchema = istioMessage(`${NS}.EnvoyConfigObjectPatch`, {
  applyTo: only('applyTo', ['HTTP_FILTER']),
  match: MatchSchema,
  patch: PatchSchema,
}).transform((p): LocalRateLimitPatch => ({
  context: p.match.context,
  filterName: LOCAL_RATELIMIT_FILTER,
  typeUrl: p.patch.value.typed_config.typeUrl,
  config: p.patch.value.typed_config.fields,
  configPath: p.patch.value.typed_config.fieldsPath.join('.'),
}));

/**
 * The one supported patch, flattened: insert the local rate limit filter (before the router) on the
 * selected workloads' inbound HTTP connection managers. `config` is the LocalRateLimit message as written
 * (Envoy JSON); it is validated when translated into the listener's filter chain.
 */
export interface LocalRateLimitPatch {
  readonly context: 'SIDECAR_INBOUND';
  readonly filterName: typeof LOCAL_RATELIMIT_FILTER;
  readonly typeUrl: string;
  readonly config: Readonly<Record<string, unknown>>;
  /** Where `config` is written under `patch.value.typed_config`: `''` for an Any, `'value'` for a TypedStruct. */
  readonly configPath: string;
}

export const EnvoyFilterSpecSchema = istioMessage(NS, {
  /** Absent: every workload in the namespace (all of the mesh in the root namespace). */
  workloadSelector: WorkloadSelectorSchema.optional(),
  configPatches: z.array(ConfigPatchSchema).min(1, 'an EnvoyFilter needs at least one configPatch'),
}, { unimplemented: ['priority', 'targetRefs'] });

export type EnvoyFilterSpec = z.output<typeof EnvoyFilterSpecSchema>;
