// The shared envoy.type.v3.FractionalPercent / RuntimeFractionalPercent schemas (defaults, denominators,
// errors with paths) and Envoy's decision `draw % denominator < numerator` on the injected Random.

import { describe, expect, it } from 'vitest';
import type { Random } from '../../../proxy/common/clock.ts';
import {
  FractionalPercentSchema, RuntimeFractionalPercentSchema, ZERO_PERCENT, evaluateFractionalPercent,
} from '../../../proxy/config/fractional-percent.ts';
import { parseWith } from '../../../proxy/config/schema-kit.ts';

/** A Random whose every nextUint32() is `value`. */
const fixed = (value: number): Random => ({ next: () => value / 0x1_0000_0000, nextUint32: () => value });

describe('FractionalPercentSchema', () => {
  it.each([
    ['empty: 0/HUNDRED', {}, { numerator: 0, denominator: 100 }],
    ['numerator only', { numerator: 25 }, { numerator: 25, denominator: 100 }],
    ['TEN_THOUSAND', { numerator: 5, denominator: 'TEN_THOUSAND' }, { numerator: 5, denominator: 10_000 }],
    ['MILLION', { numerator: 1, denominator: 'MILLION' }, { numerator: 1, denominator: 1_000_000 }],
    ['denominator by number (2 = MILLION)', { numerator: 1, denominator: 2 }, { numerator: 1, denominator: 1_000_000 }],
    ['numerator as a string', { numerator: '7' }, { numerator: 7, denominator: 100 }],
  ])('%s', (_what, input, want) => {
    expect(parseWith(FractionalPercentSchema, input)).toEqual({ ok: true, value: want });
  });

  it.each([
    ['unknown denominator', { numerator: 1, denominator: 'THOUSAND' }, 'p.denominator', 'invalid'],
    ['negative numerator', { numerator: -1 }, 'p.numerator', 'invalid'],
    ['unknown field', { numerator: 1, percent: 2 }, 'p.percent', 'unknown-field'],
  ])('rejects %s at its path', (_what, input, path, kind) => {
    const r = parseWith(FractionalPercentSchema, input, 'p');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => ({ path: e.path, kind: e.kind }))).toEqual([{ path, kind }]);
  });
});

describe('RuntimeFractionalPercentSchema', () => {
  it('parses to its default_value (runtime_key accepted, camelCase too)', () => {
    expect(parseWith(RuntimeFractionalPercentSchema, { runtimeKey: 'k', defaultValue: { numerator: 30 } }))
      .toEqual({ ok: true, value: { numerator: 30, denominator: 100 } });
  });

  it('requires default_value', () => {
    const r = parseWith(RuntimeFractionalPercentSchema, { runtime_key: 'k' }, 'f');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => e.path)).toEqual(['f.default_value']);
  });
});

describe('evaluateFractionalPercent', () => {
  it.each([
    // [numerator, denominator, uint32 draw, result]
    [50, 100, 49, true],
    [50, 100, 50, false],
    [50, 100, 149, true],
    [50, 100, 0xffff_ffff, false], // 4294967295 % 100 = 95
    [5, 10_000, 10_004, true],
    [1, 1_000_000, 1_000_000, true],
    [1, 1_000_000, 1, false],
    [150, 100, 99, true],
    [0, 100, 0, false],
  ])('%i/%i with draw %i → %s', (numerator, denominator, draw, want) => {
    expect(evaluateFractionalPercent({ numerator, denominator }, fixed(draw))).toBe(want);
  });

  it('ZERO_PERCENT never fires', () => {
    expect(evaluateFractionalPercent(ZERO_PERCENT, fixed(0))).toBe(false);
  });
});
