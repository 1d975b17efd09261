import { describe, expect, it } from 'vitest';
import { loadModel } from '../model/load-model';
import { createTinyModel } from '../testing/index';
import { stories260k } from './__fixtures__/model-shapes';
import { planMemory } from './plan-memory';

describe('planMemory counts the sessions the runtime holds', () => {
  const base = { config: stories260k, dtype: 'fp32' as const, batchSize: 2, sequenceLength: 16 };

  it('on the CPU adds an arena per extra session (weights shared, decision 0015), up to 4 sessions', () => {
    const one = planMemory(base);
    expect(one.sessions).toEqual({
      count: 1,
      sharedWeights: true,
      perSession: one.activations.peak,
      extra: 0,
    });
    const three = planMemory({ ...base, hookPlans: 3 });
    expect(three.sessions.count).toBe(3);
    expect(three.sessions.extra).toBe(2 * one.activations.peak);
    expect(three.total).toBe(one.total + three.sessions.extra);
    expect(three.rows.find((row) => row.id === 'sessions')).toMatchObject({
      bytes: three.sessions.extra,
      detail: expect.stringContaining('2 more of 3 sessions'),
    });
    expect(three.rows.find((row) => row.id === 'sessions')!.detail).toContain('weights shared');
    // The pool keeps at most 4: plans beyond it are rebuilt, not held.
    expect(planMemory({ ...base, hookPlans: 9 }).sessions.count).toBe(4);
    expect(planMemory({ ...base, hookPlans: 9, maxSessions: 2 }).sessions.count).toBe(2);
  });

  it('with sharing off (shareWeights: false) each extra session holds a weight copy and an arena', () => {
    const one = planMemory({ ...base, sharedWeights: false });
    // Each session: weights 1,040,128 B + one layer's activation peak (no LoRA).
    expect(one.sessions.perSession).toBe(1_040_128 + one.activations.peak);
    const three = planMemory({ ...base, hookPlans: 3, sharedWeights: false });
    expect(three.sessions.extra).toBe(2 * (1_040_128 + one.activations.peak));
    expect(three.rows.find((row) => row.id === 'sessions')!.detail).toContain('own weights and arena');
  });

  it('off the CPU one session (decision 0007) unless maxSessions says otherwise; LoRA branches count per session', () => {
    const gpu = planMemory({ ...base, provider: 'gpu', hookPlans: 3 });
    expect(gpu.sessions).toMatchObject({ count: 1, extra: 0 });
    expect(gpu.settings).toMatchObject({ provider: 'gpu', hookPlans: 3, maxSessions: 1 });
    expect(gpu.rows.find((row) => row.id === 'sessions')!.detail).toContain('rebuilt when used');
    const lora = { rank: 4, targetModules: ['q_proj'] };
    const withLora = planMemory({ ...base, provider: 'gpu', hookPlans: 2, maxSessions: 2, lora });
    expect(withLora.sessions.perSession).toBe(
      withLora.weights.total + withLora.lora.bytes + withLora.activations.peak,
    );
    expect(withLora.lora.bytes).toBe(5 * 4 * (64 + 64) * 4);
    expect(() => planMemory({ ...base, hookPlans: 0 })).toThrow(/hookPlans/);
    expect(() => planMemory({ ...base, provider: 'tpu' as 'gpu' })).toThrow(/provider "tpu"/);
  });

  it('matches the sessions a CPU model really keeps after three hook plans', async () => {
    const tiny = await createTinyModel({ seed: 23 });
    try {
      const model = await loadModel(tiny.directory);
      try {
        const point = { layer: 1, site: 'resid_post' as const };
        await model.forward('hello');
        await model.forward('hello', { capture: [point] });
        await model.forward('hello', {
          steer: [
            {
              point,
              mode: 'add',
              vector: new Float32Array(model.config.hiddenSize).fill(0.1),
              coefficient: 1,
              positions: 'all',
            },
          ],
        });
        const held = (model as unknown as { loadedSessionCount: number }).loadedSessionCount;
        const plan = planMemory({
          config: model.config,
          dtype: 'fp32',
          batchSize: 1,
          sequenceLength: 4,
          hookPlans: 3,
        });
        expect(held).toBe(3);
        expect(plan.sessions.count).toBe(held);
      } finally {
        await model.dispose();
      }
    } finally {
      await tiny.remove();
    }
  });
});
