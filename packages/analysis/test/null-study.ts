import type { TraitVectorSet } from '@traitlens/core';
import type { ProjectedActivations } from '../src/projections/project-activation-files';
import type { ProjectionSettings } from '../src/projections/projection-settings';
import { createRandomDirections } from '../src/projections/random-directions';
import { createVectorBank, type VectorBank } from '../src/projections/vector-bank';
import { createSeededRandom, type SeededRandom } from '../src/stats/seeded-random';

/**
 * An in-memory study of per-response activations (the mean over response tokens, as the analysis
 * aggregates them) built to fool naive statistics: prompts come in groups (biases) whose topic dominates
 * the activations at every layer, and the label rate differs between groups while nothing about the label
 * varies within a group; variant B = A + a shift along one direction per layer that moves every direction
 * (a LoRA that changes everything) + noise. Trait vectors (several methods per trait, similar across
 * neighbouring layers, as extracted vectors are) are unrelated to all of it unless `planted` adds
 * `effect` x the sd of B - A along one trait vector's direction at one layer. Projections are scalar
 * (h . v), for which the mean of per-token projections is the projection of the mean activation, so the
 * tables are exactly what analyzeExperiment computes from such activation files.
 */
export interface NullStudyOptions {
  seed: number;
  prompts?: number;
  layers?: number;
  hiddenSize?: number;
  traits?: number;
  methods?: number;
  groups?: number;
  randomDirections?: number;
  /** sd per dimension of B's shift along one random direction per layer (default 0.25; 0: B = A + noise). */
  shift?: number;
  planted?: { trait: number; layer: number; effect: number };
}

export interface NullStudy {
  bank: VectorBank;
  projected: ProjectedActivations;
  labels: Float64Array;
  groups: number[];
}

function normalVector(random: SeededRandom, width: number, scale = 1): Float64Array {
  return Float64Array.from({ length: width }, () => random.nextNormal() * scale);
}

function unit(vector: ArrayLike<number>): Float32Array {
  let squares = 0;
  for (let j = 0; j < vector.length; j++) squares += vector[j]! * vector[j]!;
  return Float32Array.from(vector, (value) => value / Math.sqrt(squares));
}

export function createNullStudy(options: NullStudyOptions): NullStudy {
  const prompts = options.prompts ?? 120;
  const layers = options.layers ?? 24;
  const width = options.hiddenSize ?? 32;
  const traitCount = options.traits ?? 10;
  const methods = options.methods ?? 2;
  const groupCount = options.groups ?? 6;
  const random = createSeededRandom(options.seed);
  // Anisotropic stream: a few dimensions carry most of the variance, as in real residual streams.
  const scales = Float64Array.from({ length: width }, (_, j) => (j < 4 ? 3 : 1));
  const groups = Array.from({ length: prompts }, (_, p) => 100 + (p % groupCount));
  const topics = Array.from({ length: groupCount }, () =>
    Array.from({ length: layers }, () => normalVector(random, width, 2)),
  );
  // Label rate per group from 0.2 to 0.8: the group predicts the label, nothing within a group does.
  const labels = Float64Array.from(groups, (group) => {
    const rate = 0.2 + (0.6 * (group - 100)) / Math.max(1, groupCount - 1);
    return random.nextUniform() < rate ? 1 : 0;
  });
  const sets: TraitVectorSet[] = [];
  const directions: Float32Array[][] = [];
  for (let t = 0; t < traitCount; t++) {
    const base = normalVector(random, width);
    for (let m = 0; m < methods; m++) {
      const methodBase = Float64Array.from(base, (value) => value + 0.5 * random.nextNormal());
      const perLayer: Float32Array[] = [];
      let drift = normalVector(random, width, 0.3);
      for (let l = 0; l < layers; l++) {
        drift = Float64Array.from(drift, (value) => 0.8 * value + 0.2 * random.nextNormal());
        perLayer.push(unit(Float64Array.from(methodBase, (value, j) => value + drift[j]!)));
      }
      directions.push(perLayer);
      sets.push({
        metadata: {
          trait: `trait${t}`,
          method: `method${m}`,
          model: 'synthetic',
          site: 'resid_post',
          tokenWindow: 'response[:]',
          normalisation: 'unit',
          hiddenSize: width,
        },
        vectors: new Map(perLayer.map((vector, l) => [l, vector])),
      });
    }
  }
  const bank = createVectorBank(
    sets.map((set) => ({ set })),
    { randomBaselines: 4, seed: options.seed },
  );
  const shifts = Array.from({ length: layers }, () => normalVector(random, width, options.shift ?? 0.25));
  const activationsA: Float64Array[][] = [];
  const activationsB: Float64Array[][] = [];
  for (let p = 0; p < prompts; p++) {
    const persistent = normalVector(random, width);
    const rowA: Float64Array[] = [];
    const rowB: Float64Array[] = [];
    for (let l = 0; l < layers; l++) {
      const topic = topics[groups[p]! - 100]![l]!;
      const a = new Float64Array(width);
      const b = new Float64Array(width);
      const shift = shifts[l]!;
      for (let j = 0; j < width; j++) {
        a[j] = scales[j]! * (0.8 * persistent[j]! + 0.6 * random.nextNormal()) + topic[j]!;
        b[j] = a[j]! + shift[j]! + 0.3 * random.nextNormal();
      }
      rowA.push(a);
      rowB.push(b);
    }
    activationsA.push(rowA);
    activationsB.push(rowB);
  }
  if (options.planted) {
    // The sd of B - A along any unit direction is 0.3: effect x 0.3 along the trait's first method.
    const { trait, layer, effect } = options.planted;
    const direction = directions[trait * methods]![layer]!;
    for (let p = 0; p < prompts; p++)
      for (let j = 0; j < width; j++) activationsB[p]![layer]![j]! += effect * 0.3 * direction[j]!;
  }
  const vectorCount = bank.vectors.length;
  const bankUnits = bank.unitVectors.map((units) => Float64Array.from(units));
  const project = (activations: Float64Array[][]) => {
    const values = new Float64Array(prompts * layers * vectorCount);
    for (let p = 0; p < prompts; p++)
      for (let l = 0; l < layers; l++) {
        const h = activations[p]![l]!;
        const units = bankUnits[l]!;
        for (let k = 0; k < vectorCount; k++) {
          let dot = 0;
          for (let j = 0; j < width; j++) dot += h[j]! * units[k * width + j]!;
          values[(p * layers + l) * vectorCount + k] = dot;
        }
      }
    return values;
  };
  const count = options.randomDirections ?? 1000;
  const random_ = createRandomDirections({ count, hiddenSize: width, layers, seed: options.seed });
  const projectRandom = (activations: Float64Array[][]) => {
    const values = new Float32Array(prompts * layers * count);
    const mapped = new Float64Array(width);
    const units = Float64Array.from(random_.unitVectors);
    for (let p = 0; p < prompts; p++)
      for (let l = 0; l < layers; l++) {
        const { permutation, signs } = random_.layerMaps[l]!;
        const h = activations[p]![l]!;
        for (let j = 0; j < width; j++) mapped[j] = signs[j]! * h[permutation[j]!]!;
        const offset = (p * layers + l) * count;
        for (let r = 0; r < count; r++) {
          let dot = 0;
          const base = r * width;
          for (let j = 0; j < width; j++) dot += mapped[j]! * units[base + j]!;
          values[offset + r] = dot;
        }
      }
    return values;
  };
  const settings: ProjectionSettings = {
    measure: 'scalar',
    centred: false,
    aggregation: { kind: 'mean' },
    part: 'response',
  };
  const table = (variant: string, values: Float64Array) => ({
    variant,
    promptIds: Array.from({ length: prompts }, (_, p) => String(p)),
    layers: bank.layers,
    vectorIds: bank.vectors.map((vector) => vector.id),
    settings,
    values,
    tokenCounts: new Int32Array(prompts).fill(1),
  });
  return {
    bank,
    projected: {
      a: table('clean', project(activationsA)),
      b: table('lora', project(activationsB)),
      paired: new Uint8Array(prompts).fill(1),
      tokens: new Map(),
      random: { count, seed: options.seed, a: projectRandom(activationsA), b: projectRandom(activationsB) },
    },
    labels,
    groups,
  };
}
