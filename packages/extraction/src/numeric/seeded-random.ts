import { createSeededRandom } from '@traitlens/core';

export { createSeededRandom, type SeededRandom } from '@traitlens/core';

/** A vector of independent standard normals times `scale`. */
export function createRandomNormalVector(length: number, seed: number, scale = 1): Float64Array {
  const random = createSeededRandom(seed);
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = random.nextNormal() * scale;
  return out;
}
