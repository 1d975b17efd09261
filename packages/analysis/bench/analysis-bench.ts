/**
 * Scale benchmark of @traitlens/analysis (run: pnpm --filter @traitlens/analysis bench [-- --prompts 1000 ...]).
 *
 * Writes synthetic f16 activation files with core's writeActivationFile into a temporary experiment
 * (variants A and B, every prompt with response tokens at every layer, plus a short prompt part the
 * analysis never reads), trait vector files for N traits, then times analyzeExperiment: projection of both
 * variants onto every trait (and the random controls) at every layer, the model diff with bootstrap
 * intervals, and the JSON outputs. A plain read of the same tensors (no arithmetic) is timed too, as the
 * same-run baseline docs/benchmarks.md asks for. Prints one JSON object.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { analyzeExperiment, createSeededRandom } from '@traitlens/analysis';
import { experimentLayout, SafetensorsFile, writeActivationFile, writeTraitVectors } from '@traitlens/core';

const { values } = parseArgs({
  // pnpm passes its `--` separator through.
  args: process.argv.slice(2).filter((argument) => argument !== '--'),
  options: {
    prompts: { type: 'string', default: '1000' },
    tokens: { type: 'string', default: '256' },
    'prompt-tokens': { type: 'string', default: '32' },
    layers: { type: 'string', default: '20' },
    traits: { type: 'string', default: '12' },
    hidden: { type: 'string', default: '1024' },
    'random-baselines': { type: 'string', default: '8' },
    bootstrap: { type: 'string', default: '1000' },
    repeats: { type: 'string', default: '1' },
    threads: { type: 'string' },
    /** Reuse files generated earlier (with --keep) instead of writing new ones. */
    directory: { type: 'string' },
    keep: { type: 'boolean', default: false },
    /**
     * The same-run numpy baseline (tools/analysis/bench-numpy-projection.py, Debian python3 + numpy) runs
     * by default, taking turns with traitlens in every repeat; --skip-numpy leaves it out. `--numpy` is
     * still accepted (it was the opt-in switch).
     */
    numpy: { type: 'boolean', default: false },
    'skip-numpy': { type: 'boolean', default: false },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});
const prompts = Number(values.prompts);
const tokens = Number(values.tokens);
const promptTokens = Number(values['prompt-tokens']);
const layerCount = Number(values.layers);
const traitCount = Number(values.traits);
const hidden = Number(values.hidden);
const randomBaselines = Number(values['random-baselines']);
const repeats = Number(values.repeats);

const root = values.directory ?? (await mkdtemp(join(tmpdir(), 'traitlens-analysis-bench-')));
const layout = experimentLayout(root);
const random = createSeededRandom(1);

async function generate(): Promise<number> {
  const started = performance.now();
  const planted = new Float32Array(hidden);
  for (let t = 0; t < traitCount; t++) {
    const vectors = new Map<number, Float32Array>();
    for (let layer = 0; layer < layerCount; layer++)
      vectors.set(
        layer,
        Float32Array.from({ length: hidden }, () => random.nextNormal()),
      );
    if (t === 0) planted.set(vectors.get(Math.floor(layerCount / 2))!);
    await writeTraitVectors(join(layout.extraction('bench', `trait${t}`).vectors, 'probe.safetensors'), {
      metadata: {
        trait: `trait${t}`,
        method: 'probe',
        model: 'synthetic',
        site: 'resid_post',
        tokenWindow: 'response[:5]',
        normalisation: 'raw',
        hiddenSize: hidden,
      },
      vectors,
    });
  }
  // Rows come from a pool of Gaussian rows (drawing 5e9 normals would dominate the set-up, not the benchmark).
  const poolRows = 4096;
  const pool = Float32Array.from({ length: poolRows * hidden }, () => random.nextNormal());
  const norm = Math.hypot(...planted);
  const fill = (out: Float32Array, rows: number, shift: number) => {
    for (let r = 0; r < rows; r++) {
      const source = random.nextInteger(poolRows) * hidden;
      out.set(pool.subarray(source, source + hidden), r * hidden);
      if (shift !== 0) for (let j = 0; j < hidden; j++) out[r * hidden + j]! += (shift * planted[j]!) / norm;
    }
    return out;
  };
  const promptTokenIds = Int32Array.from({ length: promptTokens }, (_, i) => i);
  const responseTokenIds = Int32Array.from({ length: tokens }, (_, i) => 1000 + i);
  for (let p = 0; p < prompts; p++) {
    const promptId = `p${String(p).padStart(5, '0')}`;
    for (const variant of ['clean', 'lora']) {
      const activations = new Map<string, Float32Array>();
      for (let layer = 0; layer < layerCount; layer++) {
        activations.set(
          `prompt.resid_post.${layer}`,
          fill(new Float32Array(promptTokens * hidden), promptTokens, 0),
        );
        const shift = variant === 'lora' && p % 2 === 0 && layer === Math.floor(layerCount / 2) ? 2 : 0;
        activations.set(
          `response.resid_post.${layer}`,
          fill(new Float32Array(tokens * hidden), tokens, shift),
        );
      }
      await writeActivationFile(
        join(layout.inference(variant, 'bench').activations, `${promptId}.safetensors`),
        {
          variant,
          model: 'synthetic',
          promptId,
          promptTokenIds,
          responseTokenIds,
          hiddenSize: hidden,
          activations,
          dtype: 'F16',
        },
      );
    }
  }
  return (performance.now() - started) / 1000;
}

async function directoryBytes(path: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(path)) total += (await stat(join(path, name))).size;
  return total;
}

/** The same-run baseline: read every response tensor the analysis reads, and nothing else. */
async function readOnly(): Promise<{ seconds: number; bytes: number }> {
  const started = performance.now();
  let bytes = 0;
  for (const variant of ['clean', 'lora']) {
    const directory = layout.inference(variant, 'bench').activations;
    for (const name of (await readdir(directory)).sort()) {
      const file = await SafetensorsFile.open(join(directory, name));
      try {
        for (let layer = 0; layer < layerCount; layer++)
          bytes += (await file.readBytes(`response.resid_post.${layer}`)).byteLength;
      } finally {
        await file.close();
      }
    }
  }
  return { seconds: (performance.now() - started) / 1000, bytes };
}

const generateSeconds = values.directory ? 0 : await generate();
const loadAtStart = loadavg()[0]!;
const fileBytes =
  (await directoryBytes(layout.inference('clean', 'bench').activations)) +
  (await directoryBytes(layout.inference('lora', 'bench').activations));
interface NumpyBaseline {
  numpySeconds: number;
  bytesRead: number;
  numpy: string;
}
const runNumpy = !values['skip-numpy'] && existsSync(values.python);
if (!values['skip-numpy'] && !runNumpy)
  process.stderr.write(`no ${values.python}: skipping the numpy baseline (apt-get install python3-numpy)\n`);
const numpyRuns: NumpyBaseline[] = [];
/**
 * numpy as a user of this machine gets the most from it (the same rule as the PyTorch baseline,
 * docs/benchmarks.md): without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, which force OpenBLAS's AVX2 kernels,
 * and with OpenBLAS using as many threads as traitlens does.
 */
function runNumpyBaseline(): NumpyBaseline {
  const script = join(
    import.meta.dirname,
    '..',
    '..',
    '..',
    'tools',
    'analysis',
    'bench-numpy-projection.py',
  );
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: String(analysisThreads) };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const output = execFileSync(values.python, [script, root, String(layerCount), String(randomBaselines)], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
    env,
  });
  return JSON.parse(output) as NumpyBaseline;
}
const analysisThreads = values.threads ? Number(values.threads) : Math.min(8, availableParallelism());
const runs: {
  analyzeSeconds: number;
  projectSeconds: number;
  modelDiffSeconds: number;
  readOnlySeconds: number;
  peakRssMb: number;
}[] = [];
let highlights: unknown;
for (let repeat = 0; repeat < repeats; repeat++) {
  const baseline = await readOnly();
  const stages = new Map<string, number>();
  const started = performance.now();
  let peakRss = 0;
  const summary = await analyzeExperiment({
    experiment: root,
    variantA: 'clean',
    variantB: 'lora',
    promptSets: ['bench'],
    randomBaselines,
    bootstrapResamples: Number(values.bootstrap),
    ...(values.threads ? { threads: Number(values.threads) } : {}),
    onProgress: (stage, done) => {
      if (!stages.has(`${stage}:start`)) stages.set(`${stage}:start`, performance.now());
      stages.set(`${stage}:end`, performance.now());
      if (done % 50 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
    },
  });
  const analyzeSeconds = (performance.now() - started) / 1000;
  const span = (stage: string) =>
    ((stages.get(`${stage}:end`) ?? 0) - (stages.get(`${stage}:start`) ?? 0)) / 1000;
  runs.push({
    analyzeSeconds,
    projectSeconds: span('project'),
    modelDiffSeconds: span('model-diff'),
    readOnlySeconds: baseline.seconds,
    peakRssMb: Math.round(Math.max(peakRss, process.memoryUsage().rss) / 1e6),
  });
  highlights = summary.highlights.modelDiff.slice(0, 2);
  // The baseline takes its turn right after traitlens in the same round, on the same (now cached) files.
  if (runNumpy) numpyRuns.push(runNumpyBaseline());
}
const medianOf = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const median = (key: keyof (typeof runs)[number]) => medianOf(runs.map((run) => run[key]));
const numpy: (NumpyBaseline & { numpySecondsMedian: number; numpySecondsAll: number[] }) | null =
  numpyRuns.length > 0
    ? {
        ...numpyRuns[0]!,
        numpySeconds: Math.min(...numpyRuns.map((run) => run.numpySeconds)),
        numpySecondsMedian: medianOf(numpyRuns.map((run) => run.numpySeconds)),
        numpySecondsAll: numpyRuns.map((run) => run.numpySeconds),
      }
    : null;
const responseBytes = 2 * prompts * layerCount * tokens * hidden * 2;
const result = {
  benchmark: 'analysis: projection + model diff',
  config: {
    threads: analysisThreads,
    prompts,
    responseTokens: tokens,
    promptTokens,
    layers: layerCount,
    traits: traitCount,
    randomBaselines,
    hiddenSize: hidden,
    dtype: 'F16',
    variants: 2,
    bootstrapResamples: Number(values.bootstrap),
  },
  machine: {
    cpus: cpus().length,
    parallelism: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    /** One-minute load average when the timed part started and ended (other jobs on the machine). */
    loadAverage: [Number(loadAtStart.toFixed(1)), Number(loadavg()[0]!.toFixed(1))],
  },
  generateSeconds: Number(generateSeconds.toFixed(1)),
  activationFileBytes: fileBytes,
  responseTensorBytes: responseBytes,
  runs,
  analyzeSecondsMin: Math.min(...runs.map((run) => run.analyzeSeconds)),
  analyzeSecondsMedian: median('analyzeSeconds'),
  projectSecondsMedian: median('projectSeconds'),
  modelDiffSecondsMedian: median('modelDiffSeconds'),
  readOnlySecondsMedian: median('readOnlySeconds'),
  analyzeOverReadOnly: Number((median('analyzeSeconds') / median('readOnlySeconds')).toFixed(2)),
  projectedTokensPerSecond: Math.round((2 * prompts * tokens * layerCount) / median('projectSeconds')),
  multiplyAddsPerSecond: Math.round(
    (2 * prompts * tokens * layerCount * hidden * (traitCount + randomBaselines + 1)) /
      median('projectSeconds'),
  ),
  readGigabytesPerSecond: Number((responseBytes / 1e9 / median('projectSeconds')).toFixed(3)),
  numpyBaseline: numpy
    ? {
        ...numpy,
        openblas: 'OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, OPENBLAS_NUM_THREADS = threads',
        projectOverNumpy: Number((median('projectSeconds') / numpy.numpySecondsMedian).toFixed(2)),
        /** Each repeat's traitlens projection over the numpy run right after it (robust to load drifting). */
        projectOverNumpyPerRepeat: numpyRuns.map((run, index) =>
          Number((runs[index]!.projectSeconds / run.numpySeconds).toFixed(2)),
        ),
      }
    : null,
  highlights,
  directory: values.keep || values.directory ? root : null,
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
if (!values.keep && !values.directory) await rm(root, { recursive: true, force: true });
