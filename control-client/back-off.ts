// Back-off settings for an unreachable management server. The strategy is Envoy's
// JitteredExponentialBackOffStrategy, shared with the router's retries (proxy/common/back-off.ts).

/** Envoy's xDS gRPC mux retry defaults: 500 ms initial interval, 30 s cap. */
export const DEFAULT_BACK_OFF = { baseMs: 500, maxMs: 30_000 } as const;

export interface BackOffSettings {
  readonly baseMs: number;
  readonly maxMs: number;
}
