// The filter chain contract through a real proxy, with test-only filters: an encode filter that answers
// asynchronously keeps the status and headers it set and the body arrives after them; a filter that throws
// becomes a 500 and the proxy keeps serving; an encode filter that sends a local reply does not recurse.

import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { message } from '../../proxy/config/schema-kit.ts';
import { registerHttpFilter } from '../../proxy/filters/http/registry.ts';
import type { FilterCallbacks, FilterStatus, HttpFilter } from '../../proxy/http/filter.ts';
import { bootstrapYaml, send, staticCluster } from '../support/proxy.ts';
import { testScope } from '../support/scope.ts';

const TYPE = 'type.googleapis.com/test.filters.http.Behaviour';
const Schema = message('test.filters.http.Behaviour', { mode: z.enum(['async-encode', 'throw-decode', 'reply-in-encode']) });

registerHttpFilter({
  name: 'test.filters.http.behaviour',
  typeUrl: TYPE,
  configSchema: Schema,
  create: (config) => (cb: FilterCallbacks): HttpFilter => {
    if (config.mode === 'throw-decode') return { decodeHeaders: () => { throw new Error('boom'); } };
    if (config.mode === 'reply-in-encode') {
      return {
        encodeHeaders: (response) => {
          if (response.status === 200) {
            cb.sendLocalReply(418, 'replaced');
            return 'stop';
          }
          return 'continue';
        },
      };
    }
    return {
      encodeHeaders: async (response): Promise<FilterStatus> => {
        await new Promise<void>((r) => setImmediate(r));
        response.status = 201;
        response.headers['x-async'] = 'yes';
        return 'continue';
      },
    };
  },
});

const scope = testScope();

async function proxyWith(mode: string) {
  const up = await scope.upstream('web');
  return scope.proxy(bootstrapYaml({
    httpFilters: `- name: test.filters.http.behaviour\n  typed_config: { "@type": ${TYPE}, mode: ${mode} }`,
    routes: '- match: { prefix: / }\n  route: { cluster: web }',
    clusters: staticCluster('web', [up.port]),
  }));
}

describe('filter chain', () => {
  it('an async encodeHeaders keeps its status and headers, and the body follows them', async () => {
    const s = await proxyWith('async-encode');
    const r = await send(s.listenerPort('main'), '/');
    expect(r.status).toBe(201);
    expect(r.headers['x-async']).toBe('yes');
    expect(r.headers.server).toBe('envoy');
    expect(r.body).toBe('web');
  });

  it('a filter that throws gives a 500 and the proxy keeps serving', async () => {
    const s = await proxyWith('throw-decode');
    const r = await send(s.listenerPort('main'), '/');
    expect(r.status).toBe(500);
    expect((await send(s.listenerPort('main'), '/')).status).toBe(500);
  });

  it('an encode filter that sends a local reply replaces the response without recursing', async () => {
    const s = await proxyWith('reply-in-encode');
    const r = await send(s.listenerPort('main'), '/');
    expect([r.status, r.body]).toEqual([418, 'replaced']);
  });
});
