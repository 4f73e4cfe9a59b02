// The compiled form of one HTTPFault (filter level or per route): which requests it applies to, and the
// delay and abort providers that read the header controls (x-envoy-fault-*) of a request. Built once
// at config time; per request it only reads headers. Makes no random decisions and keeps no state.

import type { FractionalPercent } from '../../../config/fractional-percent.ts';
import { firstValue, type RequestHeaders } from '../../../http/headers.ts';
import type { HeaderMatch } from '../../../matchers/header-matcher.ts';

/** Envoy's fault header controls (Filters::Common::Fault::HeaderNames), honoured only for header_* faults. */
export const FaultHeaders = {
  delayRequest: 'x-envoy-fault-delay-request',
  delayRequestPercentage: 'x-envoy-fault-delay-request-percentage',
  abortRequest: 'x-envoy-fault-abort-request',
  abortGrpcRequest: 'x-envoy-fault-abort-grpc-request',
  abortRequestPercentage: 'x-envoy-fault-abort-request-percentage',
} as const;

const UINT32_MAX = 0xffff_ffff;
const UINT64_MAX = 2 ** 64 - 1;

/** FaultDelay: fixed_delay or header_delay. */
export interface DelayFault {
  percentage(request: RequestHeaders): FractionalPercent;
  /** Delay in ms; undefined when header_delay finds no valid x-envoy-fault-delay-request. */
  durationMs(request: RequestHeaders): number | undefined;
}

/** FaultAbort: http_status, grpc_status or header_abort. */
export interface AbortFault {
  percentage(request: RequestHeaders): FractionalPercent;
  /** The HTTP status to answer; undefined when none is configured or the header is missing/invalid. */
  httpStatus(request: RequestHeaders): number | undefined;
  /** The gRPC status to answer (with HTTP 200); used only when httpStatus gave nothing. */
  grpcStatus(request: RequestHeaders): number | undefined;
}

/** One HTTPFault, compiled. */
export interface FaultSettings {
  readonly delay: DelayFault | null;
  readonly abort: AbortFault | null;
  /** upstream_cluster: '' = every cluster. */
  readonly upstreamCluster: string;
  /** headers: all must match. */
  readonly headers: readonly HeaderMatch[];
  /** downstream_nodes vs x-envoy-downstream-service-node; null = every node. */
  readonly downstreamNodes: ReadonlySet<string> | null;
  /** max_active_faults; Infinity when unset (Envoy: unlimited). */
  readonly maxActiveFaults: number;
  /** disable_downstream_cluster_stats: no fault.<downstream cluster>.* counters. */
  readonly disableDownstreamClusterStats: boolean;
}

/**
 * An untrusted header as an unsigned integer the way absl::SimpleAtoi reads it (surrounding whitespace
 * and a leading '+' allowed); only the first value of a repeated header counts, as in Envoy.
 */
export function headerUnsigned(request: RequestHeaders, name: string, max: number): number | undefined {
  const raw = firstValue(request.headers, name);
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (!/^\+?\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
}

const constantPercentage = (p: FractionalPercent) => (): FractionalPercent => p;

/**
 * HeaderPercentageProvider: the header's numerator, capped by the configured one, over the configured
 * denominator; the configured percentage when the header is absent or not a uint32.
 */
function headerPercentage(header: string, configured: FractionalPercent) {
  return (request: RequestHeaders): FractionalPercent => {
    const numerator = headerUnsigned(request, header, UINT32_MAX);
    if (numerator === undefined) return configured;
    return { numerator: Math.min(numerator, configured.numerator), denominator: configured.denominator };
  };
}

/** fixed_delay (ms, already truncated to whole milliseconds). */
export function fixedDelay(ms: number, percentage: FractionalPercent): DelayFault {
  return { percentage: constantPercentage(percentage), durationMs: () => ms };
}

/** header_delay: x-envoy-fault-delay-request (ms) and x-envoy-fault-delay-request-percentage. */
export function headerDelay(percentage: FractionalPercent): DelayFault {
  return {
    percentage: headerPercentage(FaultHeaders.delayRequestPercentage, percentage),
    durationMs: (request) => headerUnsigned(request, FaultHeaders.delayRequest, UINT64_MAX),
  };
}

/** http_status or grpc_status. */
export function fixedAbort(status: { http: number } | { grpc: number }, percentage: FractionalPercent): AbortFault {
  const http = 'http' in status ? status.http : undefined;
  const grpc = 'grpc' in status ? status.grpc : undefined;
  return { percentage: constantPercentage(percentage), httpStatus: () => http, grpcStatus: () => grpc };
}

/**
 * header_abort: x-envoy-fault-abort-request (an HTTP status in [200, 600), else ignored),
 * x-envoy-fault-abort-grpc-request and x-envoy-fault-abort-request-percentage.
 */
export function headerAbort(percentage: FractionalPercent): AbortFault {
  return {
    percentage: headerPercentage(FaultHeaders.abortRequestPercentage, percentage),
    httpStatus: (request) => {
      const code = headerUnsigned(request, FaultHeaders.abortRequest, UINT64_MAX);
      return code !== undefined && code >= 200 && code < 600 ? code : undefined;
    },
    grpcStatus: (request) => headerUnsigned(request, FaultHeaders.abortGrpcRequest, UINT64_MAX),
  };
}
