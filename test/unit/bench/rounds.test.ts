// Tests bench/lib/rounds.ts: the variants' order per round, the noisy-run test, runs grouped per tool and
// variant, and the paired per-round ratios with their median.

import { describe, expect, it } from 'vitest';
import type { LoadTool } from '../../../bench/lib/load.ts';
import { byToolAndVariant, interleaved, isNoisy, median, noisyRunWarning, pairedRatios } from '../../../bench/lib/rounds.ts';

describe('interleaved and noisy runs', () => {
  it('runs the variants in order in odd rounds and reversed in even ones', () => {
    expect([1, 2, 3].map((round) => interleaved(['off', 'on'], round))).toEqual([['off', 'on'], ['on', 'off'], ['off', 'on']]);
  });

  it('warns when others took more than 10 % of the proxy CPUs', () => {
    expect(noisyRunWarning(1, 10, '0')).toBeUndefined();
    expect(noisyRunWarning(1.5, 10, '0')).toBe('  warning: other processes used 15% of CPU 0 during this run; its numbers are noisy');
  });
});

interface Run { variant: 'a' | 'b'; tool: LoadTool; round: number; otherCpuS: number; durationS: number; value?: number }
const run = (variant: 'a' | 'b', tool: LoadTool, round: number, value?: number, otherCpuS = 0): Run => ({ variant, tool, round, otherCpuS, durationS: 10, value });

describe('median', () => {
  it('takes the middle value, the mean of the two middle ones, and skips undefined and non-finite values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, undefined, 3, 2, NaN])).toBe(2.5);
    expect(median([])).toBeUndefined();
  });
});

describe('byToolAndVariant', () => {
  it('groups runs per tool in order of appearance, then per variant in the given order, leaving out empty groups', () => {
    const rows = [run('b', 'wrk', 1), run('a', 'autocannon', 1), run('b', 'autocannon', 1), run('b', 'wrk', 2)];
    expect(byToolAndVariant(rows, ['a', 'b'] as const).map((g) => [g.tool, g.variant, g.runs.map((r) => r.round)])).toEqual([
      ['wrk', 'b', [1, 2]], ['autocannon', 'a', [1]], ['autocannon', 'b', [1]],
    ]);
  });
});

describe('pairedRatios', () => {
  it('divides the second variant by the first per round of one tool, skips incomplete rounds, marks noisy ones, takes the median', () => {
    const rows = [
      run('a', 'autocannon', 1, 100), run('b', 'autocannon', 1, 110),
      run('b', 'autocannon', 2, 150, 3), run('a', 'autocannon', 2, 100),
      run('a', 'autocannon', 3, 100), run('b', 'autocannon', 3, 130),
      run('a', 'autocannon', 4, 100), run('a', 'wrk', 1, 1), run('b', 'wrk', 1, 9),
    ];
    const r = pairedRatios(rows, 'autocannon', ['a', 'b'] as const, (x) => x.value);
    expect(r.perRound.map((x) => [x.round, Number(x.ratio.toFixed(2)), x.noisy])).toEqual([[1, 1.1, false], [2, 1.5, true], [3, 1.3, false]]);
    expect(r.medianPerRound).toBeCloseTo(1.3);
    expect(isNoisy(rows[2]!)).toBe(true);
    expect(pairedRatios(rows, 'autocannon', ['a', 'b'] as const, () => undefined)).toEqual({ perRound: [] });
  });
});
