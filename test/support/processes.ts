// Child processes for end-to-end tests: spawn a CLI or script with its output captured, wait for output or
// exit within a bound, and the port and readiness probes such tests need. Every child is killed afterEach.

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { send } from './proxy.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(ROOT, 'cli/main.ts');
/** Upper bound for any one child process step (start, answer, exit). */
export const STEP_MS = 10_000;

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A spawned child with its output so far. */
export interface Child {
  readonly process: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process exits (rejects after `ms`, killing it). */
  exited(ms?: number): Promise<Exit>;
  /** Resolves when stdout+stderr match `pattern` (rejects after STEP_MS or if the process exits first). */
  output(pattern: RegExp): Promise<void>;
}

const running = new Set<ChildProcess>();
afterEach(() => {
  for (const p of running) p.kill('SIGKILL');
  running.clear();
});

export function start(args: readonly string[], script = CLI): Child {
  const child = spawn(process.execPath, [script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  const notify = (): void => { for (const w of [...waiters]) w(); };
  child.stdout!.on('data', (c: Buffer) => { out += c.toString(); notify(); });
  child.stderr!.on('data', (c: Buffer) => { err += c.toString(); notify(); });
  const exit = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => {
    running.delete(child);
    resolve({ code, signal });
  }));
  const describeChild = (): string => `node ${[script, ...args].join(' ')}\nstdout: ${out}\nstderr: ${err}`;
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    exited: (ms = STEP_MS) => bounded(exit.then((e) => { notify(); return e; }), ms, () => {
      child.kill('SIGKILL');
      return `did not exit within ${ms} ms: ${describeChild()}`;
    }),
    output: (pattern) => bounded(new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (pattern.test(out + err)) resolve();
        else if (child.exitCode !== null || child.signalCode !== null) reject(new Error(`exited before printing ${pattern}: ${describeChild()}`));
      };
      waiters.push(check);
      void exit.then(check);
      check();
    }), STEP_MS, () => `no output matching ${pattern} within ${STEP_MS} ms: ${describeChild()}`),
  };
}

export function bounded<T>(p: Promise<T>, ms: number, onTimeout: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(onTimeout())), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Runs a command to completion. */
export async function run(args: readonly string[]): Promise<Exit & { stdout: string; stderr: string }> {
  const child = start(args);
  const exit = await child.exited();
  return { ...exit, stdout: child.stdout(), stderr: child.stderr() };
}

/** A port that was free a moment ago (bound to 0, then closed), for configs read by another process. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof addr === 'object' && addr ? addr.port : 0;
}

export async function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  const server = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, host, () => resolve(true));
  });
  if (ok) await new Promise<void>((resolve) => server.close(() => resolve()));
  return ok;
}

/** Polls admin GET /ready until it answers `LIVE` (the process is another program: there is no event to await). */
export async function waitLive(child: Child, adminPort: number): Promise<void> {
  await bounded((async () => {
    for (;;) {
      if (child.process.exitCode !== null) throw new Error(`proxy exited: ${child.stderr()}`);
      const r = await send(adminPort, '/ready').catch(() => undefined);
      if (r?.body === 'LIVE\n') return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })(), STEP_MS, () => `admin /ready never said LIVE: ${child.stderr()}`);
}
