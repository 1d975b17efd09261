import { createFakeLanguageModel } from '@traitlens/model-runtime/testing';
import { describe, expect, it } from 'vitest';
import { measureResidualNorms } from './measure-residual-norms';

describe('measureResidualNorms', () => {
  it('averages token norms per layer, skipping BOS, in one capturing pass per batch', async () => {
    const model = createFakeLanguageModel({ residualNorm: 12.5 });
    const norms = await measureResidualNorms(model, {
      prompts: ['abc', 'de', 'fghij'],
      layers: [0, 2],
      site: 'resid_post',
      batchSize: 2,
    });
    expect([...norms]).toEqual([
      [0, 12.5],
      [2, 12.5],
    ]);
    expect(
      model.forwardCalls.map((call) => [call.rows, call.options?.logits, call.options?.capture?.length]),
    ).toEqual([
      [2, 'none', 2],
      [1, 'none', 2],
    ]);
  });
});
