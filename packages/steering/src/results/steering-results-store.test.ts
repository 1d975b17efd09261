import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Judge, type JudgeRequest, TraitlensError, type TraitVectorSet } from '@traitlens/core';
import { createFakeLanguageModel, type RowSteering } from '@traitlens/model-runtime/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { evaluateSteering, type SteeringEvaluationOptions } from '../evaluate-steering';
import { LexiconJudge } from '../judges/lexicon-judge';
import type { SteeringTrait } from '../trait/load-steering-trait';
import type { SteeringResults } from './steering-results';

/** Happy sentences grow with the steering strength; past 10 the story is gibberish (incoherent). */
function story({ steering }: { steering: RowSteering[] }): string {
  const strength = steering.reduce((sum, { spec, coefficient }) => sum + coefficient * spec.vector[0]!, 0);
  if (strength >= 10) return 'zorb plon krell wug dax blick frum snop glorp trel';
  const happy = ['She smiled.', 'They laughed a lot.', 'It was a wonderful day.', 'Everyone was glad.'];
  return ['Lily went to the park.', ...happy.slice(0, Math.floor(strength / 2)), 'Then home.'].join(' ');
}

const layerScales: Record<number, number> = { 0: 1, 1: 1.5, 2: 2, 3: 2.5 };

function vectors(): TraitVectorSet {
  return {
    metadata: {
      trait: 'happiness',
      method: 'mean_diff',
      model: 'fake:base',
      site: 'resid_post',
      tokenWindow: 'response[:5]',
      normalisation: 'unit',
      hiddenSize: 8,
    },
    vectors: new Map(
      Object.entries(layerScales).map(([layer, scale]) => {
        const vector = new Float32Array(8);
        vector[0] = scale;
        return [Number(layer), vector];
      }),
    ),
  };
}

const trait: SteeringTrait = {
  name: 'happiness',
  directory: '/dev/null',
  rubric: 'HIGH: joyful. LOW: flat.',
  questions: ['Once upon a time', 'One day', 'The dog'],
};

/** A judge that yields to the event loop between calls, so concurrent evaluations interleave. */
class InterleavingJudge implements Judge {
  readonly id = 'lexicon';
  private readonly inner = new LexiconJudge();
  async score(request: JudgeRequest) {
    await new Promise((resolve) => setImmediate(resolve));
    return this.inner.score(request);
  }
}

function options(
  outputDirectory: string,
  overrides: Partial<SteeringEvaluationOptions> & { singleLayer?: boolean } = {},
): SteeringEvaluationOptions {
  const { singleLayer, ...rest } = overrides;
  const result: SteeringEvaluationOptions = {
    model: createFakeLanguageModel({ respond: story, residualNorm: 10 }),
    judge: new InterleavingJudge(),
    trait,
    vectors: vectors(),
    outputDirectory,
    search: { steps: 3 },
    maxNewTokens: 400,
    multiLayer: { strategy: 'weighted' },
    ...rest,
  };
  if (singleLayer) delete result.multiLayer;
  return result;
}

const directories: string[] = [];
afterEach(async () => {
  await Promise.all(
    directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })),
  );
});

async function steeringFolder(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'traitlens-steer-store-'));
  directories.push(directory);
  return join(directory, 'steering', 'happiness');
}

async function readResults(directory: string): Promise<SteeringResults> {
  return JSON.parse(await readFile(join(directory, 'results.json'), 'utf8')) as SteeringResults;
}

/** results.json without its timestamps (the only fields that depend on when a run happened). */
function withoutTimes(results: SteeringResults): unknown {
  return JSON.parse(JSON.stringify(results), (key, value) =>
    key === 'createdAt' || key === 'updatedAt' ? undefined : value,
  );
}

describe('SteeringResultsStore with concurrent writers', () => {
  it('keeps both runs when two evaluations of one trait with different layers write at the same time', async () => {
    const directory = await steeringFolder();
    const [first, second] = await Promise.all([
      evaluateSteering(options(directory, { layers: [0, 1], singleLayer: true })),
      evaluateSteering(options(directory, { layers: [2, 3], singleLayer: true })),
    ]);
    const results = await readResults(directory);
    const searchIds = [first.searches[0]!.id, second.searches[0]!.id];
    expect(new Set(searchIds).size).toBe(2);
    expect(results.searches.map((search) => search.id).sort()).toEqual([...searchIds].sort());
    for (const evaluation of [first, second])
      for (const run of evaluation.results.runs.filter((run) => run.kind === 'layer'))
        expect(results.runs.map((stored) => stored.id)).toContain(run.id);
    // 1 baseline + 2 processes x 2 layers x 3 steps.
    expect(results.runs).toHaveLength(1 + 2 * 2 * 3);
    expect(Object.keys(results.layers)).toEqual(['0', '1', '2', '3']);
    expect((await readdir(join(directory, 'responses'))).length).toBe(results.runs.length);
  });

  it('three shards into one folder give the results of one process (timestamps aside)', async () => {
    const single = await steeringFolder();
    await evaluateSteering(options(single));
    const sharded = await steeringFolder();
    await Promise.all(
      [0, 1, 2].map((index) => evaluateSteering(options(sharded, { shard: { index, count: 3 } }))),
    );
    // Whichever shard finished last saw every layer; if none did (they all finished together), a re-run
    // of any shard completes the multi-layer step from what is on disk.
    await evaluateSteering(options(sharded, { shard: { index: 0, count: 3 } }));
    const expected = await readResults(single);
    const actual = await readResults(sharded);
    expect(actual.searches.map((search) => search.kind).sort()).toEqual(['adaptive', 'multi-layer']);
    expect(withoutTimes(actual)).toEqual(withoutTimes(expected));
    for (const run of expected.runs)
      expect(await readFile(join(sharded, run.responses), 'utf8')).toBe(
        await readFile(join(single, run.responses), 'utf8'),
      );
  });

  it('reads a results.json written before per-run files and reuses its runs', async () => {
    const directory = await steeringFolder();
    await evaluateSteering(options(directory, { layers: [0], singleLayer: true }));
    const old = await readResults(directory);
    // The folder as an older traitlens left it: results.json and responses/ only.
    for (const part of ['runs', 'layers', 'searches', 'context.json'])
      await rm(join(directory, part), { recursive: true, force: true });
    await writeFile(join(directory, 'results.json'), `${JSON.stringify(old, null, 2)}\n`);
    const judge = new InterleavingJudge();
    let calls = 0;
    const counting: Judge = {
      id: judge.id,
      score: (request) => {
        calls++;
        return judge.score(request);
      },
    };
    await evaluateSteering(options(directory, { layers: [0], singleLayer: true, judge: counting }));
    expect(calls).toBe(0);
    expect(withoutTimes(await readResults(directory))).toEqual(withoutTimes(old));
  });
});

describe('SteeringResultsStore reading a damaged folder', () => {
  it('names the file and the field of a corrupted layer file, and says what to do', async () => {
    const directory = await steeringFolder();
    await evaluateSteering(options(directory, { layers: [0], singleLayer: true }));
    const layerFile = join(directory, 'layers', '0.json');
    await writeFile(
      layerFile,
      JSON.stringify({ meanResidualNorm: 'large', vectorNorm: 1, baseCoefficient: 2 }),
    );
    const error = await evaluateSteering(options(directory, { layers: [0], singleLayer: true })).catch(
      (caught: unknown) => caught,
    );
    expect(TraitlensError.hasCode(error, 'INVALID_EXPERIMENT')).toBe(true);
    expect((error as Error).message).toContain(
      `${layerFile}: "meanResidualNorm" should be a finite number but is "large"`,
    );
    expect((error as Error).message).toContain('Delete it and re-run the same steering command');
  });

  it('names a run file that lacks a field the searches rely on', async () => {
    const directory = await steeringFolder();
    await evaluateSteering(options(directory, { layers: [0], singleLayer: true }));
    const [name] = await readdir(join(directory, 'runs'));
    const runFile = join(directory, 'runs', name!);
    const { interventions: _dropped, ...damaged } = JSON.parse(await readFile(runFile, 'utf8'));
    await writeFile(runFile, JSON.stringify(damaged));
    const error = await evaluateSteering(options(directory, { layers: [0], singleLayer: true })).catch(
      (caught: unknown) => caught,
    );
    expect(TraitlensError.hasCode(error, 'INVALID_EXPERIMENT')).toBe(true);
    expect((error as Error).message).toContain(`${runFile}: "interventions" should be a list but is missing`);
  });
});
