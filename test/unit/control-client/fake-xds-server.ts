// Test support for control-client: a tiny scripted xDS REST server (node:http on 127.0.0.1:0) that records
// every DiscoveryRequest and answers with whatever the test's handler returns, plus a test resource type.

import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fail, ok } from '../../../proxy/common/result.ts';
import type { ConfigError } from '../../../proxy/common/result.ts';
import type { DiscoveryRequest, ResourceType } from '../../../control-client/types.ts';
import type { TimerHandle } from '../../../proxy/common/clock.ts';
import { FakeClock } from '../../support/fake-clock.ts';

export interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly request: DiscoveryRequest;
}

/** 200 with a JSON DiscoveryResponse, or any other status (304, 503...) with no body; optional extra headers. */
export type Reply = ({ readonly status: 200; readonly json: unknown } | { readonly status: number }) & { readonly headers?: Readonly<Record<string, string>> };

export type Handler = (received: Received) => Reply | Promise<Reply>;

export class FakeXdsServer {
  readonly received: Received[] = [];
  handler: Handler = () => ({ status: 304 });
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const received = { path: req.url ?? '', headers: req.headers, request: JSON.parse(Buffer.concat(chunks).toString()) as DiscoveryRequest };
        this.received.push(received);
        void Promise.resolve(this.handler(received)).then((reply) => {
          if (res.destroyed) return;
          if (reply.status === 200 && 'json' in reply) {
            res.writeHead(200, { ...reply.headers, 'content-type': 'application/json' }).end(JSON.stringify(reply.json));
          } else {
            res.writeHead(reply.status, reply.headers).end();
          }
        });
      });
    });
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  static async start(port = 0): Promise<FakeXdsServer> {
    const s = new FakeXdsServer();
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject);
      s.server.listen(port, '127.0.0.1', () => resolve());
    });
    return s;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Connections currently open from clients. */
  openSockets(): number {
    return this.sockets.size;
  }

  /** The last request received (fails the test if none). */
  last(): Received {
    const r = this.received.at(-1);
    if (r === undefined) throw new Error('no request received');
    return r;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Waits for I/O on real sockets (event-loop turns, bounded by a real deadline); never advances the fake clock. */
export async function eventually(predicate: () => boolean, what: string, deadlineMs = 3_000): Promise<void> {
  const end = performance.now() + deadlineMs;
  while (!predicate()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** A made-up resource type, registered into the client the way the proxy registers Listener or Cluster. */
export interface Thing {
  readonly name: string;
  readonly value: number;
}

export const THING_URL = 'type.googleapis.com/test.v3.Thing';

/** `validated` lists the name of every resource validate parsed (not the ones reused from `accepted`). */
export function thingType(stateOfTheWorld: boolean, validated: string[] = []): ResourceType<Thing> {
  return {
    typeUrl: THING_URL,
    restPath: 'things',
    stateOfTheWorld,
    name: (t) => t.name,
    validate(resources, accepted) {
      const errors: ConfigError[] = [];
      const things = resources.map((r, i) => {
        const before = accepted?.[i];
        if (before !== undefined) return before;
        const o = r as Record<string, unknown>;
        validated.push(String(o.name));
        if (typeof o.name !== 'string' || o.name === '') errors.push({ path: `resources[${i}].name`, kind: 'invalid', message: 'name is required' });
        if (typeof o.value !== 'number') errors.push({ path: `resources[${i}].value`, kind: 'invalid', message: 'value must be a number' });
        return { name: String(o.name), value: Number(o.value) };
      });
      return errors.length > 0 ? fail(errors) : ok(things);
    },
  };
}

/** A DiscoveryResponse of Things as the server sends it (Any: `@type` next to the fields). */
export function things(version: string, nonce: string, items: readonly Record<string, unknown>[]): Reply {
  return { status: 200, json: { version_info: version, nonce, type_url: THING_URL, resources: items.map((t) => ({ '@type': THING_URL, ...t })) } };
}

/** A FakeClock that also records the delay of every timer set, so tests can read the poll/back-off schedule. */
export class RecordingClock extends FakeClock {
  readonly delays: number[] = [];
  override setTimer(fn: () => void, ms: number): TimerHandle {
    this.delays.push(ms);
    return super.setTimer(fn, ms);
  }
}
