// The request/response loop shared by the REST and long-poll transports: one session per subscription POSTs
// its DiscoveryRequest to `/v3/discovery:<type>`; 200 hands the body to the stream, 304 = no change, any other
// status or no answer within the request timeout = failure → jittered exponential back-off.

import type { IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';
import type { Clock, Random, TimerHandle } from '../proxy/common/clock.ts';
import { JitteredExponentialBackOff } from '../proxy/common/back-off.ts';
import type { BackOffSettings } from './back-off.ts';
import { DEFAULT_BACK_OFF } from './back-off.ts';
import { TRACKS_HELD_HEADER } from './long-poll-transport.ts';
import type { TransportSession, TransportStream, XdsTransport } from './types.ts';

/** `ApiConfigSource.request_timeout` default. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 1_000;

/** How a session sends its next request: plain REST polling or long-poll. */
export interface PollMode {
  /** Extra request headers (long-poll asks the server to hold the request). */
  readonly headers: Readonly<Record<string, string>>;
  /** Abandon a request (and count a failure) after this long. */
  readonly requestTimeoutMs: number;
  /** Delay after a 200 or 304 before the next request; 0 sends it at once. */
  nextPollDelayMs(): number;
}

export interface PollingOptions {
  /** The management server's origin, e.g. `http://127.0.0.1:15010`. */
  readonly baseUrl: string;
  readonly clock: Clock;
  readonly random: Random;
  readonly backOff?: BackOffSettings;
  /**
   * The mode for a session's next request, from the headers of its last 200/304 answer (undefined before
   * the first one). A failure keeps the session's mode.
   */
  mode(answerHeaders: IncomingHttpHeaders | undefined): PollMode;
}

type Outcome =
  | { kind: 'response'; body: string; headers: IncomingHttpHeaders }
  | { kind: 'not-modified'; headers: IncomingHttpHeaders }
  | { kind: 'failure'; message: string };

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

class PollSession implements TransportSession {
  private readonly stream: TransportStream;
  private readonly pool: Pool;
  private readonly options: PollingOptions;
  private readonly onClose: () => void;
  private readonly backOff: JitteredExponentialBackOff;
  private mode: PollMode;
  private timer: TimerHandle | undefined;
  /** The request in flight; a reply to any other (superseded) request is ignored. */
  private inflight: AbortController | undefined;
  private closed = false;

  constructor(stream: TransportStream, pool: Pool, options: PollingOptions, onClose: () => void) {
    this.stream = stream;
    this.pool = pool;
    this.options = options;
    this.onClose = onClose;
    this.mode = options.mode(undefined);
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
    const mode = this.mode;
    const timeout = this.options.clock.setTimer(() => controller.abort(), mode.requestTimeoutMs);
    void this.exchange(mode, controller.signal).then((outcome) => {
      timeout.cancel();
      if (this.inflight !== controller) return;
      this.inflight = undefined;
      this.handle(outcome);
    });
  }

  /** One POST; resolves (never rejects) with what happened. */
  private async exchange(mode: PollMode, signal: AbortSignal): Promise<Outcome> {
    try {
      const res = await this.pool.request({
        path: `/v3/discovery:${this.stream.restPath}`,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...mode.headers },
        body: JSON.stringify(this.stream.nextRequest()),
        signal,
      });
      const body = await res.body.text();
      if (res.statusCode === 304) return { kind: 'not-modified', headers: res.headers };
      if (res.statusCode !== 200) return { kind: 'failure', message: `management server answered HTTP ${res.statusCode}` };
      return { kind: 'response', body, headers: res.headers };
    } catch (e) {
      const message = signal.aborted ? `no response within request_timeout (${mode.requestTimeoutMs} ms)` : (e as Error).message;
      return { kind: 'failure', message };
    }
  }

  private handle(outcome: Outcome): void {
    if (outcome.kind === 'failure') {
      this.stream.onFailure(outcome.message);
      return this.schedule(this.backOff.nextBackOffMs());
    }
    this.backOff.reset();
    this.stream.serverTracksHeld?.(outcome.headers[TRACKS_HELD_HEADER] === '1');
    if (outcome.kind === 'response') this.stream.onResponse(outcome.body);
    this.mode = this.options.mode(outcome.headers);
    this.schedule(this.mode.nextPollDelayMs());
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
