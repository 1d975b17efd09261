/**
 * What steering means at the boundaries the parity fixtures do not pin down: repeated ablations of one
 * direction (checked against a float64 reference computed from the unsteered activations), and
 * `positions: 'response'` at the prompt/response boundary (checked against a forward pass whose
 * per-token coefficients are written out by hand).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LanguageModel, loadModel, type SteeringSpec } from '../src/index';
import { createTinyModel, type TinyModel } from '../src/testing/index';
import { testCacheDirectory } from './shared-models';

const promptIds = [1, 7, 12, 5, 9, 3];
const point = { layer: 1, site: 'resid_post' as const };

/** float64: h - (1 - prod(1 - c_i)) (h.u)u, the sequential application of ablations c_i along u. */
function ablatedReference(
  h: Float32Array,
  vector: Float32Array,
  coefficients: number[],
  hidden: number,
): Float64Array {
  let norm = 0;
  for (const value of vector) norm += value * value;
  const u = Array.from(vector, (value) => value / Math.sqrt(norm));
  const out = new Float64Array(h.length);
  for (let t = 0; t < h.length / hidden; t++) {
    let row = Array.from(h.subarray(t * hidden, (t + 1) * hidden), Number);
    for (const c of coefficients) {
      const dot = row.reduce((sum, value, i) => sum + value * u[i]!, 0);
      row = row.map((value, i) => value - c * dot * u[i]!);
    }
    out.set(row, t * hidden);
  }
  return out;
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

describe('steering semantics', () => {
  let tiny: TinyModel;
  let model: LanguageModel;
  let vector: Float32Array;
  beforeAll(async () => {
    tiny = await createTinyModel({ architecture: 'LlamaForCausalLM', seed: 11 });
    model = await loadModel(tiny.directory, { cacheDirectory: testCacheDirectory, threads: 1 });
    const hidden = model.config.hiddenSize;
    vector = Float32Array.from({ length: hidden }, (_, i) => Math.sin(i + 1) * (i % 3 === 0 ? 2 : 0.5));
  });
  afterAll(async () => {
    await model.dispose();
    await tiny.remove();
  });

  async function steeredCapture(steer: SteeringSpec[]): Promise<Float32Array> {
    const [row] = await model.forward([promptIds], { capture: [point], steer, logits: 'none' });
    return row!.captures.get('resid_post.1')!;
  }

  // Tolerance: float32 graph vs float64 reference on activations of magnitude ~1: 1e-5.
  it.each([
    [[1, 1], 'twice at c=1 equals once (the direction is gone)'],
    [[0.5, 0.5], 'twice at c=0.5 leaves (1-0.5)^2 = 0.25 of the component'],
    [[0.3, 2], 'c=0.3 then c=2 leaves (0.7)(-1) of it'],
  ])('repeated ablations %j of one direction compose as projections: %s', async (coefficients) => {
    const hidden = model.config.hiddenSize;
    const clean = await steeredCapture([]);
    const steered = await steeredCapture(
      coefficients.map((coefficient) => ({
        point,
        mode: 'ablate' as const,
        vector,
        coefficient,
        positions: 'all' as const,
      })),
    );
    const reference = ablatedReference(clean, vector, coefficients, hidden);
    expect(maxAbsDifference(steered, reference)).toBeLessThan(1e-5);
    if (coefficients[0] === 1) {
      const once = await steeredCapture([
        { point, mode: 'ablate', vector, coefficient: 1, positions: 'all' },
      ]);
      expect(maxAbsDifference(steered, once)).toBeLessThan(1e-6);
    }
  });

  it("positions: 'response' steers the first generated token's position and no prompt position", async () => {
    const steer: SteeringSpec[] = [{ point, mode: 'add', vector, coefficient: 40, positions: 'response' }];
    const steps = 4;
    const [generated] = await model.generate([promptIds], { maxNewTokens: steps, stopTokenIds: [], steer });
    const response = generated!.responseTokenIds;
    expect(response).toHaveLength(steps);
    // The same tokens in one forward pass, with the coefficient written per token: 0 on the prompt,
    // 40 from the first generated token on. Its greedy choices must be the generated tokens.
    const tokens = [...promptIds, ...response];
    const perToken = tokens.map((_, index) => (index < promptIds.length ? 0 : 40));
    const [row] = await model.forward([tokens], {
      steer: [{ point, mode: 'add', vector, coefficient: [perToken], positions: 'all' }],
    });
    const vocab = model.config.vocabSize;
    const argmaxAt = (position: number) => {
      const logits = row!.logits.subarray(position * vocab, (position + 1) * vocab);
      let best = 0;
      for (let i = 1; i < vocab; i++) if (logits[i]! > logits[best]!) best = i;
      return best;
    };
    const predicted = response.map((_, step) => argmaxAt(promptIds.length - 1 + step));
    expect(predicted).toEqual(response);
    // The boundary matters for this model: leaving the first generated position unsteered (the
    // off-by-one this test guards against) changes what follows it.
    const shifted = tokens.map((_, index) => (index <= promptIds.length ? 0 : 40));
    const [offByOne] = await model.forward([tokens], {
      steer: [{ point, mode: 'add', vector, coefficient: [shifted], positions: 'all' }],
    });
    const position = promptIds.length;
    expect(
      maxAbsDifference(
        offByOne!.logits.subarray(position * vocab, (position + 1) * vocab),
        row!.logits.subarray(position * vocab, (position + 1) * vocab),
      ),
    ).toBeGreaterThan(1e-2);
  });
});
