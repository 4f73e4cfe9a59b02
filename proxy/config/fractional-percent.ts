// envoy.type.v3.Percent, envoy.type.v3.FractionalPercent and envoy.config.core.v3.RuntimeFractionalPercent:
// their schemas and Envoy's per-request decision (ProtobufPercentHelper::evaluateFractionalPercent: random % denominator
// < numerator), drawn from the injected Random. Shared by every filter that takes a percentage.

import { z } from 'zod';
import type { Random } from '../common/clock.ts';
import { enumOf, message, uint32 } from './schema-kit.ts';

const DENOMINATORS = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 } as const;

/** envoy.type.v3.Percent: a double in [0, 100]. */
export const PercentSchema = message('envoy.type.v3.Percent', {
  value: z.number().min(0, 'a Percent is between 0 and 100').max(100, 'a Percent is between 0 and 100'),
});

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

/**
 * RuntimeFractionalPercent, parsed to its default_value. nodevoy has no runtime layer, so runtime_key is
 * accepted and never read: the decision is what Envoy makes when the key has no runtime override.
 */
export const RuntimeFractionalPercentSchema = message('envoy.config.core.v3.RuntimeFractionalPercent', {
  default_value: FractionalPercentSchema,
  runtime_key: z.string().optional(),
}).transform((r): FractionalPercent => r.default_value);

/**
 * One per-request decision: a uniform uint32 draw, `draw % denominator < numerator`. A numerator at or
 * above the denominator is always true; 0 is always false.
 */
export function evaluateFractionalPercent(percent: FractionalPercent, random: Random): boolean {
  return random.nextUint32() % percent.denominator < percent.numerator;
}
