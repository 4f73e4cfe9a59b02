// Writes a benchmark's results as JSON under bench/results/ (git-ignored), with the date and the machine
// they were measured on. Never read back by the harness: it is the record behind the README's tables.

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLOCK_TICKS_PER_S } from './proc-stat.ts';

const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

/** Writes `bench/results/<prefix><ISO date>.json` with `date`, `machine` and `data`'s fields; returns its path. */
export function writeResults(prefix: string, startedAt: Date, data: Readonly<Record<string, unknown>>): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${prefix}${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  const machine = { cpus: cpus().length, model: cpus()[0]?.model, kernel: release(), node: process.version, clockTicksPerS: CLOCK_TICKS_PER_S };
  writeFileSync(file, `${JSON.stringify({ date: startedAt.toISOString(), machine, ...data }, null, 2)}\n`);
  return file;
}
