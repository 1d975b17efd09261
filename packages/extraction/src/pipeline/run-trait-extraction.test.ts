import { mkdir, mkdtemp, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  acquireFileLock,
  type Judge,
  layerConvention,
  readTraitVectors,
  TraitlensError,
} from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { FakeLanguageModel } from '../__fixtures__/fake-language-model';
import { loadTraitDataset } from '../dataset/load-trait-dataset';
import type { TraitEvaluation } from '../evaluation/trait-evaluation';
import { readGgufControlVector } from '../gguf/gguf-control-vector';
import { defineExtractionMethod } from '../methods/extraction-method';
import { traitlensVersion } from '../traitlens-version';
import type { ExtractionProgressEvent } from './extraction-progress';
import { runTraitExtraction } from './run-trait-extraction';
import { summarizeExtraction } from './summarize-extraction';

const traitScore = (text: string): number => (text.includes('kind') ? 1 : text.includes('mean') ? -1 : 0);

async function writeKindnessDataset(
  pairs = 12,
  extraPositive: string[] = [],
  extraNegative: string[] = [],
): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'traitlens-pipeline-'));
  const folder = join(root, 'datasets', 'toy', 'kindness');
  await mkdir(folder, { recursive: true });
  const positive = Array.from(
    { length: pairs },
    (_, i) => `The kind child number ${i} shared a toy with the`,
  );
  const negative = Array.from({ length: pairs }, (_, i) => `The mean child number ${i} kept a toy from the`);
  await writeFile(join(folder, 'positive.txt'), [...positive, ...extraPositive].join('\n'));
  await writeFile(join(folder, 'negative.txt'), [...negative, ...extraNegative].join('\n'));
  await writeFile(
    join(folder, 'definition.txt'),
    'HIGH (70-100): kind.\n\nLOW (0-40): mean.\n\nKey: kind vs mean.\n',
  );
  await writeFile(join(folder, 'steering.json'), JSON.stringify({ questions: ['How do you treat others?'] }));
  return folder;
}

describe('runTraitExtraction on a fake model', () => {
  it('runs every stage, writes vectors with full metadata, GGUF exports and evaluation.json', async () => {
    const dataset = await loadTraitDataset(await writeKindnessDataset());
    const model = new FakeLanguageModel(traitScore);
    const experimentDirectory = await mkdtemp(join(tmpdir(), 'traitlens-experiment-'));
    const events: ExtractionProgressEvent[] = [];
    const result = await runTraitExtraction({
      model,
      dataset,
      experimentDirectory,
      exportGguf: true,
      onProgress: (event) => events.push(event),
    });

    expect(result.trait).toBe('toy/kindness');
    expect(new Set(events.map((event) => event.stage))).toEqual(
      new Set(['generate', 'activations', 'vectors', 'evaluate']),
    );
    // Activations come from forward passes over exactly the generated ids (prompt + response), never re-tokenised.
    const responses = JSON.parse(
      await readFile(join(result.directory, 'responses', 'positive.json'), 'utf8'),
    ) as { records: { promptTokenIds: number[]; responseTokenIds: number[] }[] };
    expect(responses.records).toHaveLength(12);
    expect(model.calls.forwardInputs[0]).toEqual([
      ...responses.records[0]!.promptTokenIds,
      ...responses.records[0]!.responseTokenIds,
    ]);

    const evaluation = JSON.parse(await readFile(result.evaluationFile, 'utf8')) as TraitEvaluation;
    expect(evaluation).toMatchObject({
      format: 'traitlens.extraction-evaluation',
      trait: 'toy/kindness',
      model: 'test/fake-model',
      modelRevision: '0123abcd',
      tokenWindow: 'response[:5]',
      projection: 'cosine',
      layerConvention,
      datasetHash: dataset.hash,
      traitlensVersion,
      split: {
        validationFraction: 0.2,
        train: { positive: 10, negative: 10 },
        validation: { positive: 2, negative: 2 },
      },
      methods: ['mean_diff', 'probe', 'gradient', 'pca_diff', 'random_baseline'],
    });
    const site = evaluation.sites.resid_post!;
    expect(Object.keys(site.layers)).toEqual(['0', '1', '2', '3']);
    const top = site.layers['3']!;
    for (const method of ['mean_diff', 'probe', 'gradient', 'pca_diff']) {
      expect(top.methods[method]!.validation.accuracy, method).toBe(1);
      expect(top.methods[method]!.validation.polarityCorrect).toBe(true);
    }
    expect(top.methods.probe!.bias).toEqual(expect.any(Number));
    expect(top.methodCosines.mean_diff!.probe).toBeGreaterThan(0.9);
    expect(top.activationNorm).toBeGreaterThan(0);
    expect(site.best).toMatchObject({ validationAccuracy: 1 });
    expect(site.best!.method).not.toBe('random_baseline');

    const probe = await readTraitVectors(join(result.directory, 'vectors', 'probe.safetensors'));
    expect(probe.metadata).toMatchObject({
      trait: 'toy/kindness',
      method: 'probe',
      model: 'test/fake-model',
      modelRevision: '0123abcd',
      site: 'resid_post',
      tokenWindow: 'response[:5]',
      normalisation: 'unit',
      hiddenSize: 24,
      datasetHash: dataset.hash,
      traitlensVersion,
    });
    expect(Object.keys(probe.metadata.biases ?? {})).toEqual(['0', '1', '2', '3']);
    expect(Object.keys(probe.metadata.baselines ?? {})).toEqual(['0', '1', '2', '3']);
    expect(JSON.parse(probe.metadata.extra!.method_details!)['3']).toMatchObject({ converged: true });
    expect(result.vectorFiles.map((file) => file.slice(result.directory.length))).toEqual(
      ['mean_diff', 'probe', 'gradient', 'pca_diff', 'random_baseline'].map(
        (id) => `/vectors/${id}.safetensors`,
      ),
    );
    const gguf = await readGgufControlVector(join(result.directory, 'vectors', 'probe.gguf'));
    expect([...gguf.vectors.keys()]).toEqual([1, 2, 3]);
    expect(Array.from(gguf.vectors.get(3)!)).toEqual(Array.from(probe.vectors.get(3)!));
    expect(result.warnings).toContain(
      `${join(result.directory, 'vectors', 'probe.gguf')}: layer 0 left out: llama.cpp cannot steer the output of block 0 (direction.0 is invalid there).`,
    );

    // A second run finds everything in place and skips every stage.
    const before = { ...model.calls };
    const rerunEvents: ExtractionProgressEvent[] = [];
    const again = await runTraitExtraction({
      model,
      dataset,
      experimentDirectory,
      exportGguf: true,
      onProgress: (event) => rerunEvents.push(event),
    });
    expect(model.calls.generate).toBe(before.generate);
    expect(model.calls.forward).toBe(before.forward);
    expect(again.evaluation.createdAt).toBe(evaluation.createdAt);
    for (const stage of ['generate', 'activations', 'vectors', 'evaluate']) {
      expect(
        rerunEvents.some((event) => event.stage === stage && event.skipped),
        stage,
      ).toBe(true);
    }
  });

  it('resumes an interrupted activation capture from its saved batches', async () => {
    const dataset = await loadTraitDataset(await writeKindnessDataset());
    const model = new FakeLanguageModel(traitScore);
    const experimentDirectory = await mkdtemp(join(tmpdir(), 'traitlens-experiment-'));
    model.failOnForwardCall = 3;
    const settings = {
      model,
      dataset,
      experimentDirectory,
      activationBatchSize: 4,
      methods: ['mean_diff'],
    } as const;
    await expect(runTraitExtraction(settings)).rejects.toThrow('simulated crash during forward');
    // 24 records in batches of 4 = 6 passes; 2 finished before the crash, so 4 remain.
    model.failOnForwardCall = undefined;
    const forwardBefore = model.calls.forward;
    const generateBefore = model.calls.generate;
    await runTraitExtraction(settings);
    expect(model.calls.forward - forwardBefore).toBe(4);
    expect(model.calls.generate).toBe(generateBefore);
    // Finished: no staging, lock or temporary file is left in the trait's folder.
    const left = await readdir(join(experimentDirectory, 'extraction', 'toy', 'kindness'), {
      recursive: true,
    });
    expect(left.filter((name) => /\.partial|\.lock/.test(name))).toEqual([]);
  });

  it('drops staging for superseded inputs and stale temporary files, and refuses a second live run', async () => {
    const dataset = await loadTraitDataset(await writeKindnessDataset());
    const experimentDirectory = await mkdtemp(join(tmpdir(), 'traitlens-experiment-'));
    const trait = join(experimentDirectory, 'extraction', 'toy', 'kindness');
    const staging = join(trait, 'activations', '.partial', 'response__5-0000superseded');
    await mkdir(staging, { recursive: true });
    await writeFile(join(staging, 'positive-000000.safetensors'), 'old');
    // A temporary file of a writer that no longer runs (pid far beyond any pid_max).
    const stale = join(trait, 'responses', 'positive.json.999999999.0badf00d.partial');
    await mkdir(join(trait, 'responses'), { recursive: true });
    await writeFile(stale, '{');
    const settings = {
      model: new FakeLanguageModel(traitScore),
      dataset,
      experimentDirectory,
      methods: ['mean_diff'],
    };
    const held = await acquireFileLock(join(trait, '.lock'), { purpose: 'another extraction' });
    const refused = await runTraitExtraction(settings).catch((error: unknown) => error);
    expect(TraitlensError.hasCode(refused, 'LOCK_HELD')).toBe(true);
    expect((refused as Error).message).toContain('another extraction');
    await held.release();
    await runTraitExtraction(settings);
    const left = await readdir(trait, { recursive: true });
    expect(left.filter((name) => /\.partial|\.lock/.test(name))).toEqual([]);
  });

  it('reports every non-blocking data set problem through onWarning, and that vetting ignores eval_prompt', async () => {
    // A duplicated positive prompt (a warning the validator finds) and a steering eval_prompt.
    const folder = await writeKindnessDataset(12, ['The kind child number 0 shared a toy with the']);
    await writeFile(
      join(folder, 'steering.json'),
      JSON.stringify({
        questions: ['How do you treat others?'],
        eval_prompt: 'Rate kindness 0-100: {answer}',
      }),
    );
    const dataset = await loadTraitDataset(folder);
    const nonBlocking = dataset.issues.map((issue) => issue.message);
    expect(nonBlocking.length).toBeGreaterThan(0);
    const received: string[] = [];
    const judge: Judge = {
      id: 'test:always',
      score: async (request) => (request.question.includes('kind') ? 90 : 10),
    };
    const result = await runTraitExtraction({
      model: new FakeLanguageModel(traitScore),
      dataset,
      experimentDirectory: await mkdtemp(join(tmpdir(), 'traitlens-experiment-')),
      responseJudge: judge,
      layers: [3],
      methods: ['mean_diff'],
      onWarning: (message) => received.push(message),
    });
    for (const message of nonBlocking) {
      expect(received.some((line) => line.endsWith(message))).toBe(true);
      expect(result.warnings.some((line) => line.endsWith(message))).toBe(true);
    }
    expect(received).toContain(
      "toy/kindness/steering.json: eval_prompt is the steering judge's prompt; vetting scores with definition.txt's HIGH / LOW / Key rubric and does not use it.",
    );
  });

  it('vets responses with a judge (keep >= 60 / <= 40), warns on low pass rates, and runs user methods', async () => {
    const dataset = await loadTraitDataset(
      await writeKindnessDataset(12, ['The kind child [silent]'], ['The mean child [silent]']),
    );
    const model = new FakeLanguageModel(traitScore);
    const experimentDirectory = await mkdtemp(join(tmpdir(), 'traitlens-experiment-'));
    const judge: Judge = {
      id: 'test:keyword',
      async score(request) {
        // Four positives come out lukewarm and fail the >= 60 bar.
        if (/number [0-3] /.test(request.question) && request.question.includes('kind')) return 50;
        return request.question.includes('kind') ? 90 : 10;
      },
    };
    const firstAxis = defineExtractionMethod<Record<string, never>>({
      id: 'first_axis',
      summary: 'test-only: the first basis vector',
      normalisation: 'unit',
      defaultOptions: {},
      extract: (positive) => ({
        vector: Float32Array.from({ length: positive.columns }, (_, i) => (i === 0 ? 1 : 0)),
        details: {},
      }),
    });
    const result = await runTraitExtraction({
      model,
      dataset,
      experimentDirectory,
      layers: [2, 3],
      responseJudge: judge,
      methods: ['mean_diff', 'first_axis'],
      extraMethods: { first_axis: firstAxis },
    });
    const vetting = JSON.parse(
      await readFile(join(result.directory, 'vetting', 'responses.json'), 'utf8'),
    ) as { summary: { positive: { passed: number; count: number } } };
    expect(vetting.summary.positive).toMatchObject({ count: 13, passed: 9 });
    expect(result.warnings).toContain(
      'response vetting kept only 69% of positive items (9/13; below 70%): the positive prompts do not elicit the trait reliably.',
    );
    expect(
      result.warnings.some(
        (warning) => warning.includes('had no token in response[:5]') && warning.includes('negative:12:0'),
      ),
    ).toBe(true);
    expect(result.evaluation.split.train.positive + result.evaluation.split.validation.positive).toBe(8);
    expect(Object.keys(result.evaluation.sites.resid_post!.layers['3']!.methods)).toEqual([
      'mean_diff',
      'first_axis',
    ]);
    expect(
      (await readTraitVectors(join(result.directory, 'vectors', 'first_axis.safetensors'))).metadata.method,
    ).toBe('first_axis');
  });
});

describe('summarizeExtraction', () => {
  it('compares the best vectors of several traits', async () => {
    const experimentDirectory = await mkdtemp(join(tmpdir(), 'traitlens-experiment-'));
    const model = new FakeLanguageModel(traitScore);
    const first = await loadTraitDataset(await writeKindnessDataset(10));
    await runTraitExtraction({ model, dataset: first, experimentDirectory, methods: ['mean_diff', 'probe'] });
    const secondFolder = await writeKindnessDataset(10);
    const renamed = join(secondFolder, '..', '..', 'other', 'kindness_again');
    await mkdir(join(renamed, '..'), { recursive: true });
    await rename(secondFolder, renamed);
    await runTraitExtraction({
      model,
      dataset: await loadTraitDataset(renamed),
      experimentDirectory,
      methods: ['mean_diff'],
    });
    const summary = await summarizeExtraction(experimentDirectory);
    expect(Object.keys(summary.traits)).toEqual(['other/kindness_again', 'toy/kindness']);
    const cosines = summary.bestVectorCosines.resid_post!;
    expect(cosines['toy/kindness']!['toy/kindness']).toBeCloseTo(1, 6);
    // Same synthetic trait direction, so the two traits' best vectors point the same way.
    expect(cosines['toy/kindness']!['other/kindness_again']).toBeGreaterThan(0.8);
    expect(
      JSON.parse(await readFile(join(experimentDirectory, 'extraction', 'summary.json'), 'utf8')),
    ).toMatchObject({ format: 'traitlens.extraction-summary' });
  });
});
