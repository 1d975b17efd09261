import type { SeededRandom } from '@traitlens/core';

/**
 * Bootstrap intervals, permutation tests, folds and random baseline vectors all draw from core's seeded
 * generator (mulberry32), so a seed reproduces every number in an analysis — also from Python:
 * tools/analysis/generate-statistics-references.py ports the same generator bit for bit.
 */
export { createSeededRandom, type SeededRandom } from '@traitlens/core';

/** Fisher-Yates shuffle in place (from the end, as the Python port does). */
export function shuffleInPlace<T>(
  values: T[] | Float64Array | Int32Array | Uint8Array,
  random: SeededRandom,
): void {
  for (let i = values.length - 1; i > 0; i--) {
    const j = random.nextInteger(i + 1);
    const held = values[i]!;
    values[i] = values[j]!;
    values[j] = held;
  }
}
