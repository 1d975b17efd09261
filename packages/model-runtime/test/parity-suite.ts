/**
 * The float64-parity checks (tools/reference/reference_forward.py, fixtures in src/__fixtures__/parity
 * and parity-lora) as a suite any test file can run on a provider: logits and every hook site at every
 * layer for a padded batch, the same with add and ablate steering, a left-padded batch through
 * stripPadding, and greedy prefill + KV-cache decode. Tolerance: max abs error < 1e-4 in fp32.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExecutionProviderName, type LanguageModel, loadModel } from '../src/index';
import {
  listParityFixtureFolders,
  type ParityCaseRun,
  type ParityFixtureCase,
  readParityFixture,
  readParityGoldens,
  runForwardParityCase,
  runGreedyParityCase,
} from './parity-cases';
import { testCacheDirectory } from './shared-models';

export const parityTolerance = 1e-4;
export const parityFixturesDirectory = join(import.meta.dirname, '../src/__fixtures__/parity');
/** The switchable-LoRA fixture (goldens of the llama fixture's model with its adapter merged in float64). */
export const loraParityDirectory = join(import.meta.dirname, '../src/__fixtures__/parity-lora');

/** Every fixture folder: the architecture fixtures, then the switchable-LoRA one when present. */
export function parityFixtureFolders(): string[] {
  return listParityFixtureFolders(join(parityFixturesDirectory, '..')).map((folder) => folder.directory);
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
      const fixture = readParityFixture(directory);
      const loraScale = fixture.adapter ? 1 : undefined;
      let model: LanguageModel;
      const errors: Record<string, number> = {};
      // Every row of a case is compared with the case's goldens (the LoRA fixture's are the merged model's).
      const caseRun = async (testCase: ParityFixtureCase): Promise<ParityCaseRun> => {
        const goldens = await readParityGoldens(directory, testCase);
        return {
          model,
          fixture,
          testCase,
          goldensPerRow: testCase.rows.map(() => goldens),
          ...(loraScale !== undefined ? { loraScale } : {}),
        };
      };

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
          const { logitsError, capturesError } = await runForwardParityCase(await caseRun(testCase));
          const worst = Math.max(logitsError, capturesError);
          errors[testCase.name] = worst;
          expect(worst).toBeLessThan(parityTolerance);
        });
      }

      if (wanted('padded-batch-stripped')) {
        it('padded-batch: a left-padded batch with its attention mask gives the same values (stripPadding)', async () => {
          const testCase = fixture.cases.find((c) => c.name === 'padded-batch')!;
          const { logitsError, capturesError } = await runForwardParityCase({
            ...(await caseRun(testCase)),
            padded: true,
          });
          const worst = Math.max(logitsError, capturesError);
          errors['padded-batch-stripped'] = worst;
          expect(worst).toBeLessThan(parityTolerance);
        });
      }

      for (const testCase of fixture.cases.filter((c) => c.kind === 'greedy' && wanted(c.name))) {
        it(`${testCase.name}: prefill + KV-cache decode picks the reference's tokens with matching log-probabilities`, async () => {
          const { logprobError, generated, expected } = await runGreedyParityCase(await caseRun(testCase));
          expect(generated).toEqual(expected);
          const worst = logprobError;
          errors[testCase.name] = worst;
          expect(worst).toBeLessThan(parityTolerance);
        });
      }
    },
  );
}
