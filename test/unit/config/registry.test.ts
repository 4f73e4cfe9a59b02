// Tests for proxy/filters/http/registry.ts: lookups by name and type URL, double registration, and the
// built-in filters registered by proxy/filters/http/index.ts.

import { z } from 'zod';
import { beforeAll, describe, expect, it } from 'vitest';
import type { HttpFilterFactory } from '../../../proxy/http/filter.ts';
import { httpFilterByName, httpFilterByTypeUrl, registerHttpFilter } from '../../../proxy/filters/http/registry.ts';
import '../../../proxy/filters/http/index.ts';

function factory(name: string, typeUrl: string): HttpFilterFactory {
  return { name, typeUrl, configSchema: z.object({}), create: () => () => ({}) };
}

describe('HTTP filter registry', () => {
  beforeAll(() => registerHttpFilter(factory('test.registry.b', 'type.googleapis.com/test.registry.B')));

  it('finds a registered filter by name and by type URL', () => {
    const f = factory('test.registry.a', 'type.googleapis.com/test.registry.A');
    registerHttpFilter(f);
    expect(httpFilterByName('test.registry.a')).toBe(f);
    expect(httpFilterByTypeUrl('type.googleapis.com/test.registry.A')).toBe(f);
  });

  it('answers undefined for unknown filters', () => {
    expect(httpFilterByName('envoy.filters.http.nope')).toBeUndefined();
    expect(httpFilterByTypeUrl('type.googleapis.com/nope')).toBeUndefined();
  });

  it.each([
    ['the same name', factory('test.registry.b', 'type.googleapis.com/test.registry.Other'), 'HTTP filter test.registry.b is already registered'],
    ['the same type URL', factory('test.registry.other', 'type.googleapis.com/test.registry.B'), 'HTTP filter type type.googleapis.com/test.registry.B is already registered (by test.registry.b)'],
  ])('throws when %s is registered twice', (_name, second, message) => {
    expect(() => registerHttpFilter(second)).toThrow(message);
    expect(httpFilterByName('test.registry.other')).toBeUndefined();
  });

  it('has the router registered as a terminal filter by the filters index', () => {
    const router = httpFilterByTypeUrl('type.googleapis.com/envoy.extensions.filters.http.router.v3.Router');
    expect(router?.name).toBe('envoy.filters.http.router');
    expect(router?.terminal).toBe(true);
  });
});
