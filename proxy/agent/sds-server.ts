// The workload agent's SDS endpoint, as Istio's pilot-agent serves SDS to its Envoy: the Secrets `default`
// (tls_certificate: the workload's chain and key) and `ROOTCA` (validation_context: the root), PEMs inline,
// over Envoy's REST-JSON xDS (`POST /v3/discovery:secrets`), a new version on each rotation, pushed at once to a
// long-polling nodevoy (control-client/rest-serving.ts). It serves a private key: it binds loopback only and
// answers only loopback peers; nothing it logs holds key material.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { WorkloadFiles } from '../../certs/files.ts';
import { LONG_POLL_HEADER, WAIT_HEADER } from '../../control-client/long-poll-transport.ts';
import {
  DEFAULT_MAX_WAIT_SECONDS, discoveryResponseBody, listenXds, parseDiscoveryRequest, parseWait, readRequestBody, WaitList, type XdsEndpoint,
} from '../../control-client/rest-serving.ts';
import type { DiscoveryRequest } from '../../control-client/types.ts';
import type { Clock } from '../common/clock.ts';
import type { ComponentLogger } from '../common/logger.ts';
import { SECRET_TYPE_URL } from '../secrets/secret-schema.ts';

/** Istio's SDS names: the workload certificate and the trust bundle. */
export const WORKLOAD_CERT_SECRET = 'default';
export const ROOT_CA_SECRET = 'ROOTCA';
export const SDS_PATH = '/v3/discovery:secrets';
/** A DiscoveryRequest is a node and a few names. */
const MAX_REQUEST_BYTES = 64 * 1024;
const IDENTIFIER = 'nodevoy-agent';

/** One certificate set and its version_info (the agent uses the certificate's serial). */
export interface WorkloadSecretSet {
  readonly version: string;
  readonly files: WorkloadFiles;
}

/** Where the served certificates come from (the workload agent). */
export interface WorkloadSecrets {
  /** undefined before the first certificate: requests wait (long-poll) or get 304. */
  current(): WorkloadSecretSet | undefined;
  /** Called after each new set; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
}

export interface SdsServerOptions {
  /** A loopback address (127.0.0.0/8, ::1 or localhost); anything else is refused. */
  readonly host: string;
  /** 0 = any free port (read it back from `port`). */
  readonly port: number;
  readonly clock: Clock;
  readonly secrets: WorkloadSecrets;
  readonly log?: ComponentLogger;
  /** Longest long-poll hold granted and advertised in `x-nodevoy-long-poll`; default 60 s. */
  readonly maxWaitSeconds?: number;
}

/** The listening endpoint (its port, held long-polls, close). */
export type SdsServer = XdsEndpoint;

/** Whether `address` (a bind host or a peer address) is loopback. */
export function isLoopback(address: string): boolean {
  const a = address.replace(/^::ffff:/i, '');
  return a === 'localhost' || a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

const pemSource = (pem: string): { inline_bytes: string } => ({ inline_bytes: Buffer.from(pem).toString('base64') });

/** The two Secrets of a set, as Anys (`inline_bytes`, as Istio's agent serves them). */
export function workloadSecretResources(files: WorkloadFiles): Record<string, unknown>[] {
  return [
    {
      '@type': SECRET_TYPE_URL, name: WORKLOAD_CERT_SECRET,
      tls_certificate: { certificate_chain: pemSource(files.certChainPem), private_key: pemSource(files.keyPem) },
    },
    { '@type': SECRET_TYPE_URL, name: ROOT_CA_SECRET, validation_context: { trusted_ca: pemSource(files.rootCertPem) } },
  ];
}

function text(res: ServerResponse, status: number, body: string, headers: Readonly<Record<string, string>> = {}): void {
  res.writeHead(status, { ...headers, 'content-type': 'text/plain; charset=utf-8' }).end(body);
}

export async function startSdsServer(options: SdsServerOptions): Promise<SdsServer> {
  if (!isLoopback(options.host)) {
    throw new Error(`the SDS endpoint serves the workload's private key: it binds a loopback address only (127.0.0.1, ::1), not ${options.host}`);
  }
  const { clock, secrets, log } = options;
  const maxWaitSeconds = options.maxWaitSeconds ?? DEFAULT_MAX_WAIT_SECONDS;
  const advertised = { [LONG_POLL_HEADER]: String(maxWaitSeconds) };
  const waiting = new WaitList(clock);
  let nonceSeq = 0;
  const unsubscribe = secrets.onChange(() => {
    log?.info(`SDS: version ${secrets.current()?.version ?? ''} of ${WORKLOAD_CERT_SECRET} and ${ROOT_CA_SECRET}`);
    waiting.changed();
  });

  /**
   * Answers 200 unless the client has already seen the current version: it runs it (`version_info`), or it
   * NACKed the response that carried it (its nonce starts with the version; sending it again would only be
   * NACKed again). A client whose resource_names change sends `version_info: ''` and is answered.
   */
  function answerIfNew(res: ServerResponse, request: DiscoveryRequest): boolean {
    const set = secrets.current();
    if (set === undefined) return false;
    const nackedCurrent = request.error_detail !== undefined && request.response_nonce.startsWith(`${set.version}/`);
    if (request.version_info === set.version || nackedCurrent) return false;
    const names = new Set(request.resource_names);
    const resources = workloadSecretResources(set.files).filter((r) => names.size === 0 || names.has(r['name'] as string));
    const nonce = `${set.version}/${++nonceSeq}`;
    res.writeHead(200, { ...advertised, 'content-type': 'application/json' })
      .end(discoveryResponseBody(set.version, JSON.stringify(resources), SECRET_TYPE_URL, nonce, IDENTIFIER));
    return true;
  }

  function discovery(req: IncomingMessage, res: ServerResponse, body: string): void {
    const parsed = parseDiscoveryRequest(body, SECRET_TYPE_URL);
    if (!parsed.ok) return text(res, 400, `invalid DiscoveryRequest:\n${parsed.errors.join('\n')}\n`, advertised);
    const wait = parseWait(req.headers[WAIT_HEADER], maxWaitSeconds);
    if (!wait.ok) return text(res, 400, `${wait.message}\n`, advertised);
    const request = parsed.request;
    if (request.error_detail) log?.warning(`SDS: node ${String(request.node['id'])} rejected version ${request.response_nonce.split('/')[0]}: ${request.error_detail.message}`);
    if (answerIfNew(res, request)) return;
    const notModified = (): void => void res.writeHead(304, advertised).end();
    if (wait.seconds === 0) return notModified();
    waiting.hold(res, wait.seconds * 1_000, () => answerIfNew(res, request), notModified);
  }

  const server = createServer((req, res) => {
    // Bound to loopback, so every peer is; checked anyway: this answer holds a private key.
    if (!isLoopback(req.socket.remoteAddress ?? '')) {
      res.writeHead(403, { connection: 'close' }).end();
      return;
    }
    const path = (req.url ?? '').split('?')[0];
    if (path !== SDS_PATH) return text(res, 404, `this is the workload agent's SDS endpoint: POST ${SDS_PATH}\n`);
    if (req.method !== 'POST') return text(res, 405, `${SDS_PATH} takes POST with a JSON DiscoveryRequest\n`, { allow: 'POST' });
    readRequestBody(req, res, MAX_REQUEST_BYTES, (body) => discovery(req, res, body));
  });
  const endpoint = await listenXds(server, options.host, options.port, waiting, unsubscribe);
  log?.info(`SDS (${WORKLOAD_CERT_SECRET}, ${ROOT_CA_SECRET}) on ${endpoint.url}${SDS_PATH}`);
  return endpoint;
}
