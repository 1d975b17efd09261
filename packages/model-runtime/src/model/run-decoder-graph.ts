import { formatHookPoint, TraitlensError } from '@traitlens/core';
import type * as Ort from 'onnxruntime-node';
import { type HookPlan, projectionNames } from '../hooks/hook-plan';
import type { CreatedSession } from '../session/create-inference-session';
import { float32Tensor, int64Tensor, readFloat32 } from '../session/tensors';
import type { DeviceReadback } from './device-readback';
import { disposeDeviceTensors, type KeyValueCache } from './kv-cache';
import { rotaryTables } from './rotary-tables';
import type { TransferCounter } from './transfer-stats';

/** Extra named feeds (steering, LoRA scale, projection banks). */
export type FloatFeeds = Map<string, { data: Float32Array | BigInt64Array; dims: number[] }>;

/** One graph run's inputs. */
export interface GraphRunRequest {
  plan: HookPlan;
  /** Which TransferStats group the run counts in. */
  phase: 'prefill' | 'decode';
  /** [batchSize, width] token ids. */
  inputIds: BigInt64Array;
  /** Rotary position of every token, [batchSize * width] row-major. */
  positions: readonly number[];
  batchSize: number;
  width: number;
  /** The cache read as `past_*`; the run's keys and values are added to it when `keepCache`. */
  cache: KeyValueCache;
  /** Per row, whether each of the `width` new tokens is real (padding is never attended to). */
  newValid: readonly Uint8Array[];
  keepCache: boolean;
  logitIndices: BigInt64Array;
  extraFeeds: FloatFeeds;
  /** `logits` [K, V], or `greedy`: only the argmax token and its log-probability per selected position. */
  outputs: 'logits' | 'greedy';
}

export interface GraphRunResult {
  logits: Float32Array | undefined;
  nextTokens: BigInt64Array | undefined;
  nextLogprobs: Float32Array | undefined;
  captures: Map<string, Float32Array>;
  projections: Map<string, Float32Array>;
  projectionNorms: Map<string, Float32Array>;
}

/** What a run needs from the model besides the request. */
export interface GraphRunContext {
  modelId: string;
  inverseFrequencies: Float64Array;
  transfers: TransferCounter;
  readback: DeviceReadback;
}

function buildFeeds(request: GraphRunRequest, inverseFrequencies: Float64Array): Record<string, Ort.Tensor> {
  const { batchSize, width, cache } = request;
  const half = inverseFrequencies.length;
  const rotary = rotaryTables(inverseFrequencies, request.positions);
  const feeds: Record<string, Ort.Tensor> = {
    input_ids: int64Tensor(request.inputIds, [batchSize, width]),
    rotary_cos: float32Tensor(rotary.cos, [batchSize, width, half]),
    rotary_sin: float32Tensor(rotary.sin, [batchSize, width, half]),
    attention_bias: float32Tensor(cache.attentionBias(request.newValid), [
      batchSize,
      1,
      width,
      cache.pastSlots + width,
    ]),
    logit_indices: int64Tensor(request.logitIndices, [request.logitIndices.length]),
    ...cache.pastFeeds(),
  };
  for (const [name, value] of request.extraFeeds)
    feeds[name] =
      value.data instanceof BigInt64Array
        ? int64Tensor(value.data, value.dims)
        : float32Tensor(value.data, value.dims);
  return feeds;
}

/**
 * onnxruntime-node 1.30 keeps an output bound once a run fetched it, and a later run that fetches another
 * set fails (stale, wrongly shaped bindings): on WebGPU every output is fetched every run; the cache and
 * logits stay on the device and are released when unwanted (decision 0007).
 */
function chooseFetches(request: GraphRunRequest, session: CreatedSession): string[] {
  if (session.provider === 'webgpu') return [...session.session.outputNames];
  const { plan } = request;
  return [
    ...(request.outputs === 'logits' ? ['logits'] : ['next_token', 'next_logprob']),
    ...plan.capture.map(formatHookPoint),
    ...plan.project.flatMap((point) => [projectionNames(point).output, projectionNames(point).norm]),
    ...(request.keepCache ? request.cache.outputNames : []),
  ];
}

async function runSession(
  session: Ort.InferenceSession,
  feeds: Record<string, Ort.Tensor>,
  fetches: string[],
  modelId: string,
): Promise<Ort.InferenceSession.ReturnType> {
  try {
    return await session.run(feeds, fetches);
  } catch (cause) {
    throw new TraitlensError(
      'RUNTIME_ERROR',
      `onnxruntime failed while running ${modelId}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}

/** The logits, read back from the device when they stay there; every device output is released on failure. */
async function readLogits(
  request: GraphRunRequest,
  outputs: Ort.InferenceSession.ReturnType,
  readback: DeviceReadback,
): Promise<Float32Array | undefined> {
  const tensor = outputs.logits;
  let logits: Float32Array | undefined;
  try {
    if (request.outputs === 'logits') {
      if (!tensor) throw new Error('ORT returned no output "logits"');
      logits = await readback.read(tensor);
    }
  } catch (error) {
    disposeDeviceTensors(Object.values(outputs));
    throw error;
  }
  if (tensor) disposeDeviceTensors([tensor]);
  return logits;
}

/** The cache's outputs go into the cache, or are released when the cache is not kept. */
function takeCacheOutputs(request: GraphRunRequest, outputs: Ort.InferenceSession.ReturnType): void {
  const { cache } = request;
  if (request.keepCache) cache.append(outputs, request.newValid);
  else disposeDeviceTensors(cache.outputNames.map((name) => outputs[name]));
}

function readHookOutputs(
  plan: HookPlan,
  outputs: Ort.InferenceSession.ReturnType,
): Pick<GraphRunResult, 'captures' | 'projections' | 'projectionNorms'> {
  const captures = new Map<string, Float32Array>();
  for (const point of plan.capture) {
    const name = formatHookPoint(point);
    captures.set(name, readFloat32(outputs[name], name));
  }
  const projections = new Map<string, Float32Array>();
  const projectionNorms = new Map<string, Float32Array>();
  for (const point of plan.project) {
    const names = projectionNames(point);
    projections.set(formatHookPoint(point), readFloat32(outputs[names.output], names.output));
    projectionNorms.set(formatHookPoint(point), readFloat32(outputs[names.norm], names.norm));
  }
  return { captures, projections, projectionNorms };
}

/** One run of a decoder graph on a created session: feeds, fetches, the cache update, transfer counts. */
export async function runDecoderGraph(
  created: CreatedSession,
  request: GraphRunRequest,
  context: GraphRunContext,
): Promise<GraphRunResult> {
  const pastOnDevice = Object.values(request.cache.pastFeeds());
  const feeds = buildFeeds(request, context.inverseFrequencies);
  const fetches = chooseFetches(request, created);
  const outputs = await runSession(created.session, feeds, fetches, context.modelId);
  const logits = await readLogits(request, outputs, context.readback);
  context.transfers.record({
    phase: request.phase,
    provider: created.provider,
    feeds: Object.values(feeds),
    outputs: [
      ...fetches.filter((name) => name !== 'logits').map((name) => outputs[name]!),
      ...(logits ? [float32Tensor(logits, [logits.length])] : []),
    ],
    kvCacheOnDevice:
      request.cache.pastSlots > 0 && pastOnDevice.every((tensor) => tensor.location === 'gpu-buffer'),
  });
  takeCacheOutputs(request, outputs);
  const greedy = request.outputs === 'greedy';
  return {
    logits,
    nextTokens: greedy ? (outputs.next_token!.data as BigInt64Array) : undefined,
    nextLogprobs: greedy ? readFloat32(outputs.next_logprob, 'next_logprob') : undefined,
    ...readHookOutputs(request.plan, outputs),
  };
}
