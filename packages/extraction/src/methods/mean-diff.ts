import { normalizeToUnitFloat32 } from '../numeric/unit-vector';
import { defineExtractionMethod } from './extraction-method';

/** mean(pos) - mean(neg), scaled to unit norm: the simplest direction and a strong baseline. */
export const meanDiffMethod = defineExtractionMethod<Record<string, never>>({
  id: 'mean_diff',
  summary: 'Difference of class means, unit norm.',
  normalisation: 'unit',
  defaultOptions: {},
  extract(_positive, _negative, _options, shared) {
    const positiveMean = shared.positiveMean();
    const negativeMean = shared.negativeMean();
    const difference = new Float64Array(positiveMean.length);
    for (let i = 0; i < difference.length; i++) difference[i] = positiveMean[i]! - negativeMean[i]!;
    const { vector, norm } = normalizeToUnitFloat32(difference);
    return { vector, details: { differenceNorm: norm } };
  },
});
