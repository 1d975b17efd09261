import {
  formatHookPoint,
  type HookPoint,
  hookSites,
  type SteeringMode,
  type SteeringSpec,
  steeringModes,
  steeringPositions,
  TraitlensError,
} from '@traitlens/core';
import { assertLayerInRange, isHookSite } from '@traitlens/core/internal';
import {
  everySiteSteeringOrder,
  steeringInputNames,
  steeringSiteIndex,
  steeringSlotNames,
} from '../hooks/hook-plan';
import type { ModelConfig } from './model-types';

/**
 * Checks a steering spec against the model, with errors that name the offending value. This is the
 * runtime's edge (callers in plain JavaScript included); past it a spec is used as it is.
 */
export function validateSteeringSpec(spec: SteeringSpec, config: ModelConfig, batchSize: number): void {
  if (!isHookSite(spec.point.site)) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Steering site "${String(spec.point.site)}" is not a hook site (resid_pre, attn_out, resid_mid, mlp_out, resid_post).`,
    );
  }
  assertLayerInRange(spec.point.layer, config.layerCount, `Steering layer`);
  if (!(steeringModes as readonly unknown[]).includes(spec.mode)) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Steering mode for ${formatHookPoint(spec.point)} is ${describeValue(spec.mode)}; give mode: ${steeringModes.map((mode) => `'${mode}'`).join(' or ')}.`,
      { details: { point: formatHookPoint(spec.point), mode: String(spec.mode) } },
    );
  }
  if (!(steeringPositions as readonly unknown[]).includes(spec.positions)) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Steering positions for ${formatHookPoint(spec.point)} are ${describeValue(spec.positions)}; give positions: ${steeringPositions.map((positions) => `'${positions}'`).join(', ')}.`,
      { details: { point: formatHookPoint(spec.point), positions: String(spec.positions) } },
    );
  }
  if (!(spec.vector instanceof Float32Array) || spec.vector.length !== config.hiddenSize) {
    // MODEL_MISMATCH, as core's assertVectorsFitModel and steering's check say for the same problem.
    throw new TraitlensError(
      'MODEL_MISMATCH',
      `Steering vector for ${formatHookPoint(spec.point)} has ${spec.vector?.length ?? 0} values but the model's hidden size is ${config.hiddenSize}. Was it extracted from a different model?`,
      { details: { expected: config.hiddenSize, actual: spec.vector?.length } },
    );
  }
  if (spec.vector.some((value) => !Number.isFinite(value))) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Steering vector for ${formatHookPoint(spec.point)} contains NaN or infinite values.`,
    );
  }
  if (spec.mode === 'ablate' && spec.vector.every((value) => value === 0)) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Cannot ablate along a zero vector at ${formatHookPoint(spec.point)}.`,
    );
  }
  const coefficients: readonly unknown[] =
    typeof spec.coefficient === 'number'
      ? [spec.coefficient]
      : Array.isArray(spec.coefficient)
        ? (spec.coefficient as readonly unknown[]).flat()
        : [spec.coefficient];
  const badIndex = coefficients.findIndex((value) => typeof value !== 'number' || !Number.isFinite(value));
  if (badIndex >= 0) {
    const bad = coefficients[badIndex];
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `Steering coefficient for ${formatHookPoint(spec.point)} is ${String(bad)}; a coefficient must be a finite number (NaN or infinity would turn every logit into NaN).`,
      { details: { point: formatHookPoint(spec.point), coefficient: String(bad) } },
    );
  }
  if (Array.isArray(spec.coefficient) && spec.coefficient.length !== batchSize) {
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `Steering coefficient for ${formatHookPoint(spec.point)} has ${spec.coefficient.length} rows but the batch has ${batchSize}.`,
    );
  }
}

function describeValue(value: unknown): string {
  return value === undefined ? 'missing' : `"${String(value)}"`;
}

/**
 * The coefficient of a spec for row `row` at absolute token index `token` (prompt tokens first), or 0
 * when the spec's `positions` excludes it.
 */
export function coefficientAt(spec: SteeringSpec, row: number, token: number, promptLength: number): number {
  if (spec.positions === 'prompt' && token >= promptLength) return 0;
  if (spec.positions === 'response' && token < promptLength) return 0;
  const coefficient = spec.coefficient;
  if (typeof coefficient === 'number') return coefficient;
  const perRow = coefficient[row];
  if (typeof perRow === 'number') return perRow;
  if (perRow === undefined) return 0;
  const value = perRow[token];
  return value ?? 0;
}

/**
 * Folds one more spec's coefficient into the coefficient already fed at a position. Steering specs at
 * the same point apply one after the other: `add` specs sum (h + a*v + b*v), while an ablation
 * h - c*(h.u)u leaves (1-c) of the component along u, so two ablations of the same direction leave
 * (1-a)(1-b) of it, i.e. one ablation with c = 1 - (1-a)(1-b). Ablating twice at c = 1 is ablating once.
 */
export function composeCoefficients(mode: SteeringMode, current: number, next: number): number {
  return mode === 'add' ? current + next : 1 - (1 - current) * (1 - next);
}

/** The positions one graph run covers: `width` per row from absolute token `startToken[row]`. */
export interface SteeringWindow {
  batchSize: number;
  width: number;
  startToken: readonly number[];
  /** Positions beyond a row's count are padding: coefficient 0. */
  validCount: readonly number[];
  promptLengths: readonly number[];
}

/** What one graph input pair carries: the specs of one (point, mode), composed over the window. */
interface SteeredSite {
  point: HookPoint;
  mode: SteeringMode;
  vector: Float32Array;
  /** [batchSize, width]. */
  coefficients: Float32Array;
}

/**
 * Groups the specs by (mode, point), in first-seen order, and composes each group's coefficients over
 * the window (`composeCoefficients`): one `SteeredSite` per graph input pair or slot-table row.
 */
function composeSteeredSites(specs: readonly SteeringSpec[], window: SteeringWindow): SteeredSite[] {
  const { batchSize, width } = window;
  const sites = new Map<SteeringMode, Map<number, SteeredSite>>(
    steeringModes.map((mode) => [mode, new Map()]),
  );
  for (const spec of specs) {
    const ofMode = sites.get(spec.mode)!;
    const index = steeringSiteIndex(spec.point);
    let site = ofMode.get(index);
    if (!site) {
      site = {
        point: spec.point,
        mode: spec.mode,
        vector: spec.vector,
        coefficients: new Float32Array(batchSize * width),
      };
      ofMode.set(index, site);
    } else if (site.vector !== spec.vector) {
      throw new TraitlensError(
        'INVALID_ARGUMENT',
        `Two ${spec.mode} steering specs at ${formatHookPoint(spec.point)} use different vectors; combine them into one vector (or use per-row coefficients with one vector per call).`,
      );
    }
    for (let b = 0; b < batchSize; b++) {
      for (let s = 0; s < Math.min(width, window.validCount[b]!); s++) {
        site.coefficients[b * width + s] = composeCoefficients(
          spec.mode,
          site.coefficients[b * width + s]!,
          coefficientAt(spec, b, window.startToken[b]! + s, window.promptLengths[b]!),
        );
      }
    }
  }
  return [...sites.values()].flatMap((ofMode) => [...ofMode.values()]);
}

/**
 * Graph feeds for every spec, for a window of `width` positions per row starting at absolute token
 * `startToken[row]`; positions beyond a row's `validCount[row]` (padding) get 0. Specs at the same point
 * and mode (same vector) are composed as sequential interventions (`composeCoefficients`).
 */
export function buildSteeringFeeds(
  specs: readonly SteeringSpec[],
  window: SteeringWindow,
): Map<string, { data: Float32Array; dims: number[] }> {
  const { batchSize, width } = window;
  const feeds = new Map<string, { data: Float32Array; dims: number[] }>();
  for (const site of composeSteeredSites(specs, window)) {
    const names = steeringInputNames(site.point, site.mode);
    feeds.set(names.vector, { data: site.vector, dims: [site.vector.length] });
    feeds.set(names.coefficient, { data: site.coefficients, dims: [batchSize, width] });
  }
  return feeds;
}

/**
 * The feeds of a graph built with `steerEverySite`: per mode, the specs' vectors and coefficients as
 * rows 1.. of slot tables (row 0, "no steering", has coefficient 0 and a unit vector, so the ablate
 * normalisation stays finite) and each site's row (0 where nothing is steered). The window as in
 * `buildSteeringFeeds`; only the steered rows cross to the device.
 */
export function buildSteeringSlotFeeds(
  specs: readonly SteeringSpec[],
  window: SteeringWindow,
  model: Pick<ModelConfig, 'layerCount' | 'hiddenSize'>,
): Map<string, { data: Float32Array | BigInt64Array; dims: number[] }> {
  const { batchSize, width } = window;
  const { layerCount, hiddenSize } = model;
  const steered = composeSteeredSites(specs, window);
  const feeds = new Map<string, { data: Float32Array | BigInt64Array; dims: number[] }>();
  for (const mode of everySiteSteeringOrder) {
    const ofMode = steered.filter((site) => site.mode === mode);
    const rows = ofMode.length + 1;
    const vectors = new Float32Array(rows * hiddenSize);
    vectors[0] = 1;
    const coefficients = new Float32Array(rows * batchSize * width);
    const slots = new BigInt64Array(layerCount * hookSites.length);
    ofMode.forEach((site, index) => {
      const row = index + 1;
      vectors.set(site.vector, row * hiddenSize);
      coefficients.set(site.coefficients, row * batchSize * width);
      slots[steeringSiteIndex(site.point)] = BigInt(row);
    });
    const names = steeringSlotNames(mode);
    feeds.set(names.vectors, { data: vectors, dims: [rows, hiddenSize] });
    feeds.set(names.coefficients, { data: coefficients, dims: [rows, batchSize, width] });
    feeds.set(names.slots, { data: slots, dims: [slots.length] });
  }
  return feeds;
}
