import { formatHookPoint, type HookPoint, type HookSite, hookSites } from '@traitlens/core';
import {
  type HookPlan,
  projectionNames,
  type SteeringMode,
  steeringInputNames,
  steeringSiteIndex,
  steeringSlotNames,
} from '../hooks/hook-plan';
import type { ModelConfig } from '../model/model-types';
import type { StoredWeight, WeightManifest } from '../weights/weight-manifest';
import { OnnxGraphBuilder, OnnxType } from './onnx-graph-builder';

/** Bumped whenever the graph layout changes, so cached graphs are rebuilt (the weights are not). */
export const decoderGraphVersion = 10;

/**
 * How the graph hands over the key/value cache (docs/decisions/0019).
 * - `buffer`: `past_key/value.{l}` [B,kvH,C,hd] is a host buffer of C slots that the caller owns and
 *   masks with `attention_bias`; the graph reads it in place and returns only the run's own keys and
 *   values, `new_key/value.{l}` [B,kvH,S,hd], which the caller writes into the buffer. No step copies
 *   the cache.
 * - `concat`: `present_key/value.{l}` [B,kvH,P+S,hd] = Concat(past, new), fed back as the next past.
 *   Used where the cache stays on a device (WebGPU), since the host cannot write into device memory.
 */
export type KvCacheLayout = 'buffer' | 'concat';

/** Build options that depend on the execution provider rather than on the model. */
export interface DecoderGraphOptions {
  /** MatMulNBits accuracy level: 4 (int8 compute) on CPU, 0 elsewhere. */
  accuracyLevel: number;
  /**
   * Steering at every hook site of every layer (an `ablate` then an `add` each, read from slot tables
   * fed per run: see `steeringSlotNames`) instead of only at the plan's steered points. One graph (one
   * session, one copy of the weights on a GPU) then serves every steering plan; the plan's `steer`
   * entries are ignored.
   */
  steerEverySite?: boolean;
  /** How the key/value cache crosses the graph boundary (default `concat`). */
  kvCache?: KvCacheLayout;
  /**
   * Rotary embedding as one com.microsoft `RotaryEmbedding` node per q/k (the CPU provider's kernel,
   * fed the same float64-computed tables) instead of six standard ops (default false).
   */
  fusedRotary?: boolean;
}

/**
 * Graph inputs: input_ids [B,S], rotary_cos/rotary_sin [B,S,hd/2] (cos and sin of each token's rotary
 * angles, computed in float64 by the caller: see rotary-tables.ts), attention_bias [B,1,S,T] (additive:
 * 0 or -inf, T = P + S: the P past slots, then the S new tokens), past_key.{l}/past_value.{l}
 * [B,kvH,P,hd], logit_indices [K] (flat row-major indices into B*S choosing which positions get logits),
 * plus steering inputs of the plan.
 * Outputs: logits [K,V], next_token [K] (greedy choice, lowest id on ties) and next_logprob [K] (its
 * log-probability), the cache (`kvCache`: new_key.{l}/new_value.{l} [B,kvH,S,hd], or
 * present_key.{l}/present_value.{l} [B,kvH,T,hd]), and `{site}.{layer}` [B*S,D] for each captured
 * point. Only fetched outputs leave the device.
 */
export function buildDecoderGraph(
  config: ModelConfig,
  manifest: WeightManifest,
  plan: HookPlan,
  options: DecoderGraphOptions = { accuracyLevel: 4 },
): Uint8Array {
  const g = new OnnxGraphBuilder(manifest.dataFile);
  const f32 = OnnxType.float32;
  const weightType = manifest.dtype === 'float16' ? OnnxType.float16 : OnnxType.float32;
  // fp16 weights compute in fp16 end to end (GPU); the graph's float inputs and outputs stay float32 so
  // the JS side is the same for every dtype, except the key/value cache, which stays in compute type.
  const computeType = weightType;
  const toCompute = (value: string) =>
    computeType === f32 ? value : g.op('Cast', [value], { to: computeType });
  const toFloat32 = (value: string) => (computeType === f32 ? value : g.op('Cast', [value], { to: f32 }));
  const { hiddenSize: d, headCount: h, kvHeadCount: kv, headDim: hd, layerCount } = config;

  const weight = (name: string): string => {
    const stored: StoredWeight | undefined = manifest.weights[name];
    if (!stored) throw new Error(`weight ${name} missing from manifest`);
    return g.externalInitializer(`w.${name}`, weightType, stored.dims, stored);
  };
  const hasWeight = (name: string) => manifest.weights[name] !== undefined;
  const declared = new Set<string>();
  /** The codes, scales and zero points of a quantized weight (declared once, shared by every user). */
  const quantizedParts = (name: string): { codes: string; scales: string; zeroPoints: string } => {
    const stored = manifest.weights[name]!;
    const { bits, blockSize, scales, zeroPoints } = stored.quantization!;
    const [n, k] = stored.dims as [number, number];
    const blocks = Math.ceil(k / blockSize);
    const codesName = `w.${name}.codes`;
    if (!declared.has(codesName)) {
      declared.add(codesName);
      g.externalInitializer(codesName, OnnxType.uint8, [n, blocks, (blockSize * bits) / 8], stored);
      g.externalInitializer(`w.${name}.scales`, computeType, [n * blocks], scales);
      g.externalInitializer(`w.${name}.zero_points`, OnnxType.uint8, [zeroPoints.length], zeroPoints);
    }
    return { codes: codesName, scales: `w.${name}.scales`, zeroPoints: `w.${name}.zero_points` };
  };
  /**
   * Rows of the int8/int4 embedding (GatherBlockQuantized, MatMulNBits conventions: low nibble first,
   * (q - zero point) * scale): the same codes viewed as [vocab, hidden * bits / 8] with [vocab, blocks]
   * scales and [vocab, ceil(blocks * bits / 8)] zero points.
   */
  const quantizedEmbeddingGather = (ids: string): string => {
    const stored = manifest.weights.embedding!;
    const { bits, blockSize } = stored.quantization!;
    const [vocab, hidden] = stored.dims as [number, number];
    const blocks = hidden / blockSize;
    const parts = quantizedParts('embedding');
    const view = (value: string, dims: number[], hint: string) =>
      g.op('Reshape', [value, g.constant(`${hint}_shape`, dims)], undefined, hint);
    return g.op(
      'GatherBlockQuantized',
      [
        view(parts.codes, [vocab, (hidden * bits) / 8], 'embedding_codes'),
        ids,
        view(parts.scales, [vocab, blocks], 'embedding_scales'),
        view(parts.zeroPoints, [vocab, Math.ceil((blocks * bits) / 8)], 'embedding_zero_points'),
      ],
      { gather_axis: 0, quantize_axis: 1, block_size: blockSize, bits },
      'embedded',
      'com.microsoft',
    );
  };

  const inputIds = g.input('input_ids', OnnxType.int64, ['batch', 'sequence']);
  const rotaryCos = g.input('rotary_cos', f32, ['batch', 'sequence', hd / 2]);
  const rotarySin = g.input('rotary_sin', f32, ['batch', 'sequence', hd / 2]);
  const attentionBias = g.input('attention_bias', f32, ['batch', 1, 'sequence', 'total_sequence']);
  const logitIndices = g.input('logit_indices', OnnxType.int64, ['logit_count']);

  const flat = g.constant('shape_flat', [-1]);
  const batchBySequence = g.op('Shape', [inputIds], undefined, 'bs_shape');

  // cos/sin of the rotary angles come from the caller, computed in float64 for the positions in use:
  // in-graph Sin/Cos of unreduced angles pos*inv_freq lose up to 1e-2 on GPUs at long positions, and no
  // table sized by max_position_embeddings (131k for Llama 3.1) is stored. [B,S,hd/2] -> [B,S,1,hd].
  let cosAndSin: { cos: string; sin: string } | undefined;
  const gatheredTables = () => {
    const headAxis = g.constant('head_axis', [2]);
    const table = (value: string, hint: string) =>
      toCompute(g.op('Unsqueeze', [g.op('Concat', [value, value], { axis: -1 }), headAxis], undefined, hint));
    cosAndSin ??= { cos: table(rotaryCos, 'cos'), sin: table(rotarySin, 'sin') };
    return cosAndSin;
  };
  const cosGathered = () => gatheredTables().cos;
  const sinGathered = () => gatheredTables().sin;
  const attentionBiasCompute = toCompute(attentionBias);

  const flatIds = g.op('Reshape', [inputIds, flat]);
  let hidden = manifest.weights.embedding?.quantization
    ? quantizedEmbeddingGather(flatIds)
    : g.op('Gather', [weight('embedding'), flatIds], { axis: 0 }, 'embedded');

  const captureSet = new Set(plan.capture.map(formatHookPoint));
  const projectSet = new Set(plan.project.map(formatHookPoint));
  const lastAxis = g.constant('last_axis', [-1]);
  const coefficientShape = g.constant('coef_shape', [-1, 1]);

  // Every-site steering: per mode a table of vectors [slots, D] and coefficients [slots, B, S] (row 0 is
  // "no steering": coefficient 0, so the value is exactly unchanged) and a slot index per site
  // [layers * 5]; each site gathers its row. The caller feeds only the rows it uses.
  const slotTables = options.steerEverySite
    ? Object.fromEntries(
        (['ablate', 'add'] as const).map((mode) => {
          const names = steeringSlotNames(mode);
          return [
            mode,
            {
              vectors: g.input(names.vectors, f32, [`${mode}_slots`, d]),
              coefficients: g.input(names.coefficients, f32, [`${mode}_slots`, 'batch', 'sequence']),
              slots: g.input(names.slots, OnnxType.int64, [layerCount * hookSites.length]),
            },
          ];
        }),
      )
    : undefined;
  const steeringEntries = (point: HookPoint): Array<{ mode: SteeringMode }> =>
    slotTables
      ? [{ mode: 'ablate' }, { mode: 'add' }]
      : plan.steer.filter((entry) => entry.point.layer === point.layer && entry.point.site === point.site);

  /** Applies the plan's steering at a point, then exposes the (steered) value if captured. */
  const hook = (value: string, layer: number, site: HookSite): string => {
    const point: HookPoint = { layer, site };
    let current = value;
    for (const entry of steeringEntries(point)) {
      let vectorInput: string;
      let coefficientInput: string;
      const tables = slotTables?.[entry.mode];
      if (tables) {
        const index = g.constant(`site_${entry.mode}`, [steeringSiteIndex(point)], OnnxType.int64, []);
        const slot = g.op('Gather', [tables.slots, index], { axis: 0 });
        vectorInput = g.op('Gather', [tables.vectors, slot], { axis: 0 });
        coefficientInput = g.op('Gather', [tables.coefficients, slot], { axis: 0 });
      } else {
        const names = steeringInputNames(point, entry.mode);
        vectorInput = g.input(names.vector, f32, [d]);
        coefficientInput = g.input(names.coefficient, f32, ['batch', 'sequence']);
      }
      const vector = toCompute(vectorInput);
      const coefficient = toCompute(g.op('Reshape', [coefficientInput, coefficientShape]));
      if (entry.mode === 'add') {
        current = g.op(
          'Add',
          [current, g.op('Mul', [coefficient, vector])],
          undefined,
          `steer_${site}_${layer}`,
        );
      } else {
        // h - c (h.u) u, with u the unit direction: the direction is normalised here so users may pass any scale.
        const unit = g.op('Div', [vector, g.op('ReduceL2', [vector], { keepdims: 1 })]);
        const projection = g.op('MatMul', [current, g.op('Reshape', [unit, g.constant('col', [-1, 1])])]);
        current = g.op(
          'Sub',
          [current, g.op('Mul', [g.op('Mul', [coefficient, projection]), unit])],
          undefined,
          `ablate_${site}_${layer}`,
        );
      }
    }
    const name = formatHookPoint(point);
    if (captureSet.has(name)) g.output(toFloat32(current), name, f32, ['tokens', d]);
    if (projectSet.has(name)) {
      const names = projectionNames(point);
      const bank = g.input(names.bank, f32, [`bank_size_${name}`, d]);
      const activations = toFloat32(current);
      g.output(
        g.op('MatMul', [activations, g.op('Transpose', [bank], { perm: [1, 0] })]),
        names.output,
        f32,
        ['tokens', `bank_size_${name}`],
      );
      // |h| per token, so callers can turn dot products into scalar or cosine projections.
      g.output(g.op('ReduceL2', [activations, lastAxis], { keepdims: 0 }), names.norm, f32, ['tokens']);
    }
    return current;
  };

  const rmsNorm = (value: string, scale: string, hint: string) =>
    g.op(
      'SimplifiedLayerNormalization',
      [value, scale],
      { axis: -1, epsilon: { float: config.rmsNormEps } },
      hint,
    );
  // Switchable LoRA: a per-row scale (0 = clean model, 1 = adapted) broadcast to every token.
  const loraScale =
    manifest.lora?.mode === 'switchable'
      ? toCompute(
          g.op(
            'Reshape',
            [
              g.op('Expand', [
                g.op('Unsqueeze', [g.input('lora_scale', f32, ['batch']), g.constant('axis_one', [1])]),
                batchBySequence,
              ]),
              coefficientShape,
            ],
            undefined,
            'lora_scale_column',
          ),
        )
      : undefined;
  /** x W^T for a logical weight: Gemm, or MatMulNBits when quantized, plus the LoRA branch if any. */
  const linear = (value: string, name: string, hint: string): string => {
    const stored = manifest.weights[name];
    if (!stored) throw new Error(`weight ${name} missing from manifest`);
    let output: string;
    if (stored.quantization) {
      const [n, k] = stored.dims as [number, number];
      const { bits, blockSize } = stored.quantization;
      const parts = quantizedParts(name);
      output = g.op(
        'MatMulNBits',
        [value, parts.codes, parts.scales, parts.zeroPoints],
        { K: k, N: n, bits, block_size: blockSize, accuracy_level: options.accuracyLevel },
        hint,
        'com.microsoft',
      );
    } else {
      output = g.op('Gemm', [value, weight(name)], { transB: 1 }, hint);
    }
    if (loraScale && hasWeight(`${name}.lora_a`)) {
      const down = g.op('Gemm', [value, weight(`${name}.lora_a`)], { transB: 1 }, `${hint}_lora_a`);
      const up = g.op('Gemm', [down, weight(`${name}.lora_b`)], { transB: 1 }, `${hint}_lora_b`);
      output = g.op('Add', [output, g.op('Mul', [up, loraScale])], undefined, `${hint}_lora`);
    }
    return output;
  };

  const halfSplit = g.constant('half_split', [hd / 2, hd / 2]);
  const rotateWithStandardOps = (value: string): string => {
    // value [B,S,heads,hd]: x*cos + rotate_half(x)*sin, rotate_half(x) = cat(-x2, x1).
    const [x1, x2] = g.node('Split', [value, halfSplit], { outputs: 2, attributes: { axis: -1 } }) as [
      string,
      string,
    ];
    const rotated = g.op('Concat', [g.op('Neg', [x2]), x1], { axis: -1 });
    return g.op('Add', [g.op('Mul', [value, cosGathered()]), g.op('Mul', [rotated, sinGathered()])]);
  };
  // The fused kernel looks each token's row up in [B*S, hd/2] tables by position id b*S + s, so the
  // tables of this run (not a max_position_embeddings cache) serve as its cache.
  let fusedRotaryInputs: { positions: string; cos: string; sin: string } | undefined;
  const rotateFused = (value: string): string => {
    fusedRotaryInputs ??= {
      positions: g.op(
        'Reshape',
        [
          g.op('Range', [
            g.constant('zero', [0], OnnxType.int64, []),
            g.op('Size', [inputIds]),
            g.constant('one', [1], OnnxType.int64, []),
          ]),
          batchBySequence,
        ],
        undefined,
        'rotary_positions',
      ),
      cos: toCompute(g.op('Reshape', [rotaryCos, g.constant('table_shape', [-1, hd / 2])])),
      sin: toCompute(g.op('Reshape', [rotarySin, g.constant('table_shape', [-1, hd / 2])])),
    };
    const { positions, cos, sin } = fusedRotaryInputs;
    // value [B,heads,S,hd]: the kernel's 4-D layout, so no reshapes around it.
    return g.op(
      'RotaryEmbedding',
      [value, positions, cos, sin],
      { interleaved: 0 },
      undefined,
      'com.microsoft',
    );
  };
  const headsFirst = { perm: [0, 2, 1, 3] };
  /** value [B,S,heads,hd] rotated by each token's angles, as [B,heads,S,hd]. */
  const rotateToHeadsFirst = (value: string): string =>
    options.fusedRotary
      ? rotateFused(g.op('Transpose', [value], headsFirst))
      : g.op('Transpose', [rotateWithStandardOps(value)], headsFirst);

  const qSize = h * hd;
  const kvSize = kv * hd;
  const qkvSplit = g.constant('qkv_split', [qSize, kvSize, kvSize]);
  const ffnSplit = g.constant('ffn_split', [config.intermediateSize, config.intermediateSize]);
  const qShape = g.op('Concat', [batchBySequence, g.constant('q_heads', [h, hd])], { axis: 0 });
  const kShape = g.op('Concat', [batchBySequence, g.constant('kv_heads', [kv, hd])], { axis: 0 });
  const groupedShape = g.constant('grouped_shape', [0, kv, -1, hd]);
  const scoresShape = g.constant('scores_shape', [0, h, -1, 0]);
  const groupedScoresShape = g.constant('grouped_scores_shape', [0, kv, -1, 0]);
  const headsShape = g.constant('heads_shape', [0, h, -1, hd]);
  const mergedShape = g.constant('merged_shape', [-1, qSize]);
  const scale = g.constant('attention_scale', [1 / Math.sqrt(hd)], computeType, []);

  const kvCacheLayout = options.kvCache ?? 'concat';
  interface LayerCache {
    pastKey: string;
    pastValue: string;
    key: string;
    value: string;
  }
  const keyTranspose = { perm: [0, 1, 3, 2] };
  /** softmax(scores + attention_bias) over the key axis, grouped back to [B,kvH,G*S,T]. */
  const attentionProbabilities = (scores: string): string => {
    const masked = g.op('Add', [g.op('Reshape', [scores, scoresShape]), attentionBiasCompute]);
    return g.op('Reshape', [g.op('Softmax', [masked], { axis: -1 }), groupedScoresShape]);
  };
  /** Attention over Concat(past, new), which is also the layer's `present_*` output. */
  const attendOverConcatenation = (layer: number, grouped: string, cache: LayerCache): string => {
    const presentKey = g.op('Concat', [cache.pastKey, cache.key], { axis: 2 });
    const presentValue = g.op('Concat', [cache.pastValue, cache.value], { axis: 2 });
    g.output(presentKey, `present_key.${layer}`, computeType, ['batch', kv, 'total_sequence', hd]);
    g.output(presentValue, `present_value.${layer}`, computeType, ['batch', kv, 'total_sequence', hd]);
    const scores = g.op(
      'MatMul',
      [grouped, g.op('Transpose', [presentKey], keyTranspose)],
      undefined,
      `scores_${layer}`,
    );
    return g.op('MatMul', [attentionProbabilities(scores), presentValue]);
  };
  /**
   * Attention over the caller's buffer and the run's own keys without joining them: scores against
   * both are concatenated (G*S*(P+S) values, not the P*hd cache), the probabilities split again, and
   * the two value products added. The buffer is only read.
   */
  const attendOverBuffer = (layer: number, grouped: string, cache: LayerCache): string => {
    g.output(cache.key, `new_key.${layer}`, computeType, ['batch', kv, 'sequence', hd]);
    g.output(cache.value, `new_value.${layer}`, computeType, ['batch', kv, 'sequence', hd]);
    const pastScores = g.op('MatMul', [grouped, g.op('Transpose', [cache.pastKey], keyTranspose)]);
    const newScores = g.op('MatMul', [grouped, g.op('Transpose', [cache.key], keyTranspose)]);
    const scores = g.op('Concat', [pastScores, newScores], { axis: -1 }, `scores_${layer}`);
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
  let pastAndNew: string | undefined;
  /** [P, S]: the past slots and the new tokens along the key axis (the same at every layer). */
  const pastAndNewSplit = (cache: LayerCache): string => {
    const slotAxis = { start: 2, end: 3 };
    pastAndNew ??= g.op(
      'Concat',
      [g.op('Shape', [cache.pastKey], slotAxis), g.op('Shape', [cache.key], slotAxis)],
      { axis: 0 },
      'past_and_new',
    );
    return pastAndNew;
  };

  for (let layer = 0; layer < layerCount; layer++) {
    const p = `layers.${layer}`;
    hidden = hook(hidden, layer, 'resid_pre');
    const normed = rmsNorm(hidden, weight(`${p}.input_norm`), `input_norm_${layer}`);
    let qkv = linear(normed, `${p}.qkv`, `qkv_${layer}`);
    if (hasWeight(`${p}.qkv_bias`)) qkv = g.op('Add', [qkv, weight(`${p}.qkv_bias`)]);
    const [qFlat, kFlat, vFlat] = g.node('Split', [qkv, qkvSplit], {
      outputs: 3,
      attributes: { axis: -1 },
      hint: `qkv_split_${layer}`,
    }) as [string, string, string];
    let q = g.op('Reshape', [qFlat, qShape]);
    let k = g.op('Reshape', [kFlat, kShape]);
    if (hasWeight(`${p}.q_norm`)) {
      q = rmsNorm(q, weight(`${p}.q_norm`), `q_norm_${layer}`);
      k = rmsNorm(k, weight(`${p}.k_norm`), `k_norm_${layer}`);
    }
    q = rotateToHeadsFirst(q);
    k = rotateToHeadsFirst(k);
    const v = g.op('Transpose', [g.op('Reshape', [vFlat, kShape])], { perm: [0, 2, 1, 3] });
    const pastKey = g.input(`past_key.${layer}`, computeType, ['batch', kv, 'past_sequence', hd]);
    const pastValue = g.input(`past_value.${layer}`, computeType, ['batch', kv, 'past_sequence', hd]);
    // Query heads that share a key/value head are stacked along the sequence axis, so one batched
    // MatMul per KV head serves the whole group without materialising repeated keys.
    const grouped = g.op('Reshape', [g.op('Mul', [q, scale]), groupedShape]);
    const context =
      kvCacheLayout === 'buffer'
        ? attendOverBuffer(layer, grouped, { pastKey, pastValue, key: k, value: v })
        : attendOverConcatenation(layer, grouped, { pastKey, pastValue, key: k, value: v });
    const merged = g.op('Reshape', [
      g.op('Transpose', [g.op('Reshape', [context, headsShape])], { perm: [0, 2, 1, 3] }),
      mergedShape,
    ]);
    const attentionOut = hook(linear(merged, `${p}.o`, `o_proj_${layer}`), layer, 'attn_out');
    hidden = hook(g.op('Add', [hidden, attentionOut], undefined, `resid_mid_${layer}`), layer, 'resid_mid');
    const postNormed = rmsNorm(hidden, weight(`${p}.post_attention_norm`), `post_norm_${layer}`);
    const [gate, up] = g.node('Split', [linear(postNormed, `${p}.gate_up`, `gate_up_${layer}`), ffnSplit], {
      outputs: 2,
      attributes: { axis: -1 },
    }) as [string, string];
    const activated = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]);
    const mlpOut = hook(linear(activated, `${p}.down`, `down_${layer}`), layer, 'mlp_out');
    hidden = hook(g.op('Add', [hidden, mlpOut], undefined, `resid_post_${layer}`), layer, 'resid_post');
  }

  const selected = g.op('Gather', [hidden, logitIndices], { axis: 0 }, 'selected');
  const finalNormed = rmsNorm(selected, weight('final_norm'), 'final_norm');
  const logits = toFloat32(linear(finalNormed, hasWeight('lm_head') ? 'lm_head' : 'embedding', 'lm_head'));
  g.output(logits, 'logits', f32, ['logit_count', config.vocabSize]);
  // Greedy decoding reads only these [K] values instead of [K, V] logits: the argmax (first index on
  // ties, as torch.argmax) and its log-probability -log(sum(exp(logits - max))).
  const nextToken = g.op('ArgMax', [logits], { axis: -1, keepdims: 0 });
  g.output(nextToken, 'next_token', OnnxType.int64, ['logit_count']);
  // The maximum is the logit at the argmax (a gather, not a second pass over the vocabulary).
  const maximum = g.op('GatherElements', [logits, g.op('Unsqueeze', [nextToken, lastAxis])], { axis: 1 });
  const sumExp = g.op('ReduceSum', [g.op('Exp', [g.op('Sub', [logits, maximum])]), lastAxis], {
    keepdims: 0,
  });
  g.output(g.op('Neg', [g.op('Log', [sumExp])]), 'next_logprob', f32, ['logit_count']);
  return g.toBytes({ '': 21, 'com.microsoft': 1 });
}

/** Rotary inverse frequencies [hd/2] in float64, with llama3 or linear scaling applied as HF does. */
export function rotaryInverseFrequencies(config: ModelConfig): Float64Array {
  const hd = config.headDim;
  const half = hd / 2;
  const inverseFrequencies = new Float64Array(half);
  for (let i = 0; i < half; i++) inverseFrequencies[i] = 1 / config.ropeTheta ** ((2 * i) / hd);
  const scaling = config.ropeScaling;
  if (scaling?.type === 'llama3') {
    const lowWavelength = scaling.originalMaxPositionEmbeddings / scaling.lowFreqFactor;
    const highWavelength = scaling.originalMaxPositionEmbeddings / scaling.highFreqFactor;
    for (let i = 0; i < half; i++) {
      const frequency = inverseFrequencies[i]!;
      const wavelength = (2 * Math.PI) / frequency;
      if (wavelength > lowWavelength) inverseFrequencies[i] = frequency / scaling.factor;
      else if (wavelength >= highWavelength) {
        const smooth =
          (scaling.originalMaxPositionEmbeddings / wavelength - scaling.lowFreqFactor) /
          (scaling.highFreqFactor - scaling.lowFreqFactor);
        inverseFrequencies[i] = (1 - smooth) * (frequency / scaling.factor) + smooth * frequency;
      }
    }
  } else if (scaling?.type === 'linear') {
    for (let i = 0; i < half; i++) inverseFrequencies[i] = inverseFrequencies[i]! / scaling.factor;
  }
  return inverseFrequencies;
}
