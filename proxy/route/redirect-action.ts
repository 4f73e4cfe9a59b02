// RedirectAction (envoy.config.route.v3.RedirectAction) at runtime: builds the Location the way Envoy's
// Http::Utility::newUri does (scheme, host with default-port stripping, port, path rewrites, strip_query).
// Also the https redirect that VirtualHost.require_tls produces.

import type { RequestHeaders } from '../http/headers.ts';
import type { RedirectAction } from './types.ts';
import type { RedirectActionWire } from './route-config-schema.ts';
import { compilePathRewrite, type PathRewrite } from './route-action.ts';

const REDIRECT_STATUS = {
  MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308,
} as const;

/** Index of the `:port` part of a host, or -1 (`[v6]:port` aware). */
function portStart(host: string): number {
  if (host.startsWith('[')) {
    const i = host.lastIndexOf(']:');
    return i < 0 ? -1 : i + 1;
  }
  return host.lastIndexOf(':');
}

export class Redirect implements RedirectAction {
  readonly type = 'redirect' as const;
  private readonly status: number;
  private readonly scheme: string | undefined;
  private readonly host: string | undefined;
  /** ":8080" when port_redirect is set. */
  private readonly port: string;
  private readonly pathRedirect: string | undefined;
  private readonly pathRedirectHasQuery: boolean;
  private readonly pathRewrite: PathRewrite | null;
  private readonly stripQuery: boolean;

  /** `rewriteLength` comes from the route's match (see RouteMatcher.rewriteLength). */
  constructor(r: RedirectActionWire, rewriteLength: number) {
    this.status = REDIRECT_STATUS[r.response_code ?? 'MOVED_PERMANENTLY'];
    this.scheme = r.scheme_redirect?.toLowerCase() ?? (r.https_redirect === true ? 'https' : undefined);
    this.host = r.host_redirect;
    this.port = r.port_redirect !== undefined ? `:${r.port_redirect}` : '';
    this.pathRedirect = r.path_redirect;
    this.pathRedirectHasQuery = r.path_redirect?.includes('?') ?? false;
    this.pathRewrite = compilePathRewrite(r.prefix_rewrite, r.regex_rewrite, rewriteLength);
    this.stripQuery = r.strip_query === true;
  }

  redirect(request: RequestHeaders): { status: number; location: string } {
    const requestScheme = request.scheme === 'http' ? 'http' : 'https';
    const scheme = this.scheme ?? requestScheme;
    const host = this.host ?? this.requestHost(request.authority, request.scheme, scheme);

    let path: string;
    if (this.pathRedirect !== undefined) {
      // A query in path_redirect replaces the request's (and survives strip_query); otherwise the
      // request's query is kept.
      const q = this.pathRedirectHasQuery ? -1 : request.path.indexOf('?');
      path = q < 0 ? this.pathRedirect : this.pathRedirect + request.path.slice(q);
    } else {
      path = this.pathRewrite !== null ? this.pathRewrite(request.path) : request.path;
    }
    if (!path.startsWith('/')) path = `/${path}`;
    if (this.stripQuery && !this.pathRedirectHasQuery) {
      const q = path.indexOf('?');
      if (q >= 0) path = path.slice(0, q);
    }
    return { status: this.status, location: `${scheme}://${host}${this.port}${path}` };
  }

  /**
   * processRequestHost: the request's host, without its port when port_redirect is set or when the
   * scheme changes and the port is the old scheme's default (:80 for http, :443 for https).
   */
  private requestHost(authority: string, requestScheme: string, newScheme: string): string {
    const at = portStart(authority);
    if (at < 0) return authority;
    const port = authority.slice(at);
    let remove = this.port !== '';
    if (newScheme !== requestScheme) {
      remove ||= (requestScheme === 'https' && port === ':443') || (requestScheme === 'http' && port === ':80');
    }
    return remove ? authority.slice(0, at) : authority;
  }
}

/** VirtualHost.require_tls: a 301 to the same URL over https (Envoy's SslRedirector). */
export function httpsRedirect(): Redirect {
  return new Redirect({ https_redirect: true }, 0);
}
