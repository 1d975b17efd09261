import { TraitlensError } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { steeringSlotNames } from '../hooks/hook-plan';
import type { ModelConfig, SteeringSpec } from './model-types';
import { buildSteeringFeeds, buildSteeringSlotFeeds, validateSteeringSpec } from './steering-feeds';

const config = { layerCount: 4, hiddenSize: 3 } as ModelConfig;
const spec = (coefficient: unknown): SteeringSpec =>
  ({
    point: { site: 'resid_post', layer: 1 },
    mode: 'add',
    vector: new Float32Array([1, 0, 0]),
    coefficient,
    positions: 'all',
  }) as SteeringSpec;

describe('validateSteeringSpec', () => {
  it.each([
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [[1, Number.NaN], 'NaN'],
    [
      [
        [0, 1],
        [2, Number.NEGATIVE_INFINITY],
      ],
      '-Infinity',
    ],
    [undefined, 'undefined'],
  ])('refuses the coefficient %s before anything runs', (coefficient, shown) => {
    let error: unknown;
    try {
      validateSteeringSpec(spec(coefficient), config, 2);
    } catch (caught) {
      error = caught;
    }
    expect(TraitlensError.hasCode(error, 'INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toContain(
      `resid_post.1 is ${shown}; a coefficient must be a finite number`,
    );
  });

  it('accepts finite scalar, per-row and per-token coefficients', () => {
    expect(() => validateSteeringSpec(spec(-4.5), config, 2)).not.toThrow();
    expect(() => validateSteeringSpec(spec([0, 2]), config, 2)).not.toThrow();
    expect(() => validateSteeringSpec(spec([[0, 1], [2]]), config, 2)).not.toThrow();
  });
});

describe('validateSteeringSpec at the runtime edge', () => {
  it.each([
    [
      'no mode',
      { mode: undefined },
      /Steering mode for resid_post\.1 is missing; give mode: 'add' or 'ablate'/,
    ],
    ['an unknown mode', { mode: 'remove' }, /Steering mode for resid_post\.1 is "remove"/],
    [
      'no positions',
      { positions: undefined },
      /Steering positions for resid_post\.1 are missing; give positions: 'all', 'prompt', 'response'/,
    ],
    ['unknown positions', { positions: 'answer' }, /Steering positions for resid_post\.1 are "answer"/],
  ])('refuses a spec with %s from a caller without types', (_, override, message) => {
    const invalid = { ...spec(1), ...override } as unknown as SteeringSpec;
    expect(() => validateSteeringSpec(invalid, config, 1)).toThrow(message);
  });
});

describe('buildSteeringFeeds', () => {
  const point = { site: 'resid_post' as const, layer: 1 };
  const vector = new Float32Array([3, 4, 0]);
  const window = (width: number, startToken: number) => ({
    batchSize: 1,
    width,
    startToken: [startToken],
    validCount: [width],
    promptLengths: [3],
  });
  const feedsOf = (specs: SteeringSpec[], steeringWindow: ReturnType<typeof window>) =>
    buildSteeringFeeds(specs, steeringWindow);

  it("positions: 'response' starts at the first generated token: the prefill's last position is the prompt's", () => {
    const steer: SteeringSpec = { point, mode: 'add', vector, coefficient: 2, positions: 'response' };
    // Prefill of a 3-token prompt (positions 0-2), then decode steps at absolute positions 3 and 4.
    expect([...feedsOf([steer], window(3, 0)).get('steer.add.resid_post.1.coefficient')!.data]).toEqual([
      0, 0, 0,
    ]);
    expect([...feedsOf([steer], window(1, 3)).get('steer.add.resid_post.1.coefficient')!.data]).toEqual([2]);
    const prompt: SteeringSpec = { ...steer, positions: 'prompt' };
    expect([...feedsOf([prompt], window(5, 0)).get('steer.add.resid_post.1.coefficient')!.data]).toEqual([
      2, 2, 2, 0, 0,
    ]);
  });

  it('sums repeated adds and composes repeated ablations of one vector as projections', () => {
    const add: SteeringSpec = { point, mode: 'add', vector, coefficient: 1.5, positions: 'all' };
    const ablate: SteeringSpec = { point, mode: 'ablate', vector, coefficient: 0.5, positions: 'all' };
    const feeds = feedsOf([add, add, ablate, ablate, { ...ablate, coefficient: 1 }], window(2, 0));
    expect([...feeds.get('steer.add.resid_post.1.coefficient')!.data]).toEqual([3, 3]);
    // (1 - 0.5)(1 - 0.5)(1 - 1) of the component is left: one ablation at c = 1.
    expect([...feeds.get('steer.ablate.resid_post.1.coefficient')!.data]).toEqual([1, 1]);
    expect(feeds.get('steer.ablate.resid_post.1.vector')!.data).toBe(vector);
  });

  it('refuses two vectors at one point and mode', () => {
    const first: SteeringSpec = { point, mode: 'add', vector, coefficient: 1, positions: 'all' };
    const second = { ...first, vector: new Float32Array([0, 1, 0]) };
    expect(() => feedsOf([first, second], window(1, 0))).toThrow(/use different vectors/);
  });

  it('fills the every-site slot tables with the same vectors and coefficients, row 0 unsteered', () => {
    const specs: SteeringSpec[] = [
      { point, mode: 'add', vector, coefficient: [[1, 2]], positions: 'all' },
      { point: { site: 'attn_out', layer: 0 }, mode: 'ablate', vector, coefficient: 0.5, positions: 'all' },
      {
        point: { site: 'resid_pre', layer: 3 },
        mode: 'add',
        vector: new Float32Array([0, 0, 1]),
        coefficient: -1,
        positions: 'all',
      },
    ];
    const slots = buildSteeringSlotFeeds(
      specs,
      { batchSize: 1, width: 2, startToken: [0], validCount: [2], promptLengths: [2] },
      { layerCount: 4, hiddenSize: 3 },
    );
    const add = steeringSlotNames('add');
    expect([...slots.get(add.vectors)!.data]).toEqual([1, 0, 0, 3, 4, 0, 0, 0, 1]);
    expect([...slots.get(add.coefficients)!.data]).toEqual([0, 0, 1, 2, -1, -1]);
    const addSlots = [...(slots.get(add.slots)!.data as BigInt64Array)].map(Number);
    expect(addSlots[1 * 5 + 4]).toBe(1);
    expect(addSlots[3 * 5 + 0]).toBe(2);
    expect(addSlots.filter((slot) => slot !== 0)).toHaveLength(2);
    const ablate = steeringSlotNames('ablate');
    expect([...slots.get(ablate.coefficients)!.data]).toEqual([0, 0, 0.5, 0.5]);
    expect([...(slots.get(ablate.slots)!.data as BigInt64Array)].map(Number)[0 * 5 + 1]).toBe(1);
  });
});
