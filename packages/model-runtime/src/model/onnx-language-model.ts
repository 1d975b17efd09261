import { formatHookPoint, type HookPoint, TraitlensError } from '@traitlens/core';
import { assertLayerInRange, isHookSite } from '@traitlens/core/internal';
import type * as Ort from 'onnxruntime-node';
import { type DecoderGraphOptions, rotaryInverseFrequencies } from '../graph/build-decoder-graph';
import { ensureGraphForPlan, type ModelArtifacts } from '../graph/graph-cache';
import { type HookPlan, hookPlanKey, normalizeHookPlan, projectionNames } from '../hooks/hook-plan';
import {
  type CreatedSession,
  createInferenceSession,
  type SessionOptions,
} from '../session/create-inference-session';
import { ort } from '../session/load-onnxruntime';
import { float32Tensor, int64Tensor, readFloat32 } from '../session/tensors';
import { buildAttentionBias, buildInputIds, buildPrefillPositions, layoutBatch } from './batch-layout';
import { DeviceReadback } from './device-readback';
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
import { rotaryTables } from './rotary-tables';
import { createRandom, logSoftmax, sampleToken } from './sampling';
import { buildSteeringFeeds, buildSteeringSlotFeeds, validateSteeringSpec } from './steering-feeds';
import { TransferCounter, type TransferStats } from './transfer-stats';
import { validateGenerateOptions } from './validate-generate-options';

/** Renders chat messages and applies the BOS rule; provided by the tokenizer module. */
export interface PromptEncoder {
  encodePrompt(prompt: PromptInput, options?: EncodePromptOptions): number[];
  applyChatTemplate(messages: readonly ChatMessage[], options?: { addGenerationPrompt?: boolean }): string;
}

interface SessionEntry {
  session: Promise<CreatedSession>;
  /** Runs using the session now; a session in use is never released. */
  inFlight: number;
}

type FloatFeeds = Map<string, { data: Float32Array | BigInt64Array; dims: number[] }>;

/** One graph run's inputs. */
interface RunRequest {
  plan: HookPlan;
  /** Which TransferStats group the run counts in. */
  phase: 'prefill' | 'decode';
  inputIds: BigInt64Array;
  /** Rotary position of every token, [batchSize * width] row-major. */
  positions: readonly number[];
  attentionBias: Float32Array;
  batchSize: number;
  width: number;
  /** Key/value tensors interleaved per layer (k0, v0, k1, v1, ...), in host or device memory. */
  past: Ort.Tensor[];
  logitIndices: BigInt64Array;
  extraFeeds: FloatFeeds;
  /** Return present_* (kept on the device on WebGPU) for the next decode step. */
  fetchPresents: boolean;
  /** `logits` [K, V], or `greedy`: only the argmax token and its log-probability per selected position. */
  outputs: 'logits' | 'greedy';
}

interface RunResult {
  logits: Float32Array | undefined;
  nextTokens: BigInt64Array | undefined;
  nextLogprobs: Float32Array | undefined;
  captures: Map<string, Float32Array>;
  projections: Map<string, Float32Array>;
  projectionNorms: Map<string, Float32Array>;
  presents: Ort.Tensor[] | undefined;
}

function readTensor(tensor: Ort.Tensor | undefined, name: string): Ort.Tensor {
  if (!tensor) throw new Error(`ORT returned no output "${name}"`);
  return tensor;
}

/** Releases the device memory of tensors that live on a device (a no-op for host tensors). */
function disposeDeviceTensors(tensors: readonly Ort.Tensor[] | undefined): void {
  for (const tensor of tensors ?? []) if (tensor.location === 'gpu-buffer') tensor.dispose();
}

function isChatMessages(value: unknown): value is readonly ChatMessage[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    typeof value[0] === 'object' &&
    value[0] !== null &&
    'role' in value[0]
  );
}

/** Tells a single prompt from a batch of prompts. */
export function toPromptBatch(inputs: PromptInput | readonly PromptInput[]): PromptInput[] {
  if (typeof inputs === 'string') return [inputs];
  if (Array.isArray(inputs) && (inputs.length === 0 || typeof inputs[0] === 'number'))
    return [inputs as readonly number[]];
  if (isChatMessages(inputs)) return [inputs];
  return [...(inputs as readonly PromptInput[])];
}

/**
 * Makes per-token strings concatenate to the response text: after a special token (BOS) a tokenizer
 * shows the first word with its leading space, while the decoded text (special tokens skipped) has none.
 * Only such a leading surplus is removed; anything else is left as the tokenizer gave it.
 */
export function alignPiecesToText(pieces: string[], text: string | undefined): string[] {
  if (text === undefined) return pieces;
  const joined = pieces.join('');
  if (joined === text || !joined.endsWith(text)) return pieces;
  let surplus = joined.length - text.length;
  return pieces.map((piece) => {
    const removed = Math.min(surplus, piece.length);
    surplus -= removed;
    return piece.slice(removed);
  });
}

/** A Llama-family model running as an ONNX graph on onnxruntime-node. */
export class OnnxLanguageModel implements LanguageModel {
  /** Sessions per hook plan, least recently used first. */
  private readonly sessions = new Map<string, SessionEntry>();
  private readonly transfers = new TransferCounter();
  private readonly readback = new DeviceReadback();
  private sessionCreations = 0;
  private readonly inverseFrequencies: Float64Array;
  /** Graph options with the provider's defaults filled in. */
  private readonly effectiveGraphOptions: DecoderGraphOptions;
  /** Session options plus the outputs kept on a WebGPU device (the KV cache). */
  private readonly effectiveSessionOptions: SessionOptions;

  constructor(
    readonly id: string,
    readonly config: ModelConfig,
    readonly tokenizer: TextTokenizer,
    private readonly promptEncoder: PromptEncoder,
    private readonly artifacts: ModelArtifacts,
    sessionOptions: SessionOptions,
    graphOptions: DecoderGraphOptions = { accuracyLevel: 4 },
    private readonly maxSessions = 4,
  ) {
    this.inverseFrequencies = rotaryInverseFrequencies(config);
    // Off the CPU every session holds its own copy of the weights on the device, so one graph with
    // steering inputs at every site serves every steering plan there (docs/decisions/0007).
    const onDevice = (sessionOptions.providers?.[0] ?? 'cpu') !== 'cpu';
    this.effectiveGraphOptions = { steerEverySite: onDevice, ...graphOptions };
    const presents: string[] = [];
    for (let layer = 0; layer < config.layerCount; layer++)
      presents.push(`present_key.${layer}`, `present_value.${layer}`);
    this.effectiveSessionOptions = { deviceOutputs: [...presents, 'logits'], ...sessionOptions };
  }

  /** Steering feeds for the graph in use: per steered point, or slot tables when it steers every site. */
  private steeringFeeds(
    specs: readonly SteeringSpec[],
    batchSize: number,
    width: number,
    startToken: readonly number[],
    validCount: readonly number[],
    promptLengths: readonly number[],
  ): FloatFeeds {
    return this.effectiveGraphOptions.steerEverySite
      ? buildSteeringSlotFeeds(
          specs,
          this.config.layerCount,
          this.config.hiddenSize,
          batchSize,
          width,
          startToken,
          validCount,
          promptLengths,
        )
      : buildSteeringFeeds(specs, batchSize, width, startToken, validCount, promptLengths);
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
    const entry = this.acquireSession(normalizeHookPlan({}));
    try {
      return (await entry.session).provider;
    } finally {
      this.releaseSession(entry);
    }
  }

  /**
   * The session for a plan, marked in use until `releaseSession`. Each session holds its own copy of
   * the weights on the device, so at most `maxSessions` are kept: idle ones are released, least
   * recently used first (a plan that comes back is rebuilt from the cached graph).
   */
  private acquireSession(requested: HookPlan): SessionEntry {
    // A graph with steering at every site serves every steering plan: only captures and projections
    // pick the graph then.
    const plan = this.effectiveGraphOptions.steerEverySite ? { ...requested, steer: [] } : requested;
    const key = hookPlanKey(plan);
    let entry = this.sessions.get(key);
    if (entry) {
      this.sessions.delete(key);
    } else {
      const created = ensureGraphForPlan(this.artifacts, this.config, plan, this.effectiveGraphOptions).then(
        (path) => createInferenceSession(path, this.effectiveSessionOptions),
      );
      this.sessionCreations++;
      const fresh: SessionEntry = { session: created, inFlight: 0 };
      created.catch(() => {
        if (this.sessions.get(key) === fresh) this.sessions.delete(key);
      });
      entry = fresh;
    }
    this.sessions.set(key, entry);
    entry.inFlight++;
    this.releaseIdleSessions();
    return entry;
  }

  private releaseSession(entry: SessionEntry): void {
    entry.inFlight--;
    this.releaseIdleSessions();
  }

  private releaseIdleSessions(): void {
    for (const [key, entry] of this.sessions) {
      if (this.sessions.size <= this.maxSessions) break;
      if (entry.inFlight > 0) continue;
      this.sessions.delete(key);
      entry.session.then((created) => created.session.release()).catch(() => undefined);
    }
  }

  /** How many sessions this model has created so far. */
  get createdSessionCount(): number {
    return this.sessionCreations;
  }

  /** How many sessions (hook plans) are loaded now. */
  get loadedSessionCount(): number {
    return this.sessions.size;
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
      steer: steer.map((spec) => ({ point: spec.point, mode: spec.mode ?? 'add' })),
    });
  }

  private emptyPast(batchSize: number): Ort.Tensor[] {
    const { kvHeadCount, headDim, layerCount } = this.config;
    const past: Ort.Tensor[] = [];
    for (let layer = 0; layer < 2 * layerCount; layer++)
      past.push(
        this.artifacts.manifest.dtype === 'float16'
          ? new ort.Tensor('float16', new Uint16Array(0), [batchSize, kvHeadCount, 0, headDim])
          : float32Tensor(new Float32Array(0), [batchSize, kvHeadCount, 0, headDim]),
      );
    return past;
  }

  /** One graph run, holding the plan's session for its duration. */
  private async run(request: RunRequest): Promise<RunResult> {
    const { plan, batchSize, width, past } = request;
    const entry = this.acquireSession(plan);
    try {
      const { session, provider } = await entry.session;
      const pastLength = past[0]?.dims[2] ?? 0;
      const half = this.config.headDim / 2;
      const rotary = rotaryTables(this.inverseFrequencies, request.positions);
      const feeds: Record<string, Ort.Tensor> = {
        input_ids: int64Tensor(request.inputIds, [batchSize, width]),
        rotary_cos: float32Tensor(rotary.cos, [batchSize, width, half]),
        rotary_sin: float32Tensor(rotary.sin, [batchSize, width, half]),
        attention_bias: float32Tensor(request.attentionBias, [batchSize, 1, width, pastLength + width]),
        logit_indices: int64Tensor(request.logitIndices, [request.logitIndices.length]),
      };
      for (let layer = 0; layer < this.config.layerCount; layer++) {
        feeds[`past_key.${layer}`] = past[2 * layer]!;
        feeds[`past_value.${layer}`] = past[2 * layer + 1]!;
      }
      for (const [name, value] of request.extraFeeds)
        feeds[name] =
          value.data instanceof BigInt64Array
            ? int64Tensor(value.data, value.dims)
            : float32Tensor(value.data, value.dims);
      // onnxruntime-node 1.30 keeps an output bound once a run fetched it, and a later run that fetches
      // another set fails (stale, wrongly shaped bindings): on WebGPU every output is fetched every run;
      // present_* and logits stay on the device and are released when unwanted (decision 0007).
      const onDevice = provider === 'webgpu';
      const fetches = onDevice
        ? [...session.outputNames]
        : [
            ...(request.outputs === 'logits' ? ['logits'] : ['next_token', 'next_logprob']),
            ...plan.capture.map(formatHookPoint),
            ...plan.project.flatMap((point) => [projectionNames(point).output, projectionNames(point).norm]),
          ];
      if (!onDevice && request.fetchPresents)
        for (let layer = 0; layer < this.config.layerCount; layer++)
          fetches.push(`present_key.${layer}`, `present_value.${layer}`);
      let outputs: Ort.InferenceSession.ReturnType;
      try {
        outputs = await session.run(feeds, fetches);
      } catch (cause) {
        throw new TraitlensError(
          'RUNTIME_ERROR',
          `onnxruntime failed while running ${this.id}: ${cause instanceof Error ? cause.message : String(cause)}`,
          { cause },
        );
      }
      let logits: Float32Array | undefined;
      const logitsTensor = outputs.logits;
      try {
        if (request.outputs === 'logits')
          logits = await this.readback.read(readTensor(logitsTensor, 'logits'));
      } catch (error) {
        disposeDeviceTensors(Object.values(outputs));
        throw error;
      }
      if (logitsTensor) disposeDeviceTensors([logitsTensor]);
      this.transfers.record(
        request.phase,
        provider,
        Object.values(feeds),
        [
          ...fetches.filter((name) => name !== 'logits').map((name) => outputs[name]!),
          ...(logits ? [float32Tensor(logits, [logits.length])] : []),
        ],
        past.length > 0 && past.every((tensor) => tensor.location === 'gpu-buffer'),
      );
      const captures = new Map<string, Float32Array>();
      for (const point of plan.capture)
        captures.set(
          formatHookPoint(point),
          readFloat32(outputs[formatHookPoint(point)], formatHookPoint(point)),
        );
      const projections = new Map<string, Float32Array>();
      const projectionNorms = new Map<string, Float32Array>();
      for (const point of plan.project) {
        const names = projectionNames(point);
        projections.set(formatHookPoint(point), readFloat32(outputs[names.output], names.output));
        projectionNorms.set(formatHookPoint(point), readFloat32(outputs[names.norm], names.norm));
      }
      let presents: Ort.Tensor[] | undefined;
      if (fetches.includes('present_key.0')) {
        presents = [];
        for (let layer = 0; layer < this.config.layerCount; layer++)
          presents.push(outputs[`present_key.${layer}`]!, outputs[`present_value.${layer}`]!);
        if (!request.fetchPresents) {
          disposeDeviceTensors(presents);
          presents = undefined;
        }
      }
      return {
        logits,
        nextTokens: request.outputs === 'greedy' ? (outputs.next_token!.data as BigInt64Array) : undefined,
        nextLogprobs:
          request.outputs === 'greedy' ? readFloat32(outputs.next_logprob, 'next_logprob') : undefined,
        captures,
        projections,
        projectionNorms,
        presents,
      };
    } finally {
      this.releaseSession(entry);
    }
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
    const width = layout.sequenceLength;
    const logitsMode = options.logits ?? 'all';
    const indices: number[] = [];
    for (let b = 0; b < rows.length; b++) {
      if (logitsMode === 'all') for (let s = 0; s < layout.lengths[b]!; s++) indices.push(b * width + s);
      else if (logitsMode === 'last') indices.push(b * width + layout.lengths[b]! - 1);
    }
    const keyValid = layout.lengths.map((length) => {
      const valid = new Uint8Array(width);
      valid.fill(1, 0, length);
      return valid;
    });
    const projections = this.validateProjections(options.project ?? []);
    const plan = this.planFor(
      capture,
      steer,
      projections.map((entry) => entry.point),
    );
    const result = await this.run({
      plan,
      phase: 'prefill',
      inputIds: buildInputIds(rows, layout, this.config.padTokenId ?? 0),
      positions: Array.from(buildPrefillPositions(layout), Number),
      attentionBias: buildAttentionBias(keyValid, 0, width),
      batchSize: rows.length,
      width,
      past: this.emptyPast(rows.length),
      // Reductions over an empty selection fail on WebGPU: without logits one position is selected and
      // only its greedy token (12 bytes) is read.
      logitIndices: BigInt64Array.from(indices.length > 0 ? indices : [0], (i) => BigInt(i)),
      extraFeeds: new Map([
        ...this.steeringFeeds(
          steer,
          rows.length,
          width,
          rows.map(() => 0),
          layout.lengths,
          layout.lengths,
        ),
        ...this.loraScaleFeed(options.loraScale, rows.length),
        ...projections.map((entry) => [projectionNames(entry.point).bank, entry.bank] as const),
      ]),
      fetchPresents: false,
      outputs: indices.length > 0 ? 'logits' : 'greedy',
    });
    const allLogits = result.logits ?? new Float32Array(0);
    const vocab = this.config.vocabSize;
    const hidden = this.config.hiddenSize;
    // Rows are views into the arrays ORT returned (each row's tokens are contiguous), not copies: a
    // capture of every layer of a large batch is copied out of the graph once, not twice.
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

  async generate(
    prompts: PromptInput | readonly PromptInput[],
    options: GenerateOptions = {},
  ): Promise<GenerationResult[]> {
    validateGenerateOptions(options);
    const rows = this.encodeBatch(prompts);
    const steer = options.steer ?? [];
    for (const spec of steer) validateSteeringSpec(spec, this.config, rows.length);
    const maxNewTokens = options.maxNewTokens ?? 64;
    const stopTokenIds = new Set(options.stopTokenIds ?? this.tokenizer.eosTokenIds);
    const stopStrings = options.stopStrings ?? [];
    const settings = { temperature: options.temperature ?? 0, topK: options.topK, topP: options.topP };
    const random = createRandom(options.seed ?? 0);
    const batchSize = rows.length;
    const layout = layoutBatch(rows);
    const promptLengths = layout.lengths;
    const longest = Math.max(...promptLengths) + maxNewTokens;
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
    const plan = this.planFor([], steer);
    const loraFeed = this.loraScaleFeed(options.loraScale, batchSize);
    const width = layout.sequenceLength;
    const keyValid = layout.lengths.map((length) => {
      const valid = new Uint8Array(width + maxNewTokens);
      valid.fill(1, 0, length);
      return valid;
    });
    const responses: number[][] = rows.map(() => []);
    const logprobs: number[][] = rows.map(() => []);
    const finish: Array<GenerationResult['finishReason'] | undefined> = rows.map(() => undefined);
    const stopTextCut: Array<number | undefined> = rows.map(() => undefined);
    const streamedText: string[] = rows.map(() => '');

    // Greedy decoding fetches only each row's argmax and its log-probability, not [rows, vocab] logits.
    const outputs = settings.temperature <= 0 ? 'greedy' : 'logits';
    let result = await this.run({
      plan,
      phase: 'prefill',
      inputIds: buildInputIds(rows, layout, this.config.padTokenId ?? 0),
      positions: Array.from(buildPrefillPositions(layout), Number),
      attentionBias: buildAttentionBias(keyValid, 0, width),
      batchSize,
      width,
      past: this.emptyPast(batchSize),
      logitIndices: BigInt64Array.from(layout.lengths, (length, b) => BigInt(b * width + length - 1)),
      extraFeeds: new Map([
        ...this.steeringFeeds(
          steer,
          batchSize,
          width,
          rows.map(() => 0),
          layout.lengths,
          promptLengths,
        ),
        ...loraFeed,
      ]),
      fetchPresents: maxNewTokens > 1,
      outputs,
    });
    const vocab = this.config.vocabSize;
    try {
      for (let step = 0; step < maxNewTokens; step++) {
        const next = new Array<number>(batchSize).fill(this.config.padTokenId ?? 0);
        for (let b = 0; b < batchSize; b++) {
          if (finish[b]) continue;
          const { tokenId, logprob } = result.nextTokens
            ? { tokenId: Number(result.nextTokens[b]!), logprob: result.nextLogprobs![b]! }
            : sampleToken(result.logits!.subarray(b * vocab, (b + 1) * vocab), settings, random);
          next[b] = tokenId;
          responses[b]!.push(tokenId);
          if (options.logprobs) logprobs[b]!.push(logprob);
          if (stopTokenIds.has(tokenId)) finish[b] = 'stop_token';
          else if (stopStrings.length > 0) {
            const text = this.decodeContinuation(rows[b]!, responses[b]!);
            const hits = stopStrings.map((stop) => text.indexOf(stop)).filter((index) => index >= 0);
            if (hits.length > 0) {
              finish[b] = 'stop_string';
              stopTextCut[b] = Math.min(...hits);
            }
          }
          if (options.onToken) {
            // Stream the text this token adds in context (leading spaces kept, a character split across
            // byte tokens emitted once complete), so the pieces concatenate to the response text.
            const text = this.decodeContinuation(rows[b]!, responses[b]!);
            const complete = text.endsWith('\uFFFD') ? text.slice(0, text.length - 1) : text;
            const previous = streamedText[b]!;
            const piece = complete.startsWith(previous) ? complete.slice(previous.length) : '';
            if (complete.startsWith(previous)) streamedText[b] = complete;
            options.onToken({ row: b, tokenId, text: piece, step });
          }
        }
        if (step === maxNewTokens - 1 || finish.every(Boolean)) break;
        // Decode one token per row; rows that already finished feed padding that no one attends to.
        const pastLength = width + step;
        for (let b = 0; b < batchSize; b++) keyValid[b]![pastLength] = 1;
        const positions = rows.map((_, b) => promptLengths[b]! + step);
        const stepSteering = new Map([
          ...this.steeringFeeds(
            steer,
            batchSize,
            1,
            rows.map((_, b) => promptLengths[b]! + step),
            rows.map(() => 1),
            promptLengths,
          ),
          ...loraFeed,
        ]);
        const past = result.presents!;
        result = await this.run({
          plan,
          phase: 'decode',
          inputIds: BigInt64Array.from(next, (id) => BigInt(id)),
          positions,
          attentionBias: buildAttentionBias(keyValid, pastLength, 1),
          batchSize,
          width: 1,
          past,
          logitIndices: BigInt64Array.from(rows, (_, b) => BigInt(b)),
          extraFeeds: stepSteering,
          fetchPresents: step < maxNewTokens - 2,
          outputs,
        });
        // The previous step's cache was replaced by this step's present_*.
        disposeDeviceTensors(past);
      }
    } finally {
      // The last KV cache (on a WebGPU device, device memory) is released as soon as generation ends.
      disposeDeviceTensors(result.presents);
    }
    return rows.map((promptTokenIds, b) => {
      const responseTokenIds = responses[b]!;
      let responseText = this.decodeContinuation(promptTokenIds, responseTokenIds);
      const tokenStrings = this.tokenizer.tokenStrings([...promptTokenIds, ...responseTokenIds]);
      const cut = stopTextCut[b];
      if (cut !== undefined) responseText = responseText.slice(0, cut);
      const generation: GenerationResult = {
        promptTokenIds,
        responseTokenIds,
        // Token strings in context, so the first response token keeps its leading space.
        promptTokens: tokenStrings.slice(0, promptTokenIds.length),
        responseTokens: alignPiecesToText(
          tokenStrings.slice(promptTokenIds.length),
          cut === undefined ? responseText : undefined,
        ),
        promptText: this.tokenizer.decode(promptTokenIds, { skipSpecialTokens: false }),
        responseText,
        finishReason: finish[b] ?? 'length',
      };
      if (options.logprobs) generation.tokenLogprobs = logprobs[b]!;
      return generation;
    });
  }

  /**
   * The text the response adds after the prompt. Decoding the response ids alone would drop a leading
   * space (SentencePiece strips the first one), so the prompt is decoded with and without them.
   */
  private decodeContinuation(promptIds: readonly number[], responseIds: readonly number[]): string {
    const prompt = this.tokenizer.decode(promptIds, { skipSpecialTokens: true });
    const whole = this.tokenizer.decode([...promptIds, ...responseIds], { skipSpecialTokens: true });
    return whole.startsWith(prompt)
      ? whole.slice(prompt.length)
      : this.tokenizer.decode(responseIds, { skipSpecialTokens: true });
  }

  async dispose(): Promise<void> {
    await this.readback.release();
    const entries = [...this.sessions.values()];
    this.sessions.clear();
    for (const entry of entries) {
      try {
        await (await entry.session).session.release();
      } catch {
        // A session that failed to create has nothing to release.
      }
    }
  }
}
