import { type HookSite, TraitlensError, type TraitVectorSet } from '@traitlens/core';
import { createSeededRandom } from '../stats/seeded-random';

/** One direction the analysis projects onto: a trait vector (one method) or a random control. */
export interface BankVector {
  /** Unique within a bank: `trait/method`, or `random/<n>` for random baseline vectors. */
  id: string;
  trait: string;
  method: string;
  category?: string;
  /** The file the vector came from. */
  source?: string;
  /** Random unit vectors drawn as a chance-level control; never a trait. */
  isRandomBaseline: boolean;
}

/**
 * Many vectors over many layers, laid out for projection: per layer, one row of unit vectors per bank
 * vector (K x D, row-major) so a token's K projections share one pass over its activation row.
 */
export interface VectorBank {
  vectors: BankVector[];
  /** Every layer some vector covers, ascending; projections are computed at these layers. */
  layers: number[];
  site: HookSite;
  hiddenSize: number;
  /** Per layer position: K x D unit vectors (a zero row where a vector has no vector at that layer). */
  unitVectors: Float32Array[];
  /** Per layer position: 1 where vector k exists at that layer. */
  present: Uint8Array[];
  /** Per layer position: |v| of the stored vector (scalar projections are onto the unit vector). */
  vectorNorms: Float64Array[];
  /** Per layer position: the vector file's baseline (projection of the class-mean midpoint), else 0. */
  baselines: Float64Array[];
}

export interface VectorBankEntry {
  set: TraitVectorSet;
  /** Defaults to the set's metadata trait. */
  trait?: string;
  category?: string;
  source?: string;
}

export interface VectorBankOptions {
  /** Only these layers (default: every layer any vector has). */
  layers?: readonly number[];
  /** Random unit vectors per layer added as chance-level controls (default 0). */
  randomBaselines?: number;
  seed?: number;
}

/** Collects vector sets into a bank; ids are `trait/method`, suffixed `#2`, `#3` when repeated. */
export function createVectorBank(
  entries: readonly VectorBankEntry[],
  options: VectorBankOptions = {},
): VectorBank {
  if (entries.length === 0)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      'No trait vectors to project onto: pass at least one vector file.',
    );
  const first = entries[0]!.set.metadata;
  const hiddenSize = first.hiddenSize;
  const site = first.site;
  for (const entry of entries) {
    const meta = entry.set.metadata;
    const where = entry.source ?? `vectors of ${meta.trait}/${meta.method}`;
    if (meta.hiddenSize !== hiddenSize) {
      throw new TraitlensError(
        'MODEL_MISMATCH',
        `${where} has width ${meta.hiddenSize} but ${entries[0]!.source ?? first.trait} has ${hiddenSize}; all vectors of one analysis must come from the same model.`,
        { details: { file: entry.source, hiddenSize: meta.hiddenSize } },
      );
    }
    if (meta.site !== site) {
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `${where} was extracted at site ${meta.site} but others at ${site}; analyse vectors of one hook site at a time.`,
        { details: { file: entry.source, site: meta.site } },
      );
    }
  }
  const available = new Set<number>();
  for (const entry of entries) for (const layer of entry.set.vectors.keys()) available.add(layer);
  const layers = options.layers
    ? [...options.layers].sort((a, b) => a - b)
    : [...available].sort((a, b) => a - b);
  for (const layer of layers) {
    if (!available.has(layer)) {
      throw new TraitlensError(
        'LAYER_OUT_OF_RANGE',
        `No vector covers layer ${layer}; the vectors cover layers ${[...available].sort((a, b) => a - b).join(', ')}.`,
        { details: { layer } },
      );
    }
  }
  const vectors: BankVector[] = [];
  const seen = new Map<string, number>();
  for (const entry of entries) {
    const trait = entry.trait ?? entry.set.metadata.trait;
    const method = entry.set.metadata.method;
    const base = `${trait}/${method}`;
    const count = (seen.get(base) ?? 0) + 1;
    seen.set(base, count);
    const vector: BankVector = {
      id: count === 1 ? base : `${base}#${count}`,
      trait,
      method,
      isRandomBaseline: false,
    };
    if (entry.category !== undefined) vector.category = entry.category;
    if (entry.source !== undefined) vector.source = entry.source;
    vectors.push(vector);
  }
  const randomCount = options.randomBaselines ?? 0;
  for (let r = 0; r < randomCount; r++)
    vectors.push({ id: `random/${r}`, trait: 'random', method: 'random_baseline', isRandomBaseline: true });
  const k = vectors.length;
  const random = createSeededRandom(options.seed ?? 0);
  const unitVectors: Float32Array[] = [];
  const present: Uint8Array[] = [];
  const vectorNorms: Float64Array[] = [];
  const baselines: Float64Array[] = [];
  for (const layer of layers) {
    const unit = new Float32Array(k * hiddenSize);
    const has = new Uint8Array(k);
    const norms = new Float64Array(k);
    const centres = new Float64Array(k);
    entries.forEach((entry, index) => {
      const vector = entry.set.vectors.get(layer);
      if (!vector) return;
      let squares = 0;
      for (let j = 0; j < hiddenSize; j++) squares += vector[j]! * vector[j]!;
      const norm = Math.sqrt(squares);
      if (norm === 0) return;
      for (let j = 0; j < hiddenSize; j++) unit[index * hiddenSize + j] = vector[j]! / norm;
      has[index] = 1;
      norms[index] = norm;
      centres[index] = entry.set.metadata.baselines?.[layer] ?? 0;
    });
    for (let r = 0; r < randomCount; r++) {
      const index = entries.length + r;
      let squares = 0;
      const row = unit.subarray(index * hiddenSize, (index + 1) * hiddenSize);
      for (let j = 0; j < hiddenSize; j++) {
        const value = random.nextGaussian();
        row[j] = value;
        squares += value * value;
      }
      const norm = Math.sqrt(squares);
      for (let j = 0; j < hiddenSize; j++) row[j] = row[j]! / norm;
      has[index] = 1;
      norms[index] = 1;
    }
    unitVectors.push(unit);
    present.push(has);
    vectorNorms.push(norms);
    baselines.push(centres);
  }
  return { vectors, layers, site, hiddenSize, unitVectors, present, vectorNorms, baselines };
}
