// HTTPMatchRequest → Envoy RouteMatch, as Istio's TranslateRouteMatch emits it: uri exact/prefix/regex →
// path/prefix/safe_regex, headers and withoutHeaders (sorted by name) then :method and :authority as
// header matchers, query parameters, ignoreUriCase → case_sensitive false. Regex "*" means "present".

import type { StringMatch } from '../istio/istio-kit.ts';
import type { HTTPMatchRequest } from '../istio/virtual-service.ts';

type Json = Record<string, unknown>;

/** util.ConvertToEnvoyMatch: an Istio StringMatch as an Envoy StringMatcher. */
function stringMatcher(m: StringMatch): Json {
  if (m.exact !== undefined) return { exact: m.exact };
  if (m.prefix !== undefined) return { prefix: m.prefix };
  return { safe_regex: { regex: m.regex } };
}

/** canBeConvertedToPresentMatch: regex "*" is not RE2, Istio reads it as "the header is present". */
const isPresentMatch = (m: StringMatch) => m.regex === '*';

function headerMatcher(name: string, m: StringMatch): Json {
  return isPresentMatch(m) ? { name, present_match: true } : { name, string_match: stringMatcher(m) };
}

/** Code-unit order, so the output never depends on the locale. */
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The RouteMatch of one HTTPMatchRequest; undefined match = every request (prefix "/"). */
export function routeMatch(match: HTTPMatchRequest | undefined): Json {
  if (match === undefined) return { prefix: '/' };
  const headers: Json[] = Object.entries(match.headers ?? {}).map(([name, m]) => headerMatcher(name, m));
  for (const [name, m] of Object.entries(match.withoutHeaders ?? {})) {
    // treat_missing_header_as_empty conflicts with present_match.
    headers.push({ ...headerMatcher(name, m), invert_match: true, ...(isPresentMatch(m) ? {} : { treat_missing_header_as_empty: true }) });
  }
  headers.sort((a, b) => compare(a['name'] as string, b['name'] as string));
  if (match.method !== undefined) headers.push(headerMatcher(':method', match.method));
  if (match.authority !== undefined) headers.push(headerMatcher(':authority', match.authority));
  const query = Object.entries(match.queryParams ?? {}).sort(([a], [b]) => compare(a, b)).map(([name, m]) =>
    (isPresentMatch(m) ? { name, present_match: true } : { name, string_match: stringMatcher(m) }));
  return {
    ...pathSpecifier(match.uri),
    case_sensitive: match.ignoreUriCase !== true,
    ...(headers.length > 0 ? { headers } : {}),
    ...(query.length > 0 ? { query_parameters: query } : {}),
  };
}

function pathSpecifier(uri: StringMatch | undefined): Json {
  if (uri?.exact !== undefined) return { path: uri.exact };
  if (uri?.prefix !== undefined) return { prefix: uri.prefix };
  if (uri?.regex !== undefined) return { safe_regex: { regex: uri.regex } };
  return { prefix: '/' };
}

/** IsCatchAllRoute: prefix "/" (or regex ".*") with no header or query conditions; later routes are unreachable. */
export function isCatchAll(match: Json): boolean {
  const regex = (match['safe_regex'] as Json | undefined)?.['regex'];
  return (match['prefix'] === '/' || regex === '.*') && match['headers'] === undefined && match['query_parameters'] === undefined;
}
