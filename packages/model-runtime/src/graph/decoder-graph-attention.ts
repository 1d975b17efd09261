import type { DecoderGraphBase } from './decoder-graph-base';
import { OnnxType } from './onnx-graph-builder';

/** The graph inputs the attention reads besides the layer's own values. */
export interface AttentionInputs {
  inputIds: string;
  /** [B,S,hd/2] float32, cos and sin of each token's rotary angles. */
  rotaryCos: string;
  rotarySin: string;
  /** The additive mask, in compute type. */
  attentionBias: string;
  /** [B, S] as a shape. */
  batchBySequence: string;
}

/** Shape and split constants every layer shares (declared once, before the first layer). */
export interface LayerConstants {
  halfSplit: string;
  qkvSplit: string;
  ffnSplit: string;
  qShape: string;
  kShape: string;
  groupedShape: string;
  scoresShape: string;
  groupedScoresShape: string;
  headsShape: string;
  mergedShape: string;
  scale: string;
}

/** A layer's past cache inputs and its own keys and values. */
export interface LayerCache {
  pastKey: string;
  pastValue: string;
  key: string;
  value: string;
}

/** value [B,S,heads,hd] rotated by each token's angles, as [B,heads,S,hd]. */
export type RotateToHeadsFirst = (value: string) => string;
/** The attention context of a layer's grouped queries [B,kvH,G*S,hd] over the cache and its own keys. */
export type Attend = (layer: number, grouped: string, cache: LayerCache) => string;

export function declareLayerConstants(base: DecoderGraphBase, batchBySequence: string): LayerConstants {
  const { g, config, computeType } = base;
  const { headCount: h, kvHeadCount: kv, headDim: hd } = config;
  const qSize = h * hd;
  const kvSize = kv * hd;
  return {
    halfSplit: g.constant('half_split', [hd / 2, hd / 2]),
    qkvSplit: g.constant('qkv_split', [qSize, kvSize, kvSize]),
    ffnSplit: g.constant('ffn_split', [config.intermediateSize, config.intermediateSize]),
    qShape: g.op('Concat', [batchBySequence, g.constant('q_heads', [h, hd])], { axis: 0 }),
    kShape: g.op('Concat', [batchBySequence, g.constant('kv_heads', [kv, hd])], { axis: 0 }),
    groupedShape: g.constant('grouped_shape', [0, kv, -1, hd]),
    scoresShape: g.constant('scores_shape', [0, h, -1, 0]),
    groupedScoresShape: g.constant('grouped_scores_shape', [0, kv, -1, 0]),
    headsShape: g.constant('heads_shape', [0, h, -1, hd]),
    mergedShape: g.constant('merged_shape', [-1, qSize]),
    scale: g.constant('attention_scale', [1 / Math.sqrt(hd)], computeType, []),
  };
}

const headsFirst = { perm: [0, 2, 1, 3] };

/**
 * Rotary embedding. cos/sin of the rotary angles come from the caller, computed in float64 for the
 * positions in use: in-graph Sin/Cos of unreduced angles pos*inv_freq lose up to 1e-2 on GPUs at long
 * positions, and no table sized by max_position_embeddings (131k for Llama 3.1) is stored. The tables
 * are declared at their first use.
 */
export function createRotary(
  base: DecoderGraphBase,
  inputs: AttentionInputs,
  halfSplit: string,
): RotateToHeadsFirst {
  const { g } = base;
  const hd = base.config.headDim;
  // [B,S,hd/2] -> [B,S,1,hd].
  let cosAndSin: { cos: string; sin: string } | undefined;
  const gatheredTables = () => {
    const headAxis = g.constant('head_axis', [2]);
    const table = (value: string, hint: string) =>
      base.toCompute(
        g.op('Unsqueeze', [g.op('Concat', [value, value], { axis: -1 }), headAxis], undefined, { hint }),
      );
    cosAndSin ??= { cos: table(inputs.rotaryCos, 'cos'), sin: table(inputs.rotarySin, 'sin') };
    return cosAndSin;
  };
  const rotateWithStandardOps = (value: string): string => {
    // value [B,S,heads,hd]: x*cos + rotate_half(x)*sin, rotate_half(x) = cat(-x2, x1).
    const [x1, x2] = g.node('Split', [value, halfSplit], { outputs: 2, attributes: { axis: -1 } }) as [
      string,
      string,
    ];
    const rotated = g.op('Concat', [g.op('Neg', [x2]), x1], { axis: -1 });
    return g.op('Add', [
      g.op('Mul', [value, gatheredTables().cos]),
      g.op('Mul', [rotated, gatheredTables().sin]),
    ]);
  };
  // The fused kernel looks each token's row up in [B*S, hd/2] tables by position id b*S + s, so the
  // tables of this run (not a max_position_embeddings cache) serve as its cache.
  let fusedInputs: { positions: string; cos: string; sin: string } | undefined;
  const rotateFused = (value: string): string => {
    fusedInputs ??= {
      positions: g.op(
        'Reshape',
        [
          g.op('Range', [
            g.constant('zero', [0], OnnxType.int64, []),
            g.op('Size', [inputs.inputIds]),
            g.constant('one', [1], OnnxType.int64, []),
          ]),
          inputs.batchBySequence,
        ],
        undefined,
        { hint: 'rotary_positions' },
      ),
      cos: base.toCompute(g.op('Reshape', [inputs.rotaryCos, g.constant('table_shape', [-1, hd / 2])])),
      sin: base.toCompute(g.op('Reshape', [inputs.rotarySin, g.constant('table_shape', [-1, hd / 2])])),
    };
    const { positions, cos, sin } = fusedInputs;
    // value [B,heads,S,hd]: the kernel's 4-D layout, so no reshapes around it.
    return g.op(
      'RotaryEmbedding',
      [value, positions, cos, sin],
      { interleaved: 0 },
      { domain: 'com.microsoft' },
    );
  };
  return (value) =>
    base.options.fusedRotary
      ? rotateFused(g.op('Transpose', [value], headsFirst))
      : g.op('Transpose', [rotateWithStandardOps(value)], headsFirst);
}

const keyTranspose = { perm: [0, 1, 3, 2] };

/** Attention over the key/value cache in the layout the options ask for (`kvCache`, default `concat`). */
export function createAttention(
  base: DecoderGraphBase,
  constants: LayerConstants,
  attentionBias: string,
): Attend {
  const { g, computeType } = base;
  const { kvHeadCount: kv, headDim: hd } = base.config;
  /** softmax(scores + attention_bias) over the key axis, grouped back to [B,kvH,G*S,T]. */
  const attentionProbabilities = (scores: string): string => {
    const masked = g.op('Add', [g.op('Reshape', [scores, constants.scoresShape]), attentionBias]);
    return g.op('Reshape', [g.op('Softmax', [masked], { axis: -1 }), constants.groupedScoresShape]);
  };
  /** Attention over Concat(past, new), which is also the layer's `present_*` output. */
  const attendOverConcatenation: Attend = (layer, grouped, cache) => {
    const presentKey = g.op('Concat', [cache.pastKey, cache.key], { axis: 2 });
    const presentValue = g.op('Concat', [cache.pastValue, cache.value], { axis: 2 });
    g.output(presentKey, `present_key.${layer}`, computeType, ['batch', kv, 'total_sequence', hd]);
    g.output(presentValue, `present_value.${layer}`, computeType, ['batch', kv, 'total_sequence', hd]);
    const scores = g.op('MatMul', [grouped, g.op('Transpose', [presentKey], keyTranspose)], undefined, {
      hint: `scores_${layer}`,
    });
    return g.op('MatMul', [attentionProbabilities(scores), presentValue]);
  };
  let pastAndNew: string | undefined;
  /** [P, S]: the past slots and the new tokens along the key axis (the same at every layer). */
  const pastAndNewSplit = (cache: LayerCache): string => {
    const slotAxis = { start: 2, end: 3 };
    pastAndNew ??= g.op(
      'Concat',
      [g.op('Shape', [cache.pastKey], slotAxis), g.op('Shape', [cache.key], slotAxis)],
      { axis: 0 },
      { hint: 'past_and_new' },
    );
    return pastAndNew;
  };
  /**
   * Attention over the caller's buffer and the run's own keys without joining them: scores against
   * both are concatenated (G*S*(P+S) values, not the P*hd cache), the probabilities split again, and
   * the two value products added. The buffer is only read.
   */
  const attendOverBuffer: Attend = (layer, grouped, cache) => {
    g.output(cache.key, `new_key.${layer}`, computeType, ['batch', kv, 'sequence', hd]);
    g.output(cache.value, `new_value.${layer}`, computeType, ['batch', kv, 'sequence', hd]);
    const pastScores = g.op('MatMul', [grouped, g.op('Transpose', [cache.pastKey], keyTranspose)]);
    const newScores = g.op('MatMul', [grouped, g.op('Transpose', [cache.key], keyTranspose)]);
    const scores = g.op('Concat', [pastScores, newScores], { axis: -1 }, { hint: `scores_${layer}` });
    const [pastProbabilities, newProbabilities] = g.node(
      'Split',
      [attentionProbabilities(scores), pastAndNewSplit(cache)],
      { outputs: 2, attributes: { axis: -1 } },
    ) as [string, string];
    return g.op('Add', [
      g.op('MatMul', [pastProbabilities, cache.pastValue]),
      g.op('MatMul', [newProbabilities, cache.value]),
    ]);
  };
  return (base.options.kvCache ?? 'concat') === 'buffer' ? attendOverBuffer : attendOverConcatenation;
}

/**
 * A layer's self-attention from its normed input [B*S, D] to the merged heads [B*S, h*hd], before the
 * output projection: q/k/v, q/k norms, rotary, the cache inputs, grouped attention.
 */
export function selfAttention(
  parts: {
    base: DecoderGraphBase;
    constants: LayerConstants;
    rotate: RotateToHeadsFirst;
    attend: Attend;
  },
  qkv: string,
  layer: number,
): string {
  const { base, constants, rotate, attend } = parts;
  const { g, computeType } = base;
  const { kvHeadCount: kv, headDim: hd } = base.config;
  const p = `layers.${layer}`;
  const [qFlat, kFlat, vFlat] = g.node('Split', [qkv, constants.qkvSplit], {
    outputs: 3,
    attributes: { axis: -1 },
    hint: `qkv_split_${layer}`,
  }) as [string, string, string];
  let q = g.op('Reshape', [qFlat, constants.qShape]);
  let k = g.op('Reshape', [kFlat, constants.kShape]);
  if (base.hasWeight(`${p}.q_norm`)) {
    q = base.rmsNorm(q, base.weight(`${p}.q_norm`), `q_norm_${layer}`);
    k = base.rmsNorm(k, base.weight(`${p}.k_norm`), `k_norm_${layer}`);
  }
  q = rotate(q);
  k = rotate(k);
  const v = g.op('Transpose', [g.op('Reshape', [vFlat, constants.kShape])], headsFirst);
  const pastKey = g.input(`past_key.${layer}`, computeType, ['batch', kv, 'past_sequence', hd]);
  const pastValue = g.input(`past_value.${layer}`, computeType, ['batch', kv, 'past_sequence', hd]);
  // Query heads that share a key/value head are stacked along the sequence axis, so one batched
  // MatMul per KV head serves the whole group without materialising repeated keys.
  const grouped = g.op('Reshape', [g.op('Mul', [q, constants.scale]), constants.groupedShape]);
  const context = attend(layer, grouped, { pastKey, pastValue, key: k, value: v });
  return g.op('Reshape', [
    g.op('Transpose', [g.op('Reshape', [context, constants.headsShape])], headsFirst),
    constants.mergedShape,
  ]);
}
