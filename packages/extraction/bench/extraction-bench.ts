/**
 * Extraction numerics at the study's scale: 300 samples (150 per class) x D = 8192 x 80 layers, every
 * built-in method plus the validation evaluation, on synthetic activations. Prints one JSON line per
 * measurement and a summary; with Debian's python3 + numpy/scikit-learn present it also times the same
 * work there in the same run (docs/benchmarks.md: ratios against a same-run baseline).
 *
 *   pnpm --filter @traitlens/extraction bench            # 80 layers
 *   pnpm --filter @traitlens/extraction bench -- --layers 10
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  evaluateLayer,
  extractionMethods,
  type LayerVector,
  type Matrix,
  runExtractionMethod,
} from '../src/index';
import { createSharedComputations } from '../src/internal';
import { createSeededRandom } from '../src/numeric/seeded-random';

const argument = (name: string, fallback: number): number => {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
};
const layers = argument('layers', 80);
const perClass = argument('per-class', 150);
const hidden = argument('hidden', 8192);
const validationPerClass = Math.round(perClass * 0.2);
const trainPerClass = perClass - validationPerClass;

function makeLayer(seed: number): {
  train: { positive: Matrix; negative: Matrix };
  validation: { positive: Matrix; negative: Matrix };
} {
  const random = createSeededRandom(seed);
  const direction = new Float32Array(hidden).map(() => random.nextNormal() / Math.sqrt(hidden));
  const offset = new Float32Array(hidden).map(() => random.nextNormal() * 2);
  const rows = (count: number, signal: number): Matrix => {
    const data = new Float32Array(count * hidden);
    for (let row = 0; row < count; row++) {
      for (let i = 0; i < hidden; i++)
        data[row * hidden + i] = offset[i]! + random.nextNormal() + signal * 8 * direction[i]!;
    }
    return { rows: count, columns: hidden, data };
  };
  return {
    train: { positive: rows(trainPerClass, 1), negative: rows(trainPerClass, 0) },
    validation: { positive: rows(validationPerClass, 1), negative: rows(validationPerClass, 0) },
  };
}

const timings: Record<string, number[]> = {};
const time = <T>(label: string, work: () => T): T => {
  const start = performance.now();
  const result = work();
  (timings[label] ??= []).push(performance.now() - start);
  return result;
};

const methodIds = Object.keys(extractionMethods) as (keyof typeof extractionMethods)[];
for (let layer = 0; layer < layers; layer++) {
  const data = makeLayer(layer + 1);
  time('layer_total', () => {
    const shared = createSharedComputations(data.train.positive, data.train.negative);
    const cpuBefore = process.cpuUsage();
    time('gram', () => shared.gramMatrix());
    const cpu = process.cpuUsage(cpuBefore);
    (timings.gram_cpu ??= []).push((cpu.user + cpu.system) / 1000);
    const vectors = new Map<string, LayerVector>();
    for (const id of methodIds) {
      const method = extractionMethods[id] as (typeof extractionMethods)[keyof typeof extractionMethods];
      const result = time(`method_${id}`, () =>
        runExtractionMethod(method as never, data.train.positive, data.train.negative, { shared }),
      );
      vectors.set(id, { vector: result.vector, details: result.details });
    }
    time('evaluate', () => evaluateLayer(data, vectors));
  });
}

const summarise = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    min: sorted[0]!,
    median: sorted[Math.floor(sorted.length / 2)]!,
    total: values.reduce((a, b) => a + b, 0),
  };
};
const samples = trainPerClass * 2;
const results: Record<string, ReturnType<typeof summarise>> = {};
for (const [label, values] of Object.entries(timings)) {
  results[label] = summarise(values);
  console.log(
    JSON.stringify({
      bench: 'extraction',
      measurement: label,
      unit: 'ms',
      layers,
      samples,
      hidden,
      ...results[label],
    }),
  );
}
const gramFlops = samples * (samples + 1) * hidden; // multiply-adds of the lower triangle, x2
console.log(
  JSON.stringify({
    bench: 'extraction',
    measurement: 'gram_gflops',
    value: gramFlops / (results.gram!.median * 1e6),
  }),
);

// Same-run baseline: numpy (X X^T, means) and scikit-learn's probe on identical shapes, run as a user of
// this machine runs numpy (docs/benchmarks.md): OpenBLAS on its own kernel choice (OPENBLAS_CORETYPE and
// OPENBLAS_L2_SIZE unset) with as many threads as traitlens uses here (1).
const python = '/usr/bin/python3';
const reference = join(import.meta.dirname, '..', '..', '..', 'tools', 'extraction', 'bench-reference.py');
let baseline: Record<string, number> | undefined;
if (!existsSync(python)) {
  console.log(
    JSON.stringify({
      bench: 'extraction',
      measurement: 'python_baseline',
      skipped: `no ${python} (apt-get install python3-numpy python3-sklearn)`,
    }),
  );
} else {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const run = spawnSync(
    python,
    [
      reference,
      '--samples',
      String(samples),
      '--hidden',
      String(hidden),
      '--validation',
      String(validationPerClass * 2),
    ],
    { encoding: 'utf8', env },
  );
  if (run.status === 0) {
    baseline = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
    console.log(
      JSON.stringify({
        bench: 'extraction',
        measurement: 'python_baseline',
        unit: 'ms',
        openblas: 'OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, OPENBLAS_NUM_THREADS = 1',
        ...baseline,
      }),
    );
  } else {
    console.log(
      JSON.stringify({
        bench: 'extraction',
        measurement: 'python_baseline',
        skipped: run.stderr.trim().split('\n').at(-1) ?? `${python} failed`,
      }),
    );
  }
}

if (baseline)
  console.log(
    JSON.stringify({
      bench: 'extraction',
      measurement: 'gram_over_numpy',
      value: Number((results.gram!.median / baseline.gram_ms!).toFixed(2)),
      /** The same on process CPU time (both one thread): less moved by other jobs on a loaded machine. */
      cpuValue: Number((results.gram_cpu!.median / baseline.gram_cpu_ms!).toFixed(2)),
    }),
  );
const perLayer = results.layer_total!.median;
process.stderr.write(
  [
    `extraction numerics, ${samples} train + ${validationPerClass * 2} validation samples x ${hidden} x ${layers} layers, 1 thread:`,
    `  per layer (median): ${perLayer.toFixed(0)} ms = gram ${results.gram!.median.toFixed(0)} ms + methods ${methodIds.map((id) => `${id} ${results[`method_${id}`]!.median.toFixed(1)}`).join(', ')} ms + evaluate ${results.evaluate!.median.toFixed(1)} ms`,
    `  all ${layers} layers: ${(results.layer_total!.total / 1000).toFixed(1)} s (projected for 80: ${((perLayer * 80) / 1000).toFixed(1)} s)`,
    `  gram: ${(gramFlops / (results.gram!.median * 1e6)).toFixed(2)} GFLOP/s`,
    ...(baseline
      ? [
          `  python baseline (same run): numpy gram ${baseline.gram_ms!.toFixed(0)} ms, sklearn probe ${baseline.sklearn_probe_ms!.toFixed(0)} ms, numpy mean_diff ${baseline.mean_diff_ms!.toFixed(1)} ms`,
          `  ratio traitlens/python: gram ${(results.gram!.median / baseline.gram_ms!).toFixed(2)}x (CPU time ${(results.gram_cpu!.median / baseline.gram_cpu_ms!).toFixed(2)}x), probe (incl. gram) ${((results.gram!.median + results.method_probe!.median) / baseline.sklearn_probe_ms!).toFixed(2)}x`,
        ]
      : []),
  ].join('\n') + '\n',
);
