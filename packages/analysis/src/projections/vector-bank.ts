import { type HookSite, TraitlensError, type TraitVectorSet } from '@traitlens/core';
import { isHookSite } from '@traitlens/core/internal';
import { createSeededRandom, type SeededRandom } from '../stats/seeded-random';

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
  /**
   * False for a bank described by capture projection files: the projections were taken during capture,
   * the directions themselves are not at hand (no cosine of mean differences, no consistency matrix).
   */
  hasDirections: boolean;
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
  layers?: readonly number[] | undefined;
  /** Random unit vectors per layer added as chance-level controls (default 0). */
  randomBaselines?: number | undefined;
  seed?: number | undefined;
}

/** Fails unless every entry has the width and hook site of the first; returns them. */
function checkOneModel(
  entries: readonly VectorBankEntry[],
  firstEntry: VectorBankEntry,
): { hiddenSize: number; site: HookSite } {
  const first = firstEntry.set.metadata;
  const hiddenSize = first.hiddenSize;
  const site = first.site;
  for (const entry of entries) {
    const meta = entry.set.metadata;
    const where = entry.source ?? `vectors of ${meta.trait}/${meta.method}`;
    if (meta.hiddenSize !== hiddenSize) {
      throw new TraitlensError(
        'MODEL_MISMATCH',
        `${where} has width ${meta.hiddenSize} but ${firstEntry.source ?? first.trait} has ${hiddenSize}; all vectors of one analysis must come from the same model.`,
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
  return { hiddenSize, site };
}

/** The requested layers (default: every layer some entry covers), ascending; each must be covered. */
function selectBankLayers(
  entries: readonly VectorBankEntry[],
  requested: readonly number[] | undefined,
): number[] {
  const available = new Set<number>();
  for (const entry of entries) for (const layer of entry.set.vectors.keys()) available.add(layer);
  const layers = requested ? [...requested].sort((a, b) => a - b) : [...available].sort((a, b) => a - b);
  for (const layer of layers) {
    if (!available.has(layer)) {
      throw new TraitlensError(
        'LAYER_OUT_OF_RANGE',
        `No vector covers layer ${layer}; the vectors cover layers ${[...available].sort((a, b) => a - b).join(', ')}.`,
        { details: { layer } },
      );
    }
  }
  return layers;
}

/** One bank vector per entry (ids `trait/method`, `#2`, `#3` when repeated), then the random controls. */
function bankVectors(entries: readonly VectorBankEntry[], randomCount: number): BankVector[] {
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
  for (let r = 0; r < randomCount; r++)
    vectors.push({ id: `random/${r}`, trait: 'random', method: 'random_baseline', isRandomBaseline: true });
  return vectors;
}

/** One layer of a bank: unit vectors (K x D), which vectors exist, their norms and baselines. */
interface BankLayer {
  unit: Float32Array;
  has: Uint8Array;
  norms: Float64Array;
  centres: Float64Array;
}

/** How the random controls are drawn: `count` rows of width `hiddenSize` from `random`, layer after layer. */
interface RandomControls {
  hiddenSize: number;
  count: number;
  random: SeededRandom;
}

/** One bank layer: the entries' normalised vectors (where present, non-zero), then new random controls. */
function createBankLayer(
  entries: readonly VectorBankEntry[],
  layer: number,
  controls: RandomControls,
): BankLayer {
  const { hiddenSize } = controls;
  const k = entries.length + controls.count;
  const bankLayer: BankLayer = {
    unit: new Float32Array(k * hiddenSize),
    has: new Uint8Array(k),
    norms: new Float64Array(k),
    centres: new Float64Array(k),
  };
  const { unit, has, norms, centres } = bankLayer;
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
  for (let r = 0; r < controls.count; r++) {
    const index = entries.length + r;
    let squares = 0;
    const row = unit.subarray(index * hiddenSize, (index + 1) * hiddenSize);
    for (let j = 0; j < hiddenSize; j++) {
      const value = controls.random.nextNormal();
      row[j] = value;
      squares += value * value;
    }
    const norm = Math.sqrt(squares);
    for (let j = 0; j < hiddenSize; j++) row[j] = row[j]! / norm;
    has[index] = 1;
    norms[index] = 1;
  }
  return bankLayer;
}

/** Collects vector sets into a bank; ids are `trait/method`, suffixed `#2`, `#3` when repeated. */
export function createVectorBank(
  entries: readonly VectorBankEntry[],
  options: VectorBankOptions = {},
): VectorBank {
  const firstEntry = entries[0];
  if (!firstEntry)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      'No trait vectors to project onto: pass at least one vector file.',
    );
  const { hiddenSize, site } = checkOneModel(entries, firstEntry);
  const layers = selectBankLayers(entries, options.layers);
  const randomCount = options.randomBaselines ?? 0;
  const vectors = bankVectors(entries, randomCount);
  const controls: RandomControls = {
    hiddenSize,
    count: randomCount,
    random: createSeededRandom(options.seed ?? 0),
  };
  const bankLayers = layers.map((layer) => createBankLayer(entries, layer, controls));
  return {
    vectors,
    layers,
    site,
    hiddenSize,
    unitVectors: bankLayers.map((bankLayer) => bankLayer.unit),
    present: bankLayers.map((bankLayer) => bankLayer.has),
    vectorNorms: bankLayers.map((bankLayer) => bankLayer.norms),
    baselines: bankLayers.map((bankLayer) => bankLayer.centres),
    hasDirections: true,
  };
}

/**
 * A bank described by the columns of capture projection files (`{site}.{L}` -> columns): the vectors
 * and layers the projections were taken for, with their baselines; `random_baseline` columns count as
 * random controls. Only `layers` (default all) and `traits`/`methods` (default all) are kept.
 */
export function createVectorBankFromProjectionColumns(
  columns: Record<
    string,
    { name: string; trait: string; method: string; norm?: number; baseline?: number }[]
  >,
  hiddenSize: number,
  options: {
    site?: HookSite | undefined;
    layers?: readonly number[] | undefined;
    traits?: readonly string[] | undefined;
    methods?: readonly string[] | undefined;
    source?: string | undefined;
  } = {},
): VectorBank {
  const points = Object.keys(columns).map((point) => {
    const dot = point.lastIndexOf('.');
    return { point, site: point.slice(0, dot), layer: Number(point.slice(dot + 1)) };
  });
  const sites = [...new Set(points.map((point) => point.site))];
  const site = options.site ?? sites[0];
  if (!site || !isHookSite(site) || (options.site === undefined && sites.length > 1)) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `${options.source ?? 'The projection files'} hold projections at sites ${sites.join(', ')}; analyse one site at a time.`,
      { details: { sites } },
    );
  }
  const available = points
    .filter((point) => point.site === site)
    .map((point) => point.layer)
    .sort((a, b) => a - b);
  const layers = options.layers ? [...options.layers].sort((a, b) => a - b) : available;
  for (const layer of layers) {
    if (!available.includes(layer))
      throw new TraitlensError(
        'LAYER_OUT_OF_RANGE',
        `No projections were captured at ${site}.${layer}; captured layers: ${available.join(', ')}.`,
        { details: { layer } },
      );
  }
  const keep = (column: { trait: string; method: string }) =>
    (!options.traits ||
      options.traits.some((trait) => trait === column.trait || column.trait.endsWith(`/${trait}`))) &&
    (!options.methods || options.methods.includes(column.method));
  const vectors: BankVector[] = [];
  const seen = new Set<string>();
  for (const layer of layers) {
    for (const column of columns[`${site}.${layer}`] ?? []) {
      const id = `${column.trait}/${column.method}`;
      if (seen.has(id) || !keep(column)) continue;
      seen.add(id);
      vectors.push({
        id,
        trait: column.trait,
        method: column.method,
        isRandomBaseline: column.method === 'random_baseline',
      });
    }
  }
  if (vectors.length === 0)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `${options.source ?? 'The projection files'} hold no projections for the requested traits and methods.`,
    );
  const present: Uint8Array[] = [];
  const vectorNorms: Float64Array[] = [];
  const baselines: Float64Array[] = [];
  for (const layer of layers) {
    const byId = new Map(
      (columns[`${site}.${layer}`] ?? []).map((column) => [`${column.trait}/${column.method}`, column]),
    );
    present.push(Uint8Array.from(vectors, (vector) => (byId.has(vector.id) ? 1 : 0)));
    vectorNorms.push(Float64Array.from(vectors, (vector) => byId.get(vector.id)?.norm ?? 1));
    baselines.push(Float64Array.from(vectors, (vector) => byId.get(vector.id)?.baseline ?? 0));
  }
  return {
    vectors,
    layers,
    site,
    hiddenSize,
    unitVectors: layers.map(() => new Float32Array(0)),
    present,
    vectorNorms,
    baselines,
    hasDirections: false,
  };
}
