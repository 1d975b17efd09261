import { parseLayerSelection } from '@traitlens/core';
import { assertLayerInRange } from '@traitlens/core/internal';
import type { LayerSelectionConfig } from './experiment-config';

/** A config's layer selection (`all`, `0,5,10`, `20-40`, or a YAML list) checked against the model. */
export function resolveLayers(selection: LayerSelectionConfig, layerCount: number, field: string): number[] {
  if (typeof selection === 'string') return parseLayerSelection(selection, layerCount);
  for (const layer of selection) assertLayerInRange(layer, layerCount, `${field}: layer`);
  return [...new Set(selection)].sort((a, b) => a - b);
}
