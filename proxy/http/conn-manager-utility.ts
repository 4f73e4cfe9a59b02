// Request header processing done by the HTTP connection manager before routing, following Envoy's
// conn_manager_utility.cc: trusted client address from XFF, XFF append, internal vs external requests
// and the x-envoy-* header stripping that follows, x-forwarded-proto, x-request-id generation, and XFCC
// (in xfcc.ts).

import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { HeaderMap } from './headers.ts';
import type { CidrMatcher } from './cidr.ts';
import type { DownstreamTlsInfo } from '../tls/connection-info.ts';
import { mutateXfccRequestHeader, type XfccPolicy } from './xfcc.ts';

export interface RequestHeaderPolicy {
  /** use_remote_address */
  readonly useRemoteAddress: boolean;
  /** xff_num_trusted_hops */
  readonly xffNumTrustedHops: number;
  /** skip_xff_append */
  readonly skipXffAppend: boolean;
  /** internal_address_config.cidr_ranges (nothing is internal by default since Envoy 1.33). */
  readonly internalAddresses: CidrMatcher;
  /** generate_request_id */
  readonly generateRequestId: boolean;
  /** preserve_external_request_id */
  readonly preserveExternalRequestId: boolean;
  /** Route config internal_only_headers: removed from external requests. */
  readonly internalOnlyHeaders: readonly string[];
  /** forward_client_cert_details / set_current_client_cert_details; absent = SANITIZE, Envoy's default. */
  readonly xfcc?: XfccPolicy;
}

const SANITIZE_XFCC: XfccPolicy = { forwardClientCertDetails: 'SANITIZE', setCurrentClientCertDetails: [] };

/** Client-supplied control headers honoured only on internal requests (stripped from external ones). */
const EXTERNAL_STRIPPED = [
  'x-envoy-retry-on', 'x-envoy-retry-grpc-on', 'x-envoy-max-retries', 'x-envoy-retriable-status-codes',
  'x-envoy-retriable-header-names', 'x-envoy-upstream-rq-timeout-ms', 'x-envoy-upstream-rq-per-try-timeout-ms',
  'x-envoy-upstream-rq-timeout-alt-response', 'x-envoy-expected-rq-timeout-ms', 'x-envoy-force-trace',
  'x-envoy-upstream-alt-stat-name', 'x-envoy-ip-tags', 'x-envoy-original-url', 'x-envoy-hedge-on-per-try-timeout',
] as const;

/** Additionally stripped from edge requests (external and use_remote_address). */
const EDGE_STRIPPED = [
  'x-envoy-decorator-operation', 'x-envoy-downstream-service-cluster', 'x-envoy-downstream-service-node',
] as const;

export interface RequestHeaderOutcome {
  /** The trusted client IP (Envoy's final remote address). */
  readonly clientIp: string;
  readonly internal: boolean;
}

/**
 * The XFF entries from the right: Envoy's getLastAddressFromXFF skips `numTrustedHops` entries from
 * the right and takes the next one. Returns undefined when the header has too few entries.
 */
function xffAddressFromRight(xff: string, skip: number): { ip: string; single: boolean } | undefined {
  const parts = xff.split(',');
  const idx = parts.length - 1 - skip;
  if (idx < 0) return undefined;
  const ip = parts[idx]!.trim();
  return ip === '' ? undefined : { ip, single: parts.length === 1 };
}

/**
 * Mutates `headers` as Envoy's HCM does; `peerIp` is the TCP peer, `tls` whether the connection is TLS,
 * `downstreamTls` its TLS facts (for XFCC; undefined on plaintext).
 */
export function mutateRequestHeaders(headers: HeaderMap, peerIp: string, tls: boolean,
  policy: RequestHeaderPolicy, downstreamTls?: DownstreamTlsInfo): RequestHeaderOutcome {
  const rawXff = headers['x-forwarded-for'];
  const xff = Array.isArray(rawXff) ? rawXff.join(',') : rawXff;
  let clientIp = peerIp;
  let singleAddress = false;

  if (policy.useRemoteAddress) {
    if (policy.xffNumTrustedHops > 0 && xff !== undefined) {
      // The N-th entry from the right (after our own append) is the trusted client.
      const found = xffAddressFromRight(xff, policy.xffNumTrustedHops - 1);
      if (found && isIP(found.ip) !== 0) clientIp = found.ip;
    }
    // Envoy: at the edge the request is "single address" when no XFF arrived, appended or not.
    singleAddress = xff === undefined || xff === '';
    if (!policy.skipXffAppend) headers['x-forwarded-for'] = singleAddress ? peerIp : `${xff},${peerIp}`;
    // Envoy overwrites x-forwarded-proto only at the edge (use_remote_address, no trusted hops).
    if (policy.xffNumTrustedHops === 0) headers['x-forwarded-proto'] = tls ? 'https' : 'http';
  } else if (xff !== undefined && xff !== '') {
    const found = xffAddressFromRight(xff, policy.xffNumTrustedHops);
    if (found && isIP(found.ip) !== 0) {
      clientIp = found.ip;
      singleAddress = found.single;
    }
  }

  // Envoy: internal iff XFF holds a single address and it is in internal_address_config.
  const internal = singleAddress && policy.internalAddresses.contains(clientIp);

  // Otherwise a downstream proxy's x-forwarded-proto is kept, and set only when absent.
  if (headers['x-forwarded-proto'] === undefined) headers['x-forwarded-proto'] = tls ? 'https' : 'http';

  const edge = !internal && policy.useRemoteAddress;
  if (internal) {
    headers['x-envoy-internal'] = 'true';
  } else {
    delete headers['x-envoy-internal'];
    for (const h of EXTERNAL_STRIPPED) if (headers[h] !== undefined) delete headers[h];
    for (const h of policy.internalOnlyHeaders) if (headers[h] !== undefined) delete headers[h];
    if (edge) {
      for (const h of EDGE_STRIPPED) if (headers[h] !== undefined) delete headers[h];
      headers['x-envoy-external-address'] = clientIp;
    }
  }

  if (policy.generateRequestId) {
    const existing = headers['x-request-id'];
    if (existing === undefined || existing === '' || (edge && !policy.preserveExternalRequestId)) {
      headers['x-request-id'] = randomUUID();
    }
  }
  // Envoy does this last in mutateRequestHeaders.
  mutateXfccRequestHeader(headers, downstreamTls, policy.xfcc ?? SANITIZE_XFCC);
  return { clientIp, internal };
}
