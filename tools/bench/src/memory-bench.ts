/**
 * Memory held per dtype and per number of hook plans in use, and the first-load cost cold (empty graph
 * cache: weight conversion, graph build, packing) and warm (everything found in the cache). Each
 * measurement runs in a fresh process (memory-bench-child.ts) on a generated 125M-parameter Llama.
 *
 *   pnpm bench:memory [--dtypes fp32,int8,int4] [--threads 1] [--small-only] [--out file.json]
 *
 * Rows `warm, unshared` load with `shareWeights: false` (each session packs its own copy of the
 * weights, as before decision 0015) for comparison in the same run.
 *
 * Pss (proportional set size) counts every physical page once: pages several ORT sessions map from the
 * same file are split between the mappings. Rss counts such a page once per mapping, so it grows with
 * every session that maps the shared weights although no memory is added (docs/decisions/0015).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createTinyModel } from '@traitlens/model-runtime/testing';
import { callerPath } from './caller-path';

const { values: args } = parseArgs({
  options: {
    dtypes: { type: 'string', default: 'fp32,int8,int4' },
    threads: { type: 'string', default: '1' },
    'small-only': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const log = (message: string) => process.stderr.write(`${message}\n`);
const here = import.meta.dirname;

interface Stage {
  stage: string;
  ms: number;
  rss: number;
  pss: number;
  anonymous: number;
  peakRss: number;
  peakPss: number;
}
interface Measurement {
  dtype: string;
  /** `warm, unshared`: every session packs its own copy (`shareWeights: false`), the behaviour before. */
  cache: 'cold' | 'warm' | 'warm, unshared';
  stages: Stage[];
  /** MiB on disk in the model's graph-cache folder, by file kind. */
  disk: Record<string, number>;
}

function runChild(model: string, cache: string, dtype: string, unshared: boolean): Promise<Stage[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        '--expose-gc',
        join(here, 'memory-bench-child.ts'),
        '--model',
        model,
        '--cache',
        cache,
        '--dtype',
        dtype,
        '--threads',
        args.threads,
        ...(unshared ? ['--unshared'] : []),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`memory-bench-child exited with ${code}`));
      const line = output.trim().split('\n').pop()!;
      resolve((JSON.parse(line) as { stages: Stage[] }).stages);
    });
  });
}

function diskUsage(cache: string): Record<string, number> {
  const usage: Record<string, number> = {};
  const graphs = join(cache, 'graphs');
  for (const folder of readdirSync(graphs))
    for (const name of readdirSync(join(graphs, folder))) {
      const kind = name === 'weights.data' ? 'weights' : name.endsWith('.data') ? 'packed store' : 'graphs';
      usage[kind] = (usage[kind] ?? 0) + statSync(join(graphs, folder, name)).size / 2 ** 20;
    }
  return usage;
}

const workDirectory = mkdtempSync(join(tmpdir(), 'traitlens-memory-bench-'));
const small = args['small-only'];
log(
  small
    ? 'generating a 6M-parameter Llama (hidden 256, 4 layers, vocab 8000)'
    : 'generating a 125M-parameter Llama (hidden 768, 12 layers, 12/4 heads, ffn 2048, vocab 32000)',
);
const model = await createTinyModel({
  architecture: 'LlamaForCausalLM',
  seed: 11,
  hiddenSize: small ? 256 : 768,
  layerCount: small ? 4 : 12,
  headCount: small ? 4 : 12,
  kvHeadCount: 4,
  intermediateSize: small ? 704 : 2048,
  vocabSize: small ? 8000 : 32000,
  maxPositionEmbeddings: 4096,
  directory: join(workDirectory, 'model'),
});
const measurements: Measurement[] = [];
try {
  for (const dtype of args.dtypes.split(',')) {
    const cache = join(workDirectory, `cache-${dtype}`);
    for (const state of ['cold', 'warm', 'warm, unshared'] as const) {
      log(`memory: ${dtype}, ${state} cache`);
      const stages = await runChild(model.directory, cache, dtype, state === 'warm, unshared');
      measurements.push({ dtype, cache: state, stages, disk: diskUsage(cache) });
    }
  }
} finally {
  rmSync(workDirectory, { recursive: true, force: true });
}

const mib = (value: number | undefined) => (value === undefined ? 'n/a' : value.toFixed(0));
const stage = (m: Measurement, name: string) => m.stages.find((s) => s.stage === name)!;
console.log(
  `\nmemory per hook plans in use (MiB; model ${small ? '6M' : '125M'} Llama; batch 4 x 128 tokens; threads=${args.threads}; node ${process.version}); Pss counts shared pages once, Rss once per mapping\n`,
);
console.log(
  '| dtype | cache | Pss after load | Pss held, 1 plan | 3 plans | 3 / 1 | peak Pss, 1 plan | 3 plans | 3 / 1 | peak Rss, 1 plan | 3 plans | anonymous, 1 plan | 3 plans |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const m of measurements) {
  const [load, one, again] = ['load', 'plans_1', 'plans_3_again'].map((name) => stage(m, name)) as [
    Stage,
    Stage,
    Stage,
  ];
  console.log(
    `| ${m.dtype} | ${m.cache} | ${mib(load.pss)} | ${mib(one.pss)} | ${mib(again.pss)} | ${(again.pss / one.pss).toFixed(2)} | ${mib(one.peakPss)} | ${mib(again.peakPss)} | ${(again.peakPss / one.peakPss).toFixed(2)} | ${mib(one.peakRss)} | ${mib(again.peakRss)} | ${mib(one.anonymous)} | ${mib(again.anonymous)} |`,
  );
}
console.log(
  '\n"held": after the stage, garbage collected; "peak": sampled every 20 ms from the start (includes the transient memory of the cold packing session and uncollected tensors). 3 plans: after running all three plans twice.',
);
console.log(
  '\nfirst-load cost (ms): loadModel (weight conversion when cold), then the first forward pass of each plan (graph build, session start, packing when cold)\n',
);
console.log(
  '| dtype | cache | loadModel | plan 1 | plan 2 | plan 3 | all 3 again | disk MiB: weights / packed store / graphs |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const m of measurements) {
  const ms = (name: string) => stage(m, name).ms.toFixed(0);
  console.log(
    `| ${m.dtype} | ${m.cache} | ${ms('load')} | ${ms('plans_1')} | ${ms('plans_2')} | ${ms('plans_3')} | ${ms('plans_3_again')} | ${mib(m.disk.weights)} / ${mib(m.disk['packed store'] ?? 0)} / ${(m.disk.graphs ?? 0).toFixed(1)} |`,
  );
}
if (args.out)
  await writeFile(
    callerPath(args.out),
    `${JSON.stringify({ threads: args.threads, node: process.version, measurements }, null, 2)}\n`,
  );
