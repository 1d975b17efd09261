import type { VectorBank } from '../projections/vector-bank';

export interface VectorConsistencyLayer {
  layer: number;
  vectorIds: string[];
  /** Row-major cosine matrix between the vectors present at this layer. */
  cosines: number[][];
}

/**
 * Cosine between every pair of (non-random) vectors at each layer: do vectors built in different ways
 * (methods, data sets, positions) point the same way?
 */
export function computeVectorConsistency(bank: VectorBank): VectorConsistencyLayer[] {
  // A bank read from capture projection files has no directions to compare.
  if (!bank.hasDirections) return [];
  const width = bank.hiddenSize;
  return bank.layers.map((layer, l) => {
    const indices = bank.vectors
      .map((vector, k) => (vector.isRandomBaseline || !bank.present[l]![k] ? -1 : k))
      .filter((k) => k >= 0);
    const unit = bank.unitVectors[l]!;
    const cosines = indices.map((i) =>
      indices.map((j) => {
        let sum = 0;
        for (let d = 0; d < width; d++) sum += unit[i * width + d]! * unit[j * width + d]!;
        return sum;
      }),
    );
    return { layer, vectorIds: indices.map((k) => bank.vectors[k]!.id), cosines };
  });
}
