import {
  computeAuroc,
  computeBootstrapConfidenceInterval,
  computePearsonCorrelation,
  computePointBiserialCorrelation,
  type PredictivitySet,
  summarizePredictivity,
} from '@traitlens/analysis';
import type { AbChoiceMeasurement, ActivationPosition } from './measure-ab-choices';

/** How well cosine(activation, vector) at one layer predicts the model's own choice. */
export interface LayerPredictivity {
  layer: number;
  /** AUROC of the cosine against the label (> 0.5: behaviour answers go with higher cosines); null with one class. */
  auroc: number | null;
  /** Percentile bootstrap 95% interval of the AUROC (items resampled). */
  aurocInterval: [number, number] | null;
  /** Point-biserial r between cosine and label, with its two-sided p. */
  r: number | null;
  p: number | null;
  /** Pearson r between cosine and the log-probability margin (behaviour minus other letter). */
  marginR: number | null;
}

export interface PredictivityTable {
  set: string;
  vector: string;
  position: ActivationPosition;
  n: number;
  /** Items where the model chose the behaviour answer. */
  positives: number;
  layers: LayerPredictivity[];
}

const finiteOrNull = (value: number): number | null => (Number.isFinite(value) ? value : null);

export interface MeasureLayerPredictivityOptions {
  set: string;
  measurement: AbChoiceMeasurement;
  bootstrapResamples: number;
  seed: number;
}

/** AUROC (with a bootstrap interval), point-biserial r and margin correlation per vector, position and layer. */
export function measureLayerPredictivity(options: MeasureLayerPredictivityOptions): PredictivityTable[] {
  const { set, measurement } = options;
  const labels = measurement.labels;
  const positives = labels.reduce((sum, label) => sum + label, 0);
  const bothClasses = positives > 0 && positives < labels.length;
  const tables: PredictivityTable[] = [];
  for (const [vector, byPosition] of measurement.cosines) {
    for (const position of ['prompt', 'continuation'] as const) {
      const rows = [...byPosition[position]].map(([layer, values]): LayerPredictivity => {
        const marginR = finiteOrNull(computePearsonCorrelation(values, measurement.margins).r);
        if (!bothClasses) return { layer, auroc: null, aurocInterval: null, r: null, p: null, marginR };
        const interval =
          options.bootstrapResamples > 0
            ? computeBootstrapConfidenceInterval(
                labels.length,
                (indices) =>
                  computeAuroc(
                    Array.from(indices, (i) => values[i]!),
                    Array.from(indices, (i) => labels[i]!),
                  ),
                { resamples: options.bootstrapResamples, seed: options.seed },
              )
            : undefined;
        const correlation = computePointBiserialCorrelation(values, labels);
        return {
          layer,
          auroc: finiteOrNull(computeAuroc(values, labels)),
          aurocInterval:
            interval && Number.isFinite(interval.low) && Number.isFinite(interval.high)
              ? [interval.low, interval.high]
              : null,
          r: finiteOrNull(correlation.r),
          p: finiteOrNull(correlation.p),
          marginR,
        };
      });
      tables.push({ set, vector, position, n: labels.length, positives, layers: rows });
    }
  }
  return tables;
}

/** Per vector, set and position: the most predictive layer and the layers where r changes sign with depth. */
export function summarizeLayerPredictivity(tables: readonly PredictivityTable[]) {
  const sets: PredictivitySet[] = tables.map((table) => ({
    name: `${table.set}/${table.position}`,
    entries: table.layers
      .filter((row) => row.auroc !== null && row.r !== null)
      .map((row) => ({
        vectorId: table.vector,
        layer: row.layer,
        n: table.n,
        positives: table.positives,
        auroc: row.auroc!,
        r: row.r!,
        p: row.p ?? 1,
      })),
  }));
  return summarizePredictivity(sets.filter((set) => set.entries.length > 0));
}
