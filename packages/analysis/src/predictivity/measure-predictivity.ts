import { TraitlensError } from '@traitlens/core';
import type { ProjectionTable } from '../projections/projection-table';
import { readProjectionColumn } from '../projections/projection-table';
import { computePointBiserialCorrelation } from '../stats/pearson-correlation';
import { computeAuroc } from '../stats/roc-curve';

export interface PredictivityEntry {
  vectorId: string;
  layer: number;
  n: number;
  positives: number;
  /** AUROC of the projection against the behaviour label (> 0.5: the behaviour goes with higher projections). */
  auroc: number;
  /** Point-biserial r and its two-sided p-value. */
  r: number;
  p: number;
}

export interface PredictivitySet {
  /** e.g. `in-distribution` or the prompt set name. */
  name: string;
  entries: PredictivityEntry[];
}

export interface PredictivitySummary {
  vectorId: string;
  /** Per set: the layer where |AUROC - 0.5| is largest, with its AUROC and r. */
  best: { set: string; layer: number; auroc: number; r: number }[];
  /** Layers (per set) where r changes sign relative to the previous layer with |r| above 0.1 on both sides. */
  signFlips: { set: string; fromLayer: number; toLayer: number; fromR: number; toR: number }[];
}

/**
 * How well a projection (typically the cosine of an activation with a steering vector) predicts a binary
 * behaviour label, per vector and layer: AUROC and point-biserial r. Prompts whose label is NaN are left out.
 */
export function measurePredictivity(
  name: string,
  table: ProjectionTable,
  labels: Float64Array,
): PredictivitySet {
  if (labels.length !== table.promptIds.length) {
    throw new TraitlensError(
      'SHAPE_MISMATCH',
      `Predictivity got ${labels.length} labels for ${table.promptIds.length} prompts.`,
    );
  }
  const labelled: number[] = [];
  for (let i = 0; i < labels.length; i++) if (labels[i] === 0 || labels[i] === 1) labelled.push(i);
  const y = Float64Array.from(labelled, (i) => labels[i]!);
  const positives = y.reduce((sum, value) => sum + value, 0);
  if (positives === 0 || positives === y.length) {
    throw new TraitlensError(
      'INSUFFICIENT_DATA',
      `Predictivity on "${name}" needs labelled prompts of both classes; got ${positives} positive of ${y.length}.`,
      { details: { set: name } },
    );
  }
  const entries: PredictivityEntry[] = [];
  table.layers.forEach((layer, l) => {
    table.vectorIds.forEach((vectorId, k) => {
      const values = readProjectionColumn(table, l, k, labelled);
      if (!values.every((value) => Number.isFinite(value))) return;
      const correlation = computePointBiserialCorrelation(values, y);
      entries.push({
        vectorId,
        layer,
        n: y.length,
        positives,
        auroc: computeAuroc(values, y),
        r: correlation.r,
        p: correlation.p,
      });
    });
  });
  return { name, entries };
}

/** Best layer per vector and set, and sign flips of r with depth (a positive-then-negative predictor). */
export function summarizePredictivity(sets: readonly PredictivitySet[]): PredictivitySummary[] {
  const vectorIds = [...new Set(sets.flatMap((set) => set.entries.map((entry) => entry.vectorId)))];
  return vectorIds.map((vectorId) => {
    const best: PredictivitySummary['best'] = [];
    const signFlips: PredictivitySummary['signFlips'] = [];
    for (const set of sets) {
      const rows = set.entries
        .filter((entry) => entry.vectorId === vectorId)
        .sort((x, y) => x.layer - y.layer);
      let top: PredictivityEntry | undefined;
      for (const row of rows) if (!top || Math.abs(row.auroc - 0.5) > Math.abs(top.auroc - 0.5)) top = row;
      if (top) best.push({ set: set.name, layer: top.layer, auroc: top.auroc, r: top.r });
      for (let i = 1; i < rows.length; i++) {
        const before = rows[i - 1]!;
        const after = rows[i]!;
        if (
          Math.abs(before.r) > 0.1 &&
          Math.abs(after.r) > 0.1 &&
          Math.sign(before.r) !== Math.sign(after.r)
        ) {
          signFlips.push({
            set: set.name,
            fromLayer: before.layer,
            toLayer: after.layer,
            fromR: before.r,
            toR: after.r,
          });
        }
      }
    }
    return { vectorId, best, signFlips };
  });
}
