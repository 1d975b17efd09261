import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import { resolveArchitectureAdapter } from '../architectures/index';
import { type PrepareArtifactsOptions, prepareModelArtifacts } from '../graph/graph-cache';
import { assertLocalModelFolder } from '../hub/assert-local-model-folder';
import type { HubProgressEvent } from '../hub/hub-progress-event';
import type { HubOptions } from '../hub/hub-settings';
import { describeAdapterBaseModelMismatch } from '../lora/adapter-base-model-mismatch';
import { loadLoraAdapter } from '../lora/load-lora-adapter';
import type { ExecutionProviderName, SessionOptions } from '../session/create-inference-session';
import { type ProviderRequirements, selectExecutionProvider } from '../session/select-execution-provider';
import { loadPromptTokenizer } from '../tokenizer/load-prompt-tokenizer';
import type { LanguageModel } from './language-model';
import { OnnxLanguageModel } from './onnx-language-model';

export interface LoadModelOptions {
  /**
   * Weight type: fp32 (CPU reference, default), fp16 (GPU), or weight-only int8/int4 (MatMulNBits,
   * activations stay fp32).
   */
  dtype?: 'fp32' | 'fp16' | 'int8' | 'int4';
  /**
   * Activation (compute) type for int8/int4 weights: fp32 (default, CPU) or fp16 (GPU: half the
   * activation and KV-cache memory). fp16 weights always compute in fp16.
   */
  computeDtype?: 'fp32' | 'fp16';
  /** Quantization block size along the input dimension (default 32; 128 is smaller and faster). */
  blockSize?: 32 | 64 | 128;
  /**
   * int8/int4: asymmetric blocks with a zero point each (default true), or symmetric blocks without
   * (false): the blocks of GGUF's q4_0 / q8_0, exactly, faster to decode on the CPU and slightly less
   * accurate (docs/quantization.md).
   */
  zeroPoints?: boolean | undefined;
  /**
   * A PEFT LoRA adapter (local folder or hf:org/name[@revision]). `switchable` (default) keeps low-rank
   * branches so one loaded model runs clean (`loraScale: 0`) and adapted (`loraScale: 1`) rows;
   * `merged` folds the adapter into the weights before quantization.
   */
  lora?: { source: string; mode?: 'switchable' | 'merged' };
  /**
   * Execution providers to try in order (default ['cpu']). Each GPU provider is probed first (a tiny
   * session whose first run must succeed, plus fp16 arithmetic when the dtype needs it and, on WebGPU,
   * the largest weight's buffer size); one that cannot run the model is passed over with a warning, and
   * when none can, loading fails with PROVIDER_UNAVAILABLE naming what the device lacks.
   */
  providers?: readonly ExecutionProviderName[];
  /**
   * Debugging aids. `logPlacement`: ORT prints, per session, which graph nodes it placed on the CPU and
   * which on the GPU provider (its verbose log, on stderr); `TRAITLENS_ORT_LOG=verbose` does the same.
   */
  debug?: { logPlacement?: boolean };
  /**
   * Sessions (one per hook plan: the set of captured, steered and projected points) kept loaded at
   * once; each holds its own copy of the weights on a GPU. Default 4 on CPU, 1 on other providers.
   */
  maxSessions?: number;
  /**
   * On the CPU, every hook plan's session shares one copy of the weights in memory (default true;
   * docs/decisions/0015): onnxruntime's packed layout of the weights is written once into a store beside
   * the converted weights (on a plan's first use) and every session maps it. `false` lets each session
   * pack its own copy (more memory per plan, no packed store on disk). Other providers ignore it.
   */
  shareWeights?: boolean;
  /** Intra-op threads for ORT. */
  threads?: number | undefined;
  /** The GPU (0-based) the CUDA provider runs on (default TRAITLENS_DEVICE_INDEX, else 0); see docs/scale-out.md. */
  deviceIndex?: number | undefined;
  /** Built-graph cache (default TRAITLENS_CACHE or ~/.cache/traitlens). */
  cacheDirectory?: string;
  /** Hub options for `hf:` sources. */
  hub?: Omit<HubOptions, 'onProgress'>;
  /** Progress of downloads and weight conversion. */
  onProgress?: (event: { stage: 'download' | 'convert'; done: number; total: number; item: string }) => void;
  onWarning?: (message: string) => void;
}

async function resolveSourceDirectory(
  source: string,
  options: LoadModelOptions,
  kind: 'model' | 'adapter' = 'model',
): Promise<{ directory: string; id: string }> {
  if (source.startsWith('hf:')) {
    const { resolveModelSource } = await import('../hub/resolve-model-source');
    const onProgress = options.onProgress;
    const resolved = await resolveModelSource(source, {
      ...options.hub,
      kind,
      ...(onProgress
        ? {
            onProgress: (event: HubProgressEvent) => {
              if (event.type === 'file-progress') {
                onProgress({
                  stage: 'download',
                  done: event.bytes,
                  total: event.totalBytes,
                  item: event.file,
                });
              }
            },
          }
        : {}),
    });
    return { directory: resolved.directory, id: `hf:${resolved.repo}@${resolved.revision}` };
  }
  const directory = resolve(source);
  await assertLocalModelFolder(directory, source);
  return { directory, id: directory };
}

/**
 * Loads a Hugging Face Llama-family model (local folder or `hf:org/name[@revision]`): parses config.json,
 * picks the architecture adapter, converts the weights once into the graph cache, loads the tokenizer
 * and chat template. Sessions are created lazily per hook plan.
 */
export async function loadModel(source: string, options: LoadModelOptions = {}): Promise<LanguageModel> {
  const { directory, id } = await resolveSourceDirectory(source, options);
  const { json, configPath } = await readConfigJson(directory);
  const adapter = resolveArchitectureAdapter(json, configPath);
  const config = adapter.parseConfig(json as Record<string, unknown>, configPath);
  const { tokenizer, encoder } = await loadPromptTokenizer(directory, config);
  const lora = options.lora ? await loadLora(options.lora, options) : undefined;
  const dtype = options.dtype ?? 'fp32';
  const onWarning = options.onWarning ?? ((message: string) => process.stderr.write(`${message}\n`));
  if (lora) {
    const mismatch = describeAdapterBaseModelMismatch({
      adapterDirectory: lora.adapter.directory,
      adapterBaseModel: lora.adapter.baseModel,
      modelSource: id,
      modelDirectory: directory,
      modelConfig: json as Record<string, unknown>,
    });
    if (mismatch) onWarning(mismatch);
  }
  // The provider is chosen before any weight conversion or session, so a device that lacks what the
  // dtype needs is found out in milliseconds (not at the first forward pass of a converted 70B model)
  // and the graph options below match the provider that will run it.
  const float16 = float16Requirement(dtype, options.computeDtype);
  let selection = await selectExecutionProvider({
    providers: options.providers,
    requirements: float16 ? { float16 } : {},
    onWarning,
  });
  const artifacts = await prepareModelArtifacts(
    directory,
    config,
    adapter.tensorNames(config),
    artifactOptions(options, lora),
  );
  // Buffer sizes are known once the weights are converted (probed only above WebGPU's guaranteed 256 MiB).
  selection = await selectExecutionProvider({
    providers: selection.providers,
    requirements: {
      ...(float16 ? { float16 } : {}),
      ...largestTensor(artifacts.manifest.weights),
    },
    onWarning,
  });
  // MatMulNBits on CPU computes in int8 at accuracy level 4 (8-bit weights need it there).
  const accuracyLevel = selection.provider === 'cpu' ? 4 : 0;
  const maxSessions = options.maxSessions ?? (selection.provider === 'cpu' ? 4 : 1);
  return new OnnxLanguageModel({
    id,
    config,
    tokenizer,
    promptEncoder: encoder,
    artifacts,
    sessionOptions: sessionOptionsOf(options, { providers: selection.providers, onWarning }),
    graphOptions: { accuracyLevel },
    maxSessions,
  });
}

/** config.json of a model folder, parsed (not yet checked: the architecture adapter does that). */
async function readConfigJson(directory: string): Promise<{ json: unknown; configPath: string }> {
  const configPath = join(directory, 'config.json');
  let configText: string;
  try {
    configText = await readFile(configPath, 'utf8');
  } catch (cause) {
    throw new TraitlensError(
      'FILE_NOT_FOUND',
      `${configPath} is missing: a Hugging Face model folder needs config.json next to its weights.`,
      { cause, details: { file: configPath } },
    );
  }
  try {
    return { json: JSON.parse(configText), configPath };
  } catch (cause) {
    throw new TraitlensError('INVALID_CONFIG', `${configPath} is not valid JSON.`, {
      cause,
      details: { file: configPath },
    });
  }
}

type LoadedLora = NonNullable<PrepareArtifactsOptions['lora']>;

async function loadLora(
  lora: NonNullable<LoadModelOptions['lora']>,
  options: LoadModelOptions,
): Promise<LoadedLora> {
  return {
    adapter: await loadLoraAdapter((await resolveSourceDirectory(lora.source, options, 'adapter')).directory),
    mode: lora.mode ?? 'switchable',
  };
}

/** How the weights are converted: dtype, quantization, LoRA, cache folder, progress. */
function artifactOptions(options: LoadModelOptions, lora: LoadedLora | undefined): PrepareArtifactsOptions {
  const dtype = options.dtype ?? 'fp32';
  const quantization =
    dtype === 'int4' || dtype === 'int8'
      ? {
          bits: dtype === 'int4' ? (4 as const) : (8 as const),
          blockSize: options.blockSize ?? 32,
          zeroPoints: options.zeroPoints ?? true,
        }
      : undefined;
  const onProgress = options.onProgress;
  return {
    dtype: dtype === 'fp16' || (quantization && options.computeDtype === 'fp16') ? 'float16' : 'float32',
    quantization,
    lora,
    cacheDirectory: options.cacheDirectory || undefined,
    onProgress: onProgress
      ? (event) => onProgress({ stage: 'convert', done: event.done, total: event.total, item: event.weight })
      : undefined,
  };
}

function sessionOptionsOf(
  options: LoadModelOptions,
  selected: { providers: readonly ExecutionProviderName[]; onWarning: (message: string) => void },
): SessionOptions {
  return {
    providers: selected.providers,
    threads: options.threads,
    deviceIndex: options.deviceIndex,
    logPlacement: options.debug?.logPlacement || undefined,
    // Every hook plan's session shares the weights held in memory (docs/decisions/0015): ORT's packed
    // layout is saved once into a store beside the converted weights and every session maps it.
    sharedWeights: options.shareWeights === false ? undefined : 'prepacked',
    onWarning: selected.onWarning,
  };
}

/** Why the model needs fp16 arithmetic from the device, if it does. */
function float16Requirement(
  dtype: NonNullable<LoadModelOptions['dtype']>,
  computeDtype: LoadModelOptions['computeDtype'],
): ProviderRequirements['float16'] {
  if (dtype === 'fp16') return { because: 'dtype fp16' };
  if (computeDtype === 'fp16' && (dtype === 'int8' || dtype === 'int4'))
    return { because: `dtype ${dtype} with computeDtype fp16` };
  return undefined;
}

/** The largest converted weight: each becomes one buffer on the device. */
function largestTensor(
  weights: Record<string, { length: number }>,
): Pick<ProviderRequirements, 'largestTensor'> {
  let largest: ProviderRequirements['largestTensor'];
  for (const [name, weight] of Object.entries(weights))
    if (weight.length > (largest?.bytes ?? 0)) largest = { bytes: weight.length, name };
  return largest ? { largestTensor: largest } : {};
}
