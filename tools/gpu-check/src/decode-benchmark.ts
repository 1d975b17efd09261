import type { ExecutionProviderName, LanguageModel } from '@traitlens/model-runtime';
import { loadModel } from '@traitlens/model-runtime';
import { createTinyModel } from '@traitlens/model-runtime/testing';
import type { DtypeConfig } from './dtype-configs';

/** The shape of the random Llama the benchmark decodes with (`hidden,layers,heads,kvHeads,ffn,vocab`). */
export interface BenchmarkShape {
  hiddenSize: number;
  layerCount: number;
  headCount: number;
  kvHeadCount: number;
  intermediateSize: number;
  vocabSize: number;
}

/** 1024 hidden, 8 layers, 16/4 heads, ffn 2816, vocab 8192: ~100M parameters, a Llama block at small width. */
export const defaultBenchmarkShape: BenchmarkShape = {
  hiddenSize: 1024,
  layerCount: 8,
  headCount: 16,
  kvHeadCount: 4,
  intermediateSize: 2816,
  vocabSize: 8192,
};

export function parseBenchmarkShape(text: string): BenchmarkShape {
  const values = text.split(',').map(Number);
  if (values.length !== 6 || values.some((value) => !Number.isInteger(value) || value <= 0))
    throw new Error(
      `--bench-shape ${text}: expected six positive integers hidden,layers,heads,kvHeads,ffn,vocab (e.g. 1024,8,16,4,2816,8192)`,
    );
  const [hiddenSize, layerCount, headCount, kvHeadCount, intermediateSize, vocabSize] = values as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return { hiddenSize, layerCount, headCount, kvHeadCount, intermediateSize, vocabSize };
}

/** Host <-> device traffic as model-runtime's transfer counter reports it (absent on older runtimes). */
interface TransferCountsLike {
  runs: number;
  hostToDeviceBytes: number;
  deviceToHostBytes: number;
}
interface TransferStatsLike {
  decode: TransferCountsLike;
  kvCacheOnDevice?: boolean | undefined;
}
type CountingModel = LanguageModel & {
  transferStats?: () => TransferStatsLike;
  resetTransferStats?: () => void;
};

export interface DecodeBenchmarkResult {
  config: string;
  model: string;
  batch: number;
  promptTokens: number;
  steps: number;
  /** Generated tokens per second over the decode steps only (prefill excluded), median and min. */
  tokensPerSecond?: { median: number; min: number };
  /** Bytes fed from host memory per decode step (all rows); undefined when the runtime has no counter. */
  hostToDeviceBytesPerStep?: number;
  /** Bytes fetched into host memory per decode step. */
  deviceToHostBytesPerStep?: number;
  /** Whether the KV cache stayed on the device during decoding. */
  kvCacheOnDevice?: boolean;
  /** What the KV cache of the last step holds (it would cross twice per step through the host). */
  kvCacheBytes: number;
  error?: string;
}

function randomPrompts(rows: number, length: number, vocab: number): number[][] {
  let state = 12345;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state;
  };
  return Array.from({ length: rows }, () => Array.from({ length }, () => 3 + (next() % (vocab - 3))));
}

/**
 * Greedy decoding of `batch` rows after a `promptTokens` prompt, `steps` decode steps after the first
 * token: tokens per second over the decode steps (from the first streamed token to the end, so the
 * prefill is excluded), and the host <-> device bytes of one decode step from the runtime's transfer
 * counter.
 */
export async function runDecodeBenchmark(options: {
  provider: ExecutionProviderName;
  config: DtypeConfig;
  shape: BenchmarkShape;
  batch: number;
  promptTokens: number;
  steps: number;
  repeats: number;
  cacheDirectory: string;
  threads?: number;
}): Promise<DecodeBenchmarkResult> {
  const { shape, batch, promptTokens, steps } = options;
  const headDim = shape.hiddenSize / shape.headCount;
  const bytesPerValue = options.config.options.dtype === 'fp32' ? 4 : options.config.float16 ? 2 : 4;
  const result: DecodeBenchmarkResult = {
    config: options.config.name,
    model: `llama ${shape.hiddenSize}x${shape.layerCount} ${shape.headCount}/${shape.kvHeadCount} heads ffn ${shape.intermediateSize} vocab ${shape.vocabSize}`,
    batch,
    promptTokens,
    steps,
    kvCacheBytes:
      2 * shape.layerCount * batch * shape.kvHeadCount * headDim * (promptTokens + steps) * bytesPerValue,
  };
  const tiny = await createTinyModel({
    architecture: 'LlamaForCausalLM',
    seed: 3,
    ...shape,
    maxPositionEmbeddings: Math.max(512, 2 ** Math.ceil(Math.log2(promptTokens + steps + 2))),
    chatTemplate: null,
  });
  let model: CountingModel | undefined;
  try {
    model = (await loadModel(tiny.directory, {
      cacheDirectory: options.cacheDirectory,
      providers: [options.provider],
      ...options.config.options,
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
    })) as CountingModel;
    const loaded = model;
    const prompts = randomPrompts(batch, promptTokens, shape.vocabSize);
    // Decode time = from the first token (the prefill's) to the last: `steps` decode steps, timed
    // directly through the streaming callback, with no prefill in it.
    let firstTokenAt = 0;
    const generate = () =>
      loaded.generate(prompts, {
        maxNewTokens: steps + 1,
        stopTokenIds: [],
        onToken: (event) => {
          if (event.step === 0 && event.row === 0) firstTokenAt = performance.now();
        },
      });
    // Warm-up: sessions, shader compilation, memory-mapped weights.
    await generate();
    const samples: number[] = [];
    for (let round = 0; round < options.repeats; round++) {
      loaded.resetTransferStats?.();
      await generate();
      samples.push((batch * steps) / ((performance.now() - firstTokenAt) / 1000));
    }
    samples.sort((a, b) => a - b);
    result.tokensPerSecond = { median: samples[Math.floor(samples.length / 2)]!, min: samples[0]! };
    const stats = loaded.transferStats?.();
    if (stats && stats.decode.runs > 0) {
      result.hostToDeviceBytesPerStep = stats.decode.hostToDeviceBytes / stats.decode.runs;
      result.deviceToHostBytesPerStep = stats.decode.deviceToHostBytes / stats.decode.runs;
      if (stats.kvCacheOnDevice !== undefined) result.kvCacheOnDevice = stats.kvCacheOnDevice;
    }
  } catch (cause) {
    result.error = (cause instanceof Error ? cause.message : String(cause)).split('\n')[0]!.slice(0, 500);
  } finally {
    await model?.dispose();
    await tiny.remove();
  }
  return result;
}
