import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTraitVectors, TraitlensError } from '@traitlens/core';
import { type LanguageModel, loadModel } from '@traitlens/model-runtime';
import { createTinyModel, type TinyModel } from '@traitlens/model-runtime/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAbDataset, parseAbItems } from './ab-dataset';
import { buildAbSequences } from './ab-sequences';
import { caaVectorVariants } from './caa-vectors';
import { type PredictivityStudyResult, runPredictivityStudy } from './run-predictivity-study';

const fixtures = join(import.meta.dirname, '__fixtures__', 'ab-data');

/** Every number anywhere in the value is finite (JSON has no NaN: a NaN would have become null). */
function collectNonFinite(value: unknown, path = '$', found: string[] = []): string[] {
  if (typeof value === 'number' && !Number.isFinite(value)) found.push(path);
  else if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) collectNonFinite(item, `${path}[${i}]`, found);
  } else if (value !== null && typeof value === 'object')
    for (const [key, item] of Object.entries(value)) collectNonFinite(item, `${path}.${key}`, found);
  return found;
}

describe('runPredictivityStudy on a tiny generated chat model', () => {
  let tiny: TinyModel;
  let model: LanguageModel;
  let output: string;
  let result: PredictivityStudyResult;

  beforeAll(async () => {
    tiny = await createTinyModel({ seed: 11, layerCount: 3 });
    model = await loadModel(tiny.directory);
    output = await mkdtemp(join(tmpdir(), 'traitlens-predictivity-'));
    result = await runPredictivityStudy({
      model,
      dataDirectory: fixtures,
      outputDirectory: output,
      bootstrapResamples: 50,
    });
  });

  afterAll(async () => {
    await model?.dispose();
    await tiny?.remove();
    await rm(output, { recursive: true, force: true });
  });

  it('writes predictivity.json with the documented fields', async () => {
    const written = JSON.parse(
      await readFile(join(output, 'predictivity.json'), 'utf8'),
    ) as PredictivityStudyResult;
    expect(written).toMatchObject({
      format: 'traitlens.example.sycophancy-predictivity',
      formatVersion: '1',
      model: { layerCount: 3, hiddenSize: 64, promptFormat: 'chat' },
      settings: { layers: [0, 1, 2], ablationLayers: [0, 1, 2] },
      data: {
        train: { available: 8, sampled: 8, used: 8, tooLong: 0 },
        inDistribution: { available: 6, used: 6 },
        outOfDistribution: { available: 6, used: 6 },
      },
    });
    expect(written.vectors.map((vector) => vector.variant).sort()).toEqual(
      Object.keys(caaVectorVariants).sort(),
    );
    for (const layer of written.consistency) {
      expect(layer.cosines).toHaveLength(layer.variants.length);
      for (const [i, row] of layer.cosines.entries()) expect(row[i]).toBeCloseTo(1, 5);
    }
    // 2 sets x 2 positions x 7 vector variants, each with one row per layer.
    expect(written.predictivity).toHaveLength(28);
    for (const table of written.predictivity) {
      expect(table.layers.map((row) => row.layer)).toEqual([0, 1, 2]);
      for (const row of table.layers) {
        if (row.auroc === null) continue;
        expect(row.auroc).toBeGreaterThanOrEqual(0);
        expect(row.auroc).toBeLessThanOrEqual(1);
      }
    }
    expect(written.labels.inDistribution.n).toBe(6);
    // The fixture alternates which letter is sycophantic, so both labels occur and AUROC is defined.
    expect(written.predictivity.every((table) => table.layers.every((row) => row.auroc !== null))).toBe(true);
    expect(written.ablation.results.map((entry) => entry.layers)).toEqual([[0], [1], [2], [0, 1, 2]]);
    expect(written.ablation.baselineAgreesWithScore).toBe(true);
    expect(collectNonFinite(written)).toEqual([]);
    expect(collectNonFinite(result)).toEqual([]);
  });

  it('saves every vector variant as a trait vector file', async () => {
    const file = result.vectors.find((vector) => vector.variant === 'letter')!.file!;
    const vectors = await readTraitVectors(file);
    expect(vectors.metadata).toMatchObject({ trait: 'sycophancy', method: 'caa-letter', site: 'resid_post' });
    expect([...vectors.vectors.keys()]).toEqual([0, 1, 2]);
  });

  it('finds the answer letter where the two answers part', () => {
    const [item] = parseAbItems(
      [
        {
          question: 'Is it?\n (A) Yes\n (B) No',
          answer_matching_behavior: '(A)',
          answer_not_matching_behavior: '(B)',
        },
      ],
      'inline',
    );
    const sequences = buildAbSequences(model, item!, 'chat')!;
    const strings = model.tokenizer.tokenStrings(sequences.behaviour);
    expect(strings[sequences.letterPosition]).toContain('A');
    expect(sequences.behaviour.slice(0, sequences.letterPosition)).toEqual(
      sequences.other.slice(0, sequences.letterPosition),
    );
    expect(sequences.behaviourToken).not.toBe(sequences.otherToken);
  });
});

describe('A/B data loading', () => {
  it('names the file, the item and the field of a problem', () => {
    const bad = [
      { question: 'Q (A) x (B) y', answer_matching_behavior: 'A', answer_not_matching_behavior: '(B)' },
    ];
    expect(() => parseAbItems(bad, 'data.json')).toThrow(
      /data\.json: item 0: "answer_matching_behavior" must be an answer letter/,
    );
    expect(() => parseAbItems({ items: [] }, 'data.json')).toThrow(/expected a JSON array/);
    expect(() => parseAbItems([{ prompt: 'Q (A) x', correct: '(A)', incorrect: '(B)' }], 'tqa.json')).toThrow(
      /item 0: the question text does not list the choice \(B\)/,
    );
  });

  it('reads TruthfulQA items with the misconception as the behaviour', async () => {
    const { items } = await loadAbDataset(fixtures, 'truthfulqa');
    expect(items[0]).toMatchObject({ behaviourAnswer: '(B)', otherAnswer: '(A)', category: 'Fixture' });
  });

  it('says what --data must hold when a file is missing', async () => {
    const error = await loadAbDataset(join(fixtures, 'nowhere'), 'generate').catch(
      (caught: unknown) => caught,
    );
    expect(TraitlensError.isInstance(error) && error.code).toBe('FILE_NOT_FOUND');
    expect(String((error as Error).message)).toMatch(/--data must point at the study's data folder/);
  });
});

describe('raw prompts on a model without a chat template', () => {
  it('runs with the raw "Answer:" format', async () => {
    const tiny = await createTinyModel({ seed: 5, layerCount: 2, chatTemplate: null });
    const model = await loadModel(tiny.directory);
    try {
      const result = await runPredictivityStudy({
        model,
        dataDirectory: fixtures,
        bootstrapResamples: 0,
        ablationLayers: [1],
      });
      expect(result.model.promptFormat).toBe('raw');
      expect(result.ablation.results.map((entry) => entry.layers)).toEqual([[1]]);
      expect(collectNonFinite(result)).toEqual([]);
    } finally {
      await model.dispose();
      await tiny.remove();
    }
  });
});
