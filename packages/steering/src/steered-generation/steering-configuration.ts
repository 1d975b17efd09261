import type { SteeringSpec } from '@traitlens/core';

/**
 * Everything applied to one generation at once: runtime steering specs with one coefficient each (for
 * every position the spec's `positions` select), so several layers or sites act together. An empty
 * list is the unsteered model.
 */
export type SteeringConfiguration = ReadonlyArray<SteeringSpec & { coefficient: number }>;
