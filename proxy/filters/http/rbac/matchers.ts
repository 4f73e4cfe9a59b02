// RBAC Permission and Principal rules compiled once into predicates over a request and its StreamInfo
// (Envoy's source/extensions/filters/common/rbac/matchers.cc): and/or/not, any, header, url_path,
// IP ranges of the local / direct remote / trusted remote address, ports, SNI and the TLS peer identity.

import { compileCidrs } from '../../../http/cidr.ts';
import type { RequestHeaders } from '../../../http/headers.ts';
import type { StreamInfo } from '../../../http/stream-info.ts';
import type { CidrRangeWire } from '../../../config/core-schema.ts';
import { compileHeaderMatcher } from '../../../matchers/header-matcher.ts';
import { compileStringMatcher, type StringMatch } from '../../../matchers/string-matcher.ts';
import type { PathMatcherWire, PermissionWire, PrincipalWire } from './schema.ts';

/** One compiled rule: true when the request (and its connection, through `info`) matches. */
export type RbacMatcher = (request: RequestHeaders, info: StreamInfo) => boolean;

export function compilePermission(p: PermissionWire): RbacMatcher {
  if (p.and_rules !== undefined) return and(p.and_rules.rules.map(compilePermission));
  if (p.or_rules !== undefined) return or(p.or_rules.rules.map(compilePermission));
  if (p.not_rule !== undefined) return not(compilePermission(p.not_rule));
  if (p.header !== undefined) return header(p.header);
  if (p.url_path !== undefined) return urlPath(p.url_path);
  // destination_ip / destination_port(_range): the downstream local address (the listener's side).
  if (p.destination_ip !== undefined) return ipIn(p.destination_ip, (info) => info.downstreamLocalAddress);
  if (p.destination_port !== undefined) {
    const want = p.destination_port;
    return (_r, info) => portOf(info.downstreamLocalAddress) === want;
  }
  if (p.destination_port_range !== undefined) {
    const start = p.destination_port_range.start ?? 0;
    const end = p.destination_port_range.end ?? 0;
    return (_r, info) => {
      const port = portOf(info.downstreamLocalAddress);
      return start <= port && port < end;
    };
  }
  if (p.requested_server_name !== undefined) {
    const match = compileStringMatcher(p.requested_server_name);
    return (_r, info) => match(info.requestedServerName);
  }
  return always; // any: true (the schema admits exactly one rule)
}

export function compilePrincipal(p: PrincipalWire): RbacMatcher {
  if (p.and_ids !== undefined) return and(p.and_ids.ids.map(compilePrincipal));
  if (p.or_ids !== undefined) return or(p.or_ids.ids.map(compilePrincipal));
  if (p.not_id !== undefined) return not(compilePrincipal(p.not_id));
  if (p.header !== undefined) return header(p.header);
  if (p.url_path !== undefined) return urlPath(p.url_path);
  if (p.authenticated !== undefined) {
    const name = p.authenticated.principal_name;
    return authenticated(name === undefined ? null : compileStringMatcher(name));
  }
  // direct_remote_ip (and the deprecated source_ip, the connection's peer): the physical peer address.
  const direct = p.direct_remote_ip ?? p.source_ip;
  if (direct !== undefined) return ipIn(direct, (info) => info.downstreamDirectRemoteAddress);
  // remote_ip: the client address after x-forwarded-for / xff_num_trusted_hops handling.
  if (p.remote_ip !== undefined) return ipIn(p.remote_ip, (info) => info.downstreamRemoteAddress);
  return always; // any: true
}

const always: RbacMatcher = () => true;

function and(matchers: readonly RbacMatcher[]): RbacMatcher {
  return (request, info) => {
    for (const m of matchers) if (!m(request, info)) return false;
    return true;
  };
}

/** Shared by or_rules / or_ids and by a policy's permission and principal lists. */
export function or(matchers: readonly RbacMatcher[]): RbacMatcher {
  return (request, info) => {
    for (const m of matchers) if (m(request, info)) return true;
    return false;
  };
}

function not(matcher: RbacMatcher): RbacMatcher {
  return (request, info) => !matcher(request, info);
}

/** HeaderUtility::matchHeaders on the request; `:path` here includes the query string. */
function header(wire: Parameters<typeof compileHeaderMatcher>[0]): RbacMatcher {
  const m = compileHeaderMatcher(wire);
  return (request) => m.matchRequest(request);
}

/** Matchers::PathMatcher: the path with its query and fragment removed. */
function urlPath(wire: PathMatcherWire): RbacMatcher {
  const match = compileStringMatcher(wire.path);
  return (request) => match(pathOnly(request.path));
}

function pathOnly(path: string): string {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x3f /* ? */ || c === 0x23 /* # */) return path.slice(0, i);
  }
  return path;
}

function ipIn(range: CidrRangeWire, address: (info: StreamInfo) => string): RbacMatcher {
  const cidrs = compileCidrs([{ addressPrefix: range.address_prefix, prefixLen: range.prefix_len ?? 0 }]);
  return (_r, info) => cidrs.contains(ipOf(address(info)));
}

/**
 * AuthenticatedMatcher: never on plaintext; with no principal_name any TLS peer matches; otherwise the
 * peer certificate's URI SANs (the SPIFFE ID), then its DNS SANs, then its subject.
 */
function authenticated(name: StringMatch | null): RbacMatcher {
  return (_r, info) => {
    const ssl = info.downstreamSsl;
    if (ssl === undefined) return false;
    if (name === null) return true;
    for (const uri of ssl.uriSanPeerCertificate) if (name(uri)) return true;
    for (const dns of ssl.dnsSansPeerCertificate) if (name(dns)) return true;
    return name(ssl.subjectPeerCertificate);
  };
}

/** StreamInfo addresses are `ip:port` (IPv6 unbracketed): the part before the last ':'. */
function ipOf(address: string): string {
  const colon = address.lastIndexOf(':');
  return colon < 0 ? address : address.slice(0, colon);
}

function portOf(address: string): number {
  const colon = address.lastIndexOf(':');
  return colon < 0 ? -1 : Number(address.slice(colon + 1));
}
