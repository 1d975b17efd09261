/**
 * Runtime benchmark: traitlens (onnxruntime-node, CPU) against a PyTorch eager implementation of the same
 * model with forward hooks (tools/bench/torch_eager_bench.py, Debian python3-torch + OpenBLAS), same
 * weights, same thread count, measured in the same run. Prints a table and writes JSON. Decode rows also
 * give the host <-> device bytes of one decode step (model-runtime's transfer counter): on WebGPU the KV
 * cache stays on the device, on the CPU provider the figure is what would cross on a device.
 *
 *   pnpm bench:runtime [--threads 2] [--repeats 3] [--skip-torch] [--small-only] [--out file.json]
 *                      [--providers cuda,cpu] [--dtype fp32|fp16|int8|int4]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatHookPoint, type HookPoint } from '@traitlens/core';
import {
  type ExecutionProviderName,
  type LanguageModel,
  type LoadModelOptions,
  loadModel,
} from '@traitlens/model-runtime';
import { createTinyModel } from '@traitlens/model-runtime/testing';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    repeats: { type: 'string', default: '3' },
    'skip-torch': { type: 'boolean', default: false },
    'small-only': { type: 'boolean', default: false },
    out: { type: 'string' },
    python: { type: 'string', default: '/usr/bin/python3' },
    providers: { type: 'string', default: 'cpu' },
    dtype: { type: 'string', default: 'fp32' },
  },
});
const threads = Number(args.threads);
const repeats = Number(args.repeats);
const here = import.meta.dirname;

interface Row {
  model: string;
  case: string;
  unit: 'tokens/s';
  traitlens: { min: number; median: number };
  torch?: { min: number; median: number };
  ratio?: number;
  /** Decode cases: bytes fed from / fetched into host memory per decode step (all rows together). */
  hostToDeviceBytesPerStep?: number;
  deviceToHostBytesPerStep?: number;
  /** Decode cases: whether the KV cache stayed on the device. */
  kvCacheOnDevice?: boolean;
}

function summarise(samples: number[]): { min: number; median: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { min: sorted[0]!, median: sorted[Math.floor(sorted.length / 2)]! };
}

function randomIds(rows: number, length: number, vocab: number, seed: number): number[][] {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state;
  };
  return Array.from({ length: rows }, () => Array.from({ length }, () => 3 + (next() % (vocab - 3))));
}

interface BenchCase {
  name: string;
  /** Tokens per second of one run. */
  run: () => Promise<number>;
}

/**
 * Runs every case twice to warm up (sessions, memory-mapped weights), then `repeats` rounds in which the
 * cases take turns, so load from other processes on a shared machine falls on every case alike.
 */
async function measureInterleaved(cases: BenchCase[]): Promise<Record<string, number[]>> {
  const results: Record<string, number[]> = {};
  for (const benchCase of cases) {
    await benchCase.run();
    await benchCase.run();
    results[benchCase.name] = [];
  }
  for (let round = 0; round < repeats; round++) {
    for (const benchCase of cases) results[benchCase.name]!.push(await benchCase.run());
  }
  return results;
}

async function timeTokens(tokens: number, run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return tokens / ((performance.now() - start) / 1000);
}

/** Host <-> device bytes of one decode step (all rows), from the runtime's transfer counter. */
interface DecodeTransfer {
  hostToDeviceBytesPerStep: number;
  deviceToHostBytesPerStep: number;
  kvCacheOnDevice?: boolean;
}

async function measureDecodeTransfer(
  model: LanguageModel,
  prompts: number[][],
  decodeSteps: number,
): Promise<DecodeTransfer | undefined> {
  if (!model.transferStats || !model.resetTransferStats) return undefined;
  model.resetTransferStats();
  await model.generate(prompts, { maxNewTokens: decodeSteps + 1, stopTokenIds: [] });
  const { decode, kvCacheOnDevice } = model.transferStats();
  if (decode.runs === 0) return undefined;
  return {
    hostToDeviceBytesPerStep: decode.hostToDeviceBytes / decode.runs,
    deviceToHostBytesPerStep: decode.deviceToHostBytes / decode.runs,
    ...(kvCacheOnDevice !== undefined ? { kvCacheOnDevice } : {}),
  };
}

async function benchTraitlens(
  model: LanguageModel,
  label: string,
  decodeSteps: number,
): Promise<{ samples: Record<string, number[]>; transfers: Record<string, DecodeTransfer | undefined> }> {
  const { layerCount, hiddenSize, vocabSize } = model.config;
  const prefill = randomIds(8, 128, vocabSize, 1);
  const allResidPost: HookPoint[] = Array.from({ length: layerCount }, (_, layer) => ({
    layer,
    site: 'resid_post',
  }));
  const vector = new Float32Array(hiddenSize).map((_, i) => Math.sin(i));
  const middle = Math.floor(layerCount / 2);
  const decodePrompt = randomIds(8, 16, vocabSize, 2);
  // Decode throughput = generated tokens / time, measured as (prefill+N) minus (prefill+1) so the prompt
  // pass is excluded, the same way the PyTorch script measures it.
  const decode = (batch: number): BenchCase => ({
    name: `decode_batch_${batch}`,
    run: async () => {
      const prompts = decodePrompt.slice(0, batch);
      const t0 = performance.now();
      await model.generate(prompts, { maxNewTokens: 1, stopTokenIds: [] });
      const t1 = performance.now();
      await model.generate(prompts, { maxNewTokens: decodeSteps + 1, stopTokenIds: [] });
      const t2 = performance.now();
      return (batch * decodeSteps) / ((t2 - t1 - (t1 - t0)) / 1000);
    },
  });
  process.stderr.write(`[${label}] measuring\n`);
  const samples = await measureInterleaved([
    {
      name: 'prefill_no_hooks',
      run: () => timeTokens(8 * 128, () => model.forward(prefill, { logits: 'last' })),
    },
    {
      name: 'prefill_capture_all_resid_post',
      run: () =>
        timeTokens(8 * 128, async () => {
          const rows = await model.forward(prefill, { logits: 'last', capture: allResidPost });
          if (rows[0]!.captures.get(formatHookPoint(allResidPost[0]!))!.length !== 128 * hiddenSize)
            throw new Error('capture size');
        }),
    },
    {
      name: 'prefill_steer_one_layer',
      run: () =>
        timeTokens(8 * 128, () =>
          model.forward(prefill, {
            logits: 'last',
            steer: [{ point: { layer: middle, site: 'resid_post' }, vector, coefficient: 2 }],
          }),
        ),
    },
    decode(1),
    decode(8),
  ]);
  const transfers: Record<string, DecodeTransfer | undefined> = {};
  for (const batch of [1, 8])
    transfers[`decode_batch_${batch}`] = await measureDecodeTransfer(
      model,
      decodePrompt.slice(0, batch),
      decodeSteps,
    );
  return { samples, transfers };
}

function benchTorch(directory: string, decodeSteps: number): Record<string, number[]> | undefined {
  if (args['skip-torch']) return undefined;
  if (!existsSync(args.python)) {
    process.stderr.write(
      `no ${args.python}: skipping the PyTorch baseline (apt-get install python3-torch libopenblas0-pthread)\n`,
    );
    return undefined;
  }
  process.stderr.write('[torch] running PyTorch eager baseline\n');
  const output = execFileSync(
    args.python,
    [
      join(here, '..', 'torch_eager_bench.py'),
      '--model',
      directory,
      '--threads',
      String(threads),
      '--repeats',
      String(repeats),
      '--decode-steps',
      String(decodeSteps),
    ],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 24,
    },
  );
  return JSON.parse(output) as Record<string, number[]>;
}

const rows: Row[] = [];
const cacheDirectory = mkdtempSync(join(tmpdir(), 'traitlens-bench-cache-'));
const models: Array<{
  label: string;
  directory: string;
  cleanup?: () => Promise<void>;
  decodeSteps: number;
}> = [];
const stories = join(here, '../../../../shared/models/stories260k/hf');
if (existsSync(stories)) models.push({ label: 'stories260k', directory: stories, decodeSteps: 64 });
if (!args['small-only']) {
  process.stderr.write(
    'generating a 125M-parameter Llama (hidden 768, 12 layers, 12/4 heads, ffn 2048, vocab 32000)\n',
  );
  const big = await createTinyModel({
    architecture: 'LlamaForCausalLM',
    seed: 11,
    hiddenSize: 768,
    layerCount: 12,
    headCount: 12,
    kvHeadCount: 4,
    intermediateSize: 2048,
    vocabSize: 32000,
    maxPositionEmbeddings: 1024,
  });
  models.push({
    label: 'llama-125m',
    directory: big.directory,
    cleanup: () => big.remove(),
    decodeSteps: 16,
  });
}

for (const entry of models) {
  const model = await loadModel(entry.directory, {
    cacheDirectory,
    threads,
    providers: args.providers.split(',') as ExecutionProviderName[],
    dtype: args.dtype as NonNullable<LoadModelOptions['dtype']>,
  });
  const ours = await benchTraitlens(model, entry.label, entry.decodeSteps);
  await model.dispose();
  const theirs = benchTorch(entry.directory, entry.decodeSteps);
  for (const [name, samples] of Object.entries(ours.samples)) {
    const row: Row = { model: entry.label, case: name, unit: 'tokens/s', traitlens: summarise(samples) };
    const transfer = ours.transfers[name];
    if (transfer) Object.assign(row, transfer);
    const baseline = theirs?.[name];
    if (baseline) {
      row.torch = summarise(baseline);
      row.ratio = row.traitlens.median / row.torch.median;
    }
    rows.push(row);
  }
  await entry.cleanup?.();
}
rmSync(cacheDirectory, { recursive: true, force: true });

const formatBytes = (bytes: number | undefined) => {
  if (bytes === undefined) return '';
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(2)} MiB`;
  return bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${Math.round(bytes)} B`;
};
const header = `| model | case | traitlens tok/s (median, min) | PyTorch eager tok/s (median, min) | ratio | host→device per decode step | device→host per decode step | KV cache on device |`;
console.log(
  `\nproviders=${args.providers} dtype=${args.dtype} threads=${threads} repeats=${repeats} node=${process.version}\n\n${header}\n|---|---|---|---|---|---|---|---|`,
);
for (const row of rows) {
  const torch = row.torch ? `${row.torch.median.toFixed(1)} (${row.torch.min.toFixed(1)})` : 'n/a';
  const kv = row.kvCacheOnDevice === undefined ? '' : row.kvCacheOnDevice ? 'yes' : 'no';
  console.log(
    `| ${row.model} | ${row.case} | ${row.traitlens.median.toFixed(1)} (${row.traitlens.min.toFixed(1)}) | ${torch} | ${row.ratio?.toFixed(2) ?? 'n/a'} | ${formatBytes(row.hostToDeviceBytesPerStep)} | ${formatBytes(row.deviceToHostBytesPerStep)} | ${kv} |`,
  );
}
// WebGPU on SwiftShader (Debian chromium's CPU Vulkan driver) runs shaders on the CPU.
const vulkanDriver = process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES ?? '';
if (args.providers.split(',')[0] === 'webgpu' && /swiftshader/i.test(vulkanDriver))
  console.log(
    '\nWebGPU ran on SwiftShader, a CPU implementation of Vulkan: the tok/s figures say nothing about GPU speed; the bytes per decode step are what a GPU would move too.',
  );
for (const model of new Set(rows.map((row) => row.model))) {
  const base = rows.find((row) => row.model === model && row.case === 'prefill_no_hooks')!;
  for (const row of rows.filter((r) => r.model === model && r.case.startsWith('prefill_') && r !== base)) {
    console.log(
      `${model}: ${row.case} costs ${((1 - row.traitlens.median / base.traitlens.median) * 100).toFixed(1)}% over no hooks`,
    );
  }
}
const result = {
  benchmark: 'runtime',
  threads,
  repeats,
  providers: args.providers,
  dtype: args.dtype,
  ...(vulkanDriver ? { vulkanDriver } : {}),
  rows,
};
if (args.out) await writeFile(args.out, `${JSON.stringify(result, null, 2)}\n`);
console.log(`\n${JSON.stringify(result)}`);
