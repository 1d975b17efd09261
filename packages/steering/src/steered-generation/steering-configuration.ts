import type { HookPoint } from '@traitlens/core';
import type { SteeringMode } from '@traitlens/model-runtime';

/** One vector acting on one hook point with one coefficient. */
export interface SteeringIntervention {
  point: HookPoint;
  vector: Float32Array;
  coefficient: number;
  /** `add` (default): h + c*v. `ablate`: h - c*(h.u)u, u = v/|v|. */
  mode?: SteeringMode;
  /** Which tokens are steered: all (default), prompt only, or generated tokens only. */
  positions?: 'all' | 'prompt' | 'response';
}

/**
 * Everything applied to one generation at once: several interventions on different layers or sites
 * act together. An empty list is the unsteered model.
 */
export type SteeringConfiguration = readonly SteeringIntervention[];
