import { TraitlensError } from '@traitlens/core';

/** The adaptive search of docs/study-method.md §4. */
export interface CoefficientSearchSettings {
  /** Evaluations per candidate (default 6; the study used 4-8). */
  steps: number;
  /** `positive` raises the trait; `negative` starts at a negative coefficient and lowers it. */
  direction: 'positive' | 'negative';
  /** First coefficient as a fraction of the base coefficient (default 0.7). */
  startFraction: number;
  /** Multiplier after a coherent step (default 1.3; the study also tuned 1.2). */
  upMultiplier: number;
  /** Multiplier after an incoherent step (default 0.85). */
  downMultiplier: number;
  /** 0 (default) multiplies by the multiplier itself; m > 0 smooths it: v = m*v + (1-m)*multiplier. */
  momentum: number;
  /** Mean coherence at or above this counts as coherent (default 70). */
  coherenceThreshold: number;
}

export const defaultCoefficientSearchSettings: CoefficientSearchSettings = {
  steps: 6,
  direction: 'positive',
  startFraction: 0.7,
  upMultiplier: 1.3,
  downMultiplier: 0.85,
  momentum: 0,
  coherenceThreshold: 70,
};

/** One thing whose coefficient is searched: a layer, or a multi-layer combination. */
export interface SearchCandidate {
  id: string;
  /** Signed first coefficient (see `startingCoefficient`). */
  startCoefficient: number;
}

/** Mean judge scores of one evaluated coefficient. */
export interface StepOutcome {
  traitMean: number | null;
  coherenceMean: number | null;
  /** Where the evaluation is stored (a run id), carried into the step record. */
  runId?: string;
}

export interface SearchStep {
  step: number;
  coefficient: number;
  traitMean: number | null;
  coherenceMean: number | null;
  coherent: boolean;
  /** The multiplier this step's coherence chose (up or down). */
  multiplier: number;
  /** The factor applied to reach the next coefficient (the multiplier, smoothed by momentum). */
  velocity: number;
  runId?: string;
}

export interface CandidateSearch {
  id: string;
  steps: SearchStep[];
  /** Highest trait mean among coherent steps (lowest for the negative direction); null when none was coherent. */
  best: SearchStep | null;
}

/** `startFraction * base`, negated for the negative direction. */
export function startingCoefficient(
  baseCoefficient: number,
  settings: Pick<CoefficientSearchSettings, 'startFraction' | 'direction'>,
): number {
  return (settings.direction === 'negative' ? -1 : 1) * settings.startFraction * baseCoefficient;
}

/**
 * Runs the search for every candidate in lock step: each step evaluates all candidates' current
 * coefficients in one call (so the caller can batch them into one generation), then moves each
 * coefficient up after a coherent outcome and down after an incoherent one. The velocity starts at 1.
 */
export async function searchCoefficients(
  candidates: readonly SearchCandidate[],
  evaluate: (
    requests: { candidateId: string; coefficient: number; step: number }[],
  ) => Promise<StepOutcome[]>,
  settings: CoefficientSearchSettings,
  onStep?: (event: { candidateId: string; step: SearchStep }) => void,
): Promise<CandidateSearch[]> {
  assertSearchSettings(settings);
  const states = candidates.map((candidate) => ({
    id: candidate.id,
    coefficient: candidate.startCoefficient,
    velocity: 1,
    steps: [] as SearchStep[],
  }));
  for (let step = 0; step < settings.steps; step++) {
    const outcomes = await evaluate(
      states.map((state) => ({ candidateId: state.id, coefficient: state.coefficient, step })),
    );
    if (outcomes.length !== states.length)
      throw new TraitlensError(
        'RUNTIME_ERROR',
        `The evaluator returned ${outcomes.length} outcomes for ${states.length} candidates.`,
      );
    states.forEach((state, index) => {
      const outcome = outcomes[index]!;
      const coherent = outcome.coherenceMean !== null && outcome.coherenceMean >= settings.coherenceThreshold;
      const multiplier = coherent ? settings.upMultiplier : settings.downMultiplier;
      state.velocity = settings.momentum * state.velocity + (1 - settings.momentum) * multiplier;
      const record: SearchStep = {
        step,
        coefficient: state.coefficient,
        traitMean: outcome.traitMean,
        coherenceMean: outcome.coherenceMean,
        coherent,
        multiplier,
        velocity: state.velocity,
      };
      if (outcome.runId !== undefined) record.runId = outcome.runId;
      state.steps.push(record);
      onStep?.({ candidateId: state.id, step: record });
      state.coefficient *= state.velocity;
    });
  }
  return states.map((state) => ({
    id: state.id,
    steps: state.steps,
    best: selectBestStep(state.steps, settings.direction),
  }));
}

/** The coherent step with the highest trait mean (lowest for `negative`); ties keep the earlier step. */
export function selectBestStep<T extends { coherent: boolean; traitMean: number | null }>(
  steps: readonly T[],
  direction: 'positive' | 'negative',
): T | null {
  let best: T | null = null;
  for (const step of steps) {
    if (!step.coherent || step.traitMean === null) continue;
    if (
      best === null ||
      (direction === 'positive' ? step.traitMean > best.traitMean! : step.traitMean < best.traitMean!)
    )
      best = step;
  }
  return best;
}

export function assertSearchSettings(settings: CoefficientSearchSettings): void {
  const problems: string[] = [];
  if (!Number.isInteger(settings.steps) || settings.steps < 1)
    problems.push(`steps must be a positive integer (got ${settings.steps})`);
  if (!(settings.upMultiplier > 0)) problems.push(`upMultiplier must be > 0 (got ${settings.upMultiplier})`);
  if (!(settings.downMultiplier > 0))
    problems.push(`downMultiplier must be > 0 (got ${settings.downMultiplier})`);
  if (!(settings.momentum >= 0 && settings.momentum < 1))
    problems.push(`momentum must be in [0, 1) (got ${settings.momentum})`);
  if (!(settings.startFraction > 0))
    problems.push(`startFraction must be > 0 (got ${settings.startFraction})`);
  if (!Number.isFinite(settings.coherenceThreshold))
    problems.push(`coherenceThreshold must be a number (got ${settings.coherenceThreshold})`);
  if (settings.direction !== 'positive' && settings.direction !== 'negative')
    problems.push(`direction must be positive or negative (got ${String(settings.direction)})`);
  if (problems.length > 0)
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Invalid coefficient search settings: ${problems.join('; ')}.`,
    );
}
