/** A reproducible stream of random numbers: the same seed gives the same values on every machine. */
export interface SeededRandom {
  /** Uniform in [0, 1). */
  nextUniform(): number;
  /** Standard normal (mean 0, standard deviation 1). */
  nextNormal(): number;
  /** Uniform integer in [0, bound). */
  nextInteger(bound: number): number;
}

/**
 * mulberry32 for uniforms and Box-Muller for normals. Math.random cannot be seeded; one small fixed
 * generator shared by every package keeps generated models, random baselines, bootstrap resamples and
 * sampling reproducible across runs and Node versions (and portable to the Python reference scripts).
 */
export function createSeededRandom(seed: number): SeededRandom {
  let state = seed >>> 0;
  let spareNormal: number | undefined;
  const nextUniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const nextNormal = (): number => {
    if (spareNormal !== undefined) {
      const value = spareNormal;
      spareNormal = undefined;
      return value;
    }
    // 1 - u lies in (0, 1], so the logarithm is finite.
    const radius = Math.sqrt(-2 * Math.log(1 - nextUniform()));
    const angle = 2 * Math.PI * nextUniform();
    spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
  return { nextUniform, nextNormal, nextInteger: (bound) => Math.floor(nextUniform() * bound) };
}
