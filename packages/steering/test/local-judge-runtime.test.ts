import { loadModel } from '@traitlens/model-runtime';
import { createTinyModel } from '@traitlens/model-runtime/testing';
import { describe, expect, it } from 'vitest';
import { LocalJudge } from '../src/judges/local-judge';
import { hasStories260k, stories260kDirectory, testCacheDirectory } from './shared-models';

const request = {
  kind: 'coherence' as const,
  question: 'Tell me a story.',
  response: 'Once upon a time there was a robot.',
};
// The default prompts are longer than these tiny models' 512 positions.
const prompts = { coherence: 'How fluent is this story, 0-100? {{response}}' };

describe('LocalJudge on real runtime models', () => {
  it('reads a 0-100 distribution through the chat template of a tiny byte-level BPE model', async () => {
    const tiny = await createTinyModel({ layerCount: 1 });
    const model = await loadModel(tiny.directory, { cacheDirectory: testCacheDirectory, threads: 1 });
    try {
      const judge = new LocalJudge({ model, prompts, massFloor: 0 });
      const score = await judge.score(request);
      expect(score).not.toBeNull();
      expect(score!).toBeGreaterThanOrEqual(0);
      expect(score!).toBeLessThanOrEqual(100);
      // The tiny tokenizer spells numbers byte by byte: root, "1".."9" and "10" are prefixes to score.
      expect(judge.scoredRows).toBe(11);
      // A random model puts almost no mass on numbers: with the study's floor it abstains.
      expect(await new LocalJudge({ model, prompts }).score(request)).toBeNull();
    } finally {
      await model.dispose();
      await tiny.remove();
    }
  });

  it.skipIf(!hasStories260k)(
    'works on a SentencePiece tokenizer without a chat template (raw prompt)',
    async () => {
      const model = await loadModel(stories260kDirectory, { cacheDirectory: testCacheDirectory, threads: 1 });
      try {
        const judge = new LocalJudge({ model, prompts, massFloor: 0 });
        const score = await judge.score(request);
        expect(score).not.toBeNull();
        expect(score!).toBeGreaterThanOrEqual(0);
        expect(score!).toBeLessThanOrEqual(100);
        expect(judge.scoredRows).toBeGreaterThan(1);
      } finally {
        await model.dispose();
      }
    },
  );
});
