// Envoy's response flags (%RESPONSE_FLAGS% short codes and %RESPONSE_FLAGS_LONG% names), in Envoy's
// printing order. A stream accumulates flags as a bit set; the access log renders them joined by ','.

export const ResponseFlag = {
  FailedLocalHealthCheck: 1 << 0,
  NoHealthyUpstream: 1 << 1,
  UpstreamRequestTimeout: 1 << 2,
  LocalReset: 1 << 3,
  UpstreamRemoteReset: 1 << 4,
  UpstreamConnectionFailure: 1 << 5,
  UpstreamConnectionTermination: 1 << 6,
  UpstreamOverflow: 1 << 7,
  NoRouteFound: 1 << 8,
  DelayInjected: 1 << 9,
  FaultInjected: 1 << 10,
  RateLimited: 1 << 11,
  UnauthorizedExternalService: 1 << 12,
  RateLimitServiceError: 1 << 13,
  DownstreamConnectionTermination: 1 << 14,
  UpstreamRetryLimitExceeded: 1 << 15,
  StreamIdleTimeout: 1 << 16,
  InvalidEnvoyRequestHeaders: 1 << 17,
  DownstreamProtocolError: 1 << 18,
  UpstreamMaxStreamDurationReached: 1 << 19,
  ResponseFromCacheFilter: 1 << 20,
  NoFilterConfigFound: 1 << 21,
  DurationTimeout: 1 << 22,
  UpstreamProtocolError: 1 << 23,
  NoClusterFound: 1 << 24,
  OverloadManagerTerminated: 1 << 25,
  DnsResolutionFailed: 1 << 26,
  DropOverload: 1 << 27,
  DownstreamRemoteReset: 1 << 28,
} as const;

export type ResponseFlagName = keyof typeof ResponseFlag;

const SHORT: Record<ResponseFlagName, string> = {
  FailedLocalHealthCheck: 'LH', NoHealthyUpstream: 'UH', UpstreamRequestTimeout: 'UT', LocalReset: 'LR',
  UpstreamRemoteReset: 'UR', UpstreamConnectionFailure: 'UF', UpstreamConnectionTermination: 'UC',
  UpstreamOverflow: 'UO', NoRouteFound: 'NR', DelayInjected: 'DI', FaultInjected: 'FI', RateLimited: 'RL',
  UnauthorizedExternalService: 'UAEX', RateLimitServiceError: 'RLSE', DownstreamConnectionTermination: 'DC',
  UpstreamRetryLimitExceeded: 'URX', StreamIdleTimeout: 'SI', InvalidEnvoyRequestHeaders: 'IH',
  DownstreamProtocolError: 'DPE', UpstreamMaxStreamDurationReached: 'UMSDR', ResponseFromCacheFilter: 'RFCF',
  NoFilterConfigFound: 'NFCF', DurationTimeout: 'DT', UpstreamProtocolError: 'UPE', NoClusterFound: 'NC',
  OverloadManagerTerminated: 'OM', DnsResolutionFailed: 'DF', DropOverload: 'DO', DownstreamRemoteReset: 'DR',
};

const NAMES = Object.keys(ResponseFlag) as ResponseFlagName[];

/** `UF,URX` style, or `-` when no flag is set. */
export function formatResponseFlags(bits: number): string {
  if (bits === 0) return '-';
  let out = '';
  for (const name of NAMES) {
    if (bits & ResponseFlag[name]) out = out === '' ? SHORT[name] : `${out},${SHORT[name]}`;
  }
  return out;
}

/** PascalCase names joined by ',', or `-`. */
export function formatResponseFlagsLong(bits: number): string {
  if (bits === 0) return '-';
  return NAMES.filter((n) => bits & ResponseFlag[n]).join(',');
}
