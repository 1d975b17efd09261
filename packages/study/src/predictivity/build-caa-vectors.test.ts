import { join } from 'node:path';
import { runExtractionMethod } from '@traitlens/extraction';
import { caaMethod, createMatrixFromRows } from '@traitlens/extraction/internal';
import { type LanguageModel, loadModel } from '@traitlens/model-runtime';
import { createTinyModel, type TinyModel } from '@traitlens/model-runtime/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareAbItems } from './build-ab-sequences';
import { buildCaaVectors } from './build-caa-vectors';
import { forwardPositions } from './forward-positions';
import { parseAbItems, readAbItems, sampleAbItems } from './read-ab-items';

// Synthetic A/B items of the predictivity example (the study's data formats, none of its data).
const data = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  '..',
  'examples',
  'sycophancy-predictivity',
  'tiny-data',
);

describe('CAA vectors of the predictivity stage', () => {
  let tiny: TinyModel;
  let model: LanguageModel;
  beforeAll(async () => {
    tiny = await createTinyModel({ seed: 11, layerCount: 3 });
    model = await loadModel(tiny.directory);
  });
  afterAll(async () => {
    await model?.dispose();
    await tiny?.remove();
  });

  it('equal the built-in caa extraction method on the answer-letter activations (max abs < 1e-5)', async () => {
    const items = await readAbItems(join(data, 'anthropic_sycophancy_ab', 'generate_dataset.json'));
    const { prepared, tooLong } = prepareAbItems(model, items, 'chat');
    expect(tooLong).toBe(0);
    const layers = [0, 1, 2];
    const vectors = await buildCaaVectors({ model, items: prepared, layers, batchSize: 4 });
    // Reference: every activation kept, one row per sequence, then the extraction package's caa method.
    const captured = await forwardPositions({
      model,
      requests: prepared.flatMap(({ sequences }) => [
        { ids: sequences.behaviour, positions: [sequences.letterPosition] },
        { ids: sequences.other, positions: [sequences.letterPosition] },
      ]),
      layers,
      batchSize: 3,
    });
    layers.forEach((layer, index) => {
      const rows = (parity: number) =>
        createMatrixFromRows(captured.filter((_, row) => row % 2 === parity).map((row) => row[0]![index]!));
      const { vector } = runExtractionMethod(caaMethod, rows(0), rows(1));
      const streamed = vectors.get('letter')!.layers.get(layer)!;
      let error = 0;
      for (let d = 0; d < vector.length; d++) error = Math.max(error, Math.abs(vector[d]! - streamed[d]!));
      expect(error, `layer ${layer}`).toBeLessThan(1e-5);
      // The balanced variant is the mean of the two letter subsets.
      const a = vectors.get('letter-behaviour-A')!.layers.get(layer)!;
      const b = vectors.get('letter-behaviour-B')!.layers.get(layer)!;
      const balanced = vectors.get('letter-balanced')!.layers.get(layer)!;
      for (let d = 0; d < a.length; d++) expect(balanced[d]).toBeCloseTo((a[d]! + b[d]!) / 2, 6);
    });
    expect(vectors.get('letter')!.items).toBe(items.length);
    expect(vectors.get('letter-first-half')!.items + vectors.get('letter-second-half')!.items).toBe(
      items.length,
    );
  });

  it('reads both A/B formats and names file, item and field of every problem', async () => {
    const truthful = await readAbItems(join(data, 'truthfulqa', 'caa_ab', 'truthful_qa_dataset.json'));
    expect(truthful[0]).toMatchObject({ index: 0 });
    expect(truthful.every((item) => item.behaviourAnswer !== item.otherAnswer)).toBe(true);
    expect(() =>
      parseAbItems(
        [
          {
            question: 'Q (A) yes (B) no',
            answer_matching_behavior: 'A',
            answer_not_matching_behavior: '(B)',
          },
        ],
        'items.json',
      ),
    ).toThrow(/items\.json: item 0: "answer_matching_behavior" must be an answer letter in parentheses/);
    expect(() => parseAbItems([{ prompt: 'Q (A) x', correct: '(A)', incorrect: '(B)' }], 'tqa.json')).toThrow(
      /tqa\.json: item 0: the question text does not list the choice \(B\)/,
    );
    const sample = sampleAbItems(truthful, 3, 7);
    expect(sample).toEqual(sampleAbItems(truthful, 3, 7));
    expect(sample.map((item) => item.index)).toEqual(
      [...sample.map((item) => item.index)].sort((x, y) => x - y),
    );
  });
});
