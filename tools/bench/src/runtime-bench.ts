/**
 * Runtime benchmark: traitlens (onnxruntime-node) against llama.cpp (node-llama-cpp, on GGUF files the
 * project converts from the same safetensors) and a PyTorch eager implementation with forward hooks
 * (tools/bench/torch_eager_bench.py, Debian python3-torch + OpenBLAS), on the same token ids, measured in
 * the same run with the engines taking turns case by case, at each thread count. Prints tables and writes
 * JSON. Decode rows also give traitlens' host <-> device bytes of one decode step (model-runtime's transfer
 * counter): on WebGPU the KV cache stays on the device, on the CPU provider the figure is what would cross
 * on a device. `decode_context_<n>` cases decode at batch 1 after an n-token prompt (the context curve).
 *
 *   pnpm bench:runtime [--threads 1,2] [--repeats 3] [--dtype fp32|fp16|int8|int4] [--providers cuda,cpu]
 *                      [--context-lengths 128,256,512,1024,2048] [--skip-torch] [--skip-llama-cpp]
 *                      [--small-only] [--cases decode_batch_1,decode_context_128] [--no-zero-points]
 *                      [--out file.json]
 * `--no-zero-points`: int8/int4 in symmetric blocks, the very weights of the q8_0/q4_0 GGUF llama.cpp runs.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type ExecutionProviderName,
  type LanguageModel,
  type LoadModelOptions,
  loadModel,
} from '@traitlens/model-runtime';
import { parseModelConfig } from '@traitlens/model-runtime/internal';
import { createTinyModel } from '@traitlens/model-runtime/testing';
import { callerPath } from './caller-path';
import { type BenchEngine, type BenchInputs, measureTakingTurns, randomIds } from './engines/bench-engine';
import { llamaCppEngine } from './engines/llama-cpp-engine-cases';
import { torchEngine } from './engines/torch-engine';
import { traitlensEngine } from './engines/traitlens-engine';
import { convertLlamaToGguf } from './gguf/convert-llama-to-gguf';
import type { GgmlTypeName } from './gguf/ggml-quantize';
import { type LlamaCppEngine, openLlamaCpp } from './llama-cpp/llama-cpp-engine';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '1,2' },
    repeats: { type: 'string', default: '3' },
    'skip-torch': { type: 'boolean', default: false },
    'skip-llama-cpp': { type: 'boolean', default: false },
    'small-only': { type: 'boolean', default: false },
    'context-lengths': { type: 'string', default: '128,256,512,1024,2048' },
    out: { type: 'string' },
    python: { type: 'string', default: '/usr/bin/python3' },
    providers: { type: 'string', default: 'cpu' },
    dtype: { type: 'string', default: 'fp32' },
    /** Only these cases (comma-separated names as printed), e.g. the decode rows alone. */
    cases: { type: 'string' },
    /** int8/int4 in symmetric blocks without zero points (loadModel's `zeroPoints: false`). */
    'no-zero-points': { type: 'boolean', default: false },
  },
});
const threadCounts = args.threads.split(',').map(Number);
const repeats = Number(args.repeats);
const contextLengths = args['context-lengths']
  .split(',')
  .filter((value) => value !== '')
  .map(Number);
const here = import.meta.dirname;
const log = (message: string) => process.stderr.write(`${message}\n`);
/** The GGUF type holding the same weights as each traitlens dtype (f16 is not converted). */
const ggufTypes: Partial<Record<string, GgmlTypeName>> = { fp32: 'f32', int8: 'q8_0', int4: 'q4_0' };

interface Summary {
  min: number;
  median: number;
}
interface Row {
  model: string;
  threads: number;
  case: string;
  unit: 'tokens/s';
  engines: Record<string, Summary>;
  /** traitlens median / the other engine's median. */
  ratios: Record<string, number>;
  hostToDeviceBytesPerStep?: number;
  deviceToHostBytesPerStep?: number;
  kvCacheOnDevice?: boolean;
}

function summarise(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  return { min: sorted[0]!, median: sorted[Math.floor(sorted.length / 2)]! };
}

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

const rows: Row[] = [];
const engineConfigurations: Record<string, unknown>[] = [];
const notes: string[] = [];
const workDirectory = mkdtempSync(join(tmpdir(), 'traitlens-bench-'));
const cacheDirectory = join(workDirectory, 'cache');
const models: Array<{
  label: string;
  directory: string;
  cleanup?: () => Promise<void>;
  decodeSteps: number;
}> = [];
const stories = join(here, '../../../../shared/models/stories260k/hf');
if (existsSync(stories)) models.push({ label: 'stories260k', directory: stories, decodeSteps: 64 });
if (!args['small-only']) {
  log('generating a 125M-parameter Llama (hidden 768, 12 layers, 12/4 heads, ffn 2048, vocab 32000)');
  const big = await createTinyModel({
    architecture: 'LlamaForCausalLM',
    seed: 11,
    hiddenSize: 768,
    layerCount: 12,
    headCount: 12,
    kvHeadCount: 4,
    intermediateSize: 2048,
    vocabSize: 32000,
    maxPositionEmbeddings: 4096,
  });
  models.push({
    label: 'llama-125m',
    directory: big.directory,
    cleanup: () => big.remove(),
    decodeSteps: 16,
  });
}

let llamaCpp: LlamaCppEngine | undefined;
const ggufType = ggufTypes[args.dtype];
if (!args['skip-llama-cpp']) {
  const opened = await openLlamaCpp();
  if (typeof opened === 'string') notes.push(`llama.cpp skipped: ${opened}`);
  else if (!ggufType) notes.push(`llama.cpp skipped: no GGUF type converted for --dtype ${args.dtype}`);
  else llamaCpp = opened;
}
const torchScript = join(here, '..', 'torch_eager_bench.py');
const runTorch = !args['skip-torch'] && existsSync(args.python);
if (!args['skip-torch'] && !runTorch)
  notes.push(`PyTorch skipped: no ${args.python} (apt-get install python3-torch libopenblas0-pthread)`);

const vulkanDriver = process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES ?? '';

function resultObject(complete: boolean) {
  return {
    benchmark: 'runtime',
    complete,
    threads: threadCounts,
    repeats,
    providers: args.providers,
    dtype: args.dtype,
    ggufType: ggufType ?? null,
    ...(vulkanDriver ? { vulkanDriver } : {}),
    engines: engineConfigurations,
    notes,
    rows,
  };
}

async function writeResult(complete: boolean): Promise<void> {
  if (!args.out) return;
  const outPath = callerPath(args.out);
  await writeFile(outPath, `${JSON.stringify(resultObject(complete), null, 2)}\n`);
  if (complete) log(`wrote ${outPath}`);
}

for (const entry of models) {
  const config = parseModelConfig(
    JSON.parse(await readFile(join(entry.directory, 'config.json'), 'utf8')),
    entry.directory,
  );
  // Contexts the model's positions allow, with room for the decoded tokens.
  const lengths = contextLengths.filter(
    (length) => length + entry.decodeSteps + 1 <= config.maxPositionEmbeddings,
  );
  const inputs: BenchInputs = {
    prefill: randomIds(8, 128, config.vocabSize, 1),
    decodePrompt: randomIds(8, 16, config.vocabSize, 2),
    contextPrompt: randomIds(1, Math.max(0, ...lengths), config.vocabSize, 3),
    contextLengths: lengths,
  };
  const inputsPath = join(workDirectory, `${entry.label}-inputs.json`);
  await writeFile(inputsPath, JSON.stringify(inputs));
  let ggufPath: string | undefined;
  if (llamaCpp && ggufType) {
    ggufPath = join(workDirectory, `${entry.label}-${ggufType}.gguf`);
    log(`[${entry.label}] converting to GGUF ${ggufType}`);
    await convertLlamaToGguf({ modelDirectory: entry.directory, outputPath: ggufPath, type: ggufType });
  }
  for (const threads of threadCounts) {
    const engines: BenchEngine[] = [];
    const model = await loadModel(entry.directory, {
      cacheDirectory,
      threads,
      providers: args.providers.split(',') as ExecutionProviderName[],
      dtype: args.dtype as NonNullable<LoadModelOptions['dtype']>,
      zeroPoints: !args['no-zero-points'],
    });
    engines.push(
      traitlensEngine(model, inputs, entry.decodeSteps, {
        engine: 'traitlens',
        threads,
        dtype: args.dtype,
        zeroPoints: !args['no-zero-points'],
        providers: args.providers,
      }),
    );
    if (llamaCpp && ggufPath)
      engines.push(
        await llamaCppEngine(llamaCpp, ggufPath, inputs, {
          threads,
          decodeSteps: entry.decodeSteps,
          configuration: { engine: 'llama.cpp', threads, type: ggufType, nodeLlamaCpp: '3.21.1' },
        }),
      );
    if (runTorch)
      engines.push(
        await torchEngine({
          python: args.python,
          script: torchScript,
          modelDirectory: entry.directory,
          inputsPath,
          threads,
          decodeSteps: entry.decodeSteps,
        }),
      );
    for (const engine of engines)
      engineConfigurations.push({ model: entry.label, threads, name: engine.name, ...engine.configuration });
    const wanted = args.cases?.split(',').filter((name) => name !== '');
    const caseNames = engines[0]!.cases.filter((name) => !wanted || wanted.includes(name));
    const results = await measureTakingTurns(caseNames, engines, repeats, (message) =>
      log(`[${entry.label} threads=${threads}] ${message}`),
    );
    for (const caseName of caseNames) {
      const row: Row = {
        model: entry.label,
        threads,
        case: caseName,
        unit: 'tokens/s',
        engines: {},
        ratios: {},
      };
      for (const [engineName, byCase] of results) {
        const samples = byCase.get(caseName);
        if (samples?.length) row.engines[engineName] = summarise(samples);
      }
      const ours = row.engines.traitlens!.median;
      for (const [engineName, summary] of Object.entries(row.engines))
        if (engineName !== 'traitlens') row.ratios[engineName] = ours / summary.median;
      if (caseName === 'decode_batch_1' || caseName === 'decode_batch_8') {
        const transfer = await measureDecodeTransfer(
          model,
          inputs.decodePrompt.slice(0, caseName === 'decode_batch_1' ? 1 : 8),
          entry.decodeSteps,
        );
        if (transfer) Object.assign(row, transfer);
      }
      rows.push(row);
    }
    for (const engine of engines) await engine.dispose();
    // A long run keeps what it measured so far: the JSON is rewritten after each model and thread count.
    await writeResult(false);
  }
  await entry.cleanup?.();
}
await llamaCpp?.dispose();
rmSync(workDirectory, { recursive: true, force: true });

const engineNames = ['traitlens', 'llama.cpp', 'PyTorch eager'];
const cell = (summary: Summary | undefined) =>
  summary ? `${summary.median.toFixed(1)} (${summary.min.toFixed(1)})` : 'n/a';
const formatBytes = (bytes: number | undefined) => {
  if (bytes === undefined) return '';
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(2)} MiB`;
  return bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${Math.round(bytes)} B`;
};
console.log(
  `\nproviders=${args.providers} dtype=${args.dtype}${args['no-zero-points'] ? ' (symmetric blocks)' : ''} (llama.cpp: ${ggufType ?? 'n/a'}) threads=${args.threads} repeats=${repeats} node=${process.version}\n`,
);
console.log(
  '| model | threads | case | traitlens tok/s (median, min) | llama.cpp | PyTorch eager | vs llama.cpp | vs PyTorch | host→device per decode step | device→host per decode step |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const row of rows.filter((r) => !r.case.startsWith('decode_context_'))) {
  const ratio = (name: string) => row.ratios[name]?.toFixed(2) ?? 'n/a';
  console.log(
    `| ${row.model} | ${row.threads} | ${row.case} | ${engineNames.map((name) => cell(row.engines[name])).join(' | ')} | ${ratio('llama.cpp')} | ${ratio('PyTorch eager')} | ${formatBytes(row.hostToDeviceBytesPerStep)} | ${formatBytes(row.deviceToHostBytesPerStep)} |`,
  );
}
const curve = rows.filter((r) => r.case.startsWith('decode_context_'));
if (curve.length > 0) {
  console.log('\nDecode at batch 1 after a prompt of n tokens, ms per token (median):\n');
  console.log('| model | threads | context | traitlens | llama.cpp | PyTorch eager |');
  console.log('|---|---|---|---|---|---|');
  const ms = (summary: Summary | undefined) => (summary ? (1000 / summary.median).toFixed(2) : 'n/a');
  for (const row of curve)
    console.log(
      `| ${row.model} | ${row.threads} | ${row.case.slice('decode_context_'.length)} | ${engineNames.map((name) => ms(row.engines[name])).join(' | ')} |`,
    );
  for (const model of new Set(curve.map((row) => row.model)))
    for (const threads of threadCounts) {
      const mine = curve.filter((row) => row.model === model && row.threads === threads);
      if (mine.length < 2) continue;
      const [first, last] = [mine[0]!, mine[mine.length - 1]!];
      for (const name of engineNames) {
        if (!first.engines[name] || !last.engines[name]) continue;
        const growth = first.engines[name]!.median / last.engines[name]!.median;
        console.log(
          `${model} threads=${threads} ${name}: ms/token at ${last.case.slice(15)} is ${growth.toFixed(2)}x that at ${first.case.slice(15)}`,
        );
      }
    }
}
// WebGPU on SwiftShader (Debian chromium's CPU Vulkan driver) runs shaders on the CPU.
if (args.providers.split(',')[0] === 'webgpu' && /swiftshader/i.test(vulkanDriver))
  console.log(
    '\nWebGPU ran on SwiftShader, a CPU implementation of Vulkan: the tok/s figures say nothing about GPU speed; the bytes per decode step are what a GPU would move too.',
  );
for (const row of rows.filter((r) => r.case.startsWith('prefill_') && r.case !== 'prefill_no_hooks')) {
  const base = rows.find(
    (r) => r.model === row.model && r.threads === row.threads && r.case === 'prefill_no_hooks',
  );
  if (!base) continue;
  console.log(
    `${row.model} threads=${row.threads}: ${row.case} costs ${((1 - row.engines.traitlens!.median / base.engines.traitlens!.median) * 100).toFixed(1)}% over no hooks`,
  );
}
for (const note of notes) console.log(note);
await writeResult(true);
console.log(`\n${JSON.stringify(resultObject(true))}`);
