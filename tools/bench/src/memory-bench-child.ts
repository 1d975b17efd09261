/**
 * One memory measurement in a fresh process (started by memory-bench.ts): loads a model, runs a forward
 * pass under one, two, then three hook plans, and prints one JSON line with the process's memory after
 * each stage. Not meant to be run by hand.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadModel } from '@traitlens/model-runtime';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    cache: { type: 'string' },
    dtype: { type: 'string', default: 'fp32' },
    threads: { type: 'string', default: '1' },
    rows: { type: 'string', default: '4' },
    tokens: { type: 'string', default: '128' },
    unshared: { type: 'boolean', default: false },
  },
});

/** MiB from /proc: Rss counts a page once per mapping, Pss splits shared pages between their mappings. */
function memory(): { rss: number; pss: number; anonymous: number; peakRss: number } {
  const rollup = readFileSync('/proc/self/smaps_rollup', 'utf8');
  const status = readFileSync('/proc/self/status', 'utf8');
  const field = (text: string, name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN) / 1024;
  return {
    rss: field(rollup, 'Rss'),
    pss: field(rollup, 'Pss'),
    anonymous: field(rollup, 'Anonymous'),
    peakRss: field(status, 'VmHWM'),
  };
}

// The kernel keeps no peak Pss: sample it while work runs (ORT runs off the main thread).
let peakPss = 0;
const sampler = setInterval(() => {
  peakPss = Math.max(peakPss, memory().pss);
}, 20);

const stages: Array<Record<string, number | string>> = [];
// Started with --expose-gc: tensors a pass returned and dropped are collected before memory is read,
// so "held" is what the model keeps, not garbage waiting for V8 (the sampled peak includes garbage).
const collectGarbage = (globalThis as { gc?: () => void }).gc;
const record = (stage: string, started: number) => {
  const ms = performance.now() - started;
  collectGarbage?.();
  const now = memory();
  peakPss = Math.max(peakPss, now.pss);
  stages.push({ stage, ms, ...now, peakPss });
};

const dtype = args.dtype as 'fp32' | 'int8' | 'int4';
let started = performance.now();
const model = await loadModel(args.model!, {
  dtype,
  cacheDirectory: args.cache!,
  threads: Number(args.threads),
  ...(args.unshared ? { shareWeights: false } : {}),
});
record('load', started);
const rows = Array.from({ length: Number(args.rows) }, (_, row) =>
  Array.from({ length: Number(args.tokens) }, (_, i) => ((row * 131 + i * 17) % 1000) + 3),
);
const layers = model.config.layerCount;
const vector = new Float32Array(model.config.hiddenSize).fill(0.01);
const plans = [
  {},
  {
    capture: [0.25, 0.5, 0.75].map((f) => ({ layer: Math.floor(f * layers), site: 'resid_post' as const })),
  },
  {
    steer: [
      {
        point: { layer: Math.floor(layers / 2), site: 'resid_post' as const },
        mode: 'add' as const,
        vector,
        coefficient: 4,
        positions: 'all' as const,
      },
    ],
  },
];
for (const [index, plan] of plans.entries()) {
  started = performance.now();
  await model.forward(rows, { ...plan, logits: 'last' });
  record(`plans_${index + 1}`, started);
}
// All three plans stay loaded (the CPU pool keeps 4): run each again, as a pipeline alternating them would.
started = performance.now();
for (const plan of plans) await model.forward(rows, { ...plan, logits: 'last' });
record('plans_3_again', started);
clearInterval(sampler);
await model.dispose?.();
process.stdout.write(`${JSON.stringify({ dtype, stages })}\n`);
