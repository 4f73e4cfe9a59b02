// envoy.config.core.v3.RuntimeFractionalPercent (filter_enabled / filter_enforced): schema and the
// per-request decision. nodevoy has no runtime layer, so runtime_key is accepted and never read: the
// decision always uses default_value (what Envoy does when the runtime key has no override).

import { z } from 'zod';
import { enumOf, message, uint32 } from '../../../config/schema-kit.ts';
import type { Random } from '../../../common/clock.ts';

const DENOMINATORS = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 } as const;

export const FractionalPercentSchema = message('envoy.type.v3.FractionalPercent', {
  numerator: uint32.optional(),
  denominator: enumOf('envoy.type.v3.FractionalPercent.DenominatorType', ['HUNDRED', 'TEN_THOUSAND', 'MILLION']).optional(),
});

export const RuntimeFractionalPercentSchema = message('envoy.config.core.v3.RuntimeFractionalPercent', {
  default_value: FractionalPercentSchema,
  runtime_key: z.string().optional(),
});

export type RuntimeFractionalPercentWire = z.output<typeof RuntimeFractionalPercentSchema>;

/** A fraction of requests, decided per request with the injected Random. */
export interface Fraction {
  sample(random: Random): boolean;
}

const NEVER: Fraction = { sample: () => false };
const ALWAYS: Fraction = { sample: () => true };

/**
 * Envoy's ProtobufPercentHelper::evaluateFractionalPercent: a uniform draw in [0, denominator) below
 * the numerator. An absent field means 0 % (LocalRateLimit.filter_enabled / filter_enforced).
 * 0 % and ≥ 100 % need no draw.
 */
export function compileFraction(wire: RuntimeFractionalPercentWire | undefined): Fraction {
  if (wire === undefined) return NEVER;
  const numerator = wire.default_value.numerator ?? 0;
  const denominator = DENOMINATORS[wire.default_value.denominator ?? 'HUNDRED'];
  if (numerator === 0) return NEVER;
  if (numerator >= denominator) return ALWAYS;
  return { sample: (random) => Math.floor(random.next() * denominator) < numerator };
}
