import { createRandomNormalVector } from '../numeric/seeded-random';
import { normalizeToUnitFloat32 } from '../numeric/unit-vector';
import { defineExtractionMethod } from './extraction-method';

export interface RandomBaselineOptions {
  seed: number;
}

/**
 * A seeded random unit vector, ignoring the data: the sanity floor every real method must beat
 * (~50% validation accuracy). Its sign is deliberately not aligned, or it would look better than chance.
 */
export const randomBaselineMethod = defineExtractionMethod<RandomBaselineOptions>({
  id: 'random_baseline',
  summary: 'Seeded random unit vector: the ~50% sanity floor.',
  normalisation: 'unit',
  defaultOptions: { seed: 0 },
  extract(positive, _negative, options) {
    const { vector } = normalizeToUnitFloat32(createRandomNormalVector(positive.columns, options.seed));
    return { vector, details: { seed: options.seed } };
  },
});
