/**
 * pnpm gpu:check — on the execution provider(s) you name: probes the device, runs the parity cases
 * against the float64 fixtures at every dtype the device supports (with switchable LoRA, capture and
 * steering), a decode benchmark (tok/s and host <-> device bytes per step) and op placement, and prints
 * one markdown report (JSON and markdown to --out). Exit code 1 when a parity case fails or a named
 * provider cannot run at all. See
 * tools/gpu-check/README.md and docs/gpu.md.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic, writeJsonAtomic } from '@traitlens/core';
import type { ExecutionProviderName } from '@traitlens/model-runtime';
import { parseBenchmarkShape } from './decode-benchmark';
import { formatReport } from './format-report';
import { placementChild } from './op-placement';
import { runGpuCheck } from './run-gpu-check';

const usage = `usage: pnpm gpu:check --providers webgpu|cuda|cpu[,...] [options]
  --dtypes fp32,fp16,int8,int4,int8-fp16,int4-fp16   (default: every one the device supports)
  --folders llama,qwen3,llama+lora,...                (default: every parity fixture)
  --quick                     only the llama and llama+lora fixtures, a short benchmark
  --bench-dtypes fp32,int4-fp16  --bench-shape hidden,layers,heads,kvHeads,ffn,vocab (default 1024,8,16,4,2816,8192)
  --bench-batch 8 --bench-prompt 128 --bench-steps 16 --bench-repeats 3   --skip-bench   --skip-placement
  --out report.json           also writes report.md beside it
  --fixtures <dir>            the folder holding parity/ and parity-lora/ (default: the repository's)
  --cache <dir>               built-graph cache (default: a temporary folder)   --threads N`;

const { values: args } = parseArgs({
  options: {
    providers: { type: 'string' },
    dtypes: { type: 'string' },
    folders: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'bench-dtypes': { type: 'string' },
    'bench-shape': { type: 'string' },
    'bench-batch': { type: 'string' },
    'bench-prompt': { type: 'string' },
    'bench-steps': { type: 'string' },
    'bench-repeats': { type: 'string' },
    'skip-bench': { type: 'boolean', default: false },
    'skip-placement': { type: 'boolean', default: false },
    out: { type: 'string' },
    fixtures: { type: 'string' },
    cache: { type: 'string' },
    threads: { type: 'string' },
    'placement-child': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

function fail(message: string): never {
  process.stderr.write(`gpu:check: ${message}\n${usage}\n`);
  process.exit(2);
}

const list = (text: string | undefined) =>
  text
    ?.split(',')
    .map((item) => item.trim())
    .filter(Boolean);
const integer = (name: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) fail(`--${name} ${text}: expected a positive integer`);
  return value;
};

if (args.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
const providers = list(args.providers) as ExecutionProviderName[] | undefined;
if (!providers?.length) fail('name the provider(s) to check with --providers');
for (const provider of providers)
  if (!['cpu', 'cuda', 'webgpu'].includes(provider)) fail(`unknown provider ${provider}`);

// The fixtures: beside a packed bundle (fixtures/), else the repository's model-runtime fixtures.
const fixturesDirectory = resolve(
  args.fixtures ??
    [
      join(import.meta.dirname, 'fixtures'),
      join(import.meta.dirname, '../../../packages/model-runtime/src/__fixtures__'),
    ].find((candidate) => existsSync(join(candidate, 'parity'))) ??
    fail('no parity fixtures found: pass --fixtures <folder holding parity/>'),
);
const threads = integer('threads', args.threads);

if (args['placement-child']) {
  await placementChild({
    provider: providers[0]!,
    config: list(args.dtypes)?.[0] ?? 'fp32',
    fixturesDirectory,
    cacheDirectory: resolve(args.cache ?? fail('--cache is required')),
  });
  process.exit(0);
}

let benchmarkShape: ReturnType<typeof parseBenchmarkShape> | undefined;
try {
  if (args['bench-shape']) benchmarkShape = parseBenchmarkShape(args['bench-shape']);
} catch (error) {
  fail((error as Error).message);
}
const benchmark = {
  ...(benchmarkShape
    ? { shape: benchmarkShape }
    : args.quick
      ? { shape: parseBenchmarkShape('512,4,8,4,1408,4096') }
      : {}),
  batch: integer('bench-batch', args['bench-batch']) ?? (args.quick ? 4 : 8),
  promptTokens: integer('bench-prompt', args['bench-prompt']) ?? (args.quick ? 32 : 128),
  steps: integer('bench-steps', args['bench-steps']) ?? (args.quick ? 8 : 16),
  repeats: integer('bench-repeats', args['bench-repeats']) ?? (args.quick ? 1 : 3),
};

const folders = list(args.folders) ?? (args.quick ? ['llama', 'llama+lora'] : undefined);
const dtypes = list(args.dtypes);
const benchmarkDtypes = list(args['bench-dtypes']);
const report = await runGpuCheck({
  providers,
  fixturesDirectory,
  ...(dtypes ? { dtypes } : {}),
  ...(folders ? { folders } : {}),
  ...(benchmarkDtypes ? { benchmarkDtypes } : {}),
  benchmark,
  skipBenchmark: args['skip-bench'],
  ...(args['skip-placement']
    ? {}
    : { placementCommand: [process.execPath, ...process.execArgv, process.argv[1]!] }),
  ...(args.cache ? { cacheDirectory: resolve(args.cache) } : {}),
  ...(threads !== undefined ? { threads } : {}),
  log: (line) => process.stderr.write(`${line}\n`),
}).catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));

const markdown = formatReport(report);
process.stdout.write(markdown);
if (args.out) {
  const out = resolve(args.out);
  await writeJsonAtomic(out, report);
  await writeFileAtomic(out.replace(/\.json$/, '') + '.md', markdown);
  process.stderr.write(`wrote ${out} and ${out.replace(/\.json$/, '')}.md\n`);
}
process.exit(report.summary.failed > 0 || report.summary.unavailableProviders.length > 0 ? 1 : 0);
