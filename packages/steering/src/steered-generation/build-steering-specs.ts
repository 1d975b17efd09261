import { formatHookPoint, type SteeringSpec } from '@traitlens/core';
import type { SteeringConfiguration } from './steering-configuration';

/** A spec of a batched request: one coefficient per row (0 for rows that do not use it). */
export type BatchedSteeringSpec = SteeringSpec & { coefficient: number[] };

/**
 * Turns one steering configuration per batch row into the runtime's steering specs, so rows with
 * different layers, vectors and coefficients share one batched call: every distinct (hook point,
 * vector, mode, positions) becomes one spec whose per-row coefficient is the row's coefficient, or 0
 * for rows that do not use it (0 leaves a row untouched in both modes). Only the coefficient changes:
 * point, mode, vector and positions are the configuration's own.
 *
 * Vectors are told apart by object identity: the same Float32Array used in many rows shares a spec.
 * A spec repeated inside one configuration stays a second spec rather than a summed coefficient; the
 * runtime applies specs at one point in sequence (adds sum, ablations of one direction compose as
 * projections: two at c = 1 equal one, see docs/hook-sites.md).
 */
export function buildSteeringSpecs(rows: readonly SteeringConfiguration[]): BatchedSteeringSpec[] {
  const vectorIds = new Map<Float32Array, number>();
  const batched = new Map<string, BatchedSteeringSpec>();
  rows.forEach((configuration, row) => {
    const usedInRow = new Map<string, number>();
    for (const spec of configuration) {
      let vectorId = vectorIds.get(spec.vector);
      if (vectorId === undefined) {
        vectorId = vectorIds.size;
        vectorIds.set(spec.vector, vectorId);
      }
      // A grouping key only (never parsed): the spec itself travels in the map's value.
      const baseKey = [formatHookPoint(spec.point), vectorId, spec.mode, spec.positions].join('|');
      const occurrence = usedInRow.get(baseKey) ?? 0;
      usedInRow.set(baseKey, occurrence + 1);
      const key = `${baseKey}|${occurrence}`;
      let entry = batched.get(key);
      if (entry === undefined) {
        entry = { ...spec, coefficient: new Array<number>(rows.length).fill(0) };
        batched.set(key, entry);
      }
      entry.coefficient[row] = spec.coefficient;
    }
  });
  return [...batched.values()];
}
