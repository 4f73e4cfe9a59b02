// Per-test resources for integration tests: upstreams and proxies started through a TestScope are closed
// after each test (vitest afterEach), so tests leak no sockets or timers and need no cleanup code.

import { afterEach } from 'vitest';
import type { Server, ServerOptions } from '../../proxy/server/server.ts';
import { startProxy } from './proxy.ts';
import { startUpstream, type TestUpstream, type UpstreamHandler } from './upstream.ts';

export interface TestScope {
  upstream(name: string, handler?: UpstreamHandler): Promise<TestUpstream>;
  proxy(yaml: string, opts?: Omit<ServerOptions, 'bootstrap'>): Promise<Server>;
  /** Runs `close` after the current test. */
  defer(close: () => Promise<void>): void;
}

export function testScope(): TestScope {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });
  return {
    async upstream(name, handler) {
      const u = await startUpstream(name, handler);
      cleanups.push(() => u.close());
      return u;
    },
    async proxy(yaml, opts = {}) {
      const s = await startProxy(yaml, opts);
      cleanups.push(() => s.close());
      return s;
    },
    defer(close) {
      cleanups.push(close);
    },
  };
}
