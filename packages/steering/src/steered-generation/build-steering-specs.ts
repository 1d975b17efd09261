import { formatHookPoint } from '@traitlens/core';
import type { SteeringSpec } from '@traitlens/model-runtime';
import type { SteeringConfiguration, SteeringIntervention } from './steering-configuration';

/**
 * Turns one steering configuration per batch row into the runtime's steering specs, so rows with
 * different layers, vectors and coefficients share one batched call: every distinct (hook point,
 * vector, mode, positions) becomes one spec whose per-row coefficient is the row's coefficient, or 0
 * for rows that do not use it (0 leaves a row untouched in both modes).
 *
 * Vectors are told apart by object identity: the same Float32Array used in many rows shares a spec.
 * An intervention repeated inside one configuration gets a second spec rather than a summed
 * coefficient, because ablation is not additive; the runtime applies the specs in sequence (two
 * ablations of one direction at c = 1 equal one, see docs/hook-sites.md).
 */
export function buildSteeringSpecs(rows: readonly SteeringConfiguration[]): SteeringSpec[] {
  const vectorIds = new Map<Float32Array, number>();
  const slots = new Map<string, { template: SteeringIntervention; coefficients: number[] }>();
  rows.forEach((configuration, row) => {
    const usedInRow = new Map<string, number>();
    for (const intervention of configuration) {
      let vectorId = vectorIds.get(intervention.vector);
      if (vectorId === undefined) {
        vectorId = vectorIds.size;
        vectorIds.set(intervention.vector, vectorId);
      }
      const baseKey = [
        formatHookPoint(intervention.point),
        vectorId,
        intervention.mode ?? 'add',
        intervention.positions ?? 'all',
      ].join('|');
      const occurrence = usedInRow.get(baseKey) ?? 0;
      usedInRow.set(baseKey, occurrence + 1);
      const key = `${baseKey}|${occurrence}`;
      let slot = slots.get(key);
      if (slot === undefined) {
        slot = { template: intervention, coefficients: new Array<number>(rows.length).fill(0) };
        slots.set(key, slot);
      }
      slot.coefficients[row] = intervention.coefficient;
    }
  });
  return [...slots.values()].map(({ template, coefficients }) => ({
    point: template.point,
    vector: template.vector,
    mode: template.mode ?? 'add',
    positions: template.positions ?? 'all',
    coefficient: coefficients,
  }));
}
