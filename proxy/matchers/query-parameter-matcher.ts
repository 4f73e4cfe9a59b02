// envoy.config.route.v3.QueryParameterMatcher: its schema and a compiled matcher over the raw query
// string. As Envoy's route matching (QueryParamsMulti::parseQueryString), values are not percent-decoded
// and the first value of a repeated key is used. Scans the query in place instead of building a map.

import { z } from 'zod';
import { message, bool } from '../config/schema-kit.ts';
import { StringMatcherSchema, compileStringMatcher, type StringMatch } from './string-matcher.ts';

export const QueryParameterMatcherSchema = message('envoy.config.route.v3.QueryParameterMatcher', {
  name: z.string().min(1, 'query parameter name must not be empty').max(1024),
  string_match: StringMatcherSchema.optional(),
  present_match: bool.optional(),
}).superRefine((m, ctx) => {
  if (m.string_match !== undefined && m.present_match !== undefined) {
    ctx.addIssue({ code: 'custom', message: 'a QueryParameterMatcher takes only one of string_match, present_match' });
  }
});

export type QueryParameterMatcherWire = z.output<typeof QueryParameterMatcherSchema>;

/** Matches the query string: the part of :path after the first '?' ('' when there is none). */
export type QueryParameterMatch = (query: string) => boolean;

/** The first value of `name` in `query`, or undefined when the key is absent (`?a` gives a = ''). */
export function firstQueryValue(query: string, name: string): string | undefined {
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    const eq = query.indexOf('=', start);
    const keyEnd = eq >= 0 && eq < end ? eq : end;
    if (keyEnd - start === name.length && query.startsWith(name, start)) {
      return keyEnd === end ? '' : query.slice(keyEnd + 1, end);
    }
    start = end + 1;
  }
  return undefined;
}

export function compileQueryParameterMatcher(m: QueryParameterMatcherWire): QueryParameterMatch {
  const name = m.name;
  // ConfigUtility::QueryParameterMatcher::matches: an absent key never matches; present_match returns
  // its own value; no specifier = presence; otherwise the string matcher decides.
  if (m.present_match !== undefined) {
    const present = m.present_match;
    return (q) => firstQueryValue(q, name) !== undefined && present;
  }
  if (m.string_match === undefined) return (q) => firstQueryValue(q, name) !== undefined;
  const match: StringMatch = compileStringMatcher(m.string_match);
  return (q) => {
    const v = firstQueryValue(q, name);
    return v !== undefined && match(v);
  };
}
