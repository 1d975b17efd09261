import type { HookPlan } from '../hooks/hook-plan';
import type { ModelConfig } from '../model/model-types';
import type { WeightManifest } from '../weights/weight-manifest';
import {
  type Attend,
  type AttentionInputs,
  createAttention,
  createRotary,
  declareLayerConstants,
  type LayerConstants,
  type RotateToHeadsFirst,
  selfAttention,
} from './decoder-graph-attention';
import { createDecoderGraphBase, type DecoderGraphBase } from './decoder-graph-base';
import { createHook, type DecoderHook } from './decoder-graph-hooks';
import { createLinear, type DecoderLinear, embedTokens } from './decoder-graph-linear';
import { OnnxType } from './onnx-graph-builder';

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
  const base = createDecoderGraphBase(config, manifest, options);
  const { g } = base;
  const inputs = declareRunInputs(base);
  let hidden = embedTokens(base, g.op('Reshape', [inputs.inputIds, inputs.flat]));
  const shapes = {
    lastAxis: g.constant('last_axis', [-1]),
    coefficientShape: g.constant('coef_shape', [-1, 1]),
  };
  const hook = createHook(base, plan, shapes);
  const linear = createLinear(base, {
    batchBySequence: inputs.batchBySequence,
    coefficientShape: shapes.coefficientShape,
  });
  const constants = declareLayerConstants(base, inputs.batchBySequence);
  const layerParts: LayerParts = {
    base,
    hook,
    linear,
    constants,
    rotate: createRotary(base, inputs, constants.halfSplit),
    attend: createAttention(base, constants, inputs.attentionBias),
  };
  for (let layer = 0; layer < config.layerCount; layer++) hidden = decoderLayer(layerParts, hidden, layer);
  declareLogitOutputs(base, { hidden, linear, logitIndices: inputs.logitIndices, lastAxis: shapes.lastAxis });
  return g.toBytes({ '': 21, 'com.microsoft': 1 });
}

/** The per-run inputs every graph has, and the flat and [B, S] shapes derived from them. */
function declareRunInputs(base: DecoderGraphBase): AttentionInputs & { flat: string; logitIndices: string } {
  const { g } = base;
  const f32 = OnnxType.float32;
  const hd = base.config.headDim;
  const inputIds = g.input('input_ids', OnnxType.int64, ['batch', 'sequence']);
  const rotaryCos = g.input('rotary_cos', f32, ['batch', 'sequence', hd / 2]);
  const rotarySin = g.input('rotary_sin', f32, ['batch', 'sequence', hd / 2]);
  const attentionBias = g.input('attention_bias', f32, ['batch', 1, 'sequence', 'total_sequence']);
  const logitIndices = g.input('logit_indices', OnnxType.int64, ['logit_count']);
  const flat = g.constant('shape_flat', [-1]);
  const batchBySequence = g.op('Shape', [inputIds], undefined, { hint: 'bs_shape' });
  return {
    inputIds,
    rotaryCos,
    rotarySin,
    attentionBias: base.toCompute(attentionBias),
    logitIndices,
    flat,
    batchBySequence,
  };
}

/** What every decoder layer is built from. */
interface LayerParts {
  base: DecoderGraphBase;
  hook: DecoderHook;
  linear: DecoderLinear;
  constants: LayerConstants;
  rotate: RotateToHeadsFirst;
  attend: Attend;
}

/** One pre-norm decoder layer (attention, then a SwiGLU MLP), with the hooks at its five sites. */
function decoderLayer(parts: LayerParts, residual: string, layer: number): string {
  const { base, hook, linear } = parts;
  const { g } = base;
  const p = `layers.${layer}`;
  let hidden = hook(residual, layer, 'resid_pre');
  const normed = base.rmsNorm(hidden, base.weight(`${p}.input_norm`), `input_norm_${layer}`);
  let qkv = linear(normed, `${p}.qkv`, `qkv_${layer}`);
  if (base.hasWeight(`${p}.qkv_bias`)) qkv = g.op('Add', [qkv, base.weight(`${p}.qkv_bias`)]);
  const merged = selfAttention(parts, qkv, layer);
  const attentionOut = hook(linear(merged, `${p}.o`, `o_proj_${layer}`), layer, 'attn_out');
  hidden = hook(
    g.op('Add', [hidden, attentionOut], undefined, { hint: `resid_mid_${layer}` }),
    layer,
    'resid_mid',
  );
  const postNormed = base.rmsNorm(hidden, base.weight(`${p}.post_attention_norm`), `post_norm_${layer}`);
  const [gate, up] = g.node(
    'Split',
    [linear(postNormed, `${p}.gate_up`, `gate_up_${layer}`), parts.constants.ffnSplit],
    { outputs: 2, attributes: { axis: -1 } },
  ) as [string, string];
  const activated = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]);
  const mlpOut = hook(linear(activated, `${p}.down`, `down_${layer}`), layer, 'mlp_out');
  return hook(g.op('Add', [hidden, mlpOut], undefined, { hint: `resid_post_${layer}` }), layer, 'resid_post');
}

/**
 * Logits of the chosen positions, and for greedy decoding only the [K] values it reads instead of
 * [K, V] logits: the argmax (first index on ties, as torch.argmax) and its log-probability
 * -log(sum(exp(logits - max))).
 */
function declareLogitOutputs(
  base: DecoderGraphBase,
  parts: { hidden: string; linear: DecoderLinear; logitIndices: string; lastAxis: string },
): void {
  const { g, config } = base;
  const f32 = OnnxType.float32;
  const { lastAxis } = parts;
  const selected = g.op('Gather', [parts.hidden, parts.logitIndices], { axis: 0 }, { hint: 'selected' });
  const finalNormed = base.rmsNorm(selected, base.weight('final_norm'), 'final_norm');
  const logits = base.toFloat32(
    parts.linear(finalNormed, base.hasWeight('lm_head') ? 'lm_head' : 'embedding', 'lm_head'),
  );
  g.output(logits, 'logits', f32, ['logit_count', config.vocabSize]);
  const nextToken = g.op('ArgMax', [logits], { axis: -1, keepdims: 0 });
  g.output(nextToken, 'next_token', OnnxType.int64, ['logit_count']);
  // The maximum is the logit at the argmax (a gather, not a second pass over the vocabulary).
  const maximum = g.op('GatherElements', [logits, g.op('Unsqueeze', [nextToken, lastAxis])], { axis: 1 });
  const sumExp = g.op('ReduceSum', [g.op('Exp', [g.op('Sub', [logits, maximum])]), lastAxis], {
    keepdims: 0,
  });
  g.output(g.op('Neg', [g.op('Log', [sumExp])]), 'next_logprob', f32, ['logit_count']);
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
