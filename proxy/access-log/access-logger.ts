// Runtime access loggers built from a parsed AccessLog entry: format each completed stream with the compiled
// formatter and append the line to a file (buffered, non-blocking fs.WriteStream), stdout or stderr. The connection
// manager calls log() only when a logger exists, so streams without access logs pay nothing.

import { createWriteStream, type WriteStream } from 'node:fs';
import { realClock, type Clock, type TimerHandle } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import { accessLogSpec, type AccessLogSpec, type AccessLogWire } from './access-log-schema.ts';
import { compileFormatter, compileJsonFormatter, type FormatContext, type Formatter } from './formatter.ts';

export interface AccessLogger {
  log(ctx: FormatContext): void;
  /** Flushes buffered lines and closes the file. */
  close(): Promise<void>;
}

export interface AccessLoggerDeps {
  /** Drives the file flush timer (default: the real clock). */
  readonly clock?: Clock;
  /** Where file errors are reported (component `file`). */
  readonly logger?: Logger;
}

function formatterFor(spec: AccessLogSpec): Formatter {
  const opts = { omitEmptyValues: spec.omitEmptyValues, sortProperties: spec.sortProperties };
  return spec.format.kind === 'json' ? compileJsonFormatter(spec.format.json, opts) : compileFormatter(spec.format.text, opts);
}

interface Sink {
  write(line: string): void;
  close(): Promise<void>;
}

function processSink(stream: NodeJS.WriteStream): Sink {
  return { write: (line) => { stream.write(line); }, close: async () => {} };
}

/** Envoy's defaults: buffered access log lines are written every second (`file_flush_interval`) or at 64 KiB. */
export const FILE_FLUSH_INTERVAL_MS = 1000;
const FILE_FLUSH_BYTES = 64 * 1024;

/**
 * Appends to a file through a buffer flushed on a timer, so a busy listener makes one write per interval.
 * A write error is reported once and later lines are dropped (Envoy keeps serving).
 */
function fileSink(path: string, deps: AccessLoggerDeps): Sink {
  const clock = deps.clock ?? realClock;
  let failed = false;
  let buffer = '';
  let timer: TimerHandle | null = null;
  const stream: WriteStream = createWriteStream(path, { flags: 'a' });
  stream.on('error', (err) => {
    if (!failed) deps.logger?.get('file').error(`access log ${path}: ${err.message}`);
    failed = true;
  });
  const flush = (): void => {
    timer?.cancel();
    timer = null;
    if (buffer !== '' && !failed) stream.write(buffer);
    buffer = '';
  };
  return {
    write: (line) => {
      if (failed) return;
      buffer += line;
      if (buffer.length >= FILE_FLUSH_BYTES) flush();
      else timer ??= clock.setTimer(flush, FILE_FLUSH_INTERVAL_MS);
    },
    close: () => new Promise<void>((resolve) => {
      flush();
      if (stream.closed || stream.destroyed) { resolve(); return; }
      // 'close' follows both a clean end and an open/write error.
      stream.once('close', () => resolve());
      stream.end();
    }),
  };
}

function sinkFor(spec: AccessLogSpec, deps: AccessLoggerDeps): Sink {
  switch (spec.sink.kind) {
    case 'stdout': return processSink(process.stdout);
    case 'stderr': return processSink(process.stderr);
    case 'file':
      // Istio's sidecars log to /dev/stdout; write through the process stream instead of reopening it.
      if (spec.sink.path === '/dev/stdout') return processSink(process.stdout);
      if (spec.sink.path === '/dev/stderr') return processSink(process.stderr);
      return fileSink(spec.sink.path, deps);
  }
}

/** Builds the logger for one `access_log[]` entry (already validated by AccessLogSchema). */
export function createAccessLogger(wire: AccessLogWire, deps: AccessLoggerDeps = {}): AccessLogger {
  const spec = accessLogSpec(wire);
  const formatter = formatterFor(spec);
  const sink = sinkFor(spec, deps);
  return {
    log: (ctx) => sink.write(formatter.format(ctx)),
    close: () => sink.close(),
  };
}
