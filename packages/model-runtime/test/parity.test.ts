/**
 * Parity with the independent float64 reference (tools/reference/reference_forward.py, fixtures in
 * src/__fixtures__/parity): logits and every hook site at every layer for a padded batch, the same with
 * add and ablate steering, and greedy prefill + KV-cache decode, for every architecture adapter.
 * Tolerance: max abs error < 1e-4 in fp32 (observed: a few 1e-6). Set TRAITLENS_PROVIDERS=cuda,cpu to
 * run the same checks on a GPU provider.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '@traitlens/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ExecutionProviderName,
  type LanguageModel,
  loadModel,
  type SteeringSpec,
  stripPadding,
} from '../src/index';
import { testCacheDirectory } from './shared-models';

const tolerance = 1e-4;
const fixturesDirectory = join(import.meta.dirname, '../src/__fixtures__/parity');
const providers = (process.env.TRAITLENS_PROVIDERS?.split(',') ?? ['cpu']) as ExecutionProviderName[];

interface FixtureSteer {
  layer: number;
  site: SteeringSpec['point']['site'];
  mode: 'add' | 'ablate';
  vector: number[];
  coefficient: number[] | number[][];
}
interface FixtureCase {
  name: string;
  kind: 'forward' | 'greedy';
  steps?: number;
  rows: Array<{ text: string; tokenIds: number[] }>;
  steer: FixtureSteer[];
  output: string;
}
interface FixtureFile {
  architecture: string;
  layerCount: number;
  hiddenSize: number;
  vocabSize: number;
  sites: SteeringSpec['point']['site'][];
  cases: FixtureCase[];
}

function toSteeringSpecs(steer: FixtureSteer[]): SteeringSpec[] {
  return steer.map((spec) => ({
    point: { layer: spec.layer, site: spec.site },
    mode: spec.mode,
    vector: Float32Array.from(spec.vector),
    coefficient: spec.coefficient,
  }));
}

function maxAbsError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  return worst;
}

function logSoftmaxAt(logits: Float32Array, index: number): number {
  let maximum = Number.NEGATIVE_INFINITY;
  for (const value of logits) maximum = Math.max(maximum, value);
  let sum = 0;
  for (const value of logits) sum += Math.exp(value - maximum);
  return logits[index]! - maximum - Math.log(sum);
}

const folders = readdirSync(fixturesDirectory, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

describe.each(folders)('parity with the float64 reference: %s', (folder) => {
  const directory = join(fixturesDirectory, folder);
  const fixture = JSON.parse(readFileSync(join(directory, 'cases.json'), 'utf8')) as FixtureFile;
  let model: LanguageModel;
  const errors: Record<string, number> = {};

  beforeAll(async () => {
    model = await loadModel(join(directory, 'model'), {
      cacheDirectory: testCacheDirectory,
      threads: 1,
      providers,
    });
    expect(model.config.architecture).toBe(fixture.architecture);
  });
  afterAll(async () => {
    await model.dispose();
    console.info(`${folder}: max abs error per case ${JSON.stringify(errors)}`);
  });

  for (const testCase of fixture.cases.filter((c) => c.kind === 'forward')) {
    it(`${testCase.name}: logits and every site at every layer within ${tolerance}`, async () => {
      const expected = (await readSafetensors(join(directory, testCase.output))).tensors;
      const capture = Array.from({ length: fixture.layerCount }, (_, layer) =>
        fixture.sites.map((site) => ({ layer, site })),
      ).flat();
      const rows = await model.forward(
        testCase.rows.map((row) => row.tokenIds),
        { capture, steer: toSteeringSpecs(testCase.steer) },
      );
      let worst = 0;
      rows.forEach((row, r) => {
        worst = Math.max(worst, maxAbsError(row.logits, expected.get(`logits.row${r}`)!.data));
        for (const point of capture) {
          const name = `${point.site}.${point.layer}`;
          worst = Math.max(
            worst,
            maxAbsError(row.captures.get(name)!, expected.get(`${name}.row${r}`)!.data),
          );
        }
      });
      errors[testCase.name] = worst;
      expect(worst).toBeLessThan(tolerance);
    });
  }

  it('padded-batch: a left-padded batch with its attention mask gives the same values (stripPadding)', async () => {
    const testCase = fixture.cases.find((c) => c.name === 'padded-batch')!;
    const expected = (await readSafetensors(join(directory, testCase.output))).tensors;
    const width = Math.max(...testCase.rows.map((row) => row.tokenIds.length));
    const padded = testCase.rows.map((row) => [
      ...new Array<number>(width - row.tokenIds.length).fill(0),
      ...row.tokenIds,
    ]);
    const mask = testCase.rows.map((row) => [
      ...new Array<number>(width - row.tokenIds.length).fill(0),
      ...row.tokenIds.map(() => 1),
    ]);
    const rows = await model.forward(stripPadding(padded, mask), {
      capture: [{ layer: fixture.layerCount - 1, site: 'resid_post' }],
    });
    rows.forEach((row, r) => {
      expect(maxAbsError(row.logits, expected.get(`logits.row${r}`)!.data)).toBeLessThan(tolerance);
      expect(
        maxAbsError(
          row.captures.get(`resid_post.${fixture.layerCount - 1}`)!,
          expected.get(`resid_post.${fixture.layerCount - 1}.row${r}`)!.data,
        ),
      ).toBeLessThan(tolerance);
    });
  });

  for (const testCase of fixture.cases.filter((c) => c.kind === 'greedy')) {
    it(`${testCase.name}: prefill + KV-cache decode picks the reference's tokens with matching log-probabilities`, async () => {
      const expected = (await readSafetensors(join(directory, testCase.output))).tensors;
      const results = await model.generate(
        testCase.rows.map((row) => row.tokenIds),
        {
          maxNewTokens: testCase.steps!,
          stopTokenIds: [],
          logprobs: true,
          steer: toSteeringSpecs(testCase.steer),
        },
      );
      let worst = 0;
      results.forEach((result, r) => {
        const generated = Array.from(expected.get(`generated.row${r}`)!.data);
        expect(result.responseTokenIds).toEqual(generated);
        const logits = expected.get(`logits.row${r}`)!.data;
        const vocab = fixture.vocabSize;
        generated.forEach((tokenId, step) => {
          const reference = logSoftmaxAt(logits.subarray(step * vocab, (step + 1) * vocab), tokenId);
          worst = Math.max(worst, Math.abs(result.tokenLogprobs![step]! - reference));
        });
      });
      errors[testCase.name] = worst;
      expect(worst).toBeLessThan(tolerance);
    });
  }
});
