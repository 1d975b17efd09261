/**
 * The float64-parity checks (tools/reference/reference_forward.py, fixtures in src/__fixtures__/parity
 * and parity-lora) as a suite any test file can run on a provider: logits and every hook site at every
 * layer for a padded batch, the same with add and ablate steering, a left-padded batch through
 * stripPadding, and greedy prefill + KV-cache decode. Tolerance: max abs error < 1e-4 in fp32.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '@traitlens/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ExecutionProviderName,
  type LanguageModel,
  loadModel,
  type SteeringMode,
  type SteeringSpec,
  stripPadding,
} from '../src/index';
import { testCacheDirectory } from './shared-models';

export const parityTolerance = 1e-4;
export const parityFixturesDirectory = join(import.meta.dirname, '../src/__fixtures__/parity');
/** The switchable-LoRA fixture (goldens of the llama fixture's model with its adapter merged in float64). */
export const loraParityDirectory = join(import.meta.dirname, '../src/__fixtures__/parity-lora');

interface FixtureSteer {
  layer: number;
  site: SteeringSpec['point']['site'];
  mode: SteeringMode;
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
  /** LoRA fixtures: the base model's fixture folder and the adapter folder, relative to cases.json. */
  base?: string;
  adapter?: string;
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

/** Every fixture folder: the architecture fixtures, then the switchable-LoRA one when present. */
export function parityFixtureFolders(): string[] {
  const folders = readdirSync(parityFixturesDirectory, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(parityFixturesDirectory, entry.name));
  if (existsSync(join(loraParityDirectory, 'cases.json'))) folders.push(loraParityDirectory);
  return folders;
}

export interface ParitySuiteOptions {
  providers: readonly ExecutionProviderName[];
  /** Fixture folders (absolute). */
  folders: readonly string[];
  /** Case names to run (default all, including the stripPadding check as `padded-batch-stripped`). */
  cases?: readonly string[];
  /** Per test and per hook (default: the project's); SwiftShader needs minutes on a loaded machine. */
  timeout?: number;
  /** Called with each folder's worst error per case once its cases ran. */
  onErrors?: (folder: string, errors: Record<string, number>) => void;
}

/** Declares one describe block per fixture folder. */
export function describeParity(label: string, options: ParitySuiteOptions): void {
  const wanted = (name: string) => !options.cases || options.cases.includes(name);
  describe.each(options.folders.map((folder) => [folder.split('/').slice(-2).join('/'), folder]))(
    `${label}: %s`,
    { ...(options.timeout ? { timeout: options.timeout } : {}) },
    (_name, directory) => {
      const fixture = JSON.parse(readFileSync(join(directory, 'cases.json'), 'utf8')) as FixtureFile;
      const loraScale = fixture.adapter ? 1 : undefined;
      let model: LanguageModel;
      const errors: Record<string, number> = {};

      beforeAll(async () => {
        const modelDirectory = fixture.base
          ? join(directory, fixture.base, 'model')
          : join(directory, 'model');
        model = await loadModel(modelDirectory, {
          cacheDirectory: testCacheDirectory,
          threads: 1,
          providers: options.providers,
          ...(fixture.adapter
            ? { lora: { source: join(directory, fixture.adapter), mode: 'switchable' as const } }
            : {}),
        });
        expect(model.config.architecture).toBe(fixture.architecture);
      }, options.timeout);
      afterAll(async () => {
        await model?.dispose();
        options.onErrors?.(directory, errors);
        console.info(`${directory}: max abs error per case ${JSON.stringify(errors)}`);
      });

      for (const testCase of fixture.cases.filter((c) => c.kind === 'forward' && wanted(c.name))) {
        it(`${testCase.name}: logits and every site at every layer within ${parityTolerance}`, async () => {
          const expected = (await readSafetensors(join(directory, testCase.output))).tensors;
          const capture = Array.from({ length: fixture.layerCount }, (_, layer) =>
            fixture.sites.map((site) => ({ layer, site })),
          ).flat();
          const rows = await model.forward(
            testCase.rows.map((row) => row.tokenIds),
            {
              capture,
              steer: toSteeringSpecs(testCase.steer),
              ...(loraScale !== undefined ? { loraScale } : {}),
            },
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
          expect(worst).toBeLessThan(parityTolerance);
        });
      }

      if (wanted('padded-batch-stripped')) {
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
          const last = `resid_post.${fixture.layerCount - 1}`;
          const rows = await model.forward(stripPadding(padded, mask), {
            capture: [{ layer: fixture.layerCount - 1, site: 'resid_post' }],
            ...(loraScale !== undefined ? { loraScale } : {}),
          });
          let worst = 0;
          rows.forEach((row, r) => {
            worst = Math.max(worst, maxAbsError(row.logits, expected.get(`logits.row${r}`)!.data));
            worst = Math.max(
              worst,
              maxAbsError(row.captures.get(last)!, expected.get(`${last}.row${r}`)!.data),
            );
          });
          errors['padded-batch-stripped'] = worst;
          expect(worst).toBeLessThan(parityTolerance);
        });
      }

      for (const testCase of fixture.cases.filter((c) => c.kind === 'greedy' && wanted(c.name))) {
        it(`${testCase.name}: prefill + KV-cache decode picks the reference's tokens with matching log-probabilities`, async () => {
          const expected = (await readSafetensors(join(directory, testCase.output))).tensors;
          const results = await model.generate(
            testCase.rows.map((row) => row.tokenIds),
            {
              maxNewTokens: testCase.steps!,
              stopTokenIds: [],
              logprobs: true,
              steer: toSteeringSpecs(testCase.steer),
              ...(loraScale !== undefined ? { loraScale } : {}),
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
          expect(worst).toBeLessThan(parityTolerance);
        });
      }
    },
  );
}
