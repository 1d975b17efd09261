import { defineExtractionMethod } from './extraction-method';

/**
 * Contrastive activation addition (Rimsky et al. 2024): the mean over items of the activation with the
 * behaviour's answer minus with the other answer, kept at its raw scale (a CAA vector is added at
 * coefficient 1 as it is). Meant for A/B contrast sets whose activations are taken at the answer-letter
 * token (row i of `positive` and `negative` the same question); with equal counts the mean of paired
 * differences equals the difference of class means, which is what is computed.
 */
export const caaMethod = defineExtractionMethod<Record<string, never>>({
  id: 'caa',
  summary:
    'Contrastive activation addition: mean paired difference, raw scale (A/B answer-token activations).',
  normalisation: 'raw',
  defaultOptions: {},
  extract(_positive, _negative, _options, shared) {
    const positiveMean = shared.positiveMean();
    const negativeMean = shared.negativeMean();
    const vector = new Float32Array(positiveMean.length);
    let squares = 0;
    for (let i = 0; i < vector.length; i++) {
      const difference = positiveMean[i]! - negativeMean[i]!;
      vector[i] = difference;
      squares += difference * difference;
    }
    return { vector, details: { differenceNorm: Math.sqrt(squares) } };
  },
});
