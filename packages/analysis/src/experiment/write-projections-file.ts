import { join } from 'node:path';
import type { ProjectedActivations } from '../projections/project-activation-files';
import { formatResponseAggregation, type ProjectionSettings } from '../projections/projection-settings';
import type { ProjectionTable } from '../projections/projection-table';
import type { VectorBank } from '../projections/vector-bank';
import type { ProjectionsFile } from './analysis-files';
import { analysisFormatVersion } from './analysis-format-version';
import type { ExperimentPrompt } from './experiment-prompts';
import { roundSignificant, writeAnalysisJson } from './write-analysis-json';

export interface WriteProjectionsFileOptions {
  output: string;
  projected: ProjectedActivations;
  bank: VectorBank;
  prompts: readonly ExperimentPrompt[];
  settings: ProjectionSettings;
}

/** Writes analysis/projections.json (per-response projections, 7 significant digits); returns its name. */
export async function writeProjectionsFile(options: WriteProjectionsFileOptions): Promise<string> {
  const { projected, bank, prompts, settings } = options;
  const vectorCount = bank.vectors.length;
  const layerCount = bank.layers.length;
  const nested = (table: ProjectionTable) =>
    bank.vectors.map((_, k) =>
      bank.layers.map((_, l) =>
        prompts.map((_, p) => roundSignificant(table.values[(p * layerCount + l) * vectorCount + k]!, 7)),
      ),
    );
  const file: ProjectionsFile = {
    format: 'traitlens.analysis.projections',
    formatVersion: analysisFormatVersion,
    measure: settings.measure,
    centred: settings.centred,
    aggregation: formatResponseAggregation(settings.aggregation),
    part: settings.part,
    promptIds: prompts.map((p) => p.key),
    layers: bank.layers,
    vectorIds: bank.vectors.map((v) => v.id),
    tokenCounts: {
      a: Array.from(projected.a.tokenCounts),
      ...(projected.b ? { b: Array.from(projected.b.tokenCounts) } : {}),
    },
    paired: projected.b ? Array.from(projected.paired) : null,
    values: { a: nested(projected.a), ...(projected.b ? { b: nested(projected.b) } : {}) },
  };
  await writeAnalysisJson(join(options.output, 'projections.json'), file, { compact: true });
  return 'projections.json';
}
