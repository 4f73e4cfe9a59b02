// Envoy's REST-JSON xDS transport (ApiConfigSource api_type REST): each subscription POSTs its
// DiscoveryRequest to `/v3/discovery:<type>` and polls again after refresh_delay + random(0, refresh_delay);
// 304 = no change, any status but 200/304 or no answer within request_timeout = failure → jittered back-off.

import { Pool } from 'undici';
import type { Clock, Random, TimerHandle } from '../proxy/common/clock.ts';
import type { BackOffSettings } from './back-off.ts';
import { DEFAULT_BACK_OFF } from './back-off.ts';
import { JitteredExponentialBackOff } from '../proxy/common/back-off.ts';
import type { TransportSession, TransportStream, XdsTransport } from './types.ts';

/** `ApiConfigSource.request_timeout` default. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 1_000;

export interface PollingOptions {
  /** The management server's origin, e.g. `http://127.0.0.1:15010`. */
  readonly baseUrl: string;
  readonly clock: Clock;
  readonly random: Random;
  /** Abandon a request (and count a failure) after this long. */
  readonly requestTimeoutMs: number;
  /** Extra request headers (the long-poll variant asks the server to hold the request). */
  readonly headers: Readonly<Record<string, string>>;
  /** Delay after a 200 or 304 before the next request; 0 sends it at once. */
  nextPollDelayMs(): number;
  readonly backOff?: BackOffSettings;
}

type Outcome = { kind: 'response'; body: string } | { kind: 'not-modified' } | { kind: 'failure'; message: string };

/** The request/response loop shared by the REST and long-poll transports: one session per subscription. */
export function createPollingTransport(options: PollingOptions): XdsTransport {
  // The injected clock owns every timeout, so undici's own header/body timers are off.
  const pool = new Pool(options.baseUrl, { headersTimeout: 0, bodyTimeout: 0 });
  const sessions = new Set<PollSession>();
  return {
    open(stream) {
      const session = new PollSession(stream, pool, options, () => sessions.delete(session));
      sessions.add(session);
      session.poke();
      return session;
    },
    async stop() {
      for (const session of [...sessions]) session.close();
      await pool.destroy();
    },
  };
}

export interface RestTransportOptions {
  readonly baseUrl: string;
  readonly clock: Clock;
  readonly random: Random;
  /** `ApiConfigSource.refresh_delay` (required for REST, as Envoy requires it). */
  readonly refreshDelayMs: number;
  /** `ApiConfigSource.request_timeout`, default 1 s. */
  readonly requestTimeoutMs?: number;
  readonly backOff?: BackOffSettings;
}

export function createRestTransport(options: RestTransportOptions): XdsTransport {
  const { refreshDelayMs, random } = options;
  return createPollingTransport({
    baseUrl: options.baseUrl,
    clock: options.clock,
    random,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    headers: {},
    // Envoy's RestApiFetcher: refresh_delay + random(0, refresh_delay), so proxies do not poll in lockstep.
    nextPollDelayMs: () => refreshDelayMs + Math.floor(random.next() * refreshDelayMs),
    ...(options.backOff === undefined ? {} : { backOff: options.backOff }),
  });
}

class PollSession implements TransportSession {
  private readonly stream: TransportStream;
  private readonly pool: Pool;
  private readonly options: PollingOptions;
  private readonly onClose: () => void;
  private readonly backOff: JitteredExponentialBackOff;
  private timer: TimerHandle | undefined;
  /** The request in flight; a reply to any other (superseded) request is ignored. */
  private inflight: AbortController | undefined;
  private closed = false;

  constructor(stream: TransportStream, pool: Pool, options: PollingOptions, onClose: () => void) {
    this.stream = stream;
    this.pool = pool;
    this.options = options;
    this.onClose = onClose;
    const backOff = options.backOff ?? DEFAULT_BACK_OFF;
    this.backOff = new JitteredExponentialBackOff(backOff.baseMs, backOff.maxMs, options.random);
  }

  poke(): void {
    if (this.closed) return;
    this.cancel();
    this.send();
  }

  close(): void {
    this.closed = true;
    this.cancel();
    this.onClose();
  }

  private cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.inflight?.abort();
    this.inflight = undefined;
  }

  private send(): void {
    const controller = new AbortController();
    this.inflight = controller;
    const timeout = this.options.clock.setTimer(() => controller.abort(), this.options.requestTimeoutMs);
    void this.exchange(controller.signal).then((outcome) => {
      timeout.cancel();
      if (this.inflight !== controller) return;
      this.inflight = undefined;
      this.handle(outcome);
    });
  }

  /** One POST; resolves (never rejects) with what happened. */
  private async exchange(signal: AbortSignal): Promise<Outcome> {
    try {
      const res = await this.pool.request({
        path: `/v3/discovery:${this.stream.restPath}`,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.options.headers },
        body: JSON.stringify(this.stream.nextRequest()),
        signal,
      });
      const body = await res.body.text();
      if (res.statusCode === 304) return { kind: 'not-modified' };
      if (res.statusCode !== 200) return { kind: 'failure', message: `management server answered HTTP ${res.statusCode}` };
      return { kind: 'response', body };
    } catch (e) {
      const message = signal.aborted ? `no response within request_timeout (${this.options.requestTimeoutMs} ms)` : (e as Error).message;
      return { kind: 'failure', message };
    }
  }

  private handle(outcome: Outcome): void {
    if (outcome.kind === 'failure') {
      this.stream.onFailure(outcome.message);
      return this.schedule(this.backOff.nextBackOffMs());
    }
    this.backOff.reset();
    if (outcome.kind === 'response') this.stream.onResponse(outcome.body);
    this.schedule(this.options.nextPollDelayMs());
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    if (delayMs === 0) return this.send();
    this.timer = this.options.clock.setTimer(() => {
      this.timer = undefined;
      this.send();
    }, delayMs);
  }
}
