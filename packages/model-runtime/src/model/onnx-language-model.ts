import { formatHookPoint, type HookPoint, TraitlensError } from '@traitlens/core';
import { assertLayerInRange, isHookSite } from '@traitlens/core/internal';
import {
  type DecoderGraphOptions,
  type KvCacheLayout,
  rotaryInverseFrequencies,
} from '../graph/build-decoder-graph';
import type { ModelArtifacts } from '../graph/graph-cache';
import { type HookPlan, normalizeHookPlan, projectionNames } from '../hooks/hook-plan';
import type { SessionOptions } from '../session/create-inference-session';
import { type BatchLayout, buildInputIds, buildPrefillPositions, layoutBatch } from './batch-layout';
import { runDecodeLoop, type TokenWindow } from './decode-loop';
import { DeviceReadback } from './device-readback';
import { GenerationRows } from './generation-rows';
import { createKeyValueCache, type KeyValueCache } from './kv-cache';
import type { EncodePromptOptions, LanguageModel, TextTokenizer } from './language-model';
import type {
  ChatMessage,
  ForwardOptions,
  ForwardRow,
  GenerateOptions,
  GenerationResult,
  ModelConfig,
  PromptInput,
  ScoreOptions,
  SteeringSpec,
} from './model-types';
import { PlanSessions } from './plan-sessions';
import { toPromptBatch } from './prompt-batch';
import {
  type FloatFeeds,
  type GraphRunRequest,
  type GraphRunResult,
  runDecoderGraph,
} from './run-decoder-graph';
import { logSoftmax } from './sampling';
import { buildSteeringFeeds, buildSteeringSlotFeeds, validateSteeringSpec } from './steering-feeds';
import { TransferCounter, type TransferStats } from './transfer-stats';
import { validateGenerateOptions } from './validate-generate-options';

/** Renders chat messages and applies the BOS rule; provided by the tokenizer module. */
export interface PromptEncoder {
  encodePrompt(prompt: PromptInput, options?: EncodePromptOptions): number[];
  applyChatTemplate(messages: readonly ChatMessage[], options?: { addGenerationPrompt?: boolean }): string;
}

/** Everything an `OnnxLanguageModel` is made of (`loadModel` assembles it). */
export interface OnnxLanguageModelOptions {
  /** `hf:org/name@sha` or the local directory. */
  id: string;
  config: ModelConfig;
  tokenizer: TextTokenizer;
  promptEncoder: PromptEncoder;
  /** The converted weights and where graphs are cached. */
  artifacts: ModelArtifacts;
  sessionOptions: SessionOptions;
  /** Defaults: accuracy level 4; steering at every site and a device-resident cache off the CPU. */
  graphOptions?: DecoderGraphOptions;
  /** Hook-plan sessions kept loaded at most (default 4). */
  maxSessions?: number;
}

/** A Llama-family model running as an ONNX graph on onnxruntime-node. */
export class OnnxLanguageModel implements LanguageModel {
  readonly id: string;
  readonly config: ModelConfig;
  readonly tokenizer: TextTokenizer;
  private readonly promptEncoder: PromptEncoder;
  private readonly artifacts: ModelArtifacts;
  private readonly sessions: PlanSessions;
  private readonly transfers = new TransferCounter();
  private readonly readback = new DeviceReadback();
  private readonly inverseFrequencies: Float64Array;
  /** Graph options with the provider's defaults filled in. */
  private readonly graphOptions: DecoderGraphOptions & { kvCache: KvCacheLayout };

  constructor(options: OnnxLanguageModelOptions) {
    const { config, sessionOptions } = options;
    this.id = options.id;
    this.config = config;
    this.tokenizer = options.tokenizer;
    this.promptEncoder = options.promptEncoder;
    this.artifacts = options.artifacts;
    this.inverseFrequencies = rotaryInverseFrequencies(config);
    // Off the CPU every session holds its own copy of the weights on the device, so one graph with
    // steering inputs at every site serves every steering plan there (docs/decisions/0007). On WebGPU
    // the cache stays on the device, where the host cannot write: Concat there, a host buffer written in
    // place elsewhere; the CPU provider gets its fused rotary kernel (docs/decisions/0019).
    const provider = sessionOptions.providers?.[0] ?? 'cpu';
    this.graphOptions = {
      accuracyLevel: 4,
      steerEverySite: provider !== 'cpu',
      kvCache: provider === 'webgpu' ? 'concat' : 'buffer',
      fusedRotary: provider === 'cpu',
      ...options.graphOptions,
    };
    const presents: string[] = [];
    for (let layer = 0; layer < config.layerCount; layer++)
      presents.push(`present_key.${layer}`, `present_value.${layer}`);
    this.sessions = new PlanSessions({
      artifacts: this.artifacts,
      config,
      graphOptions: this.graphOptions,
      sessionOptions: { deviceOutputs: [...presents, 'logits'], ...sessionOptions },
      maxSessions: options.maxSessions ?? 4,
    });
  }

  /** Steering feeds for the graph in use (per steered point, or slot tables), plus the LoRA scale. */
  private windowFeeds(
    steer: readonly SteeringSpec[],
    loraFeed: FloatFeeds,
    window: TokenWindow & { batchSize: number; promptLengths: readonly number[] },
  ): FloatFeeds {
    const steering = this.graphOptions.steerEverySite
      ? buildSteeringSlotFeeds(steer, window, this.config)
      : buildSteeringFeeds(steer, window);
    return new Map([...steering, ...loraFeed]);
  }

  /** Host <-> device bytes of the runs so far (see TransferStats). */
  transferStats(): TransferStats {
    return this.transfers.snapshot();
  }

  resetTransferStats(): void {
    this.transfers.reset();
  }

  /** Whether a LoRA adapter is loaded in switchable mode (then `loraScale` picks the variant per row). */
  get hasSwitchableLora(): boolean {
    return this.artifacts.manifest.lora?.mode === 'switchable';
  }

  /** The `lora_scale` feed: one scale per row (default 1 = adapted), only when the graph has LoRA branches. */
  private loraScaleFeed(
    loraScale: number | readonly number[] | undefined,
    batchSize: number,
  ): Map<string, { data: Float32Array; dims: number[] }> {
    const feeds = new Map<string, { data: Float32Array; dims: number[] }>();
    if (!this.hasSwitchableLora) {
      if (loraScale !== undefined) {
        throw new TraitlensError(
          'INVALID_ARGUMENT',
          `loraScale was given but ${this.id} was loaded without a switchable LoRA adapter (pass lora: { source, mode: 'switchable' } to loadModel).`,
        );
      }
      return feeds;
    }
    const scales =
      typeof loraScale === 'number' || loraScale === undefined
        ? new Array<number>(batchSize).fill(loraScale ?? 1)
        : [...loraScale];
    if (scales.length !== batchSize)
      throw new TraitlensError(
        'SHAPE_MISMATCH',
        `loraScale has ${scales.length} values but the batch has ${batchSize} rows.`,
      );
    feeds.set('lora_scale', { data: Float32Array.from(scales), dims: [batchSize] });
    return feeds;
  }

  encodePrompt(prompt: PromptInput, options?: EncodePromptOptions): number[] {
    const ids = this.promptEncoder.encodePrompt(prompt, options);
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
        throw new TraitlensError(
          'INVALID_ARGUMENT',
          `Token id ${id} is outside the vocabulary (0-${this.config.vocabSize - 1}) of ${this.id}.`,
          { details: { tokenId: id } },
        );
      }
    }
    return ids;
  }

  applyChatTemplate(messages: readonly ChatMessage[], options?: { addGenerationPrompt?: boolean }): string {
    return this.promptEncoder.applyChatTemplate(messages, options);
  }

  /** The execution provider the default session runs on (after any fallback). */
  async provider(): Promise<string> {
    return this.sessions.using(normalizeHookPlan({}), async (created) => created.provider);
  }

  /** How many sessions this model has created so far. */
  get createdSessionCount(): number {
    return this.sessions.createdCount;
  }

  /** How many sessions (hook plans) are loaded now. */
  get loadedSessionCount(): number {
    return this.sessions.loadedCount;
  }

  /** Checks in-graph projection banks and flattens them to [K, D] feeds. */
  private validateProjections(
    entries: NonNullable<ForwardOptions['project']>,
  ): Array<{ point: HookPoint; bank: { data: Float32Array; dims: number[] } }> {
    this.validateCapture(entries.map((entry) => entry.point));
    const d = this.config.hiddenSize;
    return entries.map((entry) => {
      const vectors = entry.vectors;
      if (vectors.length === 0)
        throw new TraitlensError(
          'INVALID_ARGUMENT',
          `The projection bank at ${formatHookPoint(entry.point)} is empty.`,
        );
      const data = new Float32Array(vectors.length * d);
      vectors.forEach((vector, k) => {
        if (vector.length !== d) {
          throw new TraitlensError(
            'SHAPE_MISMATCH',
            `Projection vector ${k} at ${formatHookPoint(entry.point)} has ${vector.length} values but the model's hidden size is ${d}.`,
          );
        }
        data.set(vector, k * d);
      });
      return { point: entry.point, bank: { data, dims: [vectors.length, d] } };
    });
  }

  private validateCapture(points: readonly HookPoint[]): void {
    for (const point of points) {
      if (!isHookSite(point.site))
        throw new TraitlensError(
          'INVALID_ARGUMENT',
          `Capture site "${String(point.site)}" is not a hook site (resid_pre, attn_out, resid_mid, mlp_out, resid_post).`,
        );
      assertLayerInRange(point.layer, this.config.layerCount, 'Capture layer');
    }
  }

  private planFor(
    capture: readonly HookPoint[],
    steer: readonly SteeringSpec[],
    project: readonly HookPoint[] = [],
  ): HookPlan {
    return normalizeHookPlan({
      project: [...project],
      capture: [...capture],
      steer,
    });
  }

  /** The key/value cache of one call: `slots` = prompt width plus the tokens still to be decoded. */
  private createCache(batchSize: number, slots: number): KeyValueCache {
    const { layerCount, kvHeadCount, headDim } = this.config;
    const elementType = this.artifacts.manifest.dtype === 'float16' ? 'float16' : 'float32';
    return createKeyValueCache(
      this.graphOptions.kvCache,
      { layerCount, kvHeadCount, headDim, batchSize, elementType },
      slots,
    );
  }

  /** One graph run, holding the plan's session for its duration. */
  private run(request: GraphRunRequest): Promise<GraphRunResult> {
    return this.sessions.using(request.plan, (created) =>
      runDecoderGraph(created, request, {
        modelId: this.id,
        inverseFrequencies: this.inverseFrequencies,
        transfers: this.transfers,
        readback: this.readback,
      }),
    );
  }

  private encodeBatch(inputs: PromptInput | readonly PromptInput[]): number[][] {
    const batch = toPromptBatch(inputs);
    if (batch.length === 0)
      throw new TraitlensError('INVALID_ARGUMENT', 'The batch is empty: pass at least one prompt.');
    const rows = batch.map((prompt) => this.encodePrompt(prompt));
    rows.forEach((row, index) => {
      if (row.length === 0)
        throw new TraitlensError('INVALID_ARGUMENT', `Prompt ${index} encodes to zero tokens.`);
      if (this.config.slidingWindow !== undefined && row.length > this.config.slidingWindow) {
        throw new TraitlensError(
          'INVALID_ARGUMENT',
          `Prompt ${index} has ${row.length} tokens, more than ${this.id}'s sliding attention window of ${this.config.slidingWindow}; traitlens attends over the full context, which matches the model only within the window. Shorten the prompt.`,
        );
      }
      if (row.length > this.config.maxPositionEmbeddings) {
        throw new TraitlensError(
          'INVALID_ARGUMENT',
          `Prompt ${index} has ${row.length} tokens, more than the model's ${this.config.maxPositionEmbeddings} positions.`,
        );
      }
    });
    return rows;
  }

  async forward(
    inputs: PromptInput | readonly PromptInput[],
    options: ForwardOptions = {},
  ): Promise<ForwardRow[]> {
    const rows = this.encodeBatch(inputs);
    const capture = options.capture ?? [];
    const steer = options.steer ?? [];
    this.validateCapture(capture);
    for (const spec of steer) validateSteeringSpec(spec, this.config, rows.length);
    const layout = layoutBatch(rows);
    const logitsMode = options.logits ?? 'all';
    const indices = logitIndices(layout, logitsMode);
    const projections = this.validateProjections(options.project ?? []);
    const plan = this.planFor(
      capture,
      steer,
      projections.map((entry) => entry.point),
    );
    const width = layout.sequenceLength;
    const result = await this.run({
      plan,
      phase: 'prefill',
      inputIds: buildInputIds(rows, layout, this.config.padTokenId ?? 0),
      positions: Array.from(buildPrefillPositions(layout), Number),
      batchSize: rows.length,
      width,
      cache: this.createCache(rows.length, 0),
      newValid: layout.lengths.map((length) => new Uint8Array(width).fill(1, 0, length)),
      keepCache: false,
      // Reductions over an empty selection fail on WebGPU: without logits one position is selected and
      // only its greedy token (12 bytes) is read.
      logitIndices: BigInt64Array.from(indices.length > 0 ? indices : [0], (i) => BigInt(i)),
      extraFeeds: new Map([
        ...this.windowFeeds(steer, this.loraScaleFeed(options.loraScale, rows.length), {
          batchSize: rows.length,
          width,
          startToken: rows.map(() => 0),
          validCount: layout.lengths,
          promptLengths: layout.lengths,
        }),
        ...projections.map((entry) => [projectionNames(entry.point).bank, entry.bank] as const),
      ]),
      outputs: indices.length > 0 ? 'logits' : 'greedy',
    });
    return this.splitForwardRows(result, { rows, layout, logitsMode, projections });
  }

  /**
   * Per-row views into the arrays ORT returned (each row's tokens are contiguous), not copies: a capture
   * of every layer of a large batch is copied out of the graph once, not twice.
   */
  private splitForwardRows(
    result: GraphRunResult,
    batch: {
      rows: number[][];
      layout: BatchLayout;
      logitsMode: NonNullable<ForwardOptions['logits']>;
      projections: Array<{ point: HookPoint; bank: { data: Float32Array; dims: number[] } }>;
    },
  ): ForwardRow[] {
    const { rows, layout, logitsMode, projections } = batch;
    const width = layout.sequenceLength;
    const allLogits = result.logits ?? new Float32Array(0);
    const vocab = this.config.vocabSize;
    const hidden = this.config.hiddenSize;
    let logitOffset = 0;
    return rows.map((tokenIds, b) => {
      const length = layout.lengths[b]!;
      const logitCount = logitsMode === 'all' ? length : logitsMode === 'last' ? 1 : 0;
      const logits = allLogits.subarray(logitOffset * vocab, (logitOffset + logitCount) * vocab);
      logitOffset += logitCount;
      const captures = new Map<string, Float32Array>();
      for (const [name, values] of result.captures)
        captures.set(name, values.subarray(b * width * hidden, (b * width + length) * hidden));
      const row: ForwardRow = { tokenIds, logits, captures };
      if (projections.length > 0) {
        row.projections = new Map();
        row.activationNorms = new Map();
        for (const entry of projections) {
          const name = formatHookPoint(entry.point);
          const size = entry.bank.dims[0]!;
          row.projections.set(
            name,
            result.projections.get(name)!.subarray(b * width * size, (b * width + length) * size),
          );
          row.activationNorms.set(
            name,
            result.projectionNorms.get(name)!.subarray(b * width, b * width + length),
          );
        }
      }
      return row;
    });
  }

  async score(
    inputs: PromptInput | readonly PromptInput[],
    options: ScoreOptions = {},
  ): Promise<Float32Array[]> {
    const rows = await this.forward(inputs, { ...options, logits: 'last' });
    return rows.map((row) => Float32Array.from(logSoftmax(row.logits)));
  }

  /** Refuses a generation that needs more positions than the model has (or than its sliding window). */
  private checkGenerationLength(layout: BatchLayout, maxNewTokens: number): void {
    const longest = Math.max(...layout.lengths) + maxNewTokens;
    if (this.config.slidingWindow !== undefined && longest > this.config.slidingWindow) {
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `Prompt plus max_new_tokens needs ${longest} positions, more than ${this.id}'s sliding attention window of ${this.config.slidingWindow}; traitlens attends over the full context, which matches the model only within the window. Lower max_new_tokens or shorten the prompt.`,
      );
    }
    if (longest > this.config.maxPositionEmbeddings) {
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `Prompt plus max_new_tokens needs ${longest} positions but ${this.id} has ${this.config.maxPositionEmbeddings}.`,
      );
    }
  }

  async generate(
    prompts: PromptInput | readonly PromptInput[],
    options: GenerateOptions = {},
  ): Promise<GenerationResult[]> {
    validateGenerateOptions(options);
    const rows = this.encodeBatch(prompts);
    const steer = options.steer ?? [];
    for (const spec of steer) validateSteeringSpec(spec, this.config, rows.length);
    const maxNewTokens = options.maxNewTokens ?? 64;
    const layout = layoutBatch(rows);
    this.checkGenerationLength(layout, maxNewTokens);
    const loraFeed = this.loraScaleFeed(options.loraScale, rows.length);
    const generation = new GenerationRows(rows, this.tokenizer, options);
    // The last token is never fed back, so the cache holds the prompt and maxNewTokens - 1 tokens.
    const cache = this.createCache(rows.length, layout.sequenceLength + maxNewTokens - 1);
    try {
      await runDecodeLoop({
        rows,
        layout,
        maxNewTokens,
        padTokenId: this.config.padTokenId ?? 0,
        vocabSize: this.config.vocabSize,
        plan: this.planFor([], steer),
        cache,
        generation,
        windowFeeds: (window) =>
          this.windowFeeds(steer, loraFeed, {
            ...window,
            batchSize: rows.length,
            promptLengths: layout.lengths,
          }),
        run: (request) => this.run(request),
      });
    } finally {
      // The cache (on a WebGPU device, device memory) is released as soon as generation ends.
      cache.dispose();
    }
    return generation.results();
  }

  async dispose(): Promise<void> {
    await this.readback.release();
    await this.sessions.dispose();
  }
}

/** Flat row-major positions (into B*S) that get logits: every real token, each row's last, or none. */
function logitIndices(layout: BatchLayout, mode: NonNullable<ForwardOptions['logits']>): number[] {
  const width = layout.sequenceLength;
  const indices: number[] = [];
  for (let b = 0; b < layout.batchSize; b++) {
    if (mode === 'all') for (let s = 0; s < layout.lengths[b]!; s++) indices.push(b * width + s);
    else if (mode === 'last') indices.push(b * width + layout.lengths[b]! - 1);
  }
  return indices;
}
