import type { HookPoint } from './hook-point';

/** How a steering vector acts on the value at its hook point (docs/hook-sites.md). */
export const steeringModes = ['add', 'ablate'] as const;
export type SteeringMode = (typeof steeringModes)[number];

/** Which tokens a steering vector acts on: all, the prompt's only, or the generated (response) tokens only. */
export const steeringPositions = ['all', 'prompt', 'response'] as const;
export type SteeringPositions = (typeof steeringPositions)[number];

/**
 * A coefficient for every position of every row; one number per row; or per row one number per token
 * (the row's unpadded tokens, prompt then generated).
 */
export type SteeringCoefficient = number | readonly number[] | readonly (readonly number[])[];

/**
 * The one representation of steering from the command line to the graph (docs/decisions/0014): one
 * vector acting at one hook point. Parsed once where it enters (the CLI, a study config, a caller of a
 * public function); every package passes it on unchanged and the runtime turns it into graph inputs.
 * A coefficient of 0 leaves a position untouched, so one batch can mix steered and unsteered rows.
 */
export interface SteeringSpec {
  point: HookPoint;
  /**
   * `add`: h + c*v. `ablate`: h - c*(h.u)u with u = v/|v| (c = 1 removes the direction fully). Several
   * specs at one point apply in sequence: adds sum; ablations of the same vector compose as projections,
   * leaving (1-a)(1-b) of the component along u (ablating twice at c = 1 equals once).
   */
  mode: SteeringMode;
  vector: Float32Array;
  coefficient: SteeringCoefficient;
  /** Which tokens are steered (in `forward` every token is a prompt token). */
  positions: SteeringPositions;
}
