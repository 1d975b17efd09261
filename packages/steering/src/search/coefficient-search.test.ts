import { describe, expect, it } from 'vitest';
import {
  type CoefficientSearchSettings,
  defaultCoefficientSearchSettings,
  type StepOutcome,
  searchCoefficients,
  selectBestStep,
  startingCoefficient,
} from './coefficient-search';

/** A deterministic stand-in for generation + judging: the trait grows with |c|, coherence falls off a cliff at |c| >= 10. */
function cliffEvaluator(trait: (coefficient: number) => number) {
  const calls: number[][] = [];
  const evaluate = async (requests: { coefficient: number }[]): Promise<StepOutcome[]> => {
    calls.push(requests.map((request) => request.coefficient));
    return requests.map(({ coefficient }) => ({
      traitMean: trait(coefficient),
      coherenceMean: Math.abs(coefficient) >= 10 ? 40 : 90,
    }));
  };
  return { calls, evaluate };
}

const settings = (overrides: Partial<CoefficientSearchSettings>): CoefficientSearchSettings => ({
  ...defaultCoefficientSearchSettings,
  ...overrides,
});

function expectTrajectory(actual: number[], expected: number[]) {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, index) => {
    expect(value).toBeCloseTo(expected[index]!, 10);
  });
}

describe('searchCoefficients', () => {
  it('starts at 0.7 x base, multiplies by 1.3 while coherent and by 0.85 past the cliff', async () => {
    const { calls, evaluate } = cliffEvaluator((c) => 5 * c);
    const start = startingCoefficient(10, defaultCoefficientSearchSettings);
    expect(start).toBeCloseTo(7, 12);
    const [result] = await searchCoefficients(
      [{ id: 'L3', startCoefficient: start }],
      evaluate,
      settings({ steps: 6 }),
    );
    // 7 ok -> 7*1.3 = 9.1 ok -> 11.83 cliff -> 11.83*0.85 = 10.0555 cliff -> 8.547175 ok -> 11.1113275 cliff
    expectTrajectory(
      calls.map((call) => call[0]!),
      [7, 9.1, 11.83, 10.0555, 8.547175, 11.1113275],
    );
    expect(result!.steps.map((step) => step.coherent)).toEqual([true, true, false, false, true, false]);
    expect(result!.best?.step).toBe(1);
    expect(result!.best?.coefficient).toBeCloseTo(9.1, 12);
  });

  it('smooths the multiplier with momentum, which carries the search past the cliff', async () => {
    const { calls, evaluate } = cliffEvaluator((c) => 5 * c);
    const [result] = await searchCoefficients(
      [{ id: 'L3', startCoefficient: 7 }],
      evaluate,
      settings({ steps: 6, momentum: 0.5 }),
    );
    // v0 = 1; v = 0.5 v + 0.5 m: 1.15, 1.225, 1.2625 (coherent, m = 1.3), then 1.05625, 0.953125 (cliff, m = 0.85)
    expectTrajectory(
      calls.map((call) => call[0]!),
      [7, 8.05, 9.86125, 12.449828125, 13.15013095703125, 12.53371856842041],
    );
    expectTrajectory(
      result!.steps.map((step) => step.velocity),
      [1.15, 1.225, 1.2625, 1.05625, 0.953125, 0.9015625],
    );
    expect(result!.best?.coefficient).toBeCloseTo(9.86125, 12);
  });

  it('searches negative coefficients and keeps the lowest coherent trait score', async () => {
    const { calls, evaluate } = cliffEvaluator((c) => 50 + 3 * c);
    const start = startingCoefficient(10, { startFraction: 0.7, direction: 'negative' });
    const [result] = await searchCoefficients(
      [{ id: 'L1', startCoefficient: start }],
      evaluate,
      settings({ steps: 5, direction: 'negative' }),
    );
    expectTrajectory(
      calls.map((call) => call[0]!),
      [-7, -9.1, -11.83, -10.0555, -8.547175],
    );
    expect(result!.best?.coefficient).toBeCloseTo(-9.1, 12);
    expect(result!.best?.traitMean).toBeCloseTo(50 - 27.3, 10);
  });

  it('evaluates all candidates of a step in one call, each on its own trajectory', async () => {
    const { calls, evaluate } = cliffEvaluator((c) => c);
    const results = await searchCoefficients(
      [
        { id: 'L1', startCoefficient: 7 },
        { id: 'L2', startCoefficient: 2 },
      ],
      evaluate,
      settings({ steps: 3, upMultiplier: 1.2 }),
    );
    expect(calls).toHaveLength(3);
    expectTrajectory(
      calls.map((call) => call[0]!),
      [7, 8.4, 10.08],
    );
    expectTrajectory(
      calls.map((call) => call[1]!),
      [2, 2.4, 2.88],
    );
    expect(results.map((result) => result.best?.step)).toEqual([1, 2]);
  });

  it('treats a null coherence as incoherent and reports no best when nothing was coherent', async () => {
    const [result] = await searchCoefficients(
      [{ id: 'L0', startCoefficient: 1 }],
      async () => [{ traitMean: 80, coherenceMean: null }],
      settings({ steps: 2 }),
    );
    expect(result!.steps.map((step) => step.multiplier)).toEqual([0.85, 0.85]);
    expect(result!.best).toBeNull();
  });

  it('rejects invalid settings with the field named', async () => {
    await expect(searchCoefficients([], async () => [], settings({ momentum: 1 }))).rejects.toThrow(
      /momentum must be in \[0, 1\)/,
    );
  });
});

describe('selectBestStep', () => {
  it('ignores incoherent steps and null trait scores', () => {
    const steps = [
      { coherent: false, traitMean: 99 },
      { coherent: true, traitMean: null },
      { coherent: true, traitMean: 40 },
      { coherent: true, traitMean: 60 },
    ];
    expect(selectBestStep(steps, 'positive')).toBe(steps[3]);
    expect(selectBestStep(steps, 'negative')).toBe(steps[2]);
  });
});
