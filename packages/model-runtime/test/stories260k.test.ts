import { describe, expect, it } from 'vitest';
import { loadModel } from '../src/index';
import { logSoftmaxAt, maxAbsError } from './parity-cases';
import {
  hasStories260k,
  knownStoriesIds,
  knownStoriesText,
  stories260kDirectory,
  testCacheDirectory,
} from './shared-models';

describe.skipIf(!hasStories260k)('stories260k through the public API', () => {
  it('reproduces the known greedy text from BOS', async () => {
    const model = await loadModel(stories260kDirectory, { cacheDirectory: testCacheDirectory, threads: 1 });
    try {
      expect(model.config).toMatchObject({
        architecture: 'LlamaForCausalLM',
        hiddenSize: 64,
        layerCount: 5,
        headCount: 8,
        kvHeadCount: 4,
        vocabSize: 512,
        tieWordEmbeddings: true,
      });
      const [result] = await model.generate([''], { maxNewTokens: 60 });
      expect(result!.promptTokenIds).toEqual([1]);
      expect([1, ...result!.responseTokenIds].slice(0, 20)).toEqual(knownStoriesIds);
      expect(result!.responseText).toBe(knownStoriesText);
      expect(result!.finishReason).toBe('length');
      expect(result!.responseTokens.join('')).toBe(result!.responseText);
    } finally {
      await model.dispose();
    }
  });

  it('gives each row of a padded batch the same results as running it alone (max abs error < 1e-5)', async () => {
    const model = await loadModel(stories260kDirectory, { cacheDirectory: testCacheDirectory, threads: 1 });
    try {
      const prompts = ['Once upon a time', 'Tom had a red ball. He', 'Lily'];
      const capture = [
        { layer: 0, site: 'resid_pre' as const },
        { layer: 2, site: 'attn_out' as const },
        { layer: 4, site: 'resid_post' as const },
      ];
      const batched = await model.forward(prompts, { capture });
      for (let i = 0; i < prompts.length; i++) {
        const [alone] = await model.forward([prompts[i]!], { capture });
        expect(batched[i]!.tokenIds).toEqual(alone!.tokenIds);
        expect(maxAbsError(batched[i]!.logits, alone!.logits)).toBeLessThan(1e-5);
        for (const [name, values] of alone!.captures)
          expect(maxAbsError(batched[i]!.captures.get(name)!, values)).toBeLessThan(1e-5);
      }
    } finally {
      await model.dispose();
    }
  });

  it('decodes with the KV cache exactly as a full forward pass over the same tokens', async () => {
    const model = await loadModel(stories260kDirectory, { cacheDirectory: testCacheDirectory, threads: 1 });
    try {
      const prompts = ['Once upon a time, there was a dog', 'The sun'];
      const results = await model.generate(prompts, { maxNewTokens: 12, logprobs: true });
      for (const result of results) {
        const all = [...result.promptTokenIds, ...result.responseTokenIds];
        const [row] = await model.forward([all]);
        const vocab = model.config.vocabSize;
        result.responseTokenIds.forEach((tokenId, step) => {
          const position = result.promptTokenIds.length - 1 + step;
          const logits = row!.logits.subarray(position * vocab, (position + 1) * vocab);
          // Greedy: the chosen token is the argmax of the full-pass logits at that position.
          expect(argmax(logits)).toBe(tokenId);
          expect(result.tokenLogprobs![step]!).toBeCloseTo(logSoftmaxAt(logits, tokenId), 4);
        });
      }
    } finally {
      await model.dispose();
    }
  });

  it('projects onto a vector bank inside the graph, matching captured activations times the bank', async () => {
    const model = await loadModel(stories260kDirectory, { cacheDirectory: testCacheDirectory, threads: 1 });
    try {
      const point = { layer: 3, site: 'resid_post' as const };
      const bank = [0, 1, 2].map((k) => Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * (k + 1))));
      const rows = await model.forward(['Once upon a time', 'Lily'], {
        capture: [point],
        project: [{ point, vectors: bank }],
      });
      for (const row of rows) {
        const activations = row.captures.get('resid_post.3')!;
        const projections = row.projections!.get('resid_post.3')!;
        expect(projections.length).toBe(row.tokenIds.length * 3);
        const norms = row.activationNorms!.get('resid_post.3')!;
        for (let t = 0; t < row.tokenIds.length; t++) {
          let squared = 0;
          for (let i = 0; i < 64; i++) squared += activations[t * 64 + i]! ** 2;
          expect(norms[t]!).toBeCloseTo(Math.sqrt(squared), 4);
          bank.forEach((vector, k) => {
            let dot = 0;
            for (let i = 0; i < 64; i++) dot += activations[t * 64 + i]! * vector[i]!;
            expect(projections[t * 3 + k]!).toBeCloseTo(dot, 4);
          });
        }
      }
    } finally {
      await model.dispose();
    }
  });

  it('scores next-token log-probabilities that sum to one', async () => {
    const model = await loadModel(stories260kDirectory, { cacheDirectory: testCacheDirectory, threads: 1 });
    try {
      const [scores] = await model.score(['Once upon a']);
      const total = scores!.reduce((sum, value) => sum + Math.exp(value), 0);
      expect(total).toBeCloseTo(1, 5);
      expect(argmax(scores!)).toBe(knownStoriesIds[4]);
    } finally {
      await model.dispose();
    }
  });
});

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

describe.skipIf(!hasStories260k)('response text', () => {
  it('keeps the space between prompt and response, so prompt + response reads as one text', async () => {
    const model = await loadModel(stories260kDirectory, { cacheDirectory: testCacheDirectory, threads: 1 });
    try {
      const [result] = await model.generate(['Lily had a red ball. She'], {
        maxNewTokens: 8,
        stopTokenIds: [],
      });
      expect(result!.responseText.startsWith(' ')).toBe(true);
      const whole = model.tokenizer.decode([...result!.promptTokenIds, ...result!.responseTokenIds], {
        skipSpecialTokens: true,
      });
      expect(`Lily had a red ball. She${result!.responseText}`).toBe(whole);
      const streamed: string[] = [];
      const [again] = await model.generate(['Lily had a red ball. She'], {
        maxNewTokens: 8,
        stopTokenIds: [],
        onToken: (event) => streamed.push(event.text),
      });
      expect(streamed).toHaveLength(8);
      expect(streamed.join('')).toBe(again!.responseText);
    } finally {
      await model.dispose();
    }
  });
});
