// Starts the benchmark's child processes (pinned to CPUs with taskset), waits for their ports by polling
// connect, and kills every one of them at the end, on errors and on Ctrl-C. Every wait is bounded. Also the
// frame of a bench script's main (options, then the body inside that clean-up).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { benchCommand, type BenchOptions } from './args.ts';

export const HAS_TASKSET = spawnSync('taskset', ['--version']).status === 0;

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly process: ChildProcess;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  exitedYet(): boolean;
}

export interface SpawnSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** taskset CPU list; omitted = not pinned. */
  readonly cpus?: string;
  /** Append stdout+stderr here; omitted = collect them in memory (see `output`). */
  readonly logFile?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** Every process this run started, so that they can all be stopped whatever happens. */
export class ProcessGroup {
  private readonly children = new Set<Child>();

  spawn(spec: SpawnSpec): Child & { output(): string } {
    const pinned = spec.cpus !== undefined && HAS_TASKSET;
    const command = pinned ? 'taskset' : spec.command;
    const args = pinned ? ['-c', spec.cpus!, spec.command, ...spec.args] : [...spec.args];
    // detached: its own process group, so stop() reaches grandchildren (nginx's worker) too.
    const proc = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: spec.env ?? process.env });
    let collected = '';
    if (spec.logFile) {
      const log = createWriteStream(spec.logFile, { flags: 'a' });
      proc.stdout.pipe(log);
      proc.stderr.pipe(log);
    } else {
      proc.stdout.on('data', (c: Buffer) => { collected += c.toString(); });
      proc.stderr.on('data', (c: Buffer) => { collected += c.toString(); });
    }
    let done = false;
    const exited = new Promise<number | string>((resolve) => {
      proc.once('error', (err) => { done = true; resolve(`spawn error: ${err.message}`); });
      // 'close' comes after 'exit' and after stdout/stderr are drained, so output() is complete by then.
      proc.once('close', (code, signal) => { done = true; resolve(code ?? signal ?? 'unknown'); });
    });
    if (proc.pid === undefined) throw new Error(`${spec.name}: could not start ${command}`);
    const child = { name: spec.name, pid: proc.pid, process: proc, exited, exitedYet: () => done, output: () => collected };
    this.children.add(child);
    void exited.then(() => this.children.delete(child));
    return child;
  }

  /** SIGTERM the child's process group, SIGKILL it if still alive after `graceMs`. */
  async stop(child: Child, graceMs = 3_000): Promise<void> {
    if (child.exitedYet()) return;
    signalGroup(child.pid, 'SIGTERM');
    const timedOut = await Promise.race([child.exited.then(() => false), delay(graceMs, undefined, { ref: false }).then(() => true)]);
    if (timedOut) {
      signalGroup(child.pid, 'SIGKILL');
      await Promise.race([child.exited, delay(graceMs, undefined, { ref: false })]);
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.children].map((c) => this.stop(c)));
  }

  /** Last resort from a synchronous `exit` handler. */
  killAllNow(): void {
    for (const c of this.children) signalGroup(c.pid, 'SIGKILL');
  }
}

/** Waits for `child` to exit, at most `limitMs` (then stops it and throws); throws when its exit code is not 0. */
export async function awaitSuccess(child: Child & { output(): string }, limitMs: number, group: ProcessGroup): Promise<string> {
  const finished = await Promise.race([child.exited.then((code) => ({ code })), delay(limitMs, undefined, { ref: false }).then(() => undefined)]);
  if (finished === undefined) {
    await group.stop(child);
    throw new Error(`${child.name} did not finish within ${limitMs / 1000} s`);
  }
  if (finished.code !== 0) throw new Error(`${child.name} exited ${finished.code}: ${child.output().slice(-500)}`);
  return child.output();
}

export interface BenchRun {
  readonly group: ProcessGroup;
  /** A temp dir for configs, certificates and logs, removed at the end. */
  readonly dir: string;
  /** True once SIGINT/SIGTERM arrived (the process exits 130 after cleaning up). */
  interrupted(): boolean;
}

/**
 * Runs `body` with a process group and a temp dir that are cleaned up whatever happens: at the end, on an
 * error, and on SIGINT/SIGTERM (every child stopped, then exit 130).
 */
export async function withBenchRun<T>(body: (run: BenchRun) => Promise<T>): Promise<T> {
  const group = new ProcessGroup();
  const dir = mkdtempSync(join(tmpdir(), 'nodevoy-bench-'));
  let interrupted = false;
  const cleanUp = async (): Promise<void> => {
    await group.stopAll();
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = true;
    process.stderr.write(`bench: ${signal}, stopping every process\n`);
    void cleanUp().finally(() => process.exit(130));
  };
  const onExit = (): void => group.killAllNow();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', onExit);
  try {
    return await body({ group, dir, interrupted: () => interrupted });
  } finally {
    await cleanUp();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  }
}

/**
 * A bench script's main: the options from `argv` (the usage for --help, every problem for bad arguments: exit 0
 * or 2), then `body` inside withBenchRun, with a note when processes cannot be pinned. `name` prefixes problems.
 */
export async function benchMain(argv: readonly string[], name: string, body: (o: BenchOptions, run: BenchRun) => Promise<number>): Promise<number> {
  const command = benchCommand(argv, name);
  if (!('run' in command)) {
    process.stdout.write(command.stdout);
    process.stderr.write(command.stderr);
    return command.exitCode;
  }
  const o = command.run;
  return withBenchRun(async (run) => {
    if (!HAS_TASKSET) process.stderr.write('bench: taskset not found; processes are NOT pinned to cores and numbers are noisier\n');
    return body(o, run);
  });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try { process.kill(pid, signal); } catch { /* already gone */ }
  }
}

/** Polls a TCP connect to 127.0.0.1:port until it succeeds; fails if `child` exits or `timeoutMs` passes. */
export async function waitForPort(port: number, timeoutMs: number, child?: Child): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (child?.exitedYet()) throw new Error(`${child.name} exited (${await child.exited}) before listening on ${port}`);
    if (await canConnect(port)) return;
    if (performance.now() > deadline) throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await delay(25); // poll interval, not a wait for readiness
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.setTimeout(1_000);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
    s.once('timeout', () => { s.destroy(); resolve(false); });
  });
}

/** A port free right now (bound to 0 then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
