import type * as Ort from 'onnxruntime-node';
import type { KvCacheLayout } from '../graph/build-decoder-graph';
import { ort } from '../session/load-onnxruntime';
import { buildAttentionBias } from './batch-layout';

/** The cache's element type: the graph's compute type (float16 only for fp16 weights on a GPU). */
export type CacheElementType = 'float32' | 'float16';

export interface KeyValueCacheShape {
  layerCount: number;
  kvHeadCount: number;
  headDim: number;
  batchSize: number;
  elementType: CacheElementType;
}

/**
 * The key/value cache of one generation (or of one forward pass, which keeps nothing): what a graph
 * run is fed as `past_*`, the attention bias over those slots and the run's new tokens, and how the
 * run's outputs extend the cache. `newValid[b][i]` says whether new token i of row b is a real token.
 */
export interface KeyValueCache {
  /** Key slots fed before the run's new tokens (P in the graph's attention_bias [B,1,S,P+S]). */
  readonly pastSlots: number;
  pastFeeds(): Record<string, Ort.Tensor>;
  /** attention_bias [B,1,S,P+S] for the next run. */
  attentionBias(newValid: readonly Uint8Array[]): Float32Array;
  /** The outputs a run must fetch for `append`. */
  readonly outputNames: readonly string[];
  /** Takes a run's outputs (fetched as `outputNames`) into the cache. */
  append(outputs: Ort.InferenceSession.ReturnType, newValid: readonly Uint8Array[]): void;
  /** Releases device memory (a no-op for host memory). */
  dispose(): void;
}

type CacheArray = Float32Array | Uint16Array;

function cacheArray(elementType: CacheElementType, length: number): CacheArray {
  return elementType === 'float16' ? new Uint16Array(length) : new Float32Array(length);
}

function layerNames(prefix: string, layerCount: number): string[] {
  const names: string[] = [];
  for (let layer = 0; layer < layerCount; layer++)
    names.push(`${prefix}_key.${layer}`, `${prefix}_value.${layer}`);
  return names;
}

/** Releases the device memory of tensors that live on a device (a no-op for host tensors). */
export function disposeDeviceTensors(tensors: Iterable<Ort.Tensor | undefined>): void {
  for (const tensor of tensors) if (tensor?.location === 'gpu-buffer') tensor.dispose();
}

/**
 * The `buffer` layout (docs/decisions/0019): one host buffer [B,kvH,capacity,hd] per layer and key or
 * value, allocated once and fed by reference at every step; each run returns only its own keys and
 * values, which are written into the next free slots. Slots not yet written are masked. Before the first
 * write a single zero slot is fed instead (also masked), so a prompt does not attend over empty slots.
 */
export class BufferedKeyValueCache implements KeyValueCache {
  readonly outputNames: readonly string[];
  private readonly pastNames: string[];
  private readonly buffers: CacheArray[];
  private readonly tensors: Ort.Tensor[];
  private readonly emptyTensors: Ort.Tensor[];
  private readonly slotValid: Uint8Array[];
  private written = 0;

  constructor(
    private readonly shape: KeyValueCacheShape,
    private readonly capacity: number,
  ) {
    const { layerCount, kvHeadCount, headDim, batchSize, elementType } = shape;
    this.outputNames = layerNames('new', layerCount);
    this.pastNames = layerNames('past', layerCount);
    const dims = (slots: number) => [batchSize, kvHeadCount, slots, headDim];
    const length = (slots: number) => batchSize * kvHeadCount * slots * headDim;
    this.buffers = this.pastNames.map(() => cacheArray(elementType, length(capacity)));
    this.tensors = this.buffers.map((buffer) => new ort.Tensor(elementType, buffer, dims(capacity)));
    const zero = cacheArray(elementType, length(1));
    this.emptyTensors = this.pastNames.map(() => new ort.Tensor(elementType, zero, dims(1)));
    this.slotValid = Array.from({ length: batchSize }, () => new Uint8Array(capacity));
  }

  get pastSlots(): number {
    return this.written === 0 ? 1 : this.capacity;
  }

  pastFeeds(): Record<string, Ort.Tensor> {
    const tensors = this.written === 0 ? this.emptyTensors : this.tensors;
    return Object.fromEntries(this.pastNames.map((name, index) => [name, tensors[index]!]));
  }

  attentionBias(newValid: readonly Uint8Array[]): Float32Array {
    const past = this.pastSlots;
    const keyValid = newValid.map((valid, b) => {
      const row = new Uint8Array(past + valid.length);
      if (this.written > 0) row.set(this.slotValid[b]!);
      row.set(valid, past);
      return row;
    });
    return buildAttentionBias(keyValid, past, newValid[0]?.length ?? 0);
  }

  append(outputs: Ort.InferenceSession.ReturnType, newValid: readonly Uint8Array[]): void {
    const count = newValid[0]?.length ?? 0;
    if (this.written + count > this.capacity)
      throw new Error(`key/value buffer of ${this.capacity} slots cannot take ${count} more`);
    const { batchSize, kvHeadCount, headDim } = this.shape;
    this.outputNames.forEach((name, index) => {
      const data = outputs[name]?.data as CacheArray | undefined;
      if (!data) throw new Error(`ORT returned no output "${name}"`);
      const buffer = this.buffers[index]!;
      for (let row = 0; row < batchSize * kvHeadCount; row++)
        buffer.set(
          data.subarray(row * count * headDim, (row + 1) * count * headDim),
          (row * this.capacity + this.written) * headDim,
        );
    });
    newValid.forEach((valid, b) => {
      this.slotValid[b]!.set(valid, this.written);
    });
    this.written += count;
  }

  dispose(): void {}
}

/**
 * The `concat` layout: the graph returns `present_*` = Concat(past, new), fed back as the next
 * `past_*`. On WebGPU those tensors stay in device memory (decision 0007); the previous step's are
 * released when replaced.
 */
export class ConcatenatedKeyValueCache implements KeyValueCache {
  readonly outputNames: readonly string[];
  private readonly pastNames: string[];
  private presents: Ort.Tensor[];
  private readonly keyValid: Uint8Array[];
  private length = 0;

  /** `maxSlots`: the tokens the cache is expected to hold (prompt width plus new tokens); it grows past that. */
  constructor(shape: KeyValueCacheShape, maxSlots: number) {
    const { layerCount, kvHeadCount, headDim, batchSize, elementType } = shape;
    this.outputNames = layerNames('present', layerCount);
    this.pastNames = layerNames('past', layerCount);
    this.presents = this.pastNames.map(
      () => new ort.Tensor(elementType, cacheArray(elementType, 0), [batchSize, kvHeadCount, 0, headDim]),
    );
    this.keyValid = Array.from({ length: batchSize }, () => new Uint8Array(maxSlots));
  }

  get pastSlots(): number {
    return this.length;
  }

  pastFeeds(): Record<string, Ort.Tensor> {
    return Object.fromEntries(this.pastNames.map((name, index) => [name, this.presents[index]!]));
  }

  attentionBias(newValid: readonly Uint8Array[]): Float32Array {
    newValid.forEach((valid, b) => {
      let row = this.keyValid[b]!;
      if (row.length < this.length + valid.length) {
        row = new Uint8Array(this.length + valid.length);
        row.set(this.keyValid[b]!.subarray(0, this.length));
        this.keyValid[b] = row;
      }
      row.set(valid, this.length);
    });
    return buildAttentionBias(this.keyValid, this.length, newValid[0]?.length ?? 0);
  }

  append(outputs: Ort.InferenceSession.ReturnType, newValid: readonly Uint8Array[]): void {
    const next = this.outputNames.map((name) => {
      const tensor = outputs[name];
      if (!tensor) throw new Error(`ORT returned no output "${name}"`);
      return tensor;
    });
    disposeDeviceTensors(this.presents);
    this.presents = next;
    this.length += newValid[0]?.length ?? 0;
  }

  dispose(): void {
    disposeDeviceTensors(this.presents);
  }
}

/** The cache for a graph built with `layout`; `slots`: prompt width plus the tokens still to be decoded. */
export function createKeyValueCache(
  layout: KvCacheLayout,
  shape: KeyValueCacheShape,
  slots: number,
): KeyValueCache {
  return layout === 'buffer'
    ? new BufferedKeyValueCache(shape, Math.max(1, slots))
    : new ConcatenatedKeyValueCache(shape, slots);
}
