// The header representation used on the hot path: Node's own lower-cased header object
// (IncomingHttpHeaders shape), which undici also accepts. Pseudo-headers are not stored in it;
// :method, :path, :authority and :scheme live on the stream (see RequestHeaders).

export type HeaderMap = Record<string, string | string[] | undefined>;

/** The request as filters and routing see it. `headers` is the map forwarded upstream. */
export interface RequestHeaders {
  method: string;
  /** :path, including the query string. */
  path: string;
  /** :authority (the Host header). */
  authority: string;
  /** :scheme as Envoy derives it (x-forwarded-proto after HCM processing). */
  scheme: string;
  headers: HeaderMap;
}

export interface ResponseHeaders {
  status: number;
  headers: HeaderMap;
}

/** First value of a header, as Envoy's `get()` reads it. */
export function firstValue(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** All values joined by ',' (how HeaderMatcher sees repeated headers). */
export function joinedValue(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}
