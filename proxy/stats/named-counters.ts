// A set of counters whose Envoy stat names are also their property names (e.g. tracing.zipkin.spans_sent),
// resolved once at config time: one declaration of the names gives both the type and the handles.

import type { Counter, StatsScope } from './scope.ts';

export type NamedCounters<K extends string> = { readonly [N in K]: Counter };

export function namedCounters<const K extends string>(scope: StatsScope, names: readonly K[]): NamedCounters<K> {
  const out = {} as Record<K, Counter>;
  for (const n of names) out[n] = scope.counter(n);
  return out;
}
