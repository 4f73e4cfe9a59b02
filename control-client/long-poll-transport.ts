// nodevoy's push extension of the REST-JSON transport: the same POST /v3/discovery:<type> and messages, plus
// `x-nodevoy-wait: <seconds>` asking the server to hold the request until it has a version the client has not
// seen (then 200) or the wait expires (then 304). The next request goes out at once, carrying the ACK/NACK.

import type { Clock, Random } from '../proxy/common/clock.ts';
import type { BackOffSettings } from './back-off.ts';
import { createPollingTransport, DEFAULT_REQUEST_TIMEOUT_MS } from './rest-transport.ts';
import type { XdsTransport } from './types.ts';

export const WAIT_HEADER = 'x-nodevoy-wait';
export const DEFAULT_WAIT_SECONDS = 30;

export interface LongPollTransportOptions {
  readonly baseUrl: string;
  readonly clock: Clock;
  readonly random: Random;
  /** How long the server may hold a request. */
  readonly waitSeconds?: number;
  /** Allowed on top of the wait before the request counts as failed (`request_timeout`, default 1 s). */
  readonly requestTimeoutMs?: number;
  readonly backOff?: BackOffSettings;
}

export function createLongPollTransport(options: LongPollTransportOptions): XdsTransport {
  const waitSeconds = options.waitSeconds ?? DEFAULT_WAIT_SECONDS;
  return createPollingTransport({
    baseUrl: options.baseUrl,
    clock: options.clock,
    random: options.random,
    requestTimeoutMs: waitSeconds * 1_000 + (options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS),
    headers: { [WAIT_HEADER]: String(waitSeconds) },
    nextPollDelayMs: () => 0,
    ...(options.backOff === undefined ? {} : { backOff: options.backOff }),
  });
}
