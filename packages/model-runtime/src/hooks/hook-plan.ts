import {
  formatHookPoint,
  type HookPoint,
  hookSites,
  type SteeringMode,
  type SteeringSpec,
} from '@traitlens/core';

export type { SteeringMode } from '@traitlens/core';

/** What of a steering spec decides the graph: where it acts and how (values are runtime inputs). */
export type SteeredPoint = Pick<SteeringSpec, 'point' | 'mode'>;

/**
 * Which hook points a graph exposes: captures become graph outputs, steering points become graph inputs
 * (a vector and a per-position coefficient). Graphs are built and cached per plan, so a plan is
 * normalised (sorted, de-duplicated) before it is hashed.
 */
export interface HookPlan {
  capture: HookPoint[];
  steer: SteeredPoint[];
  /**
   * In-graph projections: at each point the activations are multiplied by a bank of K vectors given at
   * run time, and only the [tokens, K] result leaves the graph (long runs store projections, not
   * activations).
   */
  project: HookPoint[];
}

function compareHookPoints(a: HookPoint, b: HookPoint): number {
  return a.layer - b.layer || hookSites.indexOf(a.site) - hookSites.indexOf(b.site);
}

/**
 * The plan in canonical form. `steer` may be given the run's steering specs as they are: only their
 * point and mode are kept.
 */
export function normalizeHookPlan(plan: {
  capture?: readonly HookPoint[];
  steer?: readonly SteeredPoint[];
  project?: readonly HookPoint[];
}): HookPlan {
  const capture = new Map<string, HookPoint>();
  for (const point of plan.capture ?? [])
    capture.set(formatHookPoint(point), { layer: point.layer, site: point.site });
  const steer = new Map<string, SteeredPoint>();
  for (const entry of plan.steer ?? [])
    steer.set(`${entry.mode}:${formatHookPoint(entry.point)}`, {
      point: { layer: entry.point.layer, site: entry.point.site },
      mode: entry.mode,
    });
  const project = new Map<string, HookPoint>();
  for (const point of plan.project ?? [])
    project.set(formatHookPoint(point), { layer: point.layer, site: point.site });
  return {
    project: [...project.values()].sort(compareHookPoints),
    capture: [...capture.values()].sort(compareHookPoints),
    steer: [...steer.values()].sort(
      (a, b) => compareHookPoints(a.point, b.point) || a.mode.localeCompare(b.mode),
    ),
  };
}

export function hookPlanKey(plan: HookPlan): string {
  const capture = plan.capture.map(formatHookPoint).join(',');
  const steer = plan.steer.map((entry) => `${entry.mode}:${formatHookPoint(entry.point)}`).join(',');
  const project = plan.project.map(formatHookPoint).join(',');
  return `capture=${capture};steer=${steer}${project ? `;project=${project}` : ''}`;
}

/** Graph input names of a steering point. */
export function steeringInputNames(
  point: HookPoint,
  mode: SteeringMode,
): { vector: string; coefficient: string } {
  const base = `steer.${mode}.${formatHookPoint(point)}`;
  return { vector: `${base}.vector`, coefficient: `${base}.coefficient` };
}

/**
 * The modes every-site steering applies at each hook site, in application order: the ablation first,
 * then the addition (a different order from core's `steeringModes` list, and part of the graph layout).
 */
export const everySiteSteeringOrder: readonly SteeringMode[] = ['ablate', 'add'];

/**
 * Graph inputs of every-site steering for one mode: `vectors` [slots, D] and `coefficients`
 * [slots, B, S] (row 0: no steering) and `slots` [layers * 5] int64, the row each site uses.
 */
export function steeringSlotNames(mode: SteeringMode): {
  vectors: string;
  coefficients: string;
  slots: string;
} {
  return {
    vectors: `steer.${mode}.vectors`,
    coefficients: `steer.${mode}.coefficients`,
    slots: `steer.${mode}.slots`,
  };
}

/** A hook point's index in the every-site slot table: layer * 5 + the site's position in hookSites. */
export function steeringSiteIndex(point: HookPoint): number {
  return point.layer * hookSites.length + hookSites.indexOf(point.site);
}

/** Graph input (the vector bank [K, D]) and output ([tokens, K]) names of an in-graph projection. */
export function projectionNames(point: HookPoint): { bank: string; output: string; norm: string } {
  return {
    bank: `project.${formatHookPoint(point)}.bank`,
    output: `projection.${formatHookPoint(point)}`,
    norm: `projection_norm.${formatHookPoint(point)}`,
  };
}
