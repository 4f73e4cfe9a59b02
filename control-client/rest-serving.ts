// The serving half of the REST-JSON protocol, shared by every nodevoy xDS server (the control plane's, the
// workload agent's SDS endpoint): reading and parsing a `DiscoveryRequest` body (proto JSON, snake_case or
// lowerCamelCase, as Envoy's RestApiFetcher sends it), the `DiscoveryResponse` body, nodevoy's long-poll
// (`x-nodevoy-wait` parsed, requests held until something changes or the wait expires) and the server's
// listen/close. Knows no resource type.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Clock, TimerHandle } from '../proxy/common/clock.ts';
import type { DiscoveryRequest, RpcStatus, XdsNode } from './types.ts';

/** `envoy.service.discovery.v3.DiscoveryRequest` fields; `resource_locators` is accepted only empty. */
const FIELDS = new Set(['version_info', 'node', 'resource_names', 'resource_locators', 'type_url', 'response_nonce', 'error_detail']);

const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export type ParsedRequest = { ok: true; request: DiscoveryRequest } | { ok: false; errors: readonly string[] };

/**
 * `typeUrl` is the type the REST path names; a request's own `type_url` may be absent (then it is this one)
 * but must not name another type. The node must carry an id: servers track proxies by it.
 */
export function parseDiscoveryRequest(body: string, typeUrl: string): ParsedRequest {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (e) {
    return { ok: false, errors: [`DiscoveryRequest is not valid JSON: ${(e as Error).message}`] };
  }
  if (!isObject(json)) return { ok: false, errors: ['DiscoveryRequest must be a JSON object'] };
  const errors: string[] = [];
  const f: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const name = snake(key);
    if (FIELDS.has(name)) f[name] = value;
    else errors.push(`unknown field "${key}": envoy.service.discovery.v3.DiscoveryRequest has no such field`);
  }
  const str = (name: string): string => {
    const v = f[name] ?? '';
    if (typeof v === 'string') return v;
    errors.push(`${name} must be a string`);
    return '';
  };
  const versionInfo = str('version_info');
  const responseNonce = str('response_nonce');
  const requestType = str('type_url');
  if (requestType !== '' && requestType !== typeUrl) errors.push(`type_url ${requestType} does not match the path's type ${typeUrl}`);
  const names = f.resource_names ?? [];
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) errors.push('resource_names must be a list of strings');
  const locators = f.resource_locators ?? [];
  if (!Array.isArray(locators) || locators.length > 0) errors.push('resource_locators is not implemented by nodevoy (use resource_names)');
  const node = f.node;
  if (!isObject(node)) errors.push('node is required: the control plane builds each proxy\'s config from its node id and metadata');
  else if (typeof node.id !== 'string' || node.id === '') errors.push('node.id is required (a non-empty string)');
  const errorDetail = parseStatus(f.error_detail, errors);
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    request: {
      version_info: versionInfo,
      node: node as XdsNode,
      // "*" is the explicit wildcard (envoy-compat §10): the same as no names.
      resource_names: (names as string[]).filter((n) => n !== '*'),
      type_url: typeUrl,
      response_nonce: responseNonce,
      ...(errorDetail === undefined ? {} : { error_detail: errorDetail }),
    },
  };
}

/** `google.rpc.Status {code, message}`; its presence makes the request a NACK. */
function parseStatus(value: unknown, errors: string[]): RpcStatus | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) {
    errors.push('error_detail must be a google.rpc.Status object');
    return undefined;
  }
  const code = value.code ?? 0;
  const message = value.message ?? '';
  if (typeof code !== 'number' || typeof message !== 'string') {
    errors.push('error_detail must be {code: number, message: string}');
    return undefined;
  }
  return { code, message };
}

/** The JSON of a `DiscoveryResponse`; `resourcesJson` is the `resources` array (Anys) already serialised. */
export function discoveryResponseBody(versionInfo: string, resourcesJson: string, typeUrl: string, nonce: string, identifier: string): string {
  return `{"version_info":${JSON.stringify(versionInfo)},"resources":${resourcesJson},"type_url":${JSON.stringify(typeUrl)},` +
    `"nonce":${JSON.stringify(nonce)},"control_plane":{"identifier":${JSON.stringify(identifier)}}}`;
}

/**
 * Reads a request body of at most `maxBytes` and hands it to `onBody`. A larger one is refused with 413 as soon
 * as the limit is crossed: the rest is not read, and the connection closes once the answer is out.
 */
export function readRequestBody(req: IncomingMessage, res: ServerResponse, maxBytes: number, onBody: (body: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer): void => {
    size += chunk.length;
    if (size <= maxBytes) return void chunks.push(chunk);
    req.off('data', onData).off('end', onEnd);
    res.writeHead(413, { connection: 'close', 'content-type': 'text/plain; charset=utf-8' })
      .end(`request body over ${maxBytes} bytes\n`, () => req.socket.destroy());
  };
  const onEnd = (): void => onBody(Buffer.concat(chunks).toString('utf8'));
  req.on('data', onData).on('end', onEnd);
}

/** The longest hold the server grants; a longer `x-nodevoy-wait` is cut to this. Advertised to clients. */
export const DEFAULT_MAX_WAIT_SECONDS = 60;

export type ParsedWait = { ok: true; seconds: number } | { ok: false; message: string };

/** `x-nodevoy-wait`: absent = plain REST (0); otherwise non-negative seconds, capped at `maxSeconds`. */
export function parseWait(value: string | string[] | undefined, maxSeconds: number): ParsedWait {
  if (value === undefined) return { ok: true, seconds: 0 };
  const seconds = Number(Array.isArray(value) ? value[0] : value);
  if (!Number.isFinite(seconds) || seconds < 0) return { ok: false, message: `x-nodevoy-wait must be a non-negative number of seconds, got "${String(value)}"` };
  return { ok: true, seconds: Math.min(seconds, maxSeconds) };
}

interface Held {
  /** Answers the request if there is something new for it; true when answered. */
  readonly tryAnswer: () => boolean;
  readonly expire: () => void;
  readonly timer: TimerHandle;
}

/**
 * Long-poll's held requests (`x-nodevoy-wait` on a request the client already has the answer to). A request
 * leaves the list when answered, when its wait expires (304) or when its client goes away. Timers run on the
 * injected clock.
 */
export class WaitList {
  private readonly clock: Clock;
  private readonly held = new Set<Held>();

  constructor(clock: Clock) {
    this.clock = clock;
  }

  get size(): number {
    return this.held.size;
  }

  /** Holds `res` for `waitMs`: `tryAnswer` runs on every change, `expire` (304) when the wait runs out. */
  hold(res: ServerResponse, waitMs: number, tryAnswer: () => boolean, expire: () => void): void {
    const held: Held = {
      tryAnswer,
      expire,
      timer: this.clock.setTimer(() => {
        this.held.delete(held);
        expire();
      }, waitMs),
    };
    this.held.add(held);
    res.on('close', () => this.release(held));
  }

  /** Something changed: every held request that now has something new is answered. */
  changed(): void {
    for (const held of [...this.held]) {
      if (held.tryAnswer()) this.release(held);
    }
  }

  /** Server shutdown: every held request is answered as if its wait had expired. */
  expireAll(): void {
    for (const held of [...this.held]) {
      this.release(held);
      held.expire();
    }
  }

  private release(held: Held): void {
    held.timer.cancel();
    this.held.delete(held);
  }
}

/** A listening xDS server. */
export interface XdsEndpoint {
  readonly host: string;
  readonly port: number;
  /** `http://host:port` (an IPv6 host in brackets). */
  readonly url: string;
  /** Requests currently held by long-poll. */
  heldRequests(): number;
  /** Answers the held requests (304), closes every connection and stops listening. */
  close(): Promise<void>;
}

/**
 * Listens on host:port (0 = any free port). close() runs `onClose` (e.g. stop watching for changes), ends
 * `waiting`'s held requests, then closes the connections.
 */
export async function listenXds(server: Server, host: string, port: number, waiting: WaitList, onClose: () => void): Promise<XdsEndpoint> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    host,
    port: bound,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    heldRequests: () => waiting.size,
    async close() {
      onClose();
      waiting.expireAll();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      for (const s of sockets) s.destroySoon();
      await closed;
    },
  };
}
