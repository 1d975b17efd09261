import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Judge, type JudgeRequest, TraitlensError, type TraitVectorSet } from '@traitlens/core';
import { createFakeLanguageModel, type RowSteering } from '@traitlens/model-runtime/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { evaluateSteering, type SteeringEvaluationOptions } from './evaluate-steering';
import { LexiconJudge } from './judges/lexicon-judge';
import { formatSteeringSummary } from './results/format-steering-summary';
import type { ScoredResponsesFile, SteeringResults } from './results/steering-results';
import type { SteeringTrait } from './trait/load-steering-trait';

const happySentences = [
  'She smiled.',
  'They laughed a lot.',
  'It was a wonderful day.',
  'Everyone was glad.',
  'They had fun.',
  'She felt cheerful.',
];

/**
 * The fake model's story: the steering strength s = sum of coefficient * v[0] adds one happy sentence
 * per 2 units of s, until s >= 10, where the story turns to gibberish (the coherence cliff).
 */
function story({ steering }: { steering: RowSteering[] }): string {
  const strength = steering.reduce((sum, { spec, coefficient }) => sum + coefficient * spec.vector[0]!, 0);
  if (strength >= 10) return 'zorb plon krell wug dax blick frum snop glorp trel';
  const happy = happySentences.slice(0, Math.max(0, Math.floor(strength / 2)));
  return ['Lily went to the park with her mom.', ...happy, 'Then they went home.'].join(' ');
}

function unitVector(scale: number): Float32Array {
  const vector = new Float32Array(8);
  vector[0] = scale;
  return vector;
}

function vectorSet(layers: Record<number, number>, hiddenSize = 8): TraitVectorSet {
  return {
    metadata: {
      trait: 'happiness',
      method: 'mean_diff',
      model: 'fake:base',
      site: 'resid_post',
      tokenWindow: 'response[:5]',
      normalisation: 'unit',
      hiddenSize,
    },
    vectors: new Map(
      Object.entries(layers).map(([layer, scale]) => [
        Number(layer),
        hiddenSize === 8 ? unitVector(scale) : new Float32Array(hiddenSize),
      ]),
    ),
  };
}

const trait: SteeringTrait = {
  name: 'happiness',
  directory: '/dev/null',
  rubric: 'HIGH: joyful. LOW: flat.',
  questions: ['Once upon a time', 'One day', 'The dog'],
};

/** Counts judge calls and can fail after a number of calls, like a crash in the middle of a search. */
class CountingJudge implements Judge {
  readonly id = 'lexicon';
  calls = 0;
  private readonly inner = new LexiconJudge();
  constructor(private readonly failAfter = Number.POSITIVE_INFINITY) {}
  async score(request: JudgeRequest) {
    this.calls++;
    if (this.calls > this.failAfter) throw new Error('simulated crash');
    return this.inner.score(request);
  }
}

const directories: string[] = [];
afterEach(async () => {
  await Promise.all(
    directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })),
  );
});

async function outputDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'traitlens-steer-'));
  directories.push(directory);
  return join(directory, 'steering', 'happiness');
}

function options(
  overrides: Partial<SteeringEvaluationOptions> & Pick<SteeringEvaluationOptions, 'outputDirectory'>,
): SteeringEvaluationOptions {
  return {
    model: createFakeLanguageModel({ respond: story, residualNorm: 10 }),
    judge: new CountingJudge(),
    trait,
    vectors: vectorSet({ 1: 1, 2: 2 }),
    search: { steps: 4 },
    // The fake tokenizer spends one token per character.
    maxNewTokens: 400,
    ...overrides,
  };
}

describe('evaluateSteering (fake model, lexicon judge)', () => {
  it('runs the baseline and the adaptive search of several layers in shared batches, and stores everything', async () => {
    const directory = await outputDirectory();
    const model = createFakeLanguageModel({ respond: story, residualNorm: 10 });
    const judge = new CountingJudge();
    const evaluation = await evaluateSteering(options({ outputDirectory: directory, model, judge }));
    const [search] = evaluation.searches;
    // Layer 1: |v| = 1, base 10, s = c: 7 -> 9.1 -> 11.83 (gibberish) -> 10.0555 (gibberish)
    // Layer 2: |v| = 2, base 5, s = 2c: the same trajectory in s.
    expect(
      search!.candidates.map((candidate) =>
        candidate.steps.map((step) => Number(step.coefficient.toFixed(4))),
      ),
    ).toEqual([
      [7, 9.1, 11.83, 10.0555],
      [3.5, 4.55, 5.915, 5.0278],
    ]);
    expect(search!.candidates.map((candidate) => candidate.steps.map((step) => step.coherent))).toEqual([
      [true, true, false, false],
      [true, true, false, false],
    ]);
    expect(search!.candidates.map((candidate) => candidate.best?.step)).toEqual([1, 1]);
    expect(search!.candidates[0]!.baseCoefficient).toBeCloseTo(10, 6);
    // One forward pass for the norms; one generate call for the baseline and one per step (both layers batched).
    expect(model.forwardCalls).toHaveLength(1);
    expect(model.generateCalls.map((call) => call.rows)).toEqual([3, 6, 6, 6, 6]);
    // 9 runs x 3 questions x (trait, coherence, relevance).
    expect(judge.calls).toBe(9 * 3 * 3);
    expect(evaluation.judgeCalls).toBe(81);

    const results = JSON.parse(await readFile(join(directory, 'results.json'), 'utf8')) as SteeringResults;
    expect(results.format).toBe('traitlens.steering-results');
    expect(results.runs).toHaveLength(9);
    expect(results.baseline?.traitMean).toBeLessThan(search!.candidates[0]!.best!.traitMean!);
    expect(results.layers['1']).toEqual({ meanResidualNorm: 10, vectorNorm: 1, baseCoefficient: 10 });
    const bestRun = results.runs.find((run) => run.id === search!.candidates[0]!.best!.runId)!;
    expect(bestRun.interventions[0]!.perturbationRatio).toBeCloseTo(0.91, 6);
    expect((await readdir(join(directory, 'responses'))).sort()).toEqual(
      results.runs.map((run) => `${run.id}.json`).sort(),
    );
    const responses = JSON.parse(
      await readFile(join(directory, bestRun.responses), 'utf8'),
    ) as ScoredResponsesFile;
    expect(responses.responses).toHaveLength(3);
    expect(responses.responses[0]).toMatchObject({
      questionIndex: 0,
      question: 'Once upon a time',
      relevance: null,
      coherence: 100,
    });
    expect(responses.responses[0]!.response).toContain('wonderful day');

    const summary = formatSteeringSummary(results, evaluation.searches);
    expect(summary).toContain('baseline: trait');
    expect(summary).toMatch(/L1 +1 +9\.100 +0\.91 .* yes/);
  });

  it('a second run with the same settings generates nothing and re-judges nothing', async () => {
    const directory = await outputDirectory();
    await evaluateSteering(options({ outputDirectory: directory }));
    const model = createFakeLanguageModel({ respond: story, residualNorm: 10 });
    const judge = new CountingJudge();
    const rerun = await evaluateSteering(options({ outputDirectory: directory, model, judge }));
    expect(judge.calls).toBe(0);
    expect(model.generateCalls).toHaveLength(0);
    expect(model.forwardCalls).toHaveLength(0);
    expect(rerun.results.runs).toHaveLength(9);
  });

  it('an interrupted search resumes where it stopped without re-judging finished runs', async () => {
    const directory = await outputDirectory();
    const single = { vectors: vectorSet({ 1: 1 }) };
    // Baseline (9 calls) + step 0 (9) + step 1 (9) finish; the crash hits the 31st call, inside step 2.
    const crashing = new CountingJudge(30);
    await expect(
      evaluateSteering(options({ outputDirectory: directory, judge: crashing, ...single })),
    ).rejects.toThrow(/simulated crash/);
    const saved = JSON.parse(await readFile(join(directory, 'results.json'), 'utf8')) as SteeringResults;
    expect(saved.runs.map((run) => run.kind)).toEqual(['baseline', 'layer', 'layer']);

    const judge = new CountingJudge();
    const model = createFakeLanguageModel({ respond: story, residualNorm: 10 });
    const resumed = await evaluateSteering(options({ outputDirectory: directory, judge, model, ...single }));
    // Only steps 2 and 3 are new: 2 runs x 3 questions x 3 judgements.
    expect(judge.calls).toBe(18);
    expect(model.generateCalls).toHaveLength(2);
    expect(
      resumed.searches[0]!.candidates[0]!.steps.map((step) => Number(step.coefficient.toFixed(4))),
    ).toEqual([7, 9.1, 11.83, 10.0555]);
  });

  it('evaluates a manual grid, one coefficient across all layers per batch', async () => {
    const directory = await outputDirectory();
    const model = createFakeLanguageModel({ respond: story, residualNorm: 10 });
    const evaluation = await evaluateSteering(
      options({ outputDirectory: directory, model, coefficients: [2, 8, 12] }),
    );
    const [grid] = evaluation.searches;
    expect(grid!.kind).toBe('grid');
    expect(grid!.candidates.map((candidate) => candidate.steps.map((step) => step.coherent))).toEqual([
      [true, true, false],
      [true, false, false],
    ]);
    expect(grid!.candidates.map((candidate) => candidate.best?.coefficient)).toEqual([8, 2]);
    expect(model.generateCalls.map((call) => call.rows)).toEqual([3, 6, 6, 6]);
  });

  it('combines the best layers into a multi-layer configuration and searches its scale', async () => {
    const directory = await outputDirectory();
    const evaluation = await evaluateSteering(
      options({ outputDirectory: directory, multiLayer: { strategy: 'weighted' }, search: { steps: 3 } }),
    );
    const multi = evaluation.searches.find((search) => search.kind === 'multi-layer')!;
    expect(multi.candidates[0]!.layers.sort()).toEqual([1, 2]);
    const firstRun = evaluation.results.runs.find((run) => run.id === multi.candidates[0]!.steps[0]!.runId)!;
    // Scale 1/2 of each layer's best (9.1 on layer 1, 4.55 on layer 2).
    expect(
      firstRun.interventions
        .map((intervention) => [intervention.layer, Number(intervention.coefficient.toFixed(4))])
        .sort(),
    ).toEqual([
      [1, 4.55],
      [2, 2.275],
    ]);
  });

  it('starts negative in the negative direction', async () => {
    const directory = await outputDirectory();
    const evaluation = await evaluateSteering(
      options({
        outputDirectory: directory,
        vectors: vectorSet({ 1: 1 }),
        search: { steps: 1, direction: 'negative' },
      }),
    );
    expect(evaluation.searches[0]!.candidates[0]!.steps[0]!.coefficient).toBeCloseTo(-7, 10);
  });

  it('rejects vectors of another width, missing layers, and results made with other settings', async () => {
    const directory = await outputDirectory();
    const wide = await evaluateSteering(
      options({
        outputDirectory: directory,
        vectors: vectorSet({ 1: 1 }, 16),
        vectorsFile: 'vectors/other-model.safetensors',
      }),
    ).catch((caught: unknown) => caught);
    expect(TraitlensError.hasCode(wide, 'MODEL_MISMATCH')).toBe(true);
    expect((wide as Error).message).toMatch(
      /vectors\/other-model\.safetensors has vectors of width 16 .* hidden size 8/,
    );

    await expect(evaluateSteering(options({ outputDirectory: directory, layers: [3] }))).rejects.toThrow(
      /has no vector for layer 3; it has layers 1, 2/,
    );

    await evaluateSteering(options({ outputDirectory: directory, search: { steps: 1 } }));
    const otherJudge: Judge = { id: 'openai:some-model', score: async () => 50 };
    const mismatch = await evaluateSteering(options({ outputDirectory: directory, judge: otherJudge })).catch(
      (caught: unknown) => caught,
    );
    expect(TraitlensError.hasCode(mismatch, 'INVALID_EXPERIMENT')).toBe(true);
    expect((mismatch as Error).message).toMatch(/judge: "lexicon" now "openai:some-model"/);
  });
});

describe('evaluateSteering with a judge that gives no usable score', () => {
  it('fails with JUDGE_ERROR within the baseline and saves no run, instead of a table of "-"', async () => {
    const directory = await outputDirectory();
    let calls = 0;
    const silent: Judge = {
      id: 'openai:answers-in-words',
      async score() {
        calls++;
        return null;
      },
    };
    const error = await evaluateSteering(options({ outputDirectory: directory, judge: silent })).catch(
      (caught: unknown) => caught,
    );
    expect(TraitlensError.hasCode(error, 'JUDGE_ERROR')).toBe(true);
    expect((error as Error).message).toMatch(
      /The judge openai:answers-in-words returned no usable score for any of its first 6 trait\/coherence judgements/,
    );
    // 3 baseline questions x (trait, coherence, relevance): it never got past the baseline.
    expect(calls).toBeLessThanOrEqual(9);
    const runs = await readdir(join(directory, 'runs')).catch(() => []);
    expect(runs).toEqual([]);
  });

  it('counts the judgements that came back without a score when some do', async () => {
    const directory = await outputDirectory();
    let calls = 0;
    const patchy: Judge = {
      id: 'lexicon',
      async score(request: JudgeRequest) {
        calls++;
        return calls % 4 === 0 ? null : new LexiconJudge().score(request);
      },
    };
    const evaluation = await evaluateSteering(options({ outputDirectory: directory, judge: patchy }));
    expect(evaluation.unscoredJudgements).toBeGreaterThan(0);
  });
});
