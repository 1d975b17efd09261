import { TraitlensError } from '@traitlens/core';
import type { ModelConfig } from '../model/model-types';
import {
  type LoraPlan,
  loraModuleNames,
  loraModulePath,
  loraModuleShape,
  loraRankFor,
  planSelectsModule,
} from './lora-plan';
import { type MatMulNBitsLayout, matMulNBitsBytes } from './matmul-nbits-bytes';

/** How the weights are stored: float, or weight-only quantized with MatMulNBits. */
export type PlanWeightDtype = 'fp32' | 'fp16' | 'bf16' | 'int8' | 'int4';
/** Float types of activations and the KV cache. */
export type PlanFloatDtype = 'fp32' | 'fp16' | 'bf16';

/** The fields of a ModelConfig that size a model. */
export type MemoryPlanModelShape = Pick<
  ModelConfig,
  | 'hiddenSize'
  | 'intermediateSize'
  | 'layerCount'
  | 'headCount'
  | 'kvHeadCount'
  | 'headDim'
  | 'vocabSize'
  | 'tieWordEmbeddings'
  | 'attentionBias'
  | 'qkNorm'
> &
  Partial<Pick<ModelConfig, 'architecture'>>;

export interface MemoryPlanOptions {
  config: MemoryPlanModelShape;
  dtype: PlanWeightDtype;
  /** int4/int8: values per quantization block along K (default 32). */
  blockSize?: number;
  /** int4/int8: asymmetric quantization with a zero point per block (default true, as traitlens quantizes). */
  zeroPoints?: boolean | undefined;
  /** int4/int8: quantize lm_head too (default true); a tied lm_head then gets its own quantized copy. */
  quantizeLmHead?: boolean;
  /**
   * Float type of activations, and for int4/int8 also of the embedding table, norms and quantization
   * scales. Default: fp16 for fp16/bf16 weights, else fp32 (traitlens runs int4/int8 with float32
   * activations).
   */
  activationDtype?: PlanFloatDtype;
  /** KV cache type (default: the activation type). */
  kvDtype?: PlanFloatDtype;
  /** Type of switchable LoRA branches (default fp32: traitlens keeps them float32 at every weight dtype). */
  loraDtype?: PlanFloatDtype;
  /**
   * The KV cache grows by concatenation, so during a decoding step the past and the present cache are
   * both alive: the default on a GPU (WebGPU keeps the cache on the device that way); on the CPU the
   * runtime writes one preallocated buffer in place (decision 0019), so the default there is false.
   */
  growingKvCache?: boolean;
  lora?: LoraPlan | undefined;
  batchSize: number;
  /** Tokens per row: prompt plus generated. */
  sequenceLength: number;
  /** Captured `[batch, seq, hidden]` outputs: a count, or the layers (one captured site each). */
  captureLayers?: number | readonly number[] | undefined;
  /** Logits fetched for every position (`all`, default: what `forward` returns) or only each row's last (`last`). */
  logits?: 'all' | 'last';
  /**
   * Where the model runs (default `cpu`). Sets the default session pool: 4 sessions on the CPU, 1 off it
   * (decision 0007: there one graph with steering at every site serves every steering plan).
   */
  provider?: PlanProvider;
  /**
   * Distinct hook plans (combinations of captured and steered points) kept in use at once (default 1).
   * Off the CPU, plans that differ only in what they steer share one graph and count once.
   */
  hookPlans?: number;
  /** Sessions the runtime keeps at most (`loadModel`'s `maxSessions`; default 4 on the CPU, 1 off it). */
  maxSessions?: number;
  /**
   * Whether the sessions share one copy of the weights (`loadModel`'s `shareWeights`). Default: true on
   * the CPU, where every session maps the same weights (decision 0015), so another plan adds only its
   * arena; false off it, where each session holds its own copy on the device.
   */
  sharedWeights?: boolean;
}

/** The CPU, or a device provider (WebGPU, CUDA, DirectML, CoreML). */
export type PlanProvider = 'cpu' | 'gpu';

/**
 * The onnxruntime sessions held at once: each keeps its own arena, and its own copy of the weights
 * unless the sessions share them (the CPU default).
 */
export interface SessionMemory {
  /** min(hook plans, maxSessions). */
  count: number;
  /** Whether the weights (and LoRA branches) are held once for every session. */
  sharedWeights: boolean;
  /**
   * Bytes each session holds beyond the first: one layer's activation peak (its arena), plus the
   * weights and LoRA branches when they are not shared.
   */
  perSession: number;
  /** (count - 1) x perSession. */
  extra: number;
}

/** One line of the plan. Rows with `partOf` break down their parent and are not added to the total again. */
export interface MemoryPlanRow {
  id: string;
  label: string;
  detail: string;
  bytes: number;
  partOf?: string;
}

export interface WeightMemory {
  embeddings: number;
  /** q/k/v/o (+ biases, q/k norms) over all layers. */
  attention: number;
  /** gate/up/down over all layers. */
  mlp: number;
  /** Per-layer RMSNorms and the final norm. */
  norms: number;
  /** 0 when tied and not quantized (the embedding matrix is reused). */
  lmHead: number;
  total: number;
  /** Parameters of the base model (a tied lm_head counted once). */
  parameters: number;
}

export interface ActivationMemory {
  /** The residual stream carried between layers. */
  residual: number;
  /** Attention's working set: normed input, q/k/v, rotated q/k, context, output, scores and probabilities, the mask. */
  attention: number;
  /** Of which: attention scores and probabilities, batch x heads x seq x seq each. */
  attentionScores: number;
  /** MLP's working set: normed input, gate, up, activated product, output. */
  mlp: number;
  /** residual + the larger of attention and mlp: one layer's peak during a full-sequence prefill. */
  peak: number;
}

export interface MemoryPlan {
  /** The options with every default filled in. */
  settings: Required<
    Omit<
      MemoryPlanOptions,
      'config' | 'lora' | 'captureLayers' | 'maxSessions' | 'sharedWeights' | 'zeroPoints'
    >
  > & {
    zeroPoints: boolean;
    maxSessions: number;
    sharedWeights: boolean;
    captureCount: number;
    lora: LoraPlan | undefined;
  };
  config: MemoryPlanModelShape;
  weights: WeightMemory;
  lora: { parameters: number; bytes: number; modules: number };
  /** 2 x layers x batch x seq x kvHeads x headDim x bytes. */
  kvCache: number;
  /** The second cache alive during a decoding step when the cache grows (0 otherwise). */
  kvCacheStepCopy: number;
  activations: ActivationMemory;
  /** Logits fetched as float32. */
  logits: number;
  /** Captured activations fetched as float32. */
  captures: number;
  sessions: SessionMemory;
  total: number;
  rows: MemoryPlanRow[];
}

const floatBytes: Record<PlanFloatDtype, number> = { fp32: 4, fp16: 2, bf16: 2 };
const float32Bytes = 4;

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Memory plan: ${name} must be a positive integer (got ${value}).`,
      { details: { option: name, value } },
    );
  }
  return value;
}

const count = (value: number) => value.toLocaleString('en-US');

/** The plan's settings: the options with every default filled in. */
type PlanSettings = MemoryPlan['settings'];

/**
 * Estimates the memory a model needs at a dtype, batch and sequence length, from its config alone, so
 * a user can tell before downloading 140 GB whether it fits. Weights are exact for the layout traitlens
 * builds (MatMulNBits codes + scales + zero points for int4/int8); KV cache is exact; activations are one
 * layer's peak working set during a prefill of the whole sequence (the runtime's arena may hold more).
 */
export function planMemory(options: MemoryPlanOptions): MemoryPlan {
  const { config } = options;
  const settings = resolvePlanSettings(options);
  const weights = weightMemory(config, settings);
  const lora = loraMemory(config, settings);
  const { batchSize, sequenceLength, kvDtype } = settings;
  const { layerCount: layers, kvHeadCount: kvHeads, headDim: hd, hiddenSize: d, vocabSize: vocab } = config;
  const kvCache = 2 * layers * batchSize * sequenceLength * kvHeads * hd * floatBytes[kvDtype];
  const kvCacheStepCopy = settings.growingKvCache ? kvCache : 0;
  const activations = activationMemory(config, settings);
  const tokens = batchSize * sequenceLength;
  const logitRows = settings.logits === 'all' ? tokens : batchSize;
  const logits = logitRows * vocab * float32Bytes;
  const captures = settings.captureCount * tokens * d * float32Bytes;
  const sessions = sessionMemory(settings, { weights: weights.total + lora.bytes, arena: activations.peak });
  const total =
    weights.total +
    lora.bytes +
    kvCache +
    kvCacheStepCopy +
    activations.peak +
    logits +
    captures +
    sessions.extra;
  const plan: Omit<MemoryPlan, 'rows'> = {
    settings,
    config,
    weights,
    lora,
    kvCache,
    kvCacheStepCopy,
    activations,
    logits,
    captures,
    sessions,
    total,
  };
  return { ...plan, rows: planRows(plan) };
}

/** Validates the options (errors name the option) and fills in every default. */
function resolvePlanSettings(options: MemoryPlanOptions): PlanSettings {
  const { config } = options;
  for (const field of [
    'hiddenSize',
    'intermediateSize',
    'layerCount',
    'headCount',
    'kvHeadCount',
    'headDim',
    'vocabSize',
  ] as const)
    positiveInteger(`config.${field}`, config[field]);
  const batchSize = positiveInteger('batchSize', options.batchSize);
  const sequenceLength = positiveInteger('sequenceLength', options.sequenceLength);
  const dtype = options.dtype;
  if (!['fp32', 'fp16', 'bf16', 'int8', 'int4'].includes(dtype)) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Memory plan: dtype "${dtype}" is not one of fp32, fp16, bf16, int8, int4.`,
      { details: { option: 'dtype', value: dtype } },
    );
  }
  const blockSize = positiveInteger('blockSize', options.blockSize ?? 32);
  if (isQuantized(dtype) && (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0)) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Memory plan: blockSize must be a power of two >= 16 for MatMulNBits (got ${blockSize}); traitlens uses 32 or 128.`,
      { details: { option: 'blockSize', value: blockSize } },
    );
  }
  const activationDtype = options.activationDtype ?? (dtype === 'fp16' || dtype === 'bf16' ? 'fp16' : 'fp32');
  const provider = options.provider ?? 'cpu';
  if (provider !== 'cpu' && provider !== 'gpu') {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Memory plan: provider "${provider}" is not one of cpu, gpu.`,
      {
        details: { option: 'provider', value: provider },
      },
    );
  }
  const hookPlans = positiveInteger('hookPlans', options.hookPlans ?? 1);
  const maxSessions = positiveInteger('maxSessions', options.maxSessions ?? (provider === 'cpu' ? 4 : 1));
  return {
    dtype,
    blockSize,
    zeroPoints: options.zeroPoints ?? true,
    quantizeLmHead: options.quantizeLmHead ?? true,
    activationDtype,
    kvDtype: options.kvDtype ?? activationDtype,
    loraDtype: options.loraDtype ?? 'fp32',
    growingKvCache: options.growingKvCache ?? provider !== 'cpu',
    batchSize,
    sequenceLength,
    logits: options.logits ?? 'all',
    captureCount: captureCountOf(options.captureLayers),
    lora: options.lora,
    provider,
    hookPlans,
    maxSessions,
    sharedWeights: options.sharedWeights ?? provider === 'cpu',
  };
}

function isQuantized(dtype: PlanWeightDtype): dtype is 'int4' | 'int8' {
  return dtype === 'int4' || dtype === 'int8';
}

function captureCountOf(captureLayers: MemoryPlanOptions['captureLayers']): number {
  const captureCount = typeof captureLayers === 'number' ? captureLayers : (captureLayers?.length ?? 0);
  if (!Number.isInteger(captureCount) || captureCount < 0) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Memory plan: captureLayers must be a non-negative count or a list of layers (got ${String(captureLayers)}).`,
    );
  }
  return captureCount;
}

/** How the settings store a weight: bytes of a matrix and of a plain float element, and a label. */
interface WeightStorage {
  quantized: boolean;
  /** Bytes per element of float tensors that are not quantized. */
  plainBytes: number;
  matrix(outFeatures: number, inFeatures: number): number;
  label: string;
}

function weightStorage(settings: PlanSettings): WeightStorage {
  const { dtype, blockSize, activationDtype, zeroPoints } = settings;
  const quantized = isQuantized(dtype);
  const activationBytes = floatBytes[activationDtype];
  const plainBytes = quantized ? activationBytes : floatBytes[dtype as PlanFloatDtype];
  const layout: MatMulNBitsLayout = {
    bits: dtype === 'int4' ? 4 : 8,
    blockSize,
    scaleBytes: activationBytes,
    zeroPoints,
  };
  return {
    quantized,
    plainBytes,
    matrix: (outFeatures, inFeatures) =>
      quantized ? matMulNBitsBytes(outFeatures, inFeatures, layout) : outFeatures * inFeatures * plainBytes,
    label: quantized
      ? `${dtype} (MatMulNBits, block ${blockSize}, ${activationDtype} scales${zeroPoints ? ' + zero points' : ''})`
      : dtype,
  };
}

function weightMemory(config: MemoryPlanModelShape, settings: PlanSettings): WeightMemory {
  const { plainBytes, matrix, quantized } = weightStorage(settings);
  const {
    hiddenSize: d,
    intermediateSize: inter,
    layerCount: layers,
    headCount: heads,
    kvHeadCount: kvHeads,
    headDim: hd,
    vocabSize: vocab,
  } = config;
  const qSize = heads * hd;
  const kvSize = kvHeads * hd;
  const biasParameters = config.attentionBias ? qSize + 2 * kvSize : 0;
  const qkNormParameters = config.qkNorm ? 2 * hd : 0;
  const attentionPerLayer =
    matrix(qSize, d) +
    2 * matrix(kvSize, d) +
    matrix(d, qSize) +
    (biasParameters + qkNormParameters) * plainBytes;
  const mlpPerLayer = 2 * matrix(inter, d) + matrix(d, inter);
  const normParameters = (2 * layers + 1) * d;
  const lmHeadQuantized = quantized && settings.quantizeLmHead;
  const weights: WeightMemory = {
    embeddings: vocab * d * plainBytes,
    attention: layers * attentionPerLayer,
    mlp: layers * mlpPerLayer,
    norms: normParameters * plainBytes,
    lmHead: lmHeadQuantized ? matrix(vocab, d) : config.tieWordEmbeddings ? 0 : vocab * d * plainBytes,
    total: 0,
    parameters:
      vocab * d * (config.tieWordEmbeddings ? 1 : 2) +
      layers * (qSize * d + 2 * kvSize * d + d * qSize + biasParameters + qkNormParameters + 3 * inter * d) +
      normParameters,
  };
  weights.total = weights.embeddings + weights.attention + weights.mlp + weights.norms + weights.lmHead;
  return weights;
}

/** LoRA: A [r, in] and B [out, r] per targeted module, kept as float branches in switchable mode. */
function loraMemory(config: MemoryPlanModelShape, settings: PlanSettings): MemoryPlan['lora'] {
  const lora = { parameters: 0, bytes: 0, modules: 0 };
  const loraPlan = settings.lora;
  if (!loraPlan) return lora;
  positiveInteger('lora.rank', loraPlan.rank);
  for (let layer = 0; layer < config.layerCount; layer++) {
    for (const module of loraModuleNames) {
      const path = loraModulePath(layer, module);
      if (!planSelectsModule(loraPlan, path)) continue;
      const { inFeatures, outFeatures } = loraModuleShape(config, module);
      lora.parameters += loraRankFor(loraPlan, path) * (inFeatures + outFeatures);
      lora.modules++;
    }
  }
  if (lora.modules === 0) {
    throw new TraitlensError(
      'INVALID_ADAPTER',
      `The LoRA targets ${JSON.stringify(loraPlan.targetModules)} match none of ${loraModuleNames.join(', ')} in this model; is it an adapter for another architecture?`,
      {
        details: { targetModules: loraPlan.targetModules },
      },
    );
  }
  lora.bytes =
    (loraPlan.mode ?? 'switchable') === 'merged' ? 0 : lora.parameters * floatBytes[settings.loraDtype];
  return lora;
}

/** Activations of one layer during a prefill of batch x sequence tokens. */
function activationMemory(config: MemoryPlanModelShape, settings: PlanSettings): ActivationMemory {
  const { batchSize, sequenceLength } = settings;
  const {
    hiddenSize: d,
    intermediateSize: inter,
    headCount: heads,
    kvHeadCount: kvHeads,
    headDim: hd,
  } = config;
  const activationBytes = floatBytes[settings.activationDtype];
  const qSize = heads * hd;
  const kvSize = kvHeads * hd;
  const tokens = batchSize * sequenceLength;
  const attentionScores = 2 * batchSize * heads * sequenceLength * sequenceLength * activationBytes;
  const attentionMask = batchSize * sequenceLength * sequenceLength * float32Bytes;
  const attentionWorkingSet =
    (2 * tokens * d + tokens * (qSize + 2 * kvSize) + tokens * (qSize + kvSize) + tokens * qSize) *
      activationBytes +
    attentionScores +
    attentionMask;
  const mlpWorkingSet = (2 * tokens * d + 3 * tokens * inter) * activationBytes;
  const residual = tokens * d * activationBytes;
  return {
    residual,
    attention: attentionWorkingSet,
    attentionScores,
    mlp: mlpWorkingSet,
    peak: residual + Math.max(attentionWorkingSet, mlpWorkingSet),
  };
}

/**
 * Every onnxruntime session keeps its own arena. On the CPU the sessions map one copy of the weights
 * (decision 0015; measured for a 125M model: +8 MiB Pss per extra plan in fp32, where an unshared
 * session added ~400 MiB); on a device, or with sharing off, each holds its own copy.
 */
function sessionMemory(settings: PlanSettings, bytes: { weights: number; arena: number }): SessionMemory {
  const sessionCount = Math.min(settings.hookPlans, settings.maxSessions);
  const perSession = (settings.sharedWeights ? 0 : bytes.weights) + bytes.arena;
  return {
    count: sessionCount,
    sharedWeights: settings.sharedWeights,
    perSession,
    extra: (sessionCount - 1) * perSession,
  };
}

/** The plan's lines, in display order. */
function planRows(plan: Omit<MemoryPlan, 'rows'>): MemoryPlanRow[] {
  const rows = weightRows(plan);
  const { settings, config, lora } = plan;
  const { layerCount: layers, kvHeadCount: kvHeads, headDim: hd } = config;
  if (settings.lora) {
    const mode = settings.lora.mode ?? 'switchable';
    rows.push({
      id: 'lora',
      label: 'lora',
      detail: `rank ${settings.lora.rank}, ${lora.modules} modules, ${count(lora.parameters)} parameters, ${mode === 'merged' ? 'merged into the weights' : `switchable ${settings.loraDtype} branches`}`,
      bytes: lora.bytes,
    });
  }
  rows.push({
    id: 'kv_cache',
    label: 'kv cache',
    detail: `2 x ${layers} layers x ${settings.batchSize} x ${count(settings.sequenceLength)} x ${kvHeads} KV heads x ${hd} ${settings.kvDtype}`,
    bytes: plan.kvCache,
  });
  if (settings.growingKvCache)
    rows.push({
      id: 'kv_cache.step_copy',
      label: 'kv cache step copy',
      detail: 'past and present cache alive together during a decoding step',
      bytes: plan.kvCacheStepCopy,
    });
  rows.push(...activationRows(plan));
  rows.push(sessionRow(settings, plan.sessions));
  return rows;
}

function weightRows(plan: Omit<MemoryPlan, 'rows'>): MemoryPlanRow[] {
  const { settings, config, weights } = plan;
  const { dtype, activationDtype } = settings;
  const { quantized, label: weightLabel } = weightStorage(settings);
  const lmHeadQuantized = quantized && settings.quantizeLmHead;
  const { hiddenSize: d, intermediateSize: inter, layerCount: layers, vocabSize: vocab } = config;
  const shape = `${config.headCount} heads / ${config.kvHeadCount} KV heads x ${config.headDim}`;
  const part = (id: string, label: string, detail: string, bytes: number): MemoryPlanRow => ({
    id: `weights.${id}`,
    partOf: 'weights',
    label,
    detail,
    bytes,
  });
  return [
    {
      id: 'weights',
      label: 'weights',
      detail: `${weightLabel}, ${count(weights.parameters)} parameters`,
      bytes: weights.total,
    },
    part(
      'embeddings',
      'embeddings',
      `${count(vocab)} x ${count(d)} ${quantized ? activationDtype : dtype}`,
      weights.embeddings,
    ),
    part('attention', 'attention', `${layers} layers x q/k/v/o (${shape})`, weights.attention),
    part('mlp', 'mlp', `${layers} layers x gate/up/down (${count(d)} -> ${count(inter)})`, weights.mlp),
    part('norms', 'norms', `${2 * layers + 1} x ${count(d)}`, weights.norms),
    part(
      'lm_head',
      'lm_head',
      config.tieWordEmbeddings
        ? lmHeadQuantized
          ? `tied; quantized copy ${dtype}`
          : 'tied to the embeddings (shared)'
        : `${count(vocab)} x ${count(d)} ${lmHeadQuantized ? dtype : quantized ? activationDtype : dtype}`,
      weights.lmHead,
    ),
  ];
}

function activationRows(plan: Omit<MemoryPlan, 'rows'>): MemoryPlanRow[] {
  const { settings, config, activations } = plan;
  const { batchSize, sequenceLength, captureCount } = settings;
  const { hiddenSize: d, intermediateSize: inter, vocabSize: vocab } = config;
  const tokens = batchSize * sequenceLength;
  const logitRows = settings.logits === 'all' ? tokens : batchSize;
  const rows: MemoryPlanRow[] = [
    {
      id: 'activations',
      label: 'activations',
      detail: `peak of one layer, prefill of ${count(tokens)} tokens, ${settings.activationDtype}`,
      bytes: activations.peak,
    },
    {
      id: 'activations.residual',
      partOf: 'activations',
      label: 'residual stream',
      detail: `${count(tokens)} x ${count(d)}`,
      bytes: activations.residual,
    },
    {
      id: 'activations.attention',
      partOf: 'activations',
      label: 'attention',
      detail: `q/k/v, scores + probabilities ${batchSize} x ${config.headCount} x ${count(sequenceLength)} x ${count(sequenceLength)}${activations.attention >= activations.mlp ? ' (peak)' : ''}`,
      bytes: activations.attention,
    },
    {
      id: 'activations.mlp',
      partOf: 'activations',
      label: 'mlp',
      detail: `gate, up, product ${count(tokens)} x ${count(inter)}${activations.mlp > activations.attention ? ' (peak)' : ''}`,
      bytes: activations.mlp,
    },
    {
      id: 'logits',
      label: 'logits',
      detail: `${count(logitRows)} x ${count(vocab)} fp32 (${settings.logits === 'all' ? 'every position' : 'last position per row'})`,
      bytes: plan.logits,
    },
  ];
  if (captureCount > 0)
    rows.push({
      id: 'captures',
      label: 'captures',
      detail: `${captureCount} x ${count(tokens)} x ${count(d)} fp32`,
      bytes: plan.captures,
    });
  return rows;
}

function sessionRow(settings: PlanSettings, sessions: SessionMemory): MemoryPlanRow {
  const { hookPlans, maxSessions, provider } = settings;
  const sessionCount = sessions.count;
  return {
    id: 'sessions',
    label: 'other sessions',
    detail:
      sessionCount > 1
        ? `${sessionCount - 1} more of ${sessionCount} sessions (${hookPlans} hook plans, at most ${maxSessions} kept on ${provider}), each with its own ${sessions.sharedWeights ? 'arena (weights shared)' : 'weights and arena'}`
        : `1 session (${hookPlans} hook plan${hookPlans > 1 ? 's' : ''}, at most ${maxSessions} kept on ${provider}${hookPlans > maxSessions ? ': plans beyond it are rebuilt when used' : ''})`,
    bytes: sessions.extra,
  };
}
