// The proxy's own diagnostic log: Envoy's leveled, named component loggers (`main`, `config`, `upstream`,
// ...) writing `[2026-01-01 00:00:00.000][<pid>][info][main] message` lines to stderr. Levels change at
// runtime (admin POST /logging). Callers log messages, never whole config objects (private keys).

import type { Clock } from './clock.ts';
import { realClock } from './clock.ts';

/** Envoy's (spdlog's) level names, lowest to highest; `off` disables a logger. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The component loggers Envoy lists in /logging that nodevoy has a use for. */
export const COMPONENT_NAMES = [
  'admin', 'config', 'connection', 'conn_handler', 'dns', 'file', 'filter', 'hc', 'http', 'http2', 'init',
  'main', 'misc', 'pool', 'rbac', 'router', 'runtime', 'secret', 'stats', 'tracing', 'upstream',
] as const;

export interface ComponentLogger {
  readonly name: string;
  /** True when a message at `level` would be written (guard expensive message building with it). */
  enabled(level: LogLevel): boolean;
  trace(msg: string): void;
  debug(msg: string): void;
  info(msg: string): void;
  warning(msg: string): void;
  error(msg: string): void;
  critical(msg: string): void;
}

/** The registry of component loggers (what admin /logging reads and changes). */
export interface Logger {
  /** The named component logger; unknown names are created on first use at the default level. */
  get(name: string): ComponentLogger;
  /** Sets every logger (and the default for ones created later), like `POST /logging?level=`. */
  setLevel(level: LogLevel): void;
  /** Sets one logger; false when no logger has that name (Envoy answers 404 then). */
  setComponentLevel(name: string, level: LogLevel): boolean;
  /** `[name, level]` for every logger, sorted by name. */
  levels(): [string, LogLevel][];
}

export interface LoggerOptions {
  /** Where lines go; default process.stderr. Each call gets one line including its '\n'. */
  readonly sink?: (line: string) => void;
  readonly clock?: Clock;
  readonly pid?: number;
}

/** Parses a level name; `warn` is accepted as spdlog does. */
export function parseLogLevel(name: string): LogLevel | undefined {
  if (name === 'warn') return 'warning';
  return (LOG_LEVELS as readonly string[]).includes(name) ? (name as LogLevel) : undefined;
}

const RANK: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warning: 3, error: 4, critical: 5, off: 6 };

class ComponentLoggerImpl implements ComponentLogger {
  readonly name: string;
  level: LogLevel;
  private readonly write: (level: LogLevel, name: string, msg: string) => void;
  constructor(name: string, level: LogLevel, write: (level: LogLevel, name: string, msg: string) => void) {
    this.name = name;
    this.level = level;
    this.write = write;
  }
  enabled(level: LogLevel): boolean {
    return level !== 'off' && RANK[level] >= RANK[this.level];
  }
  private log(level: LogLevel, msg: string): void {
    if (this.enabled(level)) this.write(level, this.name, msg);
  }
  trace(msg: string): void { this.log('trace', msg); }
  debug(msg: string): void { this.log('debug', msg); }
  info(msg: string): void { this.log('info', msg); }
  warning(msg: string): void { this.log('warning', msg); }
  error(msg: string): void { this.log('error', msg); }
  critical(msg: string): void { this.log('critical', msg); }
}

/** `2026-01-01 00:00:00.000` in UTC (Envoy's `%Y-%m-%d %T.%e`). */
function timestamp(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

/** Creates the logger registry with every component at `level` (a name such as `info` or `warn`). */
export function createLogger(level: string = 'info', opts: LoggerOptions = {}): Logger {
  let defaultLevel = parseLogLevel(level) ?? 'info';
  const sink = opts.sink ?? ((line: string) => { process.stderr.write(line); });
  const clock = opts.clock ?? realClock;
  const pid = opts.pid ?? process.pid;
  const write = (lvl: LogLevel, name: string, msg: string): void => {
    sink(`[${timestamp(clock.now())}][${pid}][${lvl}][${name}] ${msg}\n`);
  };
  const loggers = new Map<string, ComponentLoggerImpl>();
  for (const name of COMPONENT_NAMES) loggers.set(name, new ComponentLoggerImpl(name, defaultLevel, write));

  return {
    get(name) {
      let l = loggers.get(name);
      if (!l) loggers.set(name, (l = new ComponentLoggerImpl(name, defaultLevel, write)));
      return l;
    },
    setLevel(lvl) {
      defaultLevel = lvl;
      for (const l of loggers.values()) l.level = lvl;
    },
    setComponentLevel(name, lvl) {
      const l = loggers.get(name);
      if (!l) return false;
      l.level = lvl;
      return true;
    },
    levels() {
      return [...loggers.values()].map((l): [string, LogLevel] => [l.name, l.level]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
    },
  };
}
