import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ForwardOptions, type LanguageModel, loadModel } from '../src/index';
import { createTinyModel, type TinyModel } from '../src/testing/index';

/**
 * Decision 0015: on the CPU every hook plan's session shares one copy of the weights. Proven by the
 * process's anonymous memory (what a per-session copy of the weights is made of): two more plans in use
 * add much less than a copy of the weights, while the same plans with `shareWeights: false` add more than
 * half of them (each packs its own copy of every matrix; so the measurement can tell the two apart). Outputs are compared with
 * the unshared sessions. Memory bounds are generous (an order of magnitude between the two cases);
 * nothing is timed.
 */
const linux = existsSync('/proc/self/smaps_rollup');

function anonymousBytes(): number {
  const rollup = readFileSync('/proc/self/smaps_rollup', 'utf8');
  return Number(/^Anonymous:\s+(\d+)/m.exec(rollup)![1]) * 1024;
}

const prompt = [[3, 17, 42, 99, 7, 250, 31, 64]];

function plans(model: LanguageModel): ForwardOptions[] {
  const point = { layer: 1, site: 'resid_post' as const };
  const vector = new Float32Array(model.config.hiddenSize).fill(0.05);
  return [
    {},
    { capture: [point, { layer: 0, site: 'mlp_out' }] },
    { steer: [{ point, mode: 'add', vector, coefficient: 2, positions: 'all' }] },
  ];
}

async function runPlans(
  directory: string,
  cacheDirectory: string,
  dtype: 'fp32' | 'int8',
  shareWeights: boolean,
): Promise<{ growth: number; logits: Float32Array[]; captures: Float32Array[] }> {
  const model = await loadModel(directory, { dtype, cacheDirectory, shareWeights, threads: 1 });
  try {
    const [first, ...rest] = plans(model);
    const logits: Float32Array[] = [];
    const captures: Float32Array[] = [];
    const [row] = await model.forward(prompt, { ...first, logits: 'last' });
    logits.push(row!.logits);
    const before = anonymousBytes();
    for (const plan of rest) {
      const [next] = await model.forward(prompt, { ...plan, logits: 'last' });
      logits.push(next!.logits);
      captures.push(...next!.captures.values());
    }
    return { growth: anonymousBytes() - before, logits, captures };
  } finally {
    await model.dispose();
  }
}

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe.skipIf(!linux)('hook-plan sessions share the weights (decision 0015)', () => {
  let tiny: TinyModel;
  let cacheDirectory: string;
  beforeAll(async () => {
    // About 77 MB of fp32 weights: large next to a session's arena for an 8-token pass.
    tiny = await createTinyModel({
      seed: 31,
      hiddenSize: 512,
      intermediateSize: 3072,
      layerCount: 2,
      headCount: 8,
      kvHeadCount: 4,
      vocabSize: 8000,
    });
    cacheDirectory = await mkdtemp(join(tmpdir(), 'traitlens-shared-weights-'));
  });
  afterAll(async () => {
    await tiny?.remove();
    if (cacheDirectory) await rm(cacheDirectory, { recursive: true, force: true });
  });

  async function weightsBytes(): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    const graphs = join(cacheDirectory, 'graphs');
    if (!existsSync(graphs)) return sizes;
    for (const folder of await readdir(graphs))
      sizes.set(folder, (await stat(join(cacheDirectory, 'graphs', folder, 'weights.data'))).size);
    return sizes;
  }

  for (const dtype of ['fp32', 'int8'] as const) {
    it(`${dtype}: two more plans add far less than a copy of the weights, unshared ones more than half; same outputs`, async () => {
      const before = new Set((await weightsBytes()).keys());
      const shared = await runPlans(tiny.directory, cacheDirectory, dtype, true);
      const folder = [...(await weightsBytes()).entries()].find(([key]) => !before.has(key))!;
      const weights = folder[1];
      const unshared = await runPlans(tiny.directory, cacheDirectory, dtype, false);
      // Measured on the loaded 2-core machine: fp32 77 MB of weights, +24 MB shared (a few MB of per-session
      // state per plan) vs +121 MB unshared; int8 22 MB, +0.3 MB vs +25 MB.
      expect(unshared.growth).toBeGreaterThan(0.5 * weights);
      expect(shared.growth).toBeLessThan(0.4 * weights);
      expect(shared.growth).toBeLessThan(0.3 * unshared.growth);
      // The same kernels on the same packed bytes: equal up to float32 rounding of thread partitioning.
      const tolerance = 1e-6;
      for (const [index, values] of shared.logits.entries())
        expect(maxAbsDifference(values, unshared.logits[index]!)).toBeLessThanOrEqual(tolerance);
      for (const [index, values] of shared.captures.entries())
        expect(maxAbsDifference(values, unshared.captures[index]!)).toBeLessThanOrEqual(tolerance);
      if (dtype === 'int8') {
        // One store for the model: the packed weights of every plan are stored once.
        const files = await readdir(join(cacheDirectory, 'graphs', folder[0]));
        expect(files.filter((name) => /\.prepacked-[0-9a-f]+\.onnx$/.test(name))).toHaveLength(3);
        const stores = files.filter((name) => /^prepacked-[0-9a-f]+\.data$/.test(name));
        expect(stores).toHaveLength(1);
        const storeBytes = (await stat(join(cacheDirectory, 'graphs', folder[0], stores[0]!))).size;
        // Codes and packed layout of every matrix once (about 2x weights.data), not once per plan (6x).
        expect(storeBytes).toBeLessThan(3 * weights);
      }
    });
  }
});
