// Envoy's REST-JSON xDS transport (ApiConfigSource api_type REST): each subscription POSTs its
// DiscoveryRequest to `/v3/discovery:<type>` and polls again after refresh_delay + random(0, refresh_delay).
// When the server's answers advertise `x-nodevoy-long-poll`, the session switches to long-poll (push) and
// back to polling if an answer stops advertising it, so one bootstrap works against Envoy-only servers too.

import type { Clock, Random } from '../proxy/common/clock.ts';
import type { BackOffSettings } from './back-off.ts';
import { advertisedMaxWait, DEFAULT_WAIT_SECONDS, longPollMode } from './long-poll-transport.ts';
import type { PollMode } from './poll-loop.ts';
import { createPollingTransport, DEFAULT_REQUEST_TIMEOUT_MS } from './poll-loop.ts';
import type { XdsTransport } from './types.ts';

export interface RestTransportOptions {
  readonly baseUrl: string;
  readonly clock: Clock;
  readonly random: Random;
  /** `ApiConfigSource.refresh_delay` (required for REST, as Envoy requires it). */
  readonly refreshDelayMs: number;
  /** `ApiConfigSource.request_timeout`, default 1 s; in long-poll mode allowed on top of the wait. */
  readonly requestTimeoutMs?: number;
  /** The wait asked for after upgrading to long-poll (cut to the server's advertised maximum); default 30 s. */
  readonly longPollWaitSeconds?: number;
  readonly backOff?: BackOffSettings;
}

export function createRestTransport(options: RestTransportOptions): XdsTransport {
  const { refreshDelayMs, random } = options;
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const waitSeconds = options.longPollWaitSeconds ?? DEFAULT_WAIT_SECONDS;
  const polling: PollMode = {
    headers: {},
    requestTimeoutMs,
    // Envoy's RestApiFetcher: refresh_delay + random(0, refresh_delay), so proxies do not poll in lockstep.
    nextPollDelayMs: () => refreshDelayMs + Math.floor(random.next() * refreshDelayMs),
  };
  return createPollingTransport({
    baseUrl: options.baseUrl,
    clock: options.clock,
    random,
    mode(headers) {
      const maxWait = advertisedMaxWait(headers);
      return maxWait === undefined ? polling : longPollMode(Math.min(waitSeconds, maxWait), requestTimeoutMs);
    },
    ...(options.backOff === undefined ? {} : { backOff: options.backOff }),
  });
}
