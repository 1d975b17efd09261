import type { TokenProjections } from './project-token-activations';
import type { ProjectionSettings } from './projection-settings';
import { resolveTokenRange } from './projection-settings';
import type { VectorBank } from './vector-bank';

/** One response's per-token projections, read with the bank's baselines under the settings' measure. */
export interface TokenProjectionSource {
  projections: TokenProjections;
  bank: VectorBank;
  settings: ProjectionSettings;
}

/**
 * The projection of token t at layer position l onto vector k under the settings' measure: scalar
 * h . v^ (minus the baseline when centred), or that divided by |h| for cosine (0 for a zero activation).
 */
export function readTokenProjection(
  { projections, bank, settings }: TokenProjectionSource,
  layerPosition: number,
  vector: number,
  token: number,
): number {
  const t = projections.tokenCount;
  const dot = projections.dots[(layerPosition * projections.vectorCount + vector) * t + token]!;
  const centred = settings.centred ? dot - bank.baselines[layerPosition]![vector]! : dot;
  if (settings.measure === 'scalar') return centred;
  const norm = projections.norms[layerPosition * t + token]!;
  return norm === 0 ? 0 : centred / norm;
}

/** All T values of one (layer position, vector) under the settings' measure. */
export function readTokenProjectionSeries(
  source: TokenProjectionSource,
  layerPosition: number,
  vector: number,
): Float64Array {
  const out = new Float64Array(source.projections.tokenCount);
  for (let t = 0; t < out.length; t++) out[t] = readTokenProjection(source, layerPosition, vector, t);
  return out;
}

/**
 * One value per (layer position, vector) for the whole response: index l * K + k. NaN where the
 * aggregation covers no tokens or the vector has no direction at that layer.
 */
export function summarizeTokenProjections(
  projections: TokenProjections,
  bank: VectorBank,
  settings: ProjectionSettings,
): Float64Array {
  const layerCount = bank.layers.length;
  const vectorCount = projections.vectorCount;
  const out = new Float64Array(layerCount * vectorCount).fill(Number.NaN);
  const [start, end] = resolveTokenRange(settings.aggregation, projections.tokenCount);
  if (end <= start) return out;
  // readTokenProjection inlined (the same arithmetic): this runs for every token of every file.
  const tokenCount = projections.tokenCount;
  const cosine = settings.measure !== 'scalar';
  const { dots, norms } = projections;
  for (let l = 0; l < layerCount; l++) {
    for (let k = 0; k < vectorCount; k++) {
      if (!bank.present[l]![k]) continue;
      const baseline = bank.baselines[l]![k]!;
      const at = (l * vectorCount + k) * tokenCount;
      let sum = 0;
      let maximum = Number.NEGATIVE_INFINITY;
      for (let t = start; t < end; t++) {
        const centred = settings.centred ? dots[at + t]! - baseline : dots[at + t]!;
        const norm = norms[l * tokenCount + t]!;
        const value = cosine ? (norm === 0 ? 0 : centred / norm) : centred;
        sum += value;
        if (value > maximum) maximum = value;
      }
      out[l * vectorCount + k] = settings.aggregation.kind === 'max' ? maximum : sum / (end - start);
    }
  }
  return out;
}
