// envoy.type.v3.FractionalPercent: its schema and Envoy's random decision (random % denominator <
// numerator, ProtobufPercentHelper::evaluateFractionalPercent). Knows nothing of faults.

import { z } from 'zod';
import { enumOf, message, uint32 } from '../../../config/schema-kit.ts';

const DENOMINATORS = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 } as const;

/** A FractionalPercent with its denominator as a number (100, 10000 or 1000000). */
export interface FractionalPercent {
  readonly numerator: number;
  readonly denominator: number;
}

/** An unset FractionalPercent is 0/100 (proto defaults: numerator 0, denominator HUNDRED). */
export const ZERO_PERCENT: FractionalPercent = Object.freeze({ numerator: 0, denominator: 100 });

export const FractionalPercentSchema = message('envoy.type.v3.FractionalPercent', {
  numerator: uint32.optional(),
  denominator: enumOf('envoy.type.v3.FractionalPercent.DenominatorType', ['HUNDRED', 'TEN_THOUSAND', 'MILLION']).optional(),
}).transform((p): FractionalPercent => Object.freeze({
  numerator: p.numerator ?? 0,
  denominator: DENOMINATORS[p.denominator ?? 'HUNDRED'],
}));

/** true when the draw falls under the percentage; a numerator above the denominator is always true. */
export function evaluateFractionalPercent(percent: FractionalPercent, random: number): boolean {
  return random % percent.denominator < percent.numerator;
}
