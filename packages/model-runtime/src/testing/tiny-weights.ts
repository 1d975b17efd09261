import { createSeededRandom, hashStringToSeed } from './seeded-random';

/** The shapes a tiny model's weights are generated for. */
export interface TinyWeightShape {
  hiddenSize: number;
  intermediateSize: number;
  layerCount: number;
  headCount: number;
  kvHeadCount: number;
  headDim: number;
  vocabSize: number;
  tieWordEmbeddings: boolean;
  /** Qwen2: biases on q/k/v. */
  attentionBias: boolean;
  /** Qwen3: per-head RMSNorm weights for q and k. */
  qkNorm: boolean;
}

export interface TinyTensor {
  name: string;
  shape: number[];
  values: Float32Array;
}

type Initialiser = { kind: 'normal'; std: number } | { kind: 'around-one'; std: number };

function generateValues(
  name: string,
  elements: number,
  seed: number,
  initialiser: Initialiser,
): Float32Array {
  // A stream per tensor name, so adding a tensor (or a layer) never shifts the values of the others.
  const random = createSeededRandom(hashStringToSeed(name, seed));
  const values = new Float32Array(elements);
  const offset = initialiser.kind === 'around-one' ? 1 : 0;
  for (let index = 0; index < elements; index++)
    values[index] = offset + initialiser.std * random.nextNormal();
  return values;
}

/**
 * Every tensor of the model under its Hugging Face name, in checkpoint order. Scales are chosen so
 * activations stay O(1) through the blocks and logits spread over a few units: projections use
 * 1/sqrt(fan_in) (output projections half that, so the residual grows slowly), norms are 1 +- 0.1.
 */
export function createTinyWeights(shape: TinyWeightShape, seed: number): TinyTensor[] {
  const { hiddenSize: d, intermediateSize: ff, headDim, vocabSize } = shape;
  const qWidth = shape.headCount * headDim;
  const kvWidth = shape.kvHeadCount * headDim;
  const tensors: TinyTensor[] = [];
  const add = (name: string, dims: number[], initialiser: Initialiser) => {
    const elements = dims.reduce((a, b) => a * b, 1);
    tensors.push({ name, shape: dims, values: generateValues(name, elements, seed, initialiser) });
  };
  const linear = (name: string, outFeatures: number, inFeatures: number, gain = 1) =>
    add(name, [outFeatures, inFeatures], { kind: 'normal', std: gain / Math.sqrt(inFeatures) });
  const norm = (name: string, size: number) => add(name, [size], { kind: 'around-one', std: 0.1 });

  // Tied: logits are the final state against the same embeddings, so a large embedding makes every
  // position predict its own input token; a small one lets the blocks' outputs decide.
  add('model.embed_tokens.weight', [vocabSize, d], {
    kind: 'normal',
    std: shape.tieWordEmbeddings ? 0.1 : 0.5,
  });
  for (let layer = 0; layer < shape.layerCount; layer++) {
    const prefix = `model.layers.${layer}`;
    norm(`${prefix}.input_layernorm.weight`, d);
    linear(`${prefix}.self_attn.q_proj.weight`, qWidth, d);
    linear(`${prefix}.self_attn.k_proj.weight`, kvWidth, d);
    linear(`${prefix}.self_attn.v_proj.weight`, kvWidth, d);
    if (shape.attentionBias) {
      add(`${prefix}.self_attn.q_proj.bias`, [qWidth], { kind: 'normal', std: 0.1 });
      add(`${prefix}.self_attn.k_proj.bias`, [kvWidth], { kind: 'normal', std: 0.1 });
      add(`${prefix}.self_attn.v_proj.bias`, [kvWidth], { kind: 'normal', std: 0.1 });
    }
    if (shape.qkNorm) {
      norm(`${prefix}.self_attn.q_norm.weight`, headDim);
      norm(`${prefix}.self_attn.k_norm.weight`, headDim);
    }
    linear(`${prefix}.self_attn.o_proj.weight`, d, qWidth, 0.5);
    norm(`${prefix}.post_attention_layernorm.weight`, d);
    linear(`${prefix}.mlp.gate_proj.weight`, ff, d);
    linear(`${prefix}.mlp.up_proj.weight`, ff, d);
    linear(`${prefix}.mlp.down_proj.weight`, d, ff, 0.5);
  }
  norm('model.norm.weight', d);
  if (!shape.tieWordEmbeddings) linear('lm_head.weight', vocabSize, d, 2);
  return tensors;
}
