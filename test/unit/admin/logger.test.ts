// The leveled component logger: Envoy's line format, level thresholds, runtime changes, `warn` alias.

import { describe, expect, it } from 'vitest';
import { createLogger, parseLogLevel } from '../../../proxy/common/logger.ts';
import { FakeClock } from '../../support/fake-clock.ts';

describe('createLogger', () => {
  function logger(level: string) {
    const lines: string[] = [];
    const log = createLogger(level, { sink: (l) => lines.push(l), clock: new FakeClock(Date.UTC(2026, 0, 1, 12, 30, 5, 42)), pid: 77 });
    return { log, lines };
  }

  it('writes Envoy-style lines', () => {
    const { log, lines } = logger('info');
    log.get('main').info('starting');
    log.get('upstream').error('boom');
    expect(lines).toEqual([
      '[2026-01-01 12:30:05.042][77][info][main] starting\n',
      '[2026-01-01 12:30:05.042][77][error][upstream] boom\n',
    ]);
  });

  it('drops messages below the level; off silences everything', () => {
    const { log, lines } = logger('warning');
    const main = log.get('main');
    main.info('no');
    main.warning('yes');
    expect(main.enabled('debug')).toBe(false);
    log.setLevel('off');
    main.critical('no');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('[warning][main] yes');
  });

  it('changes one component at runtime and lists levels sorted', () => {
    const { log } = logger('info');
    expect(log.setComponentLevel('router', 'debug')).toBe(true);
    expect(log.setComponentLevel('nope', 'debug')).toBe(false);
    expect(log.get('router').enabled('debug')).toBe(true);
    expect(log.get('http').enabled('debug')).toBe(false);
    const names = log.levels().map(([n]) => n);
    expect(names).toEqual([...names].sort());
    expect(names).toContain('config');
  });

  it('parses level names like spdlog (warn = warning), defaulting unknown ones to info', () => {
    expect(parseLogLevel('warn')).toBe('warning');
    expect(parseLogLevel('loud')).toBeUndefined();
    expect(logger('loud').log.get('main').enabled('info')).toBe(true);
    expect(logger('warn').log.get('main').enabled('info')).toBe(false);
  });
});
