/**
 * The float64 parity fixtures (tools/reference/reference_forward.py, committed in src/__fixtures__/parity
 * and parity-lora) and the two checks every case runs, free of any test framework: the vitest suite
 * (parity-suite.ts) asserts on what they return, `pnpm gpu:check` (tools/gpu-check) reports it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type HookSite, readSafetensors } from '@traitlens/core';
import {
  type ForwardOptions,
  type LanguageModel,
  type SteeringMode,
  type SteeringSpec,
  stripPadding,
} from '../src/index';

export interface ParityFixtureSteer {
  layer: number;
  site: HookSite;
  mode: SteeringMode;
  vector: number[];
  coefficient: number[] | number[][];
}

export interface ParityFixtureCase {
  name: string;
  kind: 'forward' | 'greedy';
  steps?: number;
  rows: Array<{ text?: string; tokenIds: number[] }>;
  steer: ParityFixtureSteer[];
  /** The goldens' safetensors file, relative to cases.json. */
  output: string;
}

/** A fixture folder's cases.json. */
export interface ParityFixture {
  architecture: string;
  layerCount: number;
  hiddenSize: number;
  vocabSize: number;
  sites: HookSite[];
  cases: ParityFixtureCase[];
  /** LoRA fixtures: the base model's fixture folder and the adapter folder, relative to cases.json. */
  base?: string;
  adapter?: string;
}

/** Golden tensors of one case, keyed per row (`logits.row0`, `resid_post.2.row1`, ...). */
export type ParityGoldens = Map<string, { data: Float32Array }>;

/** A parity fixture folder with its model, and (for the LoRA fixture) the adapter and base goldens. */
export interface ParityFixtureFolder {
  /** `llama`, `qwen3`, ..., `llama+lora`. */
  label: string;
  directory: string;
  modelDirectory: string;
  adapterDirectory?: string;
  baseDirectory?: string;
}

export function readParityFixture(directory: string): ParityFixture {
  return JSON.parse(readFileSync(join(directory, 'cases.json'), 'utf8')) as ParityFixture;
}

export async function readParityGoldens(
  directory: string,
  testCase: ParityFixtureCase,
): Promise<ParityGoldens> {
  return (await readSafetensors(join(directory, testCase.output))).tensors as unknown as ParityGoldens;
}

/**
 * The fixture folders under `fixturesDirectory`: `parity/<architecture>` and, when present,
 * `parity-lora` (a switchable adapter on `parity/llama`, goldens of the merged model).
 */
export function listParityFixtureFolders(
  fixturesDirectory: string,
  only?: readonly string[],
): ParityFixtureFolder[] {
  const parity = join(fixturesDirectory, 'parity');
  const folders: ParityFixtureFolder[] = readdirSync(parity, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => ({
      label: entry.name,
      directory: join(parity, entry.name),
      modelDirectory: join(parity, entry.name, 'model'),
    }));
  const lora = join(fixturesDirectory, 'parity-lora');
  if (existsSync(join(lora, 'cases.json'))) {
    const fixture = readParityFixture(lora);
    const baseDirectory = join(lora, fixture.base!);
    folders.push({
      label: 'llama+lora',
      directory: lora,
      modelDirectory: join(baseDirectory, 'model'),
      adapterDirectory: join(lora, fixture.adapter!),
      baseDirectory,
    });
  }
  return only?.length ? folders.filter((folder) => only.includes(folder.label)) : folders;
}

export function toSteeringSpecs(steer: readonly ParityFixtureSteer[]): SteeringSpec[] {
  return steer.map((spec) => ({
    point: { layer: spec.layer, site: spec.site },
    mode: spec.mode,
    vector: Float32Array.from(spec.vector),
    coefficient: spec.coefficient,
    positions: 'all',
  }));
}

/** Max abs difference; a length mismatch or a NaN counts as an infinite error, never as a pass. */
export function maxAbsError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Number.POSITIVE_INFINITY;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const difference = Math.abs(actual[i]! - expected[i]!);
    worst = Number.isNaN(difference) ? Number.POSITIVE_INFINITY : Math.max(worst, difference);
  }
  return worst;
}

/** log softmax(logits)[index], computed stably in float64. */
export function logSoftmaxAt(logits: Float32Array, index: number): number {
  let maximum = Number.NEGATIVE_INFINITY;
  for (const value of logits) maximum = Math.max(maximum, value);
  let sum = 0;
  for (const value of logits) sum += Math.exp(value - maximum);
  return logits[index]! - maximum - Math.log(sum);
}

function golden(goldens: ParityGoldens, name: string): Float32Array {
  const tensor = goldens.get(name);
  if (!tensor) throw new Error(`golden tensor ${name} is missing`);
  return tensor.data;
}

export interface ParityCaseRun {
  model: LanguageModel;
  fixture: ParityFixture;
  testCase: ParityFixtureCase;
  /** The goldens each row is compared with (LoRA cases mix adapted and clean rows). */
  goldensPerRow: readonly ParityGoldens[];
  loraScale?: ForwardOptions['loraScale'];
}

/**
 * A forward case: every hook site at every layer with the case's add/ablate steering. `padded` runs the
 * rows as an HF-style left-padded batch through stripPadding and checks the last block output (padding
 * must move nothing).
 */
export async function runForwardParityCase(
  run: ParityCaseRun & { padded?: boolean },
): Promise<{ logitsError: number; capturesError: number }> {
  const { fixture, testCase } = run;
  const capture = run.padded
    ? [{ layer: fixture.layerCount - 1, site: 'resid_post' as HookSite }]
    : fixture.sites.flatMap((site) =>
        Array.from({ length: fixture.layerCount }, (_, layer) => ({ layer, site })),
      );
  const ids = testCase.rows.map((row) => row.tokenIds);
  let inputs: Parameters<LanguageModel['forward']>[0] = ids;
  if (run.padded) {
    const width = Math.max(...ids.map((row) => row.length));
    inputs = stripPadding(
      ids.map((row) => [...new Array<number>(width - row.length).fill(0), ...row]),
      ids.map((row) => [...new Array<number>(width - row.length).fill(0), ...row.map(() => 1)]),
    );
  }
  const rows = await run.model.forward(inputs, {
    capture,
    steer: toSteeringSpecs(testCase.steer),
    ...(run.loraScale !== undefined ? { loraScale: run.loraScale } : {}),
  });
  let logitsError = 0;
  let capturesError = 0;
  rows.forEach((row, r) => {
    const goldens = run.goldensPerRow[r]!;
    logitsError = Math.max(logitsError, maxAbsError(row.logits, golden(goldens, `logits.row${r}`)));
    for (const point of capture) {
      const name = `${point.site}.${point.layer}`;
      const values = row.captures.get(name);
      capturesError = Math.max(
        capturesError,
        values ? maxAbsError(values, golden(goldens, `${name}.row${r}`)) : Number.POSITIVE_INFINITY,
      );
    }
  });
  return { logitsError, capturesError };
}

/**
 * A greedy case: prefill + KV-cache decode with per-token log-probabilities. `logprobError` covers the
 * steps up to the first id that differs from the float64 reference's.
 */
export async function runGreedyParityCase(run: ParityCaseRun): Promise<{
  logprobError: number;
  greedyIdsEqual: boolean;
  generated: number[][];
  expected: number[][];
}> {
  const { fixture, testCase } = run;
  const results = await run.model.generate(
    testCase.rows.map((row) => row.tokenIds),
    {
      maxNewTokens: testCase.steps ?? 1,
      stopTokenIds: [],
      logprobs: true,
      steer: toSteeringSpecs(testCase.steer),
      ...(run.loraScale !== undefined ? { loraScale: run.loraScale } : {}),
    },
  );
  let logprobError = 0;
  const expected = results.map((_, r) => Array.from(golden(run.goldensPerRow[r]!, `generated.row${r}`)));
  const generated = results.map((result) => [...result.responseTokenIds]);
  results.forEach((result, r) => {
    const logits = golden(run.goldensPerRow[r]!, `logits.row${r}`);
    const ids = expected[r]!;
    for (let step = 0; step < ids.length && result.responseTokenIds[step] === ids[step]; step++) {
      const reference = logSoftmaxAt(
        logits.subarray(step * fixture.vocabSize, (step + 1) * fixture.vocabSize),
        ids[step]!,
      );
      const difference = Math.abs((result.tokenLogprobs?.[step] ?? Number.NaN) - reference);
      logprobError = Number.isNaN(difference) ? Number.POSITIVE_INFINITY : Math.max(logprobError, difference);
    }
  });
  const greedyIdsEqual = generated.every(
    (ids, r) => ids.length === expected[r]!.length && ids.every((id, step) => id === expected[r]![step]),
  );
  return { logprobError, greedyIdsEqual, generated, expected };
}
