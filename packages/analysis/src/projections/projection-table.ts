import type { ProjectionSettings } from './projection-settings';

/** Per-response projections of one variant: one number per prompt, layer and vector. */
export interface ProjectionTable {
  variant: string;
  promptIds: string[];
  layers: number[];
  vectorIds: string[];
  settings: ProjectionSettings;
  /** Index (prompt * layers.length + layer position) * vectorIds.length + vector. */
  values: Float64Array;
  /** Tokens of the projected part per prompt. */
  tokenCounts: Int32Array;
}

/** The values of every prompt (or of `promptIndices`) at one layer position and vector. */
export function readProjectionColumn(
  table: ProjectionTable,
  layerPosition: number,
  vector: number,
  promptIndices?: ArrayLike<number>,
): Float64Array {
  const stride = table.layers.length * table.vectorIds.length;
  const offset = layerPosition * table.vectorIds.length + vector;
  const count = promptIndices ? promptIndices.length : table.promptIds.length;
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const prompt = promptIndices ? promptIndices[i]! : i;
    out[i] = table.values[prompt * stride + offset]!;
  }
  return out;
}
