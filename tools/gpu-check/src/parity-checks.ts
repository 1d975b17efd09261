import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type HookSite, readSafetensors } from '@traitlens/core';
import {
  type ExecutionProviderName,
  type LanguageModel,
  loadModel,
  type SteeringMode,
  type SteeringSpec,
  stripPadding,
} from '@traitlens/model-runtime';
import type { DtypeConfig } from './dtype-configs';

/** The error of one parity case against the float64 goldens. */
export interface ParityCaseResult {
  config: string;
  /** Fixture folder (`llama`, `qwen3`, ..., `llama+lora`). */
  folder: string;
  /** Case name; LoRA cases end in `@lora1` / `@lora0` / `@lora101` (the loraScale per row). */
  case: string;
  kind: 'forward' | 'greedy';
  /** Max abs error of the logits (forward cases). */
  logitsError?: number;
  /** Max abs error over every captured hook site at every layer (forward cases, unpadded). */
  capturesError?: number;
  /** Max abs error of the greedy tokens' log-probabilities, over the steps whose ids match. */
  logprobError?: number;
  /** Greedy ids equal the float64 ones on every row. */
  greedyIdsEqual?: boolean;
  /** The worst of the errors above. */
  worst?: number;
  tolerance: number;
  pass: boolean;
  milliseconds: number;
  /** A case that threw: its message. */
  error?: string;
}

interface FixtureSteer {
  layer: number;
  site: HookSite;
  mode: SteeringMode;
  vector: number[];
  coefficient: number[] | number[][];
}

interface FixtureCase {
  name: string;
  kind: 'forward' | 'greedy';
  steps?: number;
  rows: Array<{ tokenIds: number[] }>;
  steer: FixtureSteer[];
  output: string;
}

interface Fixture {
  layerCount: number;
  vocabSize: number;
  sites: HookSite[];
  cases: FixtureCase[];
}

type Goldens = Map<string, { data: Float32Array }>;

function maxAbs(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Number.POSITIVE_INFINITY;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const difference = Math.abs(actual[i]! - expected[i]!);
    // NaN counts as an infinite error, never as a pass.
    worst = Number.isNaN(difference) ? Number.POSITIVE_INFINITY : Math.max(worst, difference);
  }
  return worst;
}

function logSoftmaxAt(logits: Float32Array, index: number): number {
  let maximum = Number.NEGATIVE_INFINITY;
  for (const value of logits) maximum = Math.max(maximum, value);
  let sum = 0;
  for (const value of logits) sum += Math.exp(value - maximum);
  return logits[index]! - maximum - Math.log(sum);
}

function steering(steer: FixtureSteer[]): SteeringSpec[] {
  return steer.map((spec) => ({
    point: { layer: spec.layer, site: spec.site },
    mode: spec.mode,
    vector: Float32Array.from(spec.vector),
    coefficient: spec.coefficient,
  }));
}

function golden(goldens: Goldens, name: string): Float32Array {
  const tensor = goldens.get(name);
  if (!tensor) throw new Error(`golden tensor ${name} is missing`);
  return tensor.data;
}

async function forwardCase(
  model: LanguageModel,
  fixture: Fixture,
  testCase: FixtureCase,
  goldensPerRow: Goldens[],
  loraScale: number[] | undefined,
  padded: boolean,
): Promise<Pick<ParityCaseResult, 'logitsError' | 'capturesError'>> {
  // Every site at every layer; the padded variant checks the last block output (padding moves nothing).
  const capture = padded
    ? [{ layer: fixture.layerCount - 1, site: 'resid_post' as HookSite }]
    : fixture.sites.flatMap((site) =>
        Array.from({ length: fixture.layerCount }, (_, layer) => ({ layer, site })),
      );
  const ids = testCase.rows.map((row) => row.tokenIds);
  let inputs: Parameters<LanguageModel['forward']>[0] = ids;
  if (padded) {
    // An HF-style left-padded batch, unpadded by stripPadding: positions must come out the same.
    const width = Math.max(...ids.map((row) => row.length));
    inputs = stripPadding(
      ids.map((row) => [...new Array<number>(width - row.length).fill(0), ...row]),
      ids.map((row) => [...new Array<number>(width - row.length).fill(0), ...row.map(() => 1)]),
    );
  }
  const rows = await model.forward(inputs, {
    capture,
    steer: steering(testCase.steer),
    ...(loraScale ? { loraScale } : {}),
  });
  let logitsError = 0;
  let capturesError = 0;
  rows.forEach((row, r) => {
    const goldens = goldensPerRow[r]!;
    logitsError = Math.max(logitsError, maxAbs(row.logits, golden(goldens, `logits.row${r}`)));
    for (const point of capture) {
      const name = `${point.site}.${point.layer}`;
      const values = row.captures.get(name);
      capturesError = Math.max(
        capturesError,
        values ? maxAbs(values, golden(goldens, `${name}.row${r}`)) : Number.POSITIVE_INFINITY,
      );
    }
  });
  return { logitsError, capturesError };
}

async function greedyCase(
  model: LanguageModel,
  fixture: Fixture,
  testCase: FixtureCase,
  goldensPerRow: Goldens[],
  loraScale: number[] | undefined,
): Promise<Pick<ParityCaseResult, 'logprobError' | 'greedyIdsEqual'>> {
  const results = await model.generate(
    testCase.rows.map((row) => row.tokenIds),
    {
      maxNewTokens: testCase.steps ?? 1,
      stopTokenIds: [],
      logprobs: true,
      steer: steering(testCase.steer),
      ...(loraScale ? { loraScale } : {}),
    },
  );
  let logprobError = 0;
  let greedyIdsEqual = true;
  results.forEach((result, r) => {
    const goldens = goldensPerRow[r]!;
    const expected = Array.from(golden(goldens, `generated.row${r}`));
    const logits = golden(goldens, `logits.row${r}`);
    for (let step = 0; step < expected.length; step++) {
      if (result.responseTokenIds[step] !== expected[step]) {
        greedyIdsEqual = false;
        break;
      }
      const reference = logSoftmaxAt(
        logits.subarray(step * fixture.vocabSize, (step + 1) * fixture.vocabSize),
        expected[step]!,
      );
      const difference = Math.abs((result.tokenLogprobs?.[step] ?? Number.NaN) - reference);
      logprobError = Number.isNaN(difference) ? Number.POSITIVE_INFINITY : Math.max(logprobError, difference);
    }
  });
  return { logprobError, greedyIdsEqual };
}

/** A parity fixture folder with its model, and (for the LoRA fixture) the adapter and base goldens. */
interface FixtureFolder {
  label: string;
  directory: string;
  modelDirectory: string;
  adapterDirectory?: string;
  baseDirectory?: string;
}

/**
 * The fixture folders under `fixturesDirectory`: `parity/<architecture>` and, when present,
 * `parity-lora` (a switchable adapter on `parity/llama`, goldens of the merged model).
 */
export function listFixtureFolders(fixturesDirectory: string, only?: readonly string[]): FixtureFolder[] {
  const parity = join(fixturesDirectory, 'parity');
  const folders: FixtureFolder[] = readdirSync(parity, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => ({
      label: entry.name,
      directory: join(parity, entry.name),
      modelDirectory: join(parity, entry.name, 'model'),
    }));
  const lora = join(fixturesDirectory, 'parity-lora');
  if (existsSync(join(lora, 'cases.json'))) {
    const cases = JSON.parse(readFileSync(join(lora, 'cases.json'), 'utf8')) as {
      base: string;
      adapter: string;
    };
    const baseDirectory = join(lora, cases.base);
    folders.push({
      label: 'llama+lora',
      directory: lora,
      modelDirectory: join(baseDirectory, 'model'),
      adapterDirectory: join(lora, cases.adapter),
      baseDirectory,
    });
  }
  return only?.length ? folders.filter((folder) => only.includes(folder.label)) : folders;
}

export interface ParityRunOptions {
  provider: ExecutionProviderName;
  config: DtypeConfig;
  folders: readonly FixtureFolder[];
  cacheDirectory: string;
  threads?: number;
  onCase?: (result: ParityCaseResult) => void;
  onWarning?: (message: string) => void;
}

/**
 * Runs every case of every fixture folder on one provider at one dtype: forward cases capture every
 * hook site at every layer (with the case's add/ablate steering), `padded-batch` also as an HF-style
 * left-padded batch, greedy cases decode through the KV cache with log-probabilities. The LoRA folder
 * runs each case at loraScale 1 (merged goldens), 0 (base goldens) and per row 1, 0, 1, ... (each row's own).
 */
export async function runParityChecks(options: ParityRunOptions): Promise<ParityCaseResult[]> {
  const results: ParityCaseResult[] = [];
  const { config } = options;
  for (const folder of options.folders) {
    const fixture = JSON.parse(readFileSync(join(folder.directory, 'cases.json'), 'utf8')) as Fixture;
    const model = await loadModel(folder.modelDirectory, {
      cacheDirectory: options.cacheDirectory,
      providers: [options.provider],
      ...config.options,
      // Every hook plan of a folder stays loaded: no plan switch rebuilds a session mid-check.
      maxSessions: 16,
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      ...(folder.adapterDirectory
        ? { lora: { source: folder.adapterDirectory, mode: 'switchable' as const } }
        : {}),
      ...(options.onWarning ? { onWarning: options.onWarning } : {}),
    });
    try {
      const goldensOf = async (directory: string, testCase: FixtureCase) =>
        (await readSafetensors(join(directory, testCase.output))).tensors as unknown as Goldens;
      const variants: Array<{
        suffix: string;
        /** loraScale per row, from the row count. */
        loraScale?: (rows: number) => number[];
        goldens: (testCase: FixtureCase) => Promise<Goldens[]>;
      }> = [];
      const base = folder.baseDirectory;
      if (base) {
        variants.push(
          {
            suffix: '@lora1',
            loraScale: (n) => new Array<number>(n).fill(1),
            goldens: async (c) => perRow(await goldensOf(folder.directory, c), c),
          },
          {
            suffix: '@lora0',
            loraScale: (n) => new Array<number>(n).fill(0),
            goldens: async (c) => perRow(await goldensOf(base, c), c),
          },
          {
            suffix: '@lora101',
            loraScale: (n) => Array.from({ length: n }, (_, r) => (r % 2 === 0 ? 1 : 0)),
            goldens: async (c) => {
              const adapted = await goldensOf(folder.directory, c);
              const clean = await goldensOf(base, c);
              return c.rows.map((_, r) => (r % 2 === 0 ? adapted : clean));
            },
          },
        );
      } else {
        variants.push({ suffix: '', goldens: async (c) => perRow(await goldensOf(folder.directory, c), c) });
      }
      for (const variant of variants) {
        for (const testCase of fixture.cases) {
          const loraScale = variant.loraScale?.(testCase.rows.length);
          const runs: Array<[string, (goldens: Goldens[]) => Promise<Partial<ParityCaseResult>>]> =
            testCase.kind === 'forward'
              ? [[testCase.name, (g) => forwardCase(model, fixture, testCase, g, loraScale, false)]]
              : [[testCase.name, (g) => greedyCase(model, fixture, testCase, g, loraScale)]];
          if (testCase.name === 'padded-batch')
            runs.push(['padded-left', (g) => forwardCase(model, fixture, testCase, g, loraScale, true)]);
          for (const [name, run] of runs) {
            const started = performance.now();
            const result: ParityCaseResult = {
              config: config.name,
              folder: folder.label,
              case: `${name}${variant.suffix}`,
              kind: testCase.kind,
              tolerance: config.tolerance,
              pass: false,
              milliseconds: 0,
            };
            try {
              Object.assign(result, await run(await variant.goldens(testCase)));
              const errors = [result.logitsError, result.capturesError, result.logprobError].filter(
                (value): value is number => value !== undefined,
              );
              result.worst = Math.max(...errors);
              result.pass =
                result.worst <= config.tolerance && (!config.exactGreedy || result.greedyIdsEqual !== false);
            } catch (cause) {
              result.error = (cause instanceof Error ? cause.message : String(cause))
                .split('\n')[0]!
                .slice(0, 500);
            }
            result.milliseconds = Math.round(performance.now() - started);
            results.push(result);
            options.onCase?.(result);
          }
        }
      }
    } finally {
      await model.dispose();
    }
  }
  return results;
}

/** The golden tensors of a case are keyed per row (`logits.row0`...): every row reads the same map. */
function perRow(goldens: Goldens, testCase: FixtureCase): Goldens[] {
  return testCase.rows.map(() => goldens);
}
