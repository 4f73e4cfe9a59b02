// nodevoy's push extension of the REST-JSON transport: the same POST /v3/discovery:<type> and messages, plus
// `x-nodevoy-wait: <seconds>` asking the server to hold the request until it has a version the client has not
// seen (then 200) or the wait expires (then 304). The next request goes out at once, carrying the ACK/NACK.
// A server that supports it says so with `x-nodevoy-long-poll: <max wait seconds>` on its answers. Long-poll
// clients also accept `Resource` heartbeats for unchanged resources of LDS/CDS answers (HEARTBEATS_HEADER).

import type { IncomingHttpHeaders } from 'node:http';
import type { Clock, Random } from '../proxy/common/clock.ts';
import type { BackOffSettings } from './back-off.ts';
import type { PollMode } from './poll-loop.ts';
import { createPollingTransport, DEFAULT_REQUEST_TIMEOUT_MS } from './poll-loop.ts';
import type { XdsTransport } from './types.ts';

/** Request header: how long (seconds) the server may hold this request. */
export const WAIT_HEADER = 'x-nodevoy-wait';
/** Response header: the server supports long-poll and holds a request at most this many seconds. */
export const LONG_POLL_HEADER = 'x-nodevoy-long-poll';
export const DEFAULT_WAIT_SECONDS = 30;
/**
 * Request header: in a state-of-the-world (LDS/CDS) answer, the client takes a resource it holds unchanged as a
 * `Resource` heartbeat (xDS's TTL heartbeat: `{"@type": RESOURCE_TYPE_URL, "name": ...}`, no `resource` =
 * keep what you have) instead of its whole body. Sent with every long-poll request.
 */
export const HEARTBEATS_HEADER = 'x-nodevoy-resource-heartbeats';
/**
 * Response header of a server that keeps track, per client, of what it holds by resource name (nodevoy's control
 * plane): it answers a request whose resource_names changed with the resources the client lacks, even under
 * the version the client already runs, so adding a name needs no version_info reset (subscription.ts).
 */
export const TRACKS_HELD_HEADER = 'x-nodevoy-tracks-held';
/** The wrapper xDS allows around any resource of a response (envoy.service.discovery.v3.Resource). */
export const RESOURCE_TYPE_URL = 'type.googleapis.com/envoy.service.discovery.v3.Resource';

/** The advertised maximum wait of an answer, or undefined when the server does not offer long-poll. */
export function advertisedMaxWait(headers: IncomingHttpHeaders | undefined): number | undefined {
  const value = headers?.[LONG_POLL_HEADER];
  const seconds = Number(Array.isArray(value) ? value[0] : value);
  return value !== undefined && Number.isFinite(seconds) && seconds > 0 ? seconds : undefined;
}

/** Long-poll requests: held up to `waitSeconds`, so they time out after the wait plus `request_timeout`. */
export function longPollMode(waitSeconds: number, requestTimeoutMs: number): PollMode {
  return {
    headers: { [WAIT_HEADER]: String(waitSeconds), [HEARTBEATS_HEADER]: '1' },
    requestTimeoutMs: waitSeconds * 1_000 + requestTimeoutMs,
    nextPollDelayMs: () => 0,
  };
}

export interface LongPollTransportOptions {
  readonly baseUrl: string;
  readonly clock: Clock;
  readonly random: Random;
  /** How long the server may hold a request (cut to the server's advertised maximum). */
  readonly waitSeconds?: number;
  /** Allowed on top of the wait before the request counts as failed (`request_timeout`, default 1 s). */
  readonly requestTimeoutMs?: number;
  readonly backOff?: BackOffSettings;
}

/** Always long-polls (for servers known to support it); createRestTransport upgrades to this by itself. */
export function createLongPollTransport(options: LongPollTransportOptions): XdsTransport {
  const waitSeconds = options.waitSeconds ?? DEFAULT_WAIT_SECONDS;
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  return createPollingTransport({
    baseUrl: options.baseUrl,
    clock: options.clock,
    random: options.random,
    mode: (headers) => longPollMode(Math.min(waitSeconds, advertisedMaxWait(headers) ?? waitSeconds), requestTimeoutMs),
    ...(options.backOff === undefined ? {} : { backOff: options.backOff }),
  });
}
