// Reads a process tree's CPU time and resident memory from /proc (Linux only): utime+stime from
// /proc/<pid>/stat, VmRSS from /proc/<pid>/status, summed over the process and its descendants.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Above this share of a core taken by other processes on the proxy's CPU, a run is flagged as noisy. */
export const NOISY_OTHER_LOAD_PCT = 10;

/** Clock ticks per second (`getconf CLK_TCK`; 100 on every mainstream Linux). */
export const CLOCK_TICKS_PER_S = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** The fields after the `(comm)` of /proc/<pid>/stat; comm may contain spaces and parentheses. */
function statFields(pid: number): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** CPU seconds (user + system) used so far by one process, from a /proc/<pid>/stat line. */
export function cpuSecondsFromStat(statLine: string, ticksPerS = CLOCK_TICKS_PER_S): number {
  const f = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ", field 3 (state) is index 0, so utime (14) and stime (15) are indexes 11 and 12.
  return (Number(f[11]) + Number(f[12])) / ticksPerS;
}

/** `pid` and every live descendant (nginx's master + worker; a shell wrapper and its child). */
export function processTree(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(Number(entry));
    if (f) parentOf.set(Number(entry), Number(f[1]));
  }
  if (!parentOf.has(pid)) return [];
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parentOf) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

export function treeCpuSeconds(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      total += cpuSecondsFromStat(readFileSync(`/proc/${p}/stat`, 'utf8'));
    } catch { /* exited between listing and reading */ }
  }
  return total;
}

/** VmRSS in bytes from a /proc/<pid>/status text (0 when absent, e.g. a zombie). */
export function rssBytesFromStatus(statusText: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(statusText);
  return m?.[1] ? Number(m[1]) * 1024 : 0;
}

export function treeRssBytes(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      total += rssBytesFromStatus(readFileSync(`/proc/${p}/status`, 'utf8'));
    } catch { /* exited */ }
  }
  return total;
}

/** CPU numbers of a taskset list such as "0", "2,3" or "0-3". */
export function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(',')) {
    const [from, to] = part.split('-').map(Number);
    if (from === undefined || !Number.isInteger(from)) continue;
    for (let c = from; c <= (to ?? from); c++) out.push(c);
  }
  return out;
}

/**
 * Busy seconds (everything but idle and iowait) of the given CPUs, from a /proc/stat text. The proxy's
 * CPU subtracted from its core's busy time is what other processes took: a noisy-run detector.
 */
export function cpuBusySecondsFromProcStat(procStat: string, cpus: readonly number[], ticksPerS = CLOCK_TICKS_PER_S): number {
  let busy = 0;
  for (const cpu of cpus) {
    const f = new RegExp(`^cpu${cpu} (.*)$`, 'm').exec(procStat)?.[1]?.trim().split(/\s+/).map(Number);
    if (!f) continue;
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
    busy += user + nice + system + irq + softirq + steal;
  }
  return busy / ticksPerS;
}

export function cpuBusySeconds(cpus: readonly number[]): number {
  return cpuBusySecondsFromProcStat(readFileSync('/proc/stat', 'utf8'), cpus);
}

export interface CpuDuring<T> {
  readonly result: T;
  /** CPU seconds of each process tree in `pids`, in order, while `work` ran. */
  readonly treeCpuS: readonly number[];
  /** Busy seconds of the CPUs in `cpus` meanwhile: minus the trees that run there, what others took. */
  readonly busyS: number;
}

/** Runs `work` and reports the CPU time the process trees `pids` and the CPUs `cpus` used meanwhile. */
export async function cpuDuring<T>(pids: readonly number[], cpus: readonly number[], work: () => Promise<T>): Promise<CpuDuring<T>> {
  const before = pids.map(treeCpuSeconds);
  const busy0 = cpuBusySeconds(cpus);
  const result = await work();
  return { result, treeCpuS: pids.map((pid, i) => treeCpuSeconds(pid) - before[i]!), busyS: cpuBusySeconds(cpus) - busy0 };
}
