import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTraitVectors, TraitlensError, writeTraitVectors } from '@traitlens/core';
import { type LanguageModel, loadModel } from '@traitlens/model-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateSteering } from '../src/evaluate-steering';
import { LexiconJudge } from '../src/judges/lexicon-judge';
import { formatSteeringSummary } from '../src/results/format-steering-summary';
import { loadSteeringTrait } from '../src/trait/load-steering-trait';
import { hasStories260k, stories260kDirectory, testCacheDirectory } from './shared-models';

const traitDirectory = join(import.meta.dirname, '../../../datasets/traits/tinystories/happiness');
const layers = [0, 1, 2, 3, 4];

/**
 * A quick mean-difference vector per layer (docs/study-method.md §3 with the `prompt[-1]` window): the
 * residual stream after the last prefix token, mean over positive prefixes minus mean over negative
 * ones, unit norm. The extraction package does this properly; a few lines suffice for this test.
 */
async function computeMeanDifferenceVectors(model: LanguageModel): Promise<Map<number, Float32Array>> {
  const read = async (file: string) =>
    (await readFile(join(traitDirectory, file), 'utf8')).split('\n').filter((line) => line.trim() !== '');
  const hidden = model.config.hiddenSize;
  const meanAtLastToken = async (prefixes: string[]) => {
    const rows = await model.forward(prefixes, {
      capture: layers.map((layer) => ({ layer, site: 'resid_post' as const })),
      logits: 'none',
    });
    return new Map(
      layers.map((layer) => {
        const sum = new Float64Array(hidden);
        for (const row of rows) {
          const values = row.captures.get(`resid_post.${layer}`)!;
          const last = row.tokenIds.length - 1;
          for (let index = 0; index < hidden; index++) sum[index]! += values[last * hidden + index]!;
        }
        return [layer, sum.map((value) => value / rows.length)];
      }),
    );
  };
  const positive = await meanAtLastToken(await read('positive.txt'));
  const negative = await meanAtLastToken(await read('negative.txt'));
  return new Map(
    layers.map((layer) => {
      const difference = positive.get(layer)!.map((value, index) => value - negative.get(layer)![index]!);
      const norm = Math.hypot(...difference);
      return [layer, Float32Array.from(difference, (value) => value / norm)];
    }),
  );
}

describe.skipIf(!hasStories260k)(
  'steering stories260k with a tinystories happiness vector and the lexicon judge',
  () => {
    let model: LanguageModel;
    let workDirectory: string;
    let vectorsFile: string;

    beforeAll(async () => {
      model = await loadModel(stories260kDirectory, { cacheDirectory: testCacheDirectory, threads: 1 });
      workDirectory = await mkdtemp(join(tmpdir(), 'traitlens-steer-stories-'));
      vectorsFile = join(workDirectory, 'happiness.safetensors');
      await writeTraitVectors(vectorsFile, {
        metadata: {
          trait: 'happiness',
          method: 'mean_diff',
          model: model.id,
          site: 'resid_post',
          tokenWindow: 'prompt[-1]',
          normalisation: 'unit',
          hiddenSize: model.config.hiddenSize,
        },
        vectors: await computeMeanDifferenceVectors(model),
      });
    });

    afterAll(async () => {
      await model?.dispose();
      if (workDirectory) await rm(workDirectory, { recursive: true, force: true });
    });

    it('raises the trait score with the coefficient until coherence falls (manual grid)', async () => {
      const trait = await loadSteeringTrait(traitDirectory);
      const vectors = await readTraitVectors(vectorsFile);
      const coefficients = [0.5, 1, 2, 3, 4, 5, 6, 8, 12];
      const evaluation = await evaluateSteering({
        model,
        judge: new LexiconJudge(),
        trait,
        vectors,
        vectorsFile,
        outputDirectory: join(workDirectory, 'grid', 'steering', 'happiness'),
        coefficients,
        maxNewTokens: 64,
      });
      console.log(formatSteeringSummary(evaluation.results, evaluation.searches));
      const [grid] = evaluation.searches;
      const baseline = evaluation.results.baseline!.traitMean!;
      const strongest = grid!.candidates.reduce((best, candidate) =>
        (candidate.traitDelta ?? -Infinity) > (best.traitDelta ?? -Infinity) ? candidate : best,
      );
      // The best layer's coherent best clearly beats the unsteered stories...
      expect(strongest.traitDelta!).toBeGreaterThan(20);
      expect(strongest.best!.coherenceMean!).toBeGreaterThanOrEqual(70);
      // ...the score rises from the smallest coefficient to the best one...
      expect(strongest.best!.traitMean!).toBeGreaterThan(strongest.steps[0]!.traitMean! + 10);
      // ...and past the cliff the text falls apart, taking the trait score down with it.
      const last = strongest.steps.at(-1)!;
      expect(last.coherenceMean!).toBeLessThan(50);
      expect(last.traitMean!).toBeLessThan(strongest.best!.traitMean!);
      expect(baseline).toBeLessThan(strongest.best!.traitMean!);
    });

    it('runs the adaptive search on all layers in parallel and resumes without generating or judging', async () => {
      const trait = await loadSteeringTrait(traitDirectory);
      const vectors = await readTraitVectors(vectorsFile);
      const outputDirectory = join(workDirectory, 'search', 'steering', 'happiness');
      const settings = {
        model,
        trait,
        vectors,
        vectorsFile,
        outputDirectory,
        search: { steps: 6 },
        maxNewTokens: 64,
      };
      const first = await evaluateSteering({ ...settings, judge: new LexiconJudge() });
      console.log(formatSteeringSummary(first.results, first.searches));
      const [search] = first.searches;
      expect(search!.candidates.map((candidate) => candidate.steps.length)).toEqual([6, 6, 6, 6, 6]);
      // Base coefficients come from the measured residual norms, and the search starts at 0.7 of them.
      for (const candidate of search!.candidates) {
        expect(candidate.steps[0]!.coefficient).toBeCloseTo(0.7 * candidate.baseCoefficient!, 10);
      }
      expect(first.judgeCalls).toBe((1 + 5 * 6) * trait.questions.length * 3);

      const counting = new LexiconJudge();
      let calls = 0;
      const rerun = await evaluateSteering({
        ...settings,
        judge: {
          id: counting.id,
          score: (request) => {
            calls++;
            return counting.score(request);
          },
        },
      });
      expect(calls).toBe(0);
      expect(rerun.searches[0]!.candidates.map((candidate) => candidate.best?.runId)).toEqual(
        search!.candidates.map((candidate) => candidate.best?.runId),
      );
    });

    it('refuses a vector file made for a model of another width', async () => {
      const trait = await loadSteeringTrait(traitDirectory);
      const wideFile = join(workDirectory, 'wide.safetensors');
      await writeTraitVectors(wideFile, {
        metadata: {
          trait: 'happiness',
          method: 'mean_diff',
          model: 'hf:some/bigger-model',
          site: 'resid_post',
          tokenWindow: 'prompt[-1]',
          normalisation: 'unit',
          hiddenSize: 128,
        },
        vectors: new Map([[2, new Float32Array(128).fill(0.1)]]),
      });
      const error = await evaluateSteering({
        model,
        judge: new LexiconJudge(),
        trait,
        vectors: await readTraitVectors(wideFile),
        vectorsFile: wideFile,
        outputDirectory: join(workDirectory, 'wide'),
      }).catch((caught: unknown) => caught);
      expect(TraitlensError.hasCode(error, 'MODEL_MISMATCH')).toBe(true);
      expect((error as Error).message).toMatch(
        /wide\.safetensors has vectors of width 128 \(extracted from hf:some\/bigger-model\) but .* has hidden size 64/,
      );
    });
  },
);
