/**
 * A small deterministic random source (mulberry32). Bootstrap intervals, permutation tests, folds and
 * random baseline vectors all draw from it, so a seed reproduces every number in an analysis — also from
 * Python: tools/analysis/generate-statistics-references.py ports the same generator bit for bit.
 */
export interface SeededRandom {
  /** Uniform in [0, 1). */
  nextFloat(): number;
  /** Uniform integer in [0, bound). */
  nextInteger(bound: number): number;
  /** Standard normal (Box-Muller). */
  nextGaussian(): number;
}

export function createSeededRandom(seed: number): SeededRandom {
  let state = seed >>> 0;
  let spareGaussian: number | undefined;
  const nextFloat = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    nextFloat,
    nextInteger(bound) {
      return Math.floor(nextFloat() * bound);
    },
    nextGaussian() {
      if (spareGaussian !== undefined) {
        const value = spareGaussian;
        spareGaussian = undefined;
        return value;
      }
      // 1 - u keeps the logarithm finite.
      const radius = Math.sqrt(-2 * Math.log(1 - nextFloat()));
      const angle = 2 * Math.PI * nextFloat();
      spareGaussian = radius * Math.sin(angle);
      return radius * Math.cos(angle);
    },
  };
}

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
