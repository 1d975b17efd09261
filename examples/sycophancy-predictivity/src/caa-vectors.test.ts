import { join } from 'node:path';
import { runExtractionMethod } from '@traitlens/extraction';
import { caaMethod, createMatrixFromRows } from '@traitlens/extraction/internal';
import { type LanguageModel, loadModel } from '@traitlens/model-runtime';
import { createTinyModel, type TinyModel } from '@traitlens/model-runtime/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAbDataset } from './ab-dataset';
import { buildAbSequences } from './ab-sequences';
import { buildCaaVectors } from './caa-vectors';
import { forwardPositions } from './forward-positions';

const fixtures = join(import.meta.dirname, '__fixtures__', 'ab-data');

describe('the built-in caa extraction method', () => {
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

  it("equals this study's streaming CAA vector (answer-letter token) on the same items (max abs < 1e-5)", async () => {
    const { items } = await loadAbDataset(fixtures, 'generate');
    const pairs = items.map((item) => ({ item, sequences: buildAbSequences(model, item, 'chat')! }));
    const layers = [0, 1, 2];
    const streamed = (await buildCaaVectors(model, pairs, layers, 4)).get('letter')!;
    const captured = await forwardPositions(
      model,
      pairs.flatMap(({ sequences }) => [
        { ids: sequences.behaviour, positions: [sequences.letterPosition] },
        { ids: sequences.other, positions: [sequences.letterPosition] },
      ]),
      layers,
      4,
    );
    layers.forEach((layer, index) => {
      const positive = createMatrixFromRows(
        captured.filter((_, row) => row % 2 === 0).map((row) => row[0]![index]!),
      );
      const negative = createMatrixFromRows(
        captured.filter((_, row) => row % 2 === 1).map((row) => row[0]![index]!),
      );
      const { vector } = runExtractionMethod(caaMethod, positive, negative);
      const reference = streamed.layers.get(layer)!;
      let error = 0;
      for (let d = 0; d < vector.length; d++) error = Math.max(error, Math.abs(vector[d]! - reference[d]!));
      expect(error, `layer ${layer}`).toBeLessThan(1e-5);
    });
  });
});
